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

// TestPostIDUsedByOtherEvent: an event under an id already stored with
// other content gets 409 naming the id and the stored event's sequence
// (with its index in a batch), and is refused alone with ?partial=true; a
// true retry stays a duplicate. Two events of one request under one id
// with other content get 400 naming both.
func TestPostIDUsedByOtherEvent(t *testing.T) {
	h, st := natsServer(t)
	first := `{"id":"1001","source":"erp","type":"order.placed","subject":"ACME","time":"2026-01-05T10:00:00Z","data":{"order_id":"o-9","amount":"100.00"}}`
	other := `{"id":"1001","source":"servicedesk","type":"complaint.filed","subject":"ZED","time":"2026-01-05T10:00:00Z","data":{"complaint_id":"c-1","severity":"high"}}`
	if a := do(t, h, "POST", "/v1/events", "", first); a.code != http.StatusCreated {
		t.Fatalf("first: got %d %v", a.code, a.body)
	}
	used := "already used by a different event at sequence 1"
	tests := []struct {
		name, query, body string
		index             string
	}{
		{"one event", "", other, "0"},
		{"a batch", "", "[" + testOrder("n-1") + "," + other + "]", "1"},
		{"an atomic batch", "?atomic=true", "[" + testOrder("n-2") + "," + other + "]", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, h, "POST", "/v1/events"+tt.query, "", tt.body)
			if a.code != http.StatusConflict {
				t.Fatalf("got %d %v, want 409", a.code, a.body)
			}
			if d := details(a); len(d) != 1 || d[0] != tt.index+" id: "+used {
				t.Errorf("details: got %q, want [%q]", d, tt.index+" id: "+used)
			}
			if _, ok := a.body["error"].(map[string]any)["current_sequence"]; ok {
				t.Errorf("got a current_sequence in %v, want none", a.body)
			}
		})
	}
	if ids := storedIDs(t, st, "ZED"); len(ids) != 0 {
		t.Errorf("ZED's events: got %q, want none", ids)
	}

	a := do(t, h, "POST", "/v1/events?partial=true", "", "["+testOrder("n-3")+","+other+"]")
	if a.code != http.StatusMultiStatus || a.body["refused"] != 1.0 {
		t.Fatalf("partial: got %d %v, want 207 with one refused", a.code, a.body)
	}
	res := a.body["results"].([]any)[1].(map[string]any)
	if e := res["error"].(map[string]any); e["code"] != "conflict" || !strings.Contains(fmt.Sprint(e["details"]), used) {
		t.Errorf("partial: the refused event: got %v, want a conflict naming the id", res)
	}

	// A true retry is a duplicate of the first.
	a = do(t, h, "POST", "/v1/events", "", first)
	if r := a.body["results"].([]any)[0].(map[string]any); a.code != http.StatusCreated || r["duplicate"] != true || r["seq"] != 1.0 {
		t.Errorf("retry: got %d %v, want 201 duplicate of sequence 1", a.code, a.body)
	}

	// One request, one id, two events.
	twice := "[" + testOrder("t-1") + "," + testOrder("t-2") + "," + strings.Replace(testOrder("t-1"), `"10.00"`, `"11.00"`, 1) + "]"
	a = do(t, h, "POST", "/v1/events", "", twice)
	want := []string{"0 id: also the id of event 2, with different content", "2 id: also the id of event 0, with different content"}
	if d := details(a); a.code != http.StatusBadRequest || strings.Join(d, "|") != strings.Join(want, "|") {
		t.Errorf("one id twice: got %d %q, want 400 %q", a.code, d, want)
	}
	a = do(t, h, "POST", "/v1/events?partial=true", "", twice)
	if a.code != http.StatusMultiStatus || a.body["appended"] != 2.0 || a.body["refused"] != 1.0 {
		t.Errorf("one id twice, partial: got %d %v, want 207, 2 appended, the third refused", a.code, a.body)
	}
	if got := strings.Join(storedIDs(t, st, "ACME"), " "); got != "1001 n-1 n-3 t-1 t-2" {
		t.Errorf("ACME's events: got %q", got)
	}
}

// TestPostFlags: atomic and partial are true or false; anything else, and
// both at once, get 400 naming the parameter, and nothing is appended.
func TestPostFlags(t *testing.T) {
	h, st := natsServer(t)
	good := `{"id":"f-1","source":"erp","type":"order.placed","subject":"FLAGS","time":"2026-01-05T10:00:00Z","data":{"order_id":"o-1","amount":"1.00"}}`
	bad := `{"id":"f-2","source":"erp","type":"order.placed","subject":"FLAGS","time":"2026-01-05T10:00:00Z","data":{"order_id":"o-2","amount":"-1"}}`
	batch := "[" + good + "," + bad + "]"
	tests := []struct {
		query, field string
	}{
		{"atomic=1", "atomic"},
		{"atomic=yes", "atomic"},
		{"partial=1", "partial"},
		{"partial=TRUE", "partial"},
		{"atomic=true&partial=true", ""},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			a := do(t, h, "POST", "/v1/events?"+tt.query, "", batch)
			if a.code != http.StatusBadRequest {
				t.Fatalf("got %d %v, want 400", a.code, a.body)
			}
			d := details(a)
			msg := fmt.Sprint(a.body["error"].(map[string]any)["message"])
			switch {
			case tt.field != "" && (len(d) != 1 || d[0] != "0 "+tt.field+": must be true or false"):
				t.Errorf("details: got %q, want the parameter %s", d, tt.field)
			case tt.field == "" && (!strings.Contains(msg, "atomic") || !strings.Contains(msg, "partial")):
				t.Errorf("message: got %q, want one naming atomic and partial", msg)
			}
		})
	}
	if ids := storedIDs(t, st, "FLAGS"); len(ids) != 0 {
		t.Errorf("stored: got %q, want none", ids)
	}
	for _, q := range []string{"atomic=false&partial=false", "atomic=true&partial=false", "partial=true&atomic=false"} {
		if a := do(t, h, "POST", "/v1/events?"+q, "", good); a.code != http.StatusCreated {
			t.Errorf("%s: got %d %v, want 201", q, a.code, a.body)
		}
	}
}

// TestGetEventsAfterLastPossibleSequence: no event comes after the
// greatest sequence; the answer is an empty page, not a 503.
func TestGetEventsAfterLastPossibleSequence(t *testing.T) {
	h, _ := natsServer(t)
	if a := do(t, h, "POST", "/v1/events", "", testOrder("a-1")); a.code != http.StatusCreated {
		t.Fatalf("append: got %d %v", a.code, a.body)
	}
	for _, q := range []string{"", "&account=ACME"} {
		a := do(t, h, "GET", "/v1/events?after=18446744073709551615"+q, "", "")
		if evs, ok := a.body["events"].([]any); a.code != http.StatusOK || !ok || len(evs) != 0 || a.body["next_after"] != 18446744073709551615.0 {
			t.Errorf("%q: got %d %v, want 200 with no events", q, a.code, a.body)
		}
	}
}
