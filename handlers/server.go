// Package handlers owns kam's HTTP API: routes, request decoding, the one
// table from error code to status, and JSON answers. It reads and writes
// through the event store and the read model and holds no state of its own.
package handlers

import (
	"context"
	"fmt"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"kam/events"
	"kam/events/natsstore"
	"kam/projections"
)

// EventLog is what the HTTP API needs of the event log.
type EventLog interface {
	events.Store
	// Read pages through the whole log.
	Read(ctx context.Context, after uint64, limit int) ([]events.Stored, error)
	Status(ctx context.Context) (natsstore.Status, error)
	// CheckSize returns an ETooLarge error when the log could not store e
	// however often it were sent (a message over NATS's max_payload).
	CheckSize(e *events.Event) error
}

// Limits of one request.
const (
	DefaultMaxBody  = 4 << 20
	DefaultMaxBatch = 1000
)

// NATSInfo says how kam reaches NATS, for /v1/status.
type NATSInfo struct {
	Mode string `json:"mode"` // embedded or external
	// URL is the server or cluster URL(s), comma separated. /v1/status
	// shows it without credentials (user:password@ or a token@), which
	// every read token would otherwise get.
	URL string `json:"url"`
}

// RedactURL returns a NATS URL list (comma separated) with its secrets
// hidden, for logs and errors: user:password@ becomes user:xxxxx@, and a
// token (a user with no password) xxxxx@.
func RedactURL(urls string) string {
	return mapUserinfo(urls, func(userinfo string) string {
		if user, _, ok := strings.Cut(userinfo, ":"); ok {
			return user + ":xxxxx@"
		}
		return "xxxxx@"
	})
}

// withoutUserinfo returns a NATS URL list without credentials, for
// /v1/status: kam verify --url connects to the URL kam reports, with its own
// --nats-* credentials (nats.go would prefer those of the URL).
func withoutUserinfo(urls string) string {
	return mapUserinfo(urls, func(string) string { return "" })
}

// mapUserinfo replaces the userinfo of each URL of a list with what f makes
// of it (f's answer includes the "@", if any). The last "@" of a URL ends
// its userinfo: a password may hold "/" or "?", a NATS URL has no path.
func mapUserinfo(urls string, f func(userinfo string) string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		scheme, rest := "", p
		if j := strings.Index(p, "://"); j >= 0 {
			scheme, rest = p[:j+3], p[j+3:]
		}
		if at := strings.LastIndex(rest, "@"); at >= 0 {
			parts[i] = scheme + f(rest[:at]) + rest[at+1:]
		}
	}
	return strings.Join(parts, ",")
}

// Server holds the HTTP API's dependencies. Fill the fields, then call Handler.
type Server struct {
	Log   EventLog
	Reads ReadModel // nil when this kam runs no read model
	Admin Admin     // the read model's administration; nil without one
	Rules events.Rules
	NATS  NATSInfo
	// Now is the wall clock, injected so that tests can pin it.
	Now func() time.Time
	// FutureTolerance is how far after Now an event's time may lie.
	FutureTolerance time.Duration
	MaxBody         int64
	MaxBatch        int
	// MinSeqWait bounds a read-your-writes wait (min_seq) before a 504.
	MinSeqWait time.Duration
	Logger     *slog.Logger
	// NewID makes ids for events sent without one (UUIDv7 by default).
	NewID func() string
	// Guard, when set, wraps every route (see Guard); nil leaves them open.
	Guard Guard
	// UI, when set, is served at / (the dashboard).
	UI http.Handler
	// Metrics, when set, is served at /metrics (scope read).
	Metrics http.Handler
	// Ready, when set, is /readyz's check (see Readiness); nil: always ready.
	Ready func(context.Context) error
}

func (s *Server) defaults() {
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.FutureTolerance == 0 {
		s.FutureTolerance = events.DefaultFutureTolerance
	}
	if s.MaxBody == 0 {
		s.MaxBody = DefaultMaxBody
	}
	if s.MaxBatch == 0 {
		s.MaxBatch = DefaultMaxBatch
	}
	if s.MinSeqWait == 0 {
		s.MinSeqWait = DefaultMinSeqWait
	}
	if s.Logger == nil {
		s.Logger = slog.New(slog.DiscardHandler)
	}
	if s.NewID == nil {
		s.NewID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
}

// Handler returns the API's handler.
func (s *Server) Handler() http.Handler {
	s.defaults()
	mux := http.NewServeMux()
	s.routes(mux)
	return mux
}

// Scopes an API token can hold; each route needs one (or none).
const (
	ScopePublish = "publish"
	ScopeRead    = "read"
	ScopeAudit   = "audit"
	ScopeAdmin   = "admin"
	ScopeOpen    = "" // no token needed: health checks, the dashboard's files
)

// Guard wraps one route's handler with what every route needs (who is
// calling, whether they may, limits, metrics). pattern is the route's
// pattern and scope the scope it needs.
type Guard func(pattern, scope string, next http.Handler) http.Handler

type principalKey struct{}

// WithPrincipal returns ctx carrying the name of the authenticated caller.
func WithPrincipal(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, principalKey{}, name)
}

// Principal is the authenticated caller's name, or "".
func Principal(ctx context.Context) string {
	s, _ := ctx.Value(principalKey{}).(string)
	return s
}

func (s *Server) routes(mux *http.ServeMux) {
	asOf := []string{"as_of", "min_seq"}
	s.handle(mux, "POST /v1/events", ScopePublish, params(s.handleEventsPost, "partial", "atomic"))
	s.handle(mux, "GET /v1/events", ScopeRead, params(s.handleEventsGet, "account", "after", "limit"))
	s.handle(mux, "GET /v1/status", ScopeRead, params(s.handleStatus))
	s.handle(mux, "GET /v1/accounts", ScopeRead, params(s.handleAccountList, append(asOf,
		"tier", "key", "loyalty", "manager", "region", "q", "sort", "desc", "limit", "cursor")...))
	s.handle(mux, "GET /v1/accounts/{id}", ScopeRead, params(s.handleAccountGet, asOf...))
	s.handle(mux, "GET /v1/accounts/{id}/tiers", ScopeRead, params(s.handleHistory(projections.HistoryTier), asOf...))
	s.handle(mux, "GET /v1/accounts/{id}/key", ScopeRead, params(s.handleHistory(projections.HistoryKey), asOf...))
	s.handle(mux, "GET /v1/accounts/{id}/loyalty", ScopeRead, params(s.handleHistory(projections.HistoryLoyalty), asOf...))
	s.handle(mux, "GET /v1/accounts/{id}/audit", ScopeAudit, params(s.handleAudit, asOf...))
	s.handle(mux, "GET /v1/reports/abc", ScopeRead, params(s.handleReportABC, asOf...))
	s.handle(mux, "GET /v1/reports/sla", ScopeRead, params(s.handleReportSLA, append(asOf, "by")...))
	s.handle(mux, "POST /v1/admin/rebuild", ScopeAdmin, params(s.handleRebuildPost))
	s.handle(mux, "GET /v1/admin/rebuild", ScopeAdmin, params(s.handleRebuildGet))
	s.handle(mux, "GET /v1/admin/digest", ScopeAudit, params(s.handleDigest))
	s.handle(mux, "GET /v1/admin/policy", ScopeAudit, params(s.handlePolicy))
	s.handle(mux, "GET /v1/admin/rows", ScopeAudit, params(s.handleRows, "table", "offset", "limit", "applied_seq"))
	// Probes and scrapers are not checked: a load balancer may add its own.
	s.handle(mux, "GET /healthz", ScopeOpen, s.handleHealthz)
	s.handle(mux, "GET /readyz", ScopeOpen, s.handleReadyz)
	if s.Metrics != nil {
		s.handle(mux, "GET /metrics", ScopeRead, s.Metrics.ServeHTTP)
	}
	// The catch-alls take any method, so the mux's own 405 (plain text)
	// never happens: they answer it for a path that has routes.
	notFound := func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, s.Logger, events.Errorf(events.ENotFound, "no route %s %s", r.Method, r.URL.Path))
	}
	s.handle(mux, "/v1/", ScopeOpen, s.methodNotAllowed(mux, notFound))
	// Any method: "GET /" would conflict with "/v1/"; the UI answers 405
	// itself for its own files.
	if s.UI != nil {
		s.handle(mux, "/", ScopeOpen, s.methodNotAllowed(mux, s.UI.ServeHTTP))
	} else {
		s.handle(mux, "/", ScopeOpen, s.methodNotAllowed(mux, notFound))
	}
}

// params refuses a request with a query parameter the route does not take,
// or one given twice, naming it: a misspelt filter (teir=A) answered the
// whole list as if it had been asked for.
func params(next http.HandlerFunc, names ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		// Not r.URL.Query(), which drops the pairs it cannot read (a bare
		// %, a ;) so that a route would answer as if they had not been sent.
		q, err := url.ParseQuery(r.URL.RawQuery)
		if err != nil {
			writeError(w, r, nil, &events.Error{Code: events.EInvalid, Message: "invalid query string",
				Details: []events.FieldError{{Field: "query", Problem: err.Error()}}})
			return
		}
		keys := make([]string, 0, len(q))
		for k := range q {
			keys = append(keys, k)
		}
		slices.Sort(keys) // the first problem in a stable order
		for _, k := range keys {
			problem := ""
			switch {
			case !slices.Contains(names, k) && len(names) == 0:
				problem = "this route takes no query parameters"
			case !slices.Contains(names, k):
				problem = "not a parameter of this route; it takes " + strings.Join(names, ", ")
			case len(q[k]) > 1:
				problem = "given more than once"
			default:
				continue
			}
			writeError(w, r, nil, &events.Error{Code: events.EInvalid, Message: "invalid query parameter",
				Details: []events.FieldError{{Field: k, Problem: problem}}})
			return
		}
		next(w, r)
	}
}

// methods a route may have, in the order an Allow header names them.
var methods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}

// methodNotAllowed answers 405 with Allow for a path that has routes, but
// none for r's method; other paths go to next.
func (s *Server) methodNotAllowed(mux *http.ServeMux, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, m := range methods {
			probe := r.WithContext(r.Context()) // a copy with another method
			probe.Method = m
			if _, pattern := mux.Handler(probe); strings.Contains(pattern, " ") {
				allow = append(allow, m) // a route's pattern, not a catch-all
			}
		}
		if len(allow) == 0 {
			next(w, r)
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeError(w, r, s.Logger, events.Errorf(eMethodNotAllowed, "%s %s: the route takes %s", r.Method, r.URL.Path, strings.Join(allow, ", ")))
	}
}

// handle registers a route behind the guard. A route that changes state
// (POST, PUT, PATCH, DELETE) also needs a JSON Content-Type (see requireJSON).
func (s *Server) handle(mux *http.ServeMux, pattern, scope string, h http.HandlerFunc) {
	var hh http.Handler = h
	if method, _, ok := strings.Cut(pattern, " "); ok && changesState(method) {
		hh = s.requireJSON(hh)
	}
	if s.Guard != nil {
		hh = s.Guard(pattern, scope, hh)
	}
	mux.Handle(pattern, hh)
}

func (s *Server) handleHealthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// handleStatus answers the stream's, NATS' and the projector's state. When
// the stream does not answer it is a 503 all the same (a client must not
// take a missing stream for an empty one), carrying what kam knows without
// it: the projector's part, and whether NATS is connected.
func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.Log.Status(r.Context())
	_, down := explainNATSDown(err)
	nats := map[string]any{"mode": s.NATS.Mode, "url": withoutUserinfo(s.NATS.URL), "connected": err == nil}
	body := map[string]any{"nats": nats}
	if err == nil {
		body["stream"] = st
	} else if !down {
		delete(nats, "connected") // connected, perhaps, but the stream does not answer
	}
	if s.Reads != nil {
		ps := s.Reads.Status()
		proj := map[string]any{
			"applied_seq": ps.AppliedSeq, "watermark": ps.Watermark, "policy": ps.Policy, "rules": ps.Rules,
			"rejected": ps.Rejected, "events_applied": ps.Applied, "last_review": ps.LastReview,
		}
		if err == nil {
			proj["lag"] = uint64(0)
			if st.LastSeq > ps.AppliedSeq {
				proj["lag"] = st.LastSeq - ps.AppliedSeq
			}
		}
		body["projector"] = proj
	}
	if err != nil {
		writeErrorWith(w, r, s.Logger, err, body)
		return
	}
	writeJSON(w, http.StatusOK, body)
}

func changesState(method string) bool {
	switch method {
	case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
		return true
	}
	return false
}

// JSONTypes are the media types a request that changes state may name in
// its Content-Type, with or without parameters (charset=utf-8).
var JSONTypes = []string{"application/json", "application/cloudevents+json", "application/cloudevents-batch+json"}

// requireJSON refuses a request whose Content-Type is not one of JSONTypes
// with 415, before anything is read, even when it has no body (POST
// /v1/admin/rebuild). A browser sends such a type cross-origin only after
// a CORS preflight, which kam never grants; text/plain and form posts it
// sends without one. So a web page open in a browser on kam's host cannot
// append events or start a rebuild (while kam runs without tokens, that
// browser is a trusted loopback caller).
func (s *Server) requireJSON(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ct := r.Header.Get("Content-Type")
		mt, _, err := mime.ParseMediaType(ct)
		if ct == "" || err != nil || !slices.Contains(JSONTypes, mt) {
			got := "none"
			if ct != "" {
				got = fmt.Sprintf("%q", ct)
			}
			writeError(w, r, s.Logger, &events.Error{Code: events.EUnsupported,
				Message: fmt.Sprintf("%s %s needs a JSON Content-Type, got %s", r.Method, r.URL.Path, got),
				Details: []events.FieldError{{Field: "Content-Type", Problem: "must be " + strings.Join(JSONTypes, ", ")}}})
			return
		}
		next.ServeHTTP(w, r)
	})
}
