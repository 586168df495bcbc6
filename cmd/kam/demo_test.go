package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kam/events"
)

// runCmd runs one kam command in this process and returns its exit code,
// stdout and stderr.
func runCmd(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut syncBuffer
	m := &Main{Stdout: &out, Stderr: &errOut, Now: time.Now}
	code := m.Run(context.Background(), args)
	return code, out.String(), errOut.String()
}

// pollFor polls f until it returns nil or the time is up.
func pollFor(t *testing.T, total, every time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", total, err)
		}
		time.Sleep(every)
	}
}

// waitProjected waits until kam's read model has applied the whole stream and
// returns the stream's last sequence.
func waitProjected(t *testing.T, k *kam, within time.Duration) uint64 {
	t.Helper()
	var last uint64
	pollFor(t, within, 20*time.Millisecond, func() error {
		_, body := k.call("GET", "/v1/status", nil)
		stream, _ := body["stream"].(map[string]any)
		proj, _ := body["projector"].(map[string]any)
		if stream == nil || proj == nil {
			return fmt.Errorf("status: %v", body)
		}
		last = uint64(stream["last_seq"].(float64))
		if applied := uint64(proj["applied_seq"].(float64)); applied != last {
			return fmt.Errorf("projector applied %d of %d", applied, last)
		}
		return nil
	})
	return last
}

func TestDemoCommandDeterministic(t *testing.T) {
	dir := t.TempDir()
	gen := func(name string, extra ...string) []byte {
		t.Helper()
		path := filepath.Join(dir, name)
		args := append([]string{"demo", "--accounts", "20", "--days", "40", "--end", "2026-01-31", "-o", path}, extra...)
		if code, _, errOut := runCmd(t, args...); code != 0 {
			t.Fatalf("kam %v: exit %d: %s", args, code, errOut)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a, b, c := gen("a"), gen("b"), gen("c", "--seed", "2")
	if !bytes.Equal(a, b) {
		t.Error("same flags: got different bytes")
	}
	if bytes.Equal(a, c) {
		t.Error("seeds 1 and 2: got the same bytes")
	}
	sc := bufio.NewScanner(bytes.NewReader(a))
	sc.Buffer(nil, 1<<20)
	n := 0
	var last *events.Event
	for sc.Scan() {
		n++
		e, err := events.Decode(sc.Bytes(), false)
		if err == nil {
			_, err = events.Validate(e, events.DefaultRules)
		}
		if err != nil {
			t.Fatalf("line %d: %v", n, err)
		}
		last = e
	}
	if last == nil || last.Type != events.TypeClockTick || last.Time.Format(time.RFC3339) != "2026-02-01T00:00:00Z" {
		t.Errorf("last line: got %+v, want the clock.tick at 2026-02-01", last)
	}
	for _, bad := range [][]string{{"--accounts", "-3"}, {"--end", "31/01/2026"}, {"--url", "http://x", "-o", "f"}} {
		if code, _, errOut := runCmd(t, append([]string{"demo"}, bad...)...); code == 0 || errOut == "" {
			t.Errorf("kam demo %v: got exit %d, want an error", bad, code)
		}
	}
}

// TestDemoAppends appends the demo through a running kam over HTTP, then
// again (all duplicates), then straight to NATS.
func TestDemoAppends(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks")
	args := []string{"demo", "--accounts", "15", "--days", "90", "--url", "http://" + k.addrs.HTTP}
	code, _, errOut := runCmd(t, args...)
	if code != 0 {
		t.Fatalf("demo --url: exit %d: %s", code, errOut)
	}
	var total int
	if _, err := fmt.Sscanf(errOut, "demo: %d events", &total); err != nil || total < 100 {
		t.Fatalf("summary %q: want the events count", errOut)
	}
	if want := fmt.Sprintf("appended %d, duplicates 0, refused 0", total); !strings.Contains(errOut, want) {
		t.Errorf("first run: got %q, want %q", errOut, want)
	}
	if last := waitProjected(t, k, 20*time.Second); last != uint64(total) {
		t.Errorf("stream: got %d events, want %d", last, total)
	}
	_, errOut = func() (int, string) { c, _, e := runCmd(t, args...); return c, e }()
	if want := fmt.Sprintf("appended 0, duplicates %d, refused 0", total); !strings.Contains(errOut, want) {
		t.Errorf("second run: got %q, want %q", errOut, want)
	}
	// Straight to NATS, into another kam: once, then again (all duplicates,
	// with a warning that the stream is not empty).
	k2 := startKam(t, t.TempDir(), "--no-ticks")
	nargs := []string{"demo", "--accounts", "15", "--days", "90", "--nats-url", k2.addrs.NATS}
	code, _, errOut = runCmd(t, nargs...)
	if want := fmt.Sprintf("appended %d, duplicates 0, refused 0", total); code != 0 || !strings.Contains(errOut, want) {
		t.Errorf("demo --nats-url: exit %d, %q; want %q", code, errOut, want)
	}
	code, _, errOut = runCmd(t, nargs...)
	if want := fmt.Sprintf("appended 0, duplicates %d, refused 0", total); code != 0 || !strings.Contains(errOut, "already holds") || !strings.Contains(errOut, want) {
		t.Errorf("demo --nats-url again: exit %d, %q; want a warning and %q", code, errOut, want)
	}
	if last := waitProjected(t, k2, 20*time.Second); last != uint64(total) {
		t.Errorf("stream of the second kam: got %d events, want %d", last, total)
	}
	for _, kk := range []*kam{k, k2} {
		code, body := kk.call("GET", "/v1/status", nil)
		if rej := body["projector"].(map[string]any)["rejected"].(float64); code != 200 || rej != 0 {
			t.Errorf("rejected events: got %v, want 0", rej)
		}
	}
}

// TestServeDemo: kam serve --demo loads the demo into an empty data dir,
// and leaves a stream that holds events alone.
func TestServeDemo(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir, "--demo")
	last := waitProjected(t, k, 30*time.Second)
	if last < 3000 {
		t.Errorf("stream after --demo: got %d events, want the demo's thousands", last)
	}
	code, body := k.call("GET", "/v1/accounts?limit=1", nil)
	if code != 200 || body["total"].(float64) != 200 {
		t.Errorf("accounts: got %d %v, want 200", code, body["total"])
	}
	code, body = k.call("GET", "/v1/reports/abc", nil)
	tiers, _ := body["tiers"].(map[string]any)
	if code != 200 || tiers == nil || tiers["A"].(map[string]any)["accounts"].(float64) == 0 {
		t.Errorf("abc report: got %d %v, want A accounts", code, body)
	}
	if !strings.Contains(k.logs.String(), "demo loaded") {
		t.Errorf("logs: no \"demo loaded\" line:\n%s", k.logs.String())
	}
	k.stop()

	k2 := startKam(t, dir, "--demo")
	if got := waitProjected(t, k2, 30*time.Second); got != last && got != last+1 { // +1: the daily tick, if a midnight passed
		t.Errorf("after a second --demo: got %d events, want %d", got, last)
	}
	if !strings.Contains(k2.logs.String(), "demo not loaded: the stream already holds events") {
		t.Errorf("logs: no refusal line:\n%s", k2.logs.String())
	}
}

// TestDemoRefusesZero: --accounts 0 or --days 0 is an error, not the default.
func TestDemoRefusesZero(t *testing.T) {
	for _, args := range [][]string{{"--accounts", "0"}, {"--days", "0"}, {"--accounts", "-3"}} {
		code, _, errOut := runCmd(t, append([]string{"demo", "-o", filepath.Join(t.TempDir(), "d.ndjson")}, args...)...)
		if code == 0 || !strings.Contains(errOut, args[0]+" "+args[1]+": want at least 1") {
			t.Errorf("kam demo %v: exit %d, %s; want a refusal naming the flag", args, code, errOut)
		}
	}
}

// TestAppendsToSmallBatches: kam demo and kam import through a kam that
// takes smaller batches than they make (--max-batch, --max-body) send them
// in halves, and everything arrives, in order.
func TestAppendsToSmallBatches(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks", "--max-batch", "7", "--max-body", "3000")
	code, _, errOut := runCmd(t, "demo", "--accounts", "15", "--days", "30", "--url", "http://"+k.addrs.HTTP)
	var total int
	if _, err := fmt.Sscanf(errOut, "demo: %d events", &total); code != 0 || err != nil ||
		!strings.Contains(errOut, fmt.Sprintf("appended %d, duplicates 0, refused 0", total)) {
		t.Fatalf("demo --url: exit %d: %s", code, errOut)
	}
	file := filepath.Join(t.TempDir(), "orders.csv")
	var csv strings.Builder
	csv.WriteString("cust,when,total\n")
	for i := range 50 {
		fmt.Fprintf(&csv, "IMP-%02d,2026-02-%02d,%d.25\n", i%9, 28-i%27, 10+i)
	}
	if err := os.WriteFile(file, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "import", "--url", "http://"+k.addrs.HTTP, "--account-col", "cust", "--time-col", "when",
		"--amount-col", "total", file)
	if code != 0 || !strings.Contains(out, "appended 51, duplicates 0, refused 0") {
		t.Fatalf("import --url: exit %d\n%s%s\nwant 50 rows and the closing tick appended", code, out, errOut)
	}
	if last := waitProjected(t, k, 20*time.Second); last != uint64(total+51) {
		t.Errorf("stream: got %d events, want %d", last, total+51)
	}
	code, body := k.call("GET", "/v1/status", nil)
	if rej := body["projector"].(map[string]any)["rejected"].(float64); code != 200 || rej != 0 {
		t.Errorf("rejected events: got %v, want 0", rej)
	}

	// One event over --max-body is refused, and the rest goes on.
	var nd strings.Builder
	for i := range 30 {
		note := ""
		switch i {
		case 14:
			note = strings.Repeat("x", 4000)
		}
		lines := ""
		if i == 20 { // 1.9 KB as it is; 9.9 KB had it been HTML-escaped on the way
			lines = `,"lines":[` + strings.Repeat(`{"sku":"`+strings.Repeat("&", 200)+`","qty":1},`, 7) + `{"sku":"&","qty":1}]`
		}
		fmt.Fprintf(&nd, `{"id":"pub-%d","source":"test","type":"order.placed","subject":"PUB","time":"2026-03-01T10:%02d:00Z","data":{"order_id":"o%d%s","amount":"1.00"%s}}`+"\n", i, i, i, note, lines)
	}
	pubFile := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(pubFile, []byte(nd.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = runCmd(t, "publish", "--url", "http://"+k.addrs.HTTP, pubFile)
	if code != 1 || !strings.Contains(out, "lines 30, appended 29, duplicates 0, refused 1") || !strings.Contains(out, "line 15: the body is over 3000 bytes") {
		t.Errorf("publish with one event over --max-body: exit %d\n%s%s\nwant 29 appended, line 15 refused", code, out, errOut)
	}
	// kam gives its limits with its 413: one for each command's first
	// batch, one for the event over the limit; none after.
	resp, err := http.Get(k.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if want := `kam_http_request_duration_seconds_count{code="413",route="POST /v1/events"} 4`; !strings.Contains(string(metrics), want) {
		t.Errorf("metrics: want %s; got the lines\n%s", want, grepLines(string(metrics), `code="413"`))
	}
}

// grepLines returns the lines of s that hold sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestPublishThroughProxyLimit: a 413 that gives no limits (a proxy's)
// halves the refused batch and makes later ones half its size, once: two
// large neighbours do not leave every later request a few events.
func TestPublishThroughProxyLimit(t *testing.T) {
	var requests, refused int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		requests++
		if len(body) > 4000 {
			refused++
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusRequestEntityTooLarge)
			io.WriteString(w, `{"error":{"code":"too_large","message":"request entity too large"}}`)
			return
		}
		var evs []json.RawMessage
		if err := json.Unmarshal(body, &evs); err != nil {
			t.Errorf("body: %v", err)
		}
		res := make([]map[string]any, len(evs))
		for i := range evs {
			res[i] = map[string]any{"index": i, "seq": requests*1000 + i}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]any{"results": res})
	}))
	defer srv.Close()
	var nd strings.Builder
	for i := range 400 {
		note := ""
		if i == 1 || i == 2 {
			note = strings.Repeat("x", 1800) // two large neighbours
		}
		fmt.Fprintf(&nd, `{"id":"p-%d","source":"t","type":"order.placed","subject":"A","time":"2026-03-01T10:00:00Z","data":{"order_id":"o%d%s","amount":"1.00"}}`+"\n", i, i, note)
	}
	p := &publisher{client: newAPIClient(srv.URL, ""), batch: 1000}
	sum, err := p.run(context.Background(), strings.NewReader(nd.String()), io.Discard)
	if err != nil || sum.Appended != 400 {
		t.Fatalf("appended %d, %v; want 400", sum.Appended, err)
	}
	// 400 events, 56 KB: the first body is halved four times to fit 4 KB,
	// a 413 each; the rest goes in requests of 2 to 4 KB.
	if refused > 5 || requests > 30 {
		t.Errorf("%d requests, %d refused; want at most 30 and 5", requests, refused)
	}
}
