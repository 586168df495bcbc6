package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"kam/events/natsstore"
	"kam/projections"
)

// natsServer is a handler on a real JetStream store (kam's embedded server
// on a free port, its files in a temp dir), and the store.
func natsServer(t *testing.T) (http.Handler, *natsstore.Store) {
	t.Helper()
	ns, err := natsstore.RunEmbedded(natsstore.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: t.TempDir()}, nil)
	if err != nil {
		t.Fatalf("RunEmbedded: %v", err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(nc.Close)
	st, err := natsstore.Open(context.Background(), nc, natsstore.Config{}, nil)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	srv := &Server{Log: st, Rules: projections.DefaultPolicy().Rules(), Guard: NewGuard(GuardConfig{})}
	return srv.Handler(), st
}

// visit is a visit.logged event of account with a note of pad bytes.
func visit(id, account string, pad int) string {
	return fmt.Sprintf(`{"id":%q,"source":"t","type":"visit.logged","subject":%q,"time":"2026-01-05T10:00:00Z","data":{"visit_id":%q,"rep":"r","note":%q}}`,
		id, account, id, strings.Repeat("x", pad))
}

// storedIDs are the ids of account's events in the stream.
func storedIDs(t *testing.T, st *natsstore.Store, account string) []string {
	t.Helper()
	stored, err := st.ReadAccount(context.Background(), account, 0, 100)
	if err != nil {
		t.Fatalf("ReadAccount: %v", err)
	}
	var ids []string
	for _, s := range stored {
		var e struct{ ID string }
		if err := json.Unmarshal(s.Data, &e); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, e.ID)
	}
	return ids
}

// details are the error's details of an answer, as "index field: problem".
func details(a answer) []string {
	e, _ := a.body["error"].(map[string]any)
	ds, _ := e["details"].([]any)
	var out []string
	for _, d := range ds {
		d := d.(map[string]any)
		out = append(out, fmt.Sprintf("%v %v: %v", d["index"], d["field"], d["problem"]))
	}
	return out
}

// TestPostOverMaxPayload: an event under --max-body but over NATS's
// max_payload can never be stored. It gets 413 naming its index and the
// limit, and nothing of its request is stored (however it is appended);
// with ?partial=true it alone is refused.
func TestPostOverMaxPayload(t *testing.T) {
	h, st := natsServer(t)
	limit := fmt.Sprint(st.MaxMsgBytes())
	over := 1_100_000
	tests := []struct {
		name, query, body string
		index             string
	}{
		{"one event", "", visit("b-0", "BIG", over), "0"},
		{"a batch", "", "[" + visit("b-1", "BIG", 5) + "," + visit("b-2", "BIG", over) + "," + visit("b-3", "BIG", 5) + "]", "1"},
		{"an atomic batch", "?atomic=true", "[" + visit("b-1", "BIG", 5) + "," + visit("b-2", "BIG", over) + "]", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, h, "POST", "/v1/events"+tt.query, "", tt.body)
			if a.code != http.StatusRequestEntityTooLarge || a.hdr.Get("Retry-After") != "" {
				t.Fatalf("got %d (Retry-After %q) %v, want 413 without Retry-After", a.code, a.hdr.Get("Retry-After"), a.body)
			}
			d := details(a)
			if len(d) != 1 || !strings.HasPrefix(d[0], tt.index+" : ") || !strings.Contains(d[0], limit) {
				t.Errorf("details: got %q, want one of index %s naming the limit %s", d, tt.index, limit)
			}
			if ids := storedIDs(t, st, "BIG"); len(ids) != 0 {
				t.Errorf("stored: got %q, want none", ids)
			}
		})
	}

	a := do(t, h, "POST", "/v1/events?partial=true", "", "["+visit("p-1", "BIG", 5)+","+visit("p-2", "BIG", over)+","+visit("p-3", "BIG", 5)+"]")
	if a.code != http.StatusMultiStatus || a.body["refused"] != 1.0 || a.body["appended"] != 2.0 {
		t.Fatalf("partial: got %d %v, want 207 with 2 appended and 1 refused", a.code, a.body)
	}
	res := a.body["results"].([]any)[1].(map[string]any)["error"].(map[string]any)
	if res["code"] != "too_large" || !strings.Contains(fmt.Sprint(res["details"]), limit) {
		t.Errorf("partial: the big event's error: got %v, want too_large naming %s", res, limit)
	}
	if got, want := strings.Join(storedIDs(t, st, "BIG"), " "), "p-1 p-3"; got != want {
		t.Errorf("stored: got %q, want %q", got, want)
	}
}
