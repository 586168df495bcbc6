package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"kam/handlers"
)

// kam is a kam serve running in this process, as main starts it.
type kam struct {
	t      *testing.T
	addrs  Addrs
	cancel context.CancelFunc
	done   chan int
	logs   *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startKam runs `kam serve` on dataDir with free ports and waits until it listens.
func startKam(t *testing.T, dataDir string, extra ...string) *kam {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan Addrs, 1)
	logs := &syncBuffer{}
	m := &Main{Stdout: logs, Stderr: logs, Now: time.Now, Ready: func(a Addrs) { ready <- a }}
	k := &kam{t: t, cancel: cancel, done: make(chan int, 1), logs: logs}
	args := append([]string{"serve", "--data-dir", dataDir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1"}, extra...)
	go func() { k.done <- m.Run(ctx, args) }()
	select {
	case k.addrs = <-ready:
	case code := <-k.done:
		t.Fatalf("kam serve exited with %d before listening:\n%s", code, logs.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("kam serve did not listen within 60s:\n%s", logs.String())
	}
	t.Cleanup(k.stop)
	return k
}

// stop shuts kam down as SIGTERM would and waits for it.
func (k *kam) stop() {
	k.cancel()
	select {
	case code := <-k.done:
		if code != 0 {
			k.t.Errorf("kam serve exited with %d:\n%s", code, k.logs.String())
		}
		k.done <- code // let a second stop return too
	case <-time.After(30 * time.Second):
		k.t.Errorf("kam serve did not stop within 30s")
	}
}

func (k *kam) url(path string) string { return "http://" + k.addrs.HTTP + path }

// call sends a request and decodes the JSON answer.
func (k *kam) call(method, path string, body any, hdr ...string) (int, map[string]any) {
	k.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		enc, err := json.Marshal(b)
		if err != nil {
			k.t.Fatal(err)
		}
		rd = bytes.NewReader(enc)
	}
	req, err := http.NewRequest(method, k.url(path), rd)
	if err != nil {
		k.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		k.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		k.t.Fatalf("%s %s: answer is not JSON: %s", method, path, raw)
	}
	return resp.StatusCode, out
}

func order(id, account, at, amount string) map[string]any {
	return map[string]any{"id": id, "source": "e2e", "type": "order.placed", "subject": account, "time": at,
		"data": map[string]any{"order_id": id, "amount": amount}}
}

func TestServeEndToEnd(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")

	// A batch with one bad event appends nothing and names the field.
	code, body := k.call("POST", "/v1/events", []any{
		order("e1", "ACME", "2026-01-05T10:00:00Z", "1000.00"),
		order("e2", "ACME", "2026-01-05T11:00:00Z", "-5.00"),
	})
	if code != http.StatusBadRequest {
		t.Fatalf("bad batch: got %d %v, want 400", code, body)
	}
	det := body["error"].(map[string]any)["details"].([]any)[0].(map[string]any)
	if det["index"].(float64) != 1 || det["field"] != "data.amount" || det["problem"] != "must not be negative" {
		t.Errorf("bad batch details: got %v", det)
	}

	code, body = k.call("POST", "/v1/events", []any{
		order("e1", "ACME", "2026-01-05T10:00:00Z", "1000.00"),
		order("e2", "Globex Corp.", "2026-01-05T11:00:00Z", "100.00"),
		order("e3", "ACME", "2026-01-06T09:00:00Z", "50.00"),
	})
	if code != http.StatusCreated {
		t.Fatalf("append: got %d %v", code, body)
	}
	results := body["results"].([]any)
	last := results[2].(map[string]any)["seq"].(float64)
	if last != 3 {
		t.Errorf("last seq: got %v, want 3", last)
	}

	// ?atomic=true: one JetStream atomic batch, consecutive sequences.
	code, body = k.call("POST", "/v1/events?atomic=true", []any{
		order("a1", "ZED", "2026-01-04T10:00:00Z", "1.00"),
		order("a2", "ZED", "2026-01-04T10:01:00Z", "2.00"),
	})
	if code != http.StatusCreated {
		t.Fatalf("atomic batch: got %d %v", code, body)
	}
	if rs := body["results"].([]any); rs[0].(map[string]any)["seq"].(float64) != 4 || rs[1].(map[string]any)["seq"].(float64) != 5 {
		t.Errorf("atomic batch sequences: got %v, want 4 and 5", rs)
	}
	last = 5

	// A conflict: the expected sequence of ACME is 3 now, not 1.
	code, body = k.call("POST", "/v1/events", order("e4", "ACME", "2026-01-06T10:00:00Z", "1.00"), "Kam-Expected-Sequence", "1")
	if code != http.StatusConflict || body["error"].(map[string]any)["current_sequence"].(float64) != 3 {
		t.Errorf("conflict: got %d %v, want 409 with current_sequence 3", code, body)
	}

	// The history, read back from the stream.
	code, body = k.call("GET", "/v1/events?account=Globex%20Corp.", nil)
	evs, _ := body["events"].([]any)
	if code != 200 || len(evs) != 1 || evs[0].(map[string]any)["id"] != "e2" || evs[0].(map[string]any)["seq"].(float64) != 2 {
		t.Errorf("events of Globex: got %d %v", code, body)
	}

	// Read your writes: the day of e1 and e2 closed when e3 was applied.
	code, body = k.call("GET", fmt.Sprintf("/v1/accounts/ACME?min_seq=%d", int(last)), nil)
	if code != 200 || body["tier"] != "A" || body["revenue_total"] != "1050.00" || body["revenue_window"] != "1000.00" {
		t.Errorf("ACME: got %d %v, want tier A, revenue_total 1050.00, revenue_window 1000.00", code, body)
	}
	code, body = k.call("GET", "/v1/accounts/Globex%20Corp.", nil)
	if code != 200 || body["tier"] != "B" {
		t.Errorf("Globex: got %d %v, want tier B", code, body)
	}
	code, body = k.call("GET", "/v1/status", nil)
	proj := body["projector"].(map[string]any)
	if code != 200 || proj["applied_seq"].(float64) != 5 || proj["lag"].(float64) != 0 {
		t.Errorf("status: got %d %v", code, body)
	}
	k.stop()

	// Start again on the same data dir: everything is there, nothing changed.
	k2 := startKam(t, dir, "--no-ticks")
	code, body = k2.call("GET", "/v1/status", nil)
	stream := body["stream"].(map[string]any)
	if code != 200 || stream["last_seq"].(float64) != 5 || stream["deny_delete"] != true || stream["deny_purge"] != true {
		t.Errorf("status after restart: got %d %v", code, body)
	}
	code, body = k2.call("GET", "/v1/accounts?tier=A", nil)
	if code != 200 || body["total"].(float64) != 1 {
		t.Errorf("accounts after restart: got %d %v", code, body)
	}
}

func TestServeRefusesAnotherPolicy(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir)
	k.stop()
	pol := filepath.Join(t.TempDir(), "policy.json")
	var buf bytes.Buffer
	if code := (&Main{Stdout: &buf}).Run(context.Background(), []string{"policy"}); code != 0 {
		t.Fatalf("kam policy: exit %d", code)
	}
	b := bytes.Replace(buf.Bytes(), []byte(`"cut_a": 80`), []byte(`"cut_a": 70`), 1)
	if err := os.WriteFile(pol, b, 0o644); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	m := &Main{Stdout: &out, Stderr: &out}
	code := m.Run(context.Background(), []string{"serve", "--data-dir", dir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1", "--policy", pol})
	if code == 0 || !strings.Contains(out.String(), "policy") || !strings.Contains(out.String(), "kam replay") {
		t.Errorf("serve under another policy: got exit %d and %q, want a refusal that says how to rebuild", code, out.String())
	}
}

// TestServeRefusesAnotherStream: a read model is not continued on a stream
// it was not built from: one wiped and created anew (shorter than the model),
// or one refilled with other events as far as the model went. Either way
// kam said nothing and answered 201 to events it never applied.
func TestServeRefusesAnotherStream(t *testing.T) {
	serve := func(dir string, extra ...string) (int, string) {
		var out syncBuffer
		m := &Main{Stdout: &out, Stderr: &out}
		args := append([]string{"serve", "--data-dir", dir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1", "--no-ticks"}, extra...)
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		return m.Run(ctx, args), out.String()
	}
	post := func(k *kam, ids ...string) {
		for i, id := range ids {
			if code, body := k.call("POST", "/v1/events", order(id, "ACME", fmt.Sprintf("2026-03-0%dT10:00:00Z", i+1), "10.00")); code != 201 {
				t.Fatalf("append %s: %d %v", id, code, body)
			}
		}
		// A tick last, whose id (its date) is the same in any stream.
		tick := map[string]any{"id": "clock.tick/2026-03-05", "source": "t", "type": "clock.tick", "time": "2026-03-05T00:00:00Z"}
		if code, body := k.call("POST", "/v1/events", tick); code != 201 {
			t.Fatalf("append the tick: %d %v", code, body)
		}
	}
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	post(k, "a1", "a2", "a3")
	if code, body := k.call("GET", "/v1/accounts/ACME?min_seq=4", nil); code != 200 {
		t.Fatalf("ACME once the four events are applied: %d %v", code, body)
	}
	k.stop()
	if err := os.RemoveAll(filepath.Join(dir, "nats")); err != nil {
		t.Fatal(err)
	}
	// kam does not create a stream in the place of the one its model read.
	code, out := serve(dir)
	if code == 0 || !strings.Contains(out, "stream KAM does not exist") || !strings.Contains(out, "has applied 4 of its messages") {
		t.Errorf("serve on a wiped stream: exit %d\n%s", code, out)
	}
	// Created empty (by a kam without a model, as another instance of a
	// cluster may), it is refused as ending before the model.
	k = startKam(t, dir, "--no-ticks", "--no-projector")
	k.stop()
	code, out = serve(dir)
	if code == 0 || !strings.Contains(out, "not the one the read model was built from") || !strings.Contains(out, "ends at 0") {
		t.Errorf("serve on an empty stream: exit %d\n%s", code, out)
	}
	// kam verify says so at once (it waited for ever for the sequences).
	if code, out, errOut := runCmd(t, "verify", "--data-dir", dir); code != 1 || !strings.Contains(errOut, "ends at 0") {
		t.Errorf("verify on an empty stream: exit %d\n%s%s", code, out, errOut)
	}
	// The same length, other events, the same tick last.
	k = startKam(t, dir, "--no-ticks", "--no-projector")
	post(k, "b1", "b2", "b3")
	k.stop()
	code, out = serve(dir)
	if code == 0 || !strings.Contains(out, "not the one the read model applied there") {
		t.Errorf("serve on a stream refilled with other events: exit %d\n%s", code, out)
	}
}

// TestServeStopsWhenTheStreamIsReplaced: a stream deleted and created
// anew under a running kam is noticed: kam stops with an error instead of
// answering 201 to events it never applies (or, once the new stream passed
// the model's sequence, mixing two logs in one model).
func TestServeStopsWhenTheStreamIsReplaced(t *testing.T) {
	defer func(d time.Duration) { streamCheckEvery = d }(streamCheckEvery)
	streamCheckEvery = 50 * time.Millisecond
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	ready := make(chan Addrs, 1)
	var out syncBuffer
	m := &Main{Stdout: &out, Stderr: &out, Now: time.Now, Ready: func(a Addrs) { ready <- a }}
	done := make(chan int, 1)
	go func() {
		done <- m.Run(ctx, []string{"serve", "--data-dir", dir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1", "--no-ticks"})
	}()
	var addrs Addrs
	select {
	case addrs = <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("kam did not listen:\n%s", out.String())
	}
	k := &kam{t: t, addrs: addrs, logs: &out}
	if code, body := k.call("POST", "/v1/events", order("o1", "ACME", "2026-03-01T10:00:00Z", "10.00")); code != 201 {
		t.Fatalf("append: %d %v", code, body)
	}
	js := kamJetStream(t, k)
	s, err := js.Stream(ctx, "KAM")
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if err := js.DeleteStream(ctx, "KAM"); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code == 0 || !strings.Contains(out.String(), "the stream is not the one kam started on") {
			t.Errorf("kam on a replaced stream: exit %d\n%s", code, out.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("kam still runs 30s after its stream was replaced:\n%s", out.String())
	}
}

func TestPublish(t *testing.T) {
	k := startKam(t, t.TempDir())
	lines := []string{
		`{"id":"p1","source":"t","type":"order.placed","subject":"A","time":"2026-02-01T10:00:00Z","data":{"order_id":"1","amount":"10.00"}}`,
		``,
		`{"source":"t","type":"order.placed","subject":"A","time":"2026-02-01T11:00:00Z","data":{"order_id":"2","amount":"-1"}}`,
		`not json`,
		`{"id":"p1","source":"t","type":"order.placed","subject":"A","time":"2026-02-01T10:00:00Z","data":{"order_id":"1","amount":"10.00"}}`,
		`{"source":"t","type":"visit.logged","subject":"A","time":"2026-02-01T12:00:00Z","data":{"visit_id":"v","rep":"r","contact":{"name":"Ann","role":"decision_maker"}}}`,
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(file, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut syncBuffer
	m := &Main{Stdout: &out, Stderr: &errOut}
	code := m.Run(context.Background(), []string{"publish", "--url", "http://" + k.addrs.HTTP, "--batch", "2", file})
	got := out.String()
	if code != 1 {
		t.Errorf("exit code: got %d, want 1 (two lines refused)", code)
	}
	for _, want := range []string{"lines 5, appended 2, duplicates 1, refused 2", "line 3: data.amount: must not be negative", "line 4: not valid JSON"} {
		if !strings.Contains(got, want) {
			t.Errorf("publish output %q does not contain %q", got, want)
		}
	}
}

// TestDailyTick: at start, a midnight has passed since the last business
// event, so serve appends the tick that closes the day, once, with the date
// as id; a second instance's tick is a duplicate.
func TestDailyTick(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir)
	code, body := k.call("POST", "/v1/events", order("t1", "ACME", "2026-03-01T10:00:00Z", "10.00"))
	if code != http.StatusCreated {
		t.Fatalf("append: %d %v", code, body)
	}
	k.stop()
	k2 := startKam(t, dir)
	var evs []any
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		_, body = k2.call("GET", "/v1/events?after=1", nil)
		if evs = body["events"].([]any); len(evs) > 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(evs) != 1 {
		t.Fatalf("after a restart past midnight: got %v, want one clock.tick", body)
	}
	tick := evs[0].(map[string]any)
	midnight := time.Now().UTC().Truncate(24 * time.Hour)
	if tick["type"] != "clock.tick" || tick["id"] != TickID(midnight) || tick["time"] != midnight.Format(time.RFC3339) {
		t.Errorf("tick: got %v, want a clock.tick at %s with id %s", tick, midnight.Format(time.RFC3339), TickID(midnight))
	}
	// The tick closed 2026-03-01: ACME has a tier now.
	code, body = k2.call("GET", "/v1/accounts/ACME?min_seq=2", nil)
	if code != 200 || body["tier"] != "A" {
		t.Errorf("ACME after the tick: got %d %v, want tier A", code, body)
	}
}

// TestStartTickFollowsWatermark: at start, the tick is decided by the
// watermark (the greatest business time applied), not by the last message
// appended. A late event appended last does not call for a tick when the
// watermark is already past midnight; a message set aside appended last does
// not stand in the way of one the watermark calls for.
func TestStartTickFollowsWatermark(t *testing.T) {
	midnight := time.Now().UTC().Truncate(24 * time.Hour)
	waitTicker := func(k *kam) string {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			for _, line := range strings.Split(k.logs.String(), "\n") {
				if strings.Contains(line, "clock tick appended") || strings.Contains(line, "clock tick not needed") {
					return line
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("the ticker decided nothing within 30s:\n%s", k.logs.String())
		return ""
	}

	// The watermark is past midnight; the last message appended is late.
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	for _, ev := range []map[string]any{
		order("now", "ACME", midnight.Add(time.Second).Format(time.RFC3339), "10.00"),
		order("late", "BOLT", "2026-03-01T10:00:00Z", "5.00"),
	} {
		if code, body := k.call("POST", "/v1/events", ev); code != http.StatusCreated {
			t.Fatalf("append: %d %v", code, body)
		}
	}
	k.stop()
	k = startKam(t, dir)
	if line := waitTicker(k); !strings.Contains(line, "not needed") {
		t.Errorf("a late event appended last made a tick: %s", line)
	}
	if _, body := k.call("GET", "/v1/events?after=2", nil); len(body["events"].([]any)) != 0 {
		t.Errorf("events after the two orders: %v, want none", body["events"])
	}
	k.stop()

	// The watermark is before midnight; the last message appended is set
	// aside (stored now, so its stored time is past midnight).
	dir = t.TempDir()
	k = startKam(t, dir, "--no-ticks")
	if code, body := k.call("POST", "/v1/events", order("old", "ACME", "2026-03-01T10:00:00Z", "10.00")); code != http.StatusCreated {
		t.Fatalf("append: %d %v", code, body)
	}
	if _, err := kamJetStream(t, k).Publish(context.Background(), "kam.acct.ACME.order.placed", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	k.stop()
	k = startKam(t, dir)
	if line := waitTicker(k); !strings.Contains(line, "appended") {
		t.Errorf("a message set aside appended last kept the tick away: %s", line)
	}
	code, body := k.call("GET", "/v1/accounts/ACME?min_seq=3", nil)
	if code != http.StatusOK || body["tier"] != "A" {
		t.Errorf("ACME after the tick: %d %v, want tier A", code, body)
	}
}

// TestMemoryLimitAboveEmbeddedServer: a build's heap limit leaves the
// configured room to the build itself, on top of the heap that a server
// embedded in the process already holds.
func TestMemoryLimitAboveEmbeddedServer(t *testing.T) {
	t.Setenv("GOGC", "")
	t.Setenv("GOMEMLIMIT", "")
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	const mib = 64
	for _, embedded := range []bool{false, true} {
		acc := streamAccess{embedded: embedded}
		acc.setMemoryLimit(mib)
		got := debug.SetMemoryLimit(-1)
		if embedded && got <= mib<<20 || !embedded && got != mib<<20 {
			t.Errorf("embedded %v: limit %d bytes for --memory-limit %d MiB (%d bytes)", embedded, got, mib, mib<<20)
		}
	}
}

// TestQueryParamsCheckedFirst: a bad parameter is refused at once, naming
// it, even beside a min_seq that would make the request wait; limit has
// bounds, not a silent cap.
func TestQueryParamsCheckedFirst(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks")
	defer k.stop()
	for _, tc := range []struct{ query, field string }{
		{"tier=Z&min_seq=999999", "tier"},
		{"sort=bogus&min_seq=999999", "sort"},
		{"as_of=2026-01-01&sort=score&min_seq=999999", "sort"},
		{"cursor=!!!&min_seq=999999", "cursor"},
		{"limit=100000", "limit"},
		{"limit=0", "limit"},
	} {
		start := time.Now()
		code, body := k.call("GET", "/v1/accounts?"+tc.query, nil)
		took := time.Since(start)
		e, _ := body["error"].(map[string]any)
		details, _ := e["details"].([]any)
		var field any
		if len(details) == 1 {
			field = details[0].(map[string]any)["field"]
		}
		if code != http.StatusBadRequest || field != tc.field || took >= handlers.DefaultMinSeqWait {
			t.Errorf("GET /v1/accounts?%s: %d %v after %s; want 400 naming %s at once", tc.query, code, body, took, tc.field)
		}
	}
	if code, body := k.call("GET", "/v1/accounts?limit=1000", nil); code != http.StatusOK {
		t.Errorf("limit=1000: %d %v", code, body)
	}
}

// TestPartialCountsDuplicates: with ?partial=true, an event sent twice in a
// batch is stored once, and the counts say so.
func TestPartialCountsDuplicates(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks")
	defer k.stop()
	order := map[string]any{"specversion": "1.0", "id": "dup-1", "source": "t", "type": "order.placed", "subject": "ACME",
		"time": "2026-01-05T10:00:00Z", "data": map[string]any{"order_id": "o1", "amount": "1.00"}}
	bad := map[string]any{"specversion": "1.0", "id": "bad-1", "source": "t", "type": "order.placed", "subject": "ACME",
		"time": "2026-01-05T10:00:00Z", "data": map[string]any{"order_id": "o2", "amount": "-1.00"}}
	code, body := k.call("POST", "/v1/events?partial=true", []any{order, order, bad})
	if code != http.StatusMultiStatus || body["appended"] != float64(1) || body["duplicates"] != float64(1) || body["refused"] != float64(1) {
		t.Errorf("partial batch: %d %v; want 207, 1 appended, 1 duplicate, 1 refused", code, body)
	}
	_, st := k.call("GET", "/v1/status", nil)
	if n := st["stream"].(map[string]any)["last_seq"]; n != float64(1) {
		t.Errorf("stream: %v events, want 1", n)
	}
}

// TestParseFlagsAfterArguments: flags may follow positional arguments, as
// the usage lines write them; "--" ends the flags.
func TestParseFlagsAfterArguments(t *testing.T) {
	for _, tc := range []struct {
		args []string
		url  string
		pos  []string
	}{
		{[]string{"ACME", "--url", "http://x"}, "http://x", []string{"ACME"}},
		{[]string{"--url", "http://x", "A.db", "B.db"}, "http://x", []string{"A.db", "B.db"}},
		{[]string{"A.db", "--url=http://y", "B.db"}, "http://y", []string{"A.db", "B.db"}},
		{[]string{"A", "--", "--url", "-"}, "", []string{"A", "--url", "-"}},
	} {
		m := &Main{Getenv: func(string) string { return "" }}
		fs := m.flagSet("test")
		url := fs.String("url", "", "")
		if err := m.parse(fs, tc.args); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if *url != tc.url || !slices.Equal(fs.Args(), tc.pos) {
			t.Errorf("%q: url %q, arguments %q; want %q, %q", tc.args, *url, fs.Args(), tc.url, tc.pos)
		}
	}
}

// TestDoorGuardsIDs: what the HTTP door refuses so that the log's
// deduplication and its readers are not fooled: ids that NATS would trim
// into another event's id, kam's tick ids on other events, and invalid
// UTF-8 anywhere in the body. Each gets 400 naming the field, and nothing of
// the request is stored.
func TestDoorGuardsIDs(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks")
	defer k.stop()
	if code, body := k.call("POST", "/v1/events", order("x9", "ACME", "2026-01-05T10:00:00Z", "1.00")); code != http.StatusCreated {
		t.Fatalf("first order: %d %v", code, body)
	}
	tick := `{"id":"clock.tick/2026-01-06","source":"t","type":"clock.tick","time":"2026-01-06T00:00:00Z"}`
	for _, tc := range []struct{ name, body, field string }{
		{"spaces around an id", `{"id":" x9 ","source":"t","type":"order.placed","subject":"B","time":"2026-01-05T11:00:00Z","data":{"order_id":"o2","amount":"2.00"}}`, "id"},
		{"blank id", `{"id":"   ","source":"t","type":"order.placed","subject":"B","time":"2026-01-05T11:00:00Z","data":{"order_id":"o3","amount":"2.00"}}`, "id"},
		{"a tick's id on a visit", `{"id":"clock.tick/2026-01-06","source":"t","type":"visit.logged","subject":"B","time":"2026-01-05T09:00:00Z","data":{"visit_id":"v","rep":"r"}}`, "id"},
		{"a tick's id at another time", `{"id":"clock.tick/2026-01-06","source":"t","type":"clock.tick","time":"2026-01-05T12:00:00Z"}`, "id"},
		{"invalid UTF-8 in data", "[" + tick + `,{"id":"r1","source":"t","type":"service_request.opened","subject":"B","time":"2026-01-05T11:00:00Z","data":{"request_id":"R` + "\xff" + `","priority":"low"}}]`, "data.request_id"},
	} {
		code, body := k.call("POST", "/v1/events", tc.body)
		e, _ := body["error"].(map[string]any)
		details, _ := e["details"].([]any)
		var field any
		if len(details) == 1 {
			field = details[0].(map[string]any)["field"]
		}
		if code != http.StatusBadRequest || field != tc.field {
			t.Errorf("%s: %d %v; want 400 naming %s", tc.name, code, body, tc.field)
		}
	}
	_, st := k.call("GET", "/v1/status", nil)
	if n := st["stream"].(map[string]any)["last_seq"]; n != float64(1) {
		t.Errorf("stream: %v events, want 1 (nothing of a refused request stored)", n)
	}
	// A tick under its own id passes.
	if code, body := k.call("POST", "/v1/events", tick); code != http.StatusCreated {
		t.Errorf("the tick under its id: %d %v", code, body)
	}
}
