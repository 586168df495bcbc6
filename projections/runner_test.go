package projections

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"kam/events/natsstore"
)

// TestPoisonOnTheStream publishes, with a plain NATS client, messages that
// fail validation between valid events, and checks that a running projector
// sets each aside with its reason and applies everything else.
func TestPoisonOnTheStream(t *testing.T) {
	ns, err := natsstore.RunEmbedded(natsstore.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	ctx := context.Background()
	store, err := natsstore.Open(ctx, nc, natsstore.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	js := store.JetStream()
	publish := func(subject, data string) {
		t.Helper()
		if _, err := js.Publish(ctx, subject, []byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	order := func(id, account, at, amount string) string {
		return fmt.Sprintf(`{"specversion":"1.0","id":%q,"source":"t","type":"order.placed","subject":%q,"time":%q,"data":{"order_id":%q,"amount":%q}}`,
			id, account, at, id, amount)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	publish("kam.acct.ACME.order.placed", order("e1", "ACME", "2026-01-05T10:00:00Z", "100.00"))
	publish("kam.acct.ACME.order.placed", `not json at all`)
	publish("kam.acct.ACME.order.placed", order("e2", "ACME", "2026-01-05T11:00:00Z", "-3.00"))
	publish("kam.acct.OTHER.order.placed", order("e3", "ACME", "2026-01-05T12:00:00Z", "1.00"))
	publish("kam.acct.ACME.order.placed", order("e4", "ACME", future, "1.00"))
	publish("kam.acct.ACME.order.placed", order("e1", "ACME", "2026-01-05T10:00:00Z", "100.00")) // a copy past dedup: no msg id
	publish("kam.acct.BETA.order.placed", order("e5", "BETA", "2026-01-06T09:00:00Z", "50.00"))

	svc := &Service{Policy: DefaultPolicy(), Stream: "KAM", Source: StreamSource(js, "KAM"), DataDir: t.TempDir()}
	if err := svc.Start(ctx, false); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := svc.WaitApplied(wctx, 7); err != nil {
		t.Fatalf("the projector did not get past the poison: %v (status %+v)", err, svc.Status())
	}
	db := svc.DB()
	rows := query(t, db, `SELECT seq, subject, coalesce(event_id, ''), reason FROM rejected_events ORDER BY seq`)
	want := []struct {
		seq    string
		reason string
	}{
		{"2", "an event must be a JSON object"},
		{"3", "data.amount: must not be negative"},
		{"4", "does not match the event"},
		{"5", "time: is in the future"},
		{"6", `duplicate: event id "e1" was applied at sequence 1`},
	}
	if len(rows) != len(want) {
		t.Fatalf("rejected_events: got %d rows %v, want %d", len(rows), rows, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(rows[i], w.seq+"|") || !strings.Contains(rows[i], w.reason) {
			t.Errorf("rejected row %d: got %q, want seq %s with %q", i, rows[i], w.seq, w.reason)
		}
	}
	// e1 and e5 applied; e5's day closed ACME's first day.
	got := query(t, db, `SELECT account, orders_total, revenue_total, tier FROM accounts ORDER BY account`)
	if strings.Join(got, " ") != "ACME|1|10000|A BETA|1|5000|NULL" {
		t.Errorf("accounts: got %v, want ACME|1|10000|A BETA|1|5000|NULL", got)
	}
	if st := svc.Status(); st.Rejected != 5 || st.Applied != 2 || st.AppliedSeq != 7 {
		t.Errorf("status: got %+v, want 5 rejected, 2 applied, applied_seq 7", st)
	}
}
