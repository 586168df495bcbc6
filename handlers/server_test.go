package handlers

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"kam/projections"
	"kam/web"
)

// fakeAdmin counts the rebuilds it was asked for.
type fakeAdmin struct {
	mu       sync.Mutex
	rebuilds int
}

func (a *fakeAdmin) Rebuild() (projections.RebuildStatus, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.rebuilds++
	return projections.RebuildStatus{Running: true}, nil
}
func (a *fakeAdmin) RebuildStatus() (projections.RebuildStatus, bool) {
	return projections.RebuildStatus{}, false
}
func (a *fakeAdmin) DB() *projections.DB                { return nil }
func (a *fakeAdmin) CurrentPolicy() *projections.Policy { return nil }

// TestContentType: a request that changes state needs a JSON Content-Type,
// so that a browser cannot send it cross-origin without a CORS preflight
// (text/plain, form and multipart posts need none).
func TestContentType(t *testing.T) {
	log, admin := &fakeLog{}, &fakeAdmin{}
	srv := &Server{Log: log, Admin: admin, Rules: projections.DefaultPolicy().Rules(), Guard: NewGuard(GuardConfig{})}
	h := srv.Handler()
	batch := "[" + testOrder("b1") + "," + testOrder("b2") + "]"
	tests := []struct {
		name, path, ctype, body string
		code                    int
	}{
		{"text/plain", "/v1/events", "text/plain", testOrder("x1"), 415},
		{"text/plain with charset", "/v1/events", "text/plain;charset=UTF-8", testOrder("x2"), 415},
		{"form", "/v1/events", "application/x-www-form-urlencoded", testOrder("x3"), 415},
		{"multipart", "/v1/events", "multipart/form-data; boundary=x", testOrder("x4"), 415},
		{"none", "/v1/events", "", testOrder("x5"), 415},
		{"malformed", "/v1/events", "application/json; charset", testOrder("x6"), 415},
		{"json in a parameter", "/v1/events", "text/plain; x=application/json", testOrder("x7"), 415},
		{"json", "/v1/events", "application/json", testOrder("a1"), 201},
		{"json with charset, any case", "/v1/events", "Application/JSON; charset=utf-8", testOrder("a2"), 201},
		{"cloudevents", "/v1/events", "application/cloudevents+json", testOrder("a3"), 201},
		{"cloudevents batch", "/v1/events", "application/cloudevents-batch+json", batch, 201},
		{"rebuild, no type", "/v1/admin/rebuild", "", "", 415},
		{"rebuild, form", "/v1/admin/rebuild", "application/x-www-form-urlencoded", "", 415},
		{"rebuild, json", "/v1/admin/rebuild", "application/json", "", 202},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest("POST", tt.path, strings.NewReader(tt.body))
			req.Host = "localhost"
			req.Header.Set("Origin", "http://evil.example")
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tt.code {
				t.Fatalf("got %d %s, want %d", rec.Code, rec.Body, tt.code)
			}
			if tt.code == 415 && !strings.Contains(rec.Body.String(), `"field":"Content-Type"`) {
				t.Errorf("got %s, want an error naming the field Content-Type", rec.Body)
			}
		})
	}
	log.mu.Lock()
	var ids []string
	for _, e := range log.evs {
		ids = append(ids, e.ID)
	}
	log.mu.Unlock()
	if got, want := strings.Join(ids, " "), "a1 a2 a3 b1 b2"; got != want {
		t.Errorf("appended: got %q, want %q", got, want)
	}
	if admin.rebuilds != 1 {
		t.Errorf("rebuilds started: got %d, want 1", admin.rebuilds)
	}
}

// TestGuardHost: without tokens, kam answers only requests that name it by a
// loopback name or the address it listens on; a page that rebinds its own
// name to 127.0.0.1 gets 421. With tokens the Host does not matter.
func TestGuardHost(t *testing.T) {
	tests := []struct {
		listen, host string
		code         int
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080", 200},
		{"127.0.0.1:8080", "127.0.0.1", 200},
		{"127.0.0.1:8080", "127.0.0.2:8080", 200},
		{"127.0.0.1:8080", "localhost:8080", 200},
		{"127.0.0.1:8080", "LOCALHOST.:8080", 200},
		{"127.0.0.1:8080", "[::1]:8080", 200},
		{"127.0.0.1:8080", "", 200},
		{"127.0.0.1:8080", "evil.example:8080", 421},
		{"127.0.0.1:8080", "evil.example", 421},
		{"127.0.0.1:8080", "localhost.evil.example:8080", 421},
		{"127.0.0.1:8080", "10.0.0.4:8080", 421},
		{"", "localhost", 200},
		{"", "evil.example", 421},
		{"10.0.0.4:8080", "10.0.0.4:8080", 200},
		{"10.0.0.4:8080", "10.0.0.5:8080", 421},
		{"10.0.0.4:8080", "kam.internal:8080", 421},
		{"kam.internal:8080", "kam.internal:8080", 200},
		{"kam.internal:8080", "Kam.Internal", 200},
		{"0.0.0.0:8080", "10.0.0.4:8080", 200},
		{"[::]:8080", "[fd00::4]:8080", 200},
		{":8080", "10.0.0.4:8080", 200},
		{":8080", "kam.internal:8080", 421},
		{"0.0.0.0:8080", "evil.example:8080", 421},
	}
	for _, tt := range tests {
		t.Run(tt.listen+"/"+tt.host, func(t *testing.T) {
			srv := &Server{Log: &fakeLog{}, Rules: projections.DefaultPolicy().Rules(), Guard: NewGuard(GuardConfig{Listen: tt.listen})}
			h := srv.Handler()
			for _, path := range []string{"/v1/status", "/healthz"} {
				req := httptest.NewRequest("GET", path, nil)
				req.Host = tt.host
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				if rec.Code != tt.code {
					t.Fatalf("GET %s: got %d %s, want %d", path, rec.Code, rec.Body, tt.code)
				}
				if tt.code == 421 && !strings.Contains(rec.Body.String(), `"code":"misdirected"`) {
					t.Errorf("GET %s: got %s, want the error code misdirected", path, rec.Body)
				}
			}
		})
	}
	srv := &Server{Log: &fakeLog{}, Rules: projections.DefaultPolicy().Rules(),
		Guard: NewGuard(GuardConfig{Listen: "127.0.0.1:8080", Tokens: tokensOf(t, line("analyst", "read", "tok-analyst"))})}
	req := httptest.NewRequest("GET", "/v1/status", nil)
	req.Host = "kam.example.com"
	req.Header.Set("Authorization", "Bearer tok-analyst")
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Errorf("with tokens, Host kam.example.com: got %d %s, want 200", rec.Code, rec.Body)
	}
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, redacted, bare string }{
		{"nats://127.0.0.1:4222", "nats://127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://kam:s3cret@127.0.0.1:4222", "nats://kam:xxxxx@127.0.0.1:4222", "nats://127.0.0.1:4222"},
		{"nats://s3cret-token@h:4222", "nats://xxxxx@h:4222", "nats://h:4222"},
		{"tls://kam:p/a?s@s#w@h1:4222,nats://kam:p2@h2:4222", "tls://kam:xxxxx@h1:4222,nats://kam:xxxxx@h2:4222", "tls://h1:4222,nats://h2:4222"},
		{"kam:s3cret@h:4222", "kam:xxxxx@h:4222", "h:4222"},
		{"", "", ""},
	}
	for _, tt := range tests {
		if got := RedactURL(tt.in); got != tt.redacted {
			t.Errorf("RedactURL(%q): got %q, want %q", tt.in, got, tt.redacted)
		}
		if got := withoutUserinfo(tt.in); got != tt.bare {
			t.Errorf("withoutUserinfo(%q): got %q, want %q", tt.in, got, tt.bare)
		}
	}
}

// TestStatusHidesCredentials: /v1/status, open to every read token, shows
// where NATS is, not the credentials in its URL.
func TestStatusHidesCredentials(t *testing.T) {
	srv := &Server{Log: &fakeLog{}, NATS: NATSInfo{Mode: "external", URL: "nats://kam:s3cret@h1:4222,nats://tok3n@h2:4222"}}
	a := do(t, srv.Handler(), "GET", "/v1/status", "", "")
	nats, _ := a.body["nats"].(map[string]any)
	if a.code != 200 || nats["url"] != "nats://h1:4222,nats://h2:4222" {
		t.Errorf("got %d nats %v, want 200 with url nats://h1:4222,nats://h2:4222", a.code, nats)
	}
}

// TestMethodNotAllowed: a path that has routes answers another method with
// 405, Allow and the JSON error, in the API and outside it (not the
// dashboard's plain text).
func TestMethodNotAllowed(t *testing.T) {
	srv := &Server{Log: &fakeLog{}, Admin: &fakeAdmin{}, Rules: projections.DefaultPolicy().Rules(), Guard: NewGuard(GuardConfig{}),
		UI: web.Handler(), Metrics: NewMetrics().Handler()}
	h := srv.Handler()
	tests := []struct {
		method, path string
		code         int
		allow        string
	}{
		{"PUT", "/v1/events", 405, "GET, HEAD, POST"},
		{"DELETE", "/v1/events", 405, "GET, HEAD, POST"},
		{"PATCH", "/v1/events", 405, "GET, HEAD, POST"},
		{"OPTIONS", "/v1/events", 405, "GET, HEAD, POST"},
		{"PUT", "/v1/status", 405, "GET, HEAD"},
		{"POST", "/v1/accounts/ACME", 405, "GET, HEAD"},
		{"DELETE", "/v1/admin/rebuild", 405, "GET, HEAD, POST"},
		{"PUT", "/metrics", 405, "GET, HEAD"},
		{"POST", "/healthz", 405, "GET, HEAD"},
		{"DELETE", "/readyz", 405, "GET, HEAD"},
		{"GET", "/v1/nothing", 404, ""},
		{"PUT", "/v1/nothing", 404, ""},
		{"GET", "/healthz", 200, ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			a := do(t, h, tt.method, tt.path, "", "")
			if a.code != tt.code || a.hdr.Get("Allow") != tt.allow {
				t.Fatalf("got %d Allow %q %v, want %d Allow %q", a.code, a.hdr.Get("Allow"), a.body, tt.code, tt.allow)
			}
			if want := map[int]string{405: "method_not_allowed", 404: "not_found"}[tt.code]; errCode(a) != want {
				t.Errorf("error code: got %q (%v), want %q", errCode(a), a.body, want)
			}
		})
	}
	// The dashboard still answers its own paths.
	if a := do(t, h, "GET", "/accounts", "", ""); a.code != 200 {
		t.Errorf("GET /accounts (the dashboard): got %d, want 200", a.code)
	}
}

// TestEventsLimit: GET /v1/events refuses a limit out of 1..1000 as
// /v1/accounts does, rather than answering another page size.
func TestEventsLimit(t *testing.T) {
	h := (&Server{Log: &fakeLog{}}).Handler()
	tests := []struct {
		path string
		code int
	}{
		{"/v1/events", 200},
		{"/v1/events?limit=1", 200},
		{"/v1/events?limit=1000", 200},
		{"/v1/events?limit=0", 400},
		{"/v1/events?limit=1001", 400},
		{"/v1/events?limit=18446744073709551615", 400},
		{"/v1/events?account=ACME&limit=0", 400},
		{"/v1/events?account=ACME&limit=1001", 400},
		{"/v1/accounts?limit=1001", 400},
	}
	for _, tt := range tests {
		a := do(t, h, "GET", tt.path, "", "")
		if a.code != tt.code {
			t.Errorf("GET %s: got %d %v, want %d", tt.path, a.code, a.body, tt.code)
			continue
		}
		if tt.code == 400 {
			e, _ := a.body["error"].(map[string]any)
			d, _ := e["details"].([]any)
			if len(d) != 1 || d[0].(map[string]any)["field"] != "limit" || d[0].(map[string]any)["problem"] != "must be 1 to 1000" {
				t.Errorf("GET %s: got %v, want details naming limit, must be 1 to 1000", tt.path, a.body)
			}
		}
	}
}

// TestQueryParams: a parameter a route does not take, or one given twice,
// is refused and named, before anything is read.
func TestQueryParams(t *testing.T) {
	h := (&Server{Log: &fakeLog{}}).Handler()
	tests := []struct {
		path, field, problem string
	}{
		{"/v1/accounts?teir=A", "teir", "not a parameter of this route; it takes as_of, min_seq, tier, key,"},
		{"/v1/accounts?tier=A&tier=B", "tier", "given more than once"},
		{"/v1/accounts/ACME?limit=5", "limit", "not a parameter of this route; it takes as_of, min_seq"},
		{"/v1/reports/sla?by=tier&group=tier", "group", "not a parameter"},
		{"/v1/status?verbose=1", "verbose", "this route takes no query parameters"},
		{"/v1/events?acount=ACME", "acount", "not a parameter of this route; it takes account, after, limit"},
		// Pairs that url.Values cannot read are not dropped.
		{"/v1/accounts?q=50%", "query", "invalid URL escape"},
		{"/v1/accounts?tier=A;", "query", "invalid semicolon separator"},
		{"/v1/accounts?teir=A%zz", "query", "invalid URL escape"},
	}
	for _, tt := range tests {
		a := do(t, h, "GET", tt.path, "", "")
		e, _ := a.body["error"].(map[string]any)
		d, _ := e["details"].([]any)
		if a.code != 400 || len(d) != 1 || d[0].(map[string]any)["field"] != tt.field ||
			!strings.HasPrefix(d[0].(map[string]any)["problem"].(string), tt.problem) {
			t.Errorf("GET %s: got %d %v, want 400 naming %s: %s", tt.path, a.code, a.body, tt.field, tt.problem)
		}
	}
	// The parameters a route takes pass the check (the fake log answers).
	for _, path := range []string{"/v1/events?account=ACME&after=0&limit=5", "/healthz?probe=lb"} {
		if a := do(t, h, "GET", path, "", ""); a.code != 200 {
			t.Errorf("GET %s: got %d %v, want 200", path, a.code, a.body)
		}
	}
}
