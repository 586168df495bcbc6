package handlers

import (
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"kam/projections"
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
