package projections

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"kam/events"
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

// chanSource is a stream whose messages the test hands over one by one,
// each with the count of messages said to follow it.
type chanSource chan pendingMsg

type pendingMsg struct {
	st      events.Stored
	pending uint64
}

func (c chanSource) Subscribe(ctx context.Context, from uint64) (Subscription, error) {
	return &chanSub{c: c, stop: make(chan struct{})}, nil
}

type chanSub struct {
	c    chanSource
	stop chan struct{}
	once sync.Once
}

func (s *chanSub) Next() (events.Stored, uint64, error) {
	select {
	case m := <-s.c:
		return m.st, m.pending, nil
	case <-s.stop:
		return events.Stored{}, 0, errors.New("stopped")
	}
}

func (s *chanSub) Stop() { s.once.Do(func() { close(s.stop) }) }

// TestCommitInterval checks that a runner that has caught up commits at
// most once per CommitInterval, no later than MaxDelay, and at every
// arrival without an interval.
func TestCommitInterval(t *testing.T) {
	var s stream
	for i := range 4 {
		s.order("ACME", fmt.Sprintf("2025-03-0%dT10:00:00Z", i+1), "10.00")
	}
	run := func(opts RunOptions) (p *Projector, src chanSource, stop func()) {
		p, _ = newProjector(t, nil)
		src = make(chanSource)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		go func() { done <- p.Run(ctx, src, opts) }()
		return p, src, func() {
			cancel()
			if err := <-done; !errors.Is(err, context.Canceled) {
				t.Errorf("Run: %v", err)
			}
		}
	}
	waitApplied := func(p *Projector, seq uint64) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.WaitApplied(ctx, seq); err != nil {
			t.Fatalf("sequence %d not committed: %v (status %+v)", seq, err, p.Status())
		}
	}

	t.Run("interval", func(t *testing.T) {
		p, src, stop := run(RunOptions{CommitInterval: time.Hour, MaxDelay: time.Hour})
		src <- pendingMsg{s.msgs[0], 0}
		waitApplied(p, 1) // the first commit waits for no interval
		src <- pendingMsg{s.msgs[1], 0}
		src <- pendingMsg{s.msgs[2], 0}
		time.Sleep(200 * time.Millisecond)
		if st := p.Status(); st.AppliedSeq != 1 {
			t.Errorf("within the interval: applied_seq %d committed, want 1", st.AppliedSeq)
		}
		stop() // commits what was applied
		if st := p.Status(); st.AppliedSeq != 3 || st.Commits != 3 {
			t.Errorf("after stop: applied_seq %d in %d commits, want 3 in 3 (open, first, stop)", st.AppliedSeq, st.Commits)
		}
	})
	t.Run("max delay caps the interval", func(t *testing.T) {
		p, src, stop := run(RunOptions{CommitInterval: time.Hour, MaxDelay: 50 * time.Millisecond})
		defer stop()
		src <- pendingMsg{s.msgs[0], 0}
		src <- pendingMsg{s.msgs[1], 0}
		waitApplied(p, 2)
	})
	t.Run("none", func(t *testing.T) {
		p, src, stop := run(RunOptions{CommitInterval: -1, MaxDelay: time.Hour})
		defer stop()
		for i, m := range s.msgs {
			src <- pendingMsg{m, 0}
			waitApplied(p, uint64(i+1))
		}
	})
}

// sliceSource delivers msgs from the asked sequence on, then waits.
type sliceSource []events.Stored

func (s sliceSource) Subscribe(ctx context.Context, from uint64) (Subscription, error) {
	c := make(chanSource, len(s))
	for i := int(from) - 1; i < len(s); i++ {
		c <- pendingMsg{s[i], uint64(len(s) - 1 - i)}
	}
	return c.Subscribe(ctx, from)
}

// TestRunUntil: a model built up to a moment has the events before it and the
// reviews of the days closed by it, the same rows as a model that went on,
// whether or not an event falls on the closing midnight.
func TestRunUntil(t *testing.T) {
	for _, midnight := range []bool{false, true} {
		deferRows := midnight // the accounts' rows with the last commit, as kam replay does
		var s stream
		for d := 1; d <= 6; d++ {
			s.order("ACME", fmt.Sprintf("2025-03-%02dT10:00:00Z", d), fmt.Sprintf("%d.00", 10*d))
			s.order("BOLT", fmt.Sprintf("2025-03-%02dT11:00:00Z", d), fmt.Sprintf("%d.00", 70-10*d))
			if midnight && d == 3 {
				s.order("CORE", "2025-03-04T00:00:00Z", "5.00") // closes 03-03, counts on 03-04
			}
		}
		s.tick("2025-03-07T00:00:00Z")
		full, fullDB := newProjector(t, nil)
		applyAll(t, full, s.msgs, 1000)

		until := mustTime("2025-03-04") // the close of 2025-03-03
		p, db := newProjector(t, nil)
		opts := RunOptions{Until: until, MaxBatch: 3}
		if deferRows {
			opts.StopAt, opts.DeferAccountRows = uint64(len(s.msgs)), true
		}
		if err := p.Run(context.Background(), sliceSource(s.msgs), opts); err != nil {
			t.Fatal(err)
		}
		at := ts(until)
		for _, table := range []string{"tier_history", "key_history", "loyalty_history", "reviews"} {
			q := "SELECT * FROM " + table + " WHERE effective <= ? ORDER BY effective, 1"
			got, want := query(t, db, q, at), query(t, fullDB, q, at)
			if len(want) == 0 || !reflect.DeepEqual(got, want) {
				t.Errorf("midnight event %v: %s up to %s:\n got %q\nwant %q", midnight, table, at, got, want)
			}
		}
		expectRows(t, db, "the state", "SELECT applied_seq, last_review_day FROM projector_state", []string{"6|2025-03-03"})
		expectRows(t, db, "orders applied", "SELECT account, orders_total FROM accounts ORDER BY account", []string{"ACME|3", "BOLT|3"})
	}
}

// TestRunUntilMilliseconds: times count to the millisecond, in a model up
// to a moment as in the queries as of it: an event of 10:00:00.0007 is one
// of 10:00:00.000, before 10:00:00.0005.
func TestRunUntilMilliseconds(t *testing.T) {
	var s stream
	s.order("ACME", "2025-03-01T10:00:00.0007Z", "10.00")
	s.order("BOLT", "2025-03-01T10:00:00.001Z", "20.00")
	p, db := newProjector(t, nil)
	if err := p.Run(context.Background(), sliceSource(s.msgs), RunOptions{Until: mustTime("2025-03-01T10:00:00.0005Z")}); err != nil {
		t.Fatal(err)
	}
	expectRows(t, db, "orders applied", "SELECT account, orders_total FROM accounts ORDER BY account", []string{"ACME|1"})
}
