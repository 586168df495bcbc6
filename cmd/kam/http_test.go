package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestForgedRequests: kam without tokens (the quick start) trusts loopback
// callers, and a browser on the host is one, acting for any web page. A
// page can make it send text/plain and form posts without a CORS
// preflight: kam refuses them. kam's own client sends a JSON type, even on
// a POST without a body. And a page that rebinds its own name to 127.0.0.1
// cannot read kam either: kam answers only Hosts that are its own.
func TestForgedRequests(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks")
	ev := `{"source":"evil","type":"order.placed","subject":"VICTIM","time":"2026-03-02T10:00:00Z","data":{"order_id":"x","amount":"999999.00"}}`
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded"} {
		req, _ := http.NewRequest("POST", k.url("/v1/events"), strings.NewReader(ev))
		req.Header.Set("Origin", "http://evil.example")
		req.Header.Set("Content-Type", ct)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("POST /v1/events as %s: got %d, want 415", ct, resp.StatusCode)
		}
	}
	resp, err := http.Post(k.url("/v1/admin/rebuild"), "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("POST /v1/admin/rebuild as text/plain: got %d, want 415", resp.StatusCode)
	}
	if code, body := k.call("GET", "/v1/events", nil); code != 200 || len(body["events"].([]any)) != 0 {
		t.Errorf("the log after the forged posts: got %d %v, want no event", code, body)
	}

	// DNS rebinding: a page at evil.example whose name now points at
	// 127.0.0.1 reads through the browser, with its own name as Host.
	_, port, _ := strings.Cut(k.addrs.HTTP, ":")
	for host, want := range map[string]int{"evil.example:" + port: 421, "localhost:" + port: 200, k.addrs.HTTP: 200} {
		req, _ := http.NewRequest("GET", k.url("/v1/accounts"), nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("GET /v1/accounts with Host %s: got %d, want %d", host, resp.StatusCode, want)
		}
	}

	c := newAPIClient("http://"+k.addrs.HTTP, "")
	if code, _, err := c.do(context.Background(), http.MethodPost, "/v1/admin/rebuild", nil, nil); code != http.StatusAccepted {
		t.Errorf("kam's client, POST /v1/admin/rebuild: got %d %v, want 202", code, err)
	}
}

// TestStatusExternalNATS: credentials in --nats-url are not shown to
// whoever may read /v1/status; while NATS is down /v1/status says so, with
// the projector's part, and reads of the stream name the cause.
func TestStatusExternalNATS(t *testing.T) {
	s := runNATS(t, `authorization { user: kam, password: "s3cret-pw" }`)
	natsURL := "nats://kam:s3cret-pw@" + strings.TrimPrefix(s.ClientURL(), "nats://")
	k := startKam(t, t.TempDir(), "--no-ticks", "--nats-url", natsURL)
	appendAndRead(t, k)

	status := func() (int, map[string]any) {
		resp, err := http.Get(k.url("/v1/status"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		if strings.Contains(string(raw), "s3cret-pw") {
			t.Errorf("/v1/status shows the NATS password: %s", raw)
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil {
			t.Fatalf("/v1/status: not JSON: %s", raw)
		}
		return resp.StatusCode, body
	}
	code, body := status()
	nats, _ := body["nats"].(map[string]any)
	if code != 200 || nats["url"] != s.ClientURL() || nats["connected"] != true {
		t.Errorf("/v1/status: got %d nats %v, want 200 with url %s, connected", code, nats, s.ClientURL())
	}

	s.Shutdown()
	checkFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		code, body := status()
		e, _ := body["error"].(map[string]any)
		if msg, _ := e["message"].(string); code != 503 || !strings.HasPrefix(msg, "NATS is unreachable") {
			return fmt.Errorf("got %d %v, want 503 saying NATS is unreachable", code, body)
		}
		nats, _ := body["nats"].(map[string]any)
		proj, _ := body["projector"].(map[string]any)
		if nats["connected"] != false || proj["applied_seq"] != float64(1) {
			return fmt.Errorf("got nats %v, projector %v; want connected false, applied_seq 1", nats, proj)
		}
		return nil
	})
	code, body = k.call("GET", "/v1/events", nil)
	if e, _ := body["error"].(map[string]any); code != 503 || !strings.HasPrefix(e["message"].(string), "NATS is unreachable") {
		t.Errorf("GET /v1/events with NATS down: got %d %v, want 503 saying NATS is unreachable", code, body)
	}
	if strings.Contains(k.logs.String(), "s3cret-pw") {
		t.Errorf("the log shows the NATS password:\n%s", k.logs)
	}
}

// TestQueryRanges: an offset past what SQLite takes is refused, not wrapped
// around to the first rows; a min_seq the stream does not hold yet is
// answered at once, not after the read-your-writes wait; rows of a model
// that moved on since kam verify read its digests are refused.
func TestQueryRanges(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks")
	appendAndRead(t, k)
	tests := []struct {
		path  string
		code  int
		field string
	}{
		{"/v1/admin/rows?table=accounts", 200, ""},
		{"/v1/admin/rows?table=accounts&offset=9223372036854775807", 200, ""},
		{"/v1/admin/rows?table=accounts&offset=9223372036854775808", 400, "offset"},
		{"/v1/admin/rows?table=accounts&offset=18446744073709551615", 400, "offset"},
		// kam verify pages through the model whose digests it read.
		{"/v1/admin/rows?table=accounts&applied_seq=1", 200, ""},
		{"/v1/admin/rows?table=accounts&applied_seq=2", 409, ""},
		{"/v1/admin/rows?table=accounts&applied=1", 400, "applied"},
		{"/v1/accounts/ACME?min_seq=1", 200, ""},
		{"/v1/accounts/ACME?min_seq=2", 400, "min_seq"},
		{"/v1/accounts?min_seq=18446744073709551615", 400, "min_seq"},
	}
	for _, tt := range tests {
		code, body := k.call("GET", tt.path, nil)
		if code != tt.code {
			t.Errorf("GET %s: got %d %v, want %d", tt.path, code, body, tt.code)
			continue
		}
		if tt.field != "" {
			e, _ := body["error"].(map[string]any)
			d, _ := e["details"].([]any)
			if len(d) != 1 || d[0].(map[string]any)["field"] != tt.field {
				t.Errorf("GET %s: got %v, want details naming %s", tt.path, body, tt.field)
			}
		}
	}
	_, body := k.call("GET", "/v1/admin/rows?table=accounts&offset=9223372036854775807", nil)
	if rows, _ := body["rows"].([]any); len(rows) != 0 {
		t.Errorf("rows past the end: got %v, want none", body)
	}
	// A sequence the model has not reached is not one it moved past; the
	// answer gives the sequence it has applied.
	_, body = k.call("GET", "/v1/admin/rows?table=accounts&applied_seq=2", nil)
	if e, _ := body["error"].(map[string]any); e["current_sequence"] != float64(1) || !strings.Contains(fmt.Sprint(e["message"]), "not reached") {
		t.Errorf("rows of a sequence not reached: got %v, want current_sequence 1 and \"not reached\"", body)
	}
}
