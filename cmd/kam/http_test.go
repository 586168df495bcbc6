package main

import (
	"context"
	"net/http"
	"strings"
	"testing"
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
