package handlers

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"kam/auth"
	"kam/events"
	"kam/events/natsstore"
	"kam/projections"
)

// fakeLog is an in-memory EventLog for the guard's and the metrics' tests.
type fakeLog struct {
	mu     sync.Mutex
	stored []events.Stored
	evs    []*events.Event
	fail   error // returned by every append when set
}

func (f *fakeLog) Append(_ context.Context, evs []*events.Event, _ events.AppendOptions) ([]events.AppendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return nil, f.fail
	}
	res := make([]events.AppendResult, len(evs))
	for i, e := range evs {
		res[i] = f.add(e)
	}
	return res, nil
}

func (f *fakeLog) add(e *events.Event) events.AppendResult {
	for _, old := range f.evs {
		if old.ID == e.ID {
			return events.AppendResult{ID: e.ID, Seq: 1, Duplicate: true}
		}
	}
	b, _ := e.MarshalJSON()
	f.evs = append(f.evs, e)
	seq := uint64(len(f.stored) + 1)
	f.stored = append(f.stored, events.Stored{Seq: seq, Subject: e.Subject, Stored: time.Now(), Data: b})
	return events.AppendResult{ID: e.ID, Seq: seq}
}

func (f *fakeLog) AppendEach(_ context.Context, evs []*events.Event) ([]events.AppendResult, []error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	res := make([]events.AppendResult, len(evs))
	errs := make([]error, len(evs))
	for i, e := range evs {
		if f.fail != nil {
			errs[i] = f.fail
			continue
		}
		res[i] = f.add(e)
	}
	return res, errs
}

func (f *fakeLog) ReadAccount(context.Context, string, uint64, int) ([]events.Stored, error) {
	return nil, nil
}

func (f *fakeLog) ReadSeq(_ context.Context, seq uint64) (events.Stored, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if seq == 0 || seq > uint64(len(f.stored)) {
		return events.Stored{}, events.Errorf(events.ENotFound, "no event at sequence %d", seq)
	}
	return f.stored[seq-1], nil
}

func (f *fakeLog) CheckSize(*events.Event) error { return nil }

func (f *fakeLog) Read(context.Context, uint64, int) ([]events.Stored, error) { return nil, nil }

func (f *fakeLog) Status(context.Context) (natsstore.Status, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return natsstore.Status{Name: "KAM", LastSeq: uint64(len(f.stored)), Messages: uint64(len(f.stored))}, nil
}

// fakeReads is a read model that has applied up to applied.
type fakeReads struct {
	mu      sync.Mutex
	applied uint64
	status  projections.Status
}

func (r *fakeReads) Queries() *projections.Queries { return nil }
func (r *fakeReads) Status() projections.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.status
	st.AppliedSeq = r.applied
	return st
}
func (r *fakeReads) WaitApplied(context.Context, uint64) error { return nil }

func tokensOf(t *testing.T, lines ...string) *auth.Set {
	t.Helper()
	s, err := auth.Parse(strings.NewReader(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func line(name, scopes, token string) string {
	h := sha256.Sum256([]byte(token))
	return name + " " + scopes + " " + hex.EncodeToString(h[:])
}

func testOrder(id string) string {
	return `{"id":"` + id + `","source":"t","type":"order.placed","subject":"ACME","time":"2026-01-05T10:00:00Z","data":{"order_id":"` + id + `","amount":"10.00"}}`
}

type answer struct {
	code int
	hdr  http.Header
	body map[string]any
}

func do(t *testing.T, h http.Handler, method, path, token, body string) answer {
	t.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Host = "localhost" // httptest's example.com is refused without tokens
	if changesState(method) {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var out map[string]any
	if rec.Body.Len() > 0 && strings.HasPrefix(rec.Header().Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %s: answer is not JSON: %s", method, path, rec.Body)
		}
	}
	return answer{code: rec.Code, hdr: rec.Header(), body: out}
}

func errCode(a answer) string {
	e, _ := a.body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestGuardTokens(t *testing.T) {
	log := &fakeLog{}
	set := tokensOf(t,
		line("erp", "publish", "tok-erp"),
		line("analyst", "read", "tok-analyst"),
		line("ops", "admin", "tok-ops"))
	srv := &Server{Log: log, Rules: projections.DefaultPolicy().Rules(), Guard: NewGuard(GuardConfig{Tokens: set}), Ready: func(context.Context) error { return nil }}
	h := srv.Handler()

	tests := []struct {
		name, method, path, token, body string
		code                            int
		errCode, wwwAuth                string
	}{
		{name: "no token", method: "POST", path: "/v1/events", body: testOrder("a"), code: 401, errCode: "unauthorized", wwwAuth: `Bearer realm="kam"`},
		{name: "unknown token", method: "POST", path: "/v1/events", token: "tok-nobody", body: testOrder("a"), code: 401, errCode: "unauthorized", wwwAuth: "invalid_token"},
		{name: "wrong scope", method: "POST", path: "/v1/events", token: "tok-analyst", body: testOrder("a"), code: 403, errCode: "forbidden", wwwAuth: "insufficient_scope"},
		{name: "publish", method: "POST", path: "/v1/events", token: "tok-erp", body: testOrder("a"), code: 201},
		{name: "admin publishes too", method: "POST", path: "/v1/events", token: "tok-ops", body: testOrder("b"), code: 201},
		{name: "read needs read", method: "GET", path: "/v1/status", token: "tok-erp", code: 403, errCode: "forbidden"},
		{name: "read", method: "GET", path: "/v1/status", token: "tok-analyst", code: 200},
		{name: "healthz is open", method: "GET", path: "/healthz", code: 200},
		{name: "readyz is open", method: "GET", path: "/readyz", code: 200},
		{name: "unknown route needs no token", method: "GET", path: "/v1/nothing", code: 404, errCode: "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := do(t, h, tt.method, tt.path, tt.token, tt.body)
			if a.code != tt.code {
				t.Fatalf("got %d %v, want %d", a.code, a.body, tt.code)
			}
			if got := errCode(a); got != tt.errCode {
				t.Errorf("error code: got %q, want %q", got, tt.errCode)
			}
			if got := a.hdr.Get("WWW-Authenticate"); !strings.Contains(got, tt.wwwAuth) {
				t.Errorf("WWW-Authenticate: got %q, want it to contain %q", got, tt.wwwAuth)
			}
		})
	}
	// The token's name is the actor of what it appended, whatever the
	// Kam-Actor header says.
	req := httptest.NewRequest("POST", "/v1/events", strings.NewReader(testOrder("c")))
	req.Header.Set("Authorization", "bearer tok-erp")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(HeaderActor, "mallory")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 201 {
		t.Fatalf("append c: got %d %s", rec.Code, rec.Body)
	}
	log.mu.Lock()
	defer log.mu.Unlock()
	actors := []string{}
	for _, e := range log.evs {
		actors = append(actors, e.ID+":"+e.Actor)
	}
	if got, want := strings.Join(actors, " "), "a:erp b:ops c:erp"; got != want {
		t.Errorf("actors: got %q, want %q", got, want)
	}
}

func TestGuardRateLimit(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	set := tokensOf(t, line("a", "read", "tok-a"), line("b", "read", "tok-b"))
	srv := &Server{Log: &fakeLog{}, Guard: NewGuard(GuardConfig{Tokens: set, Rate: 0.5, Burst: 2, Now: clock})}
	h := srv.Handler()
	for i := range 2 {
		if a := do(t, h, "GET", "/v1/status", "tok-a", ""); a.code != 200 {
			t.Fatalf("request %d within the burst: got %d", i+1, a.code)
		}
	}
	a := do(t, h, "GET", "/v1/status", "tok-a", "")
	if a.code != http.StatusTooManyRequests || errCode(a) != "rate_limited" || a.hdr.Get("Retry-After") != "2" {
		t.Fatalf("over the limit: got %d %q Retry-After %q, want 429 rate_limited Retry-After 2", a.code, errCode(a), a.hdr.Get("Retry-After"))
	}
	// Another token has its own budget; health checks have none.
	if a := do(t, h, "GET", "/v1/status", "tok-b", ""); a.code != 200 {
		t.Errorf("token b: got %d, want 200", a.code)
	}
	if a := do(t, h, "GET", "/healthz", "", ""); a.code != 200 {
		t.Errorf("healthz: got %d, want 200", a.code)
	}
	// A refused request takes nothing: after 2s one more is allowed.
	advance(2 * time.Second)
	if a := do(t, h, "GET", "/v1/status", "tok-a", ""); a.code != 200 {
		t.Errorf("after 2s: got %d, want 200", a.code)
	}
	if a := do(t, h, "GET", "/v1/status", "tok-a", ""); a.code != 429 {
		t.Errorf("right after: got %d, want 429", a.code)
	}
}

func TestGuardWithoutTokens(t *testing.T) {
	srv := &Server{Log: &fakeLog{}, Rules: projections.DefaultPolicy().Rules(), Guard: NewGuard(GuardConfig{})}
	h := srv.Handler()
	if a := do(t, h, "POST", "/v1/events", "", testOrder("x")); a.code != 201 {
		t.Errorf("no tokens configured: got %d %v, want 201", a.code, a.body)
	}
	// A token sent anyway is ignored.
	if a := do(t, h, "GET", "/v1/status", "whatever", ""); a.code != 200 {
		t.Errorf("no tokens configured, a token sent: got %d, want 200", a.code)
	}
}

func TestBearer(t *testing.T) {
	tests := []struct {
		h, tok string
		ok     bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"  Bearer   abc  ", "abc", true},
		{"Basic abc", "", false},
		{"Bearer", "", false},
		{"Bearer ", "", false},
		{"", "", false},
		{"abc", "", false},
	}
	for _, tt := range tests {
		tok, ok := bearer(tt.h)
		if tok != tt.tok || ok != tt.ok {
			t.Errorf("bearer(%q): got %q %v, want %q %v", tt.h, tok, ok, tt.tok, tt.ok)
		}
	}
}

func TestScopesAgree(t *testing.T) {
	for _, p := range [][2]string{{ScopePublish, auth.ScopePublish}, {ScopeRead, auth.ScopeRead}, {ScopeAudit, auth.ScopeAudit}, {ScopeAdmin, auth.ScopeAdmin}} {
		if p[0] != p[1] {
			t.Errorf("handlers scope %q, auth scope %q", p[0], p[1])
		}
	}
}
