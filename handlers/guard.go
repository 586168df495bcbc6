package handlers

import (
	"log/slog"
	"math"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"kam/auth"
	"kam/events"
)

// GuardConfig says what NewGuard's guard does on every route.
type GuardConfig struct {
	// Tokens, when not nil, are the API tokens: every route that needs a
	// scope needs a token holding it. Nil leaves every route open (kam
	// then serves on loopback only, unless told otherwise).
	Tokens *auth.Set
	// Rate is how many requests a second one token may make, with bursts
	// of Burst; 0 sets no limit.
	Rate  float64
	Burst int
	// Listen is the address kam serves on (host:port). While kam runs
	// without tokens, a request's Host must name a loopback address,
	// localhost, or Listen's host (any IP address when that is 0.0.0.0,
	// :: or none, as in ":8080"); else 421. A web page that points its
	// own name at 127.0.0.1 (DNS rebinding) could otherwise read kam
	// through a browser on this host. Empty: loopback names only.
	Listen string
	// Metrics, when not nil, times every route and counts refused events.
	Metrics *Metrics
	// Now is the wall clock (for the rate limiter), time.Now by default.
	Now    func() time.Time
	Logger *slog.Logger
}

// NewGuard returns the guard of every route: metrics outermost (so that
// refusals are counted too), then the token check, then the token's rate
// limit. The token's name becomes the request's principal, and so the
// actor of what it appends.
func NewGuard(cfg GuardConfig) Guard {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Burst <= 0 {
		cfg.Burst = max(1, int(math.Ceil(cfg.Rate)))
	}
	g := &guard{cfg: cfg, limiters: map[string]*rate.Limiter{}}
	return func(pattern, scope string, next http.Handler) http.Handler {
		h := next
		if cfg.Tokens != nil && scope != ScopeOpen {
			h = g.authorize(scope, h)
		}
		if cfg.Tokens == nil {
			h = g.checkHost(h)
		}
		if cfg.Metrics != nil {
			h = cfg.Metrics.instrument(pattern, h)
		}
		return h
	}
}

type guard struct {
	cfg      GuardConfig
	mu       sync.Mutex
	limiters map[string]*rate.Limiter // by token name; the file bounds their number
}

// Error codes of the guard (in the table of json.go).
var (
	errNoToken = &events.Error{Code: eUnauthorized,
		Message: "this route needs an API token: send the header Authorization: Bearer TOKEN"}
	errBadToken = &events.Error{Code: eUnauthorized, Message: "the API token is not known"}
)

func (g *guard) authorize(scope string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		presented, ok := bearer(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kam"`)
			writeError(w, r, g.cfg.Logger, errNoToken)
			return
		}
		tok, ok := g.cfg.Tokens.Authenticate(presented)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kam", error="invalid_token"`)
			writeError(w, r, g.cfg.Logger, errBadToken)
			return
		}
		if !tok.Has(scope) {
			w.Header().Set("WWW-Authenticate", `Bearer realm="kam", error="insufficient_scope", scope="`+scope+`"`)
			writeError(w, r, g.cfg.Logger, events.Errorf(eForbidden, "the token %q lacks the scope %q that %s %s needs",
				tok.Name, scope, r.Method, r.URL.Path))
			return
		}
		if wait := g.wait(tok.Name); wait > 0 {
			secs := int(math.Ceil(wait.Seconds()))
			writeError(w, r, g.cfg.Logger, &events.Error{Code: eRateLimited, RetryAfter: secs,
				Message: "the token " + `"` + tok.Name + `"` + " is over its rate limit; retry after " + wait.Round(time.Millisecond).String()})
			return
		}
		next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), tok.Name)))
	})
}

// checkHost refuses a request whose Host header names neither loopback nor
// the address kam listens on. A request without one (HTTP/1.0) passes: a
// browser always sends it.
func (g *guard) checkHost(next http.Handler) http.Handler {
	listen, _, err := net.SplitHostPort(g.cfg.Listen)
	if err != nil {
		listen = g.cfg.Listen
	}
	listen = canonicalHost(listen)
	listenIP := net.ParseIP(listen)
	if err == nil && listen == "" {
		listenIP = net.IPv4zero // ":8080": every interface
	}
	names := "localhost or a loopback address"
	switch {
	case listenIP != nil && listenIP.IsUnspecified():
		names = "localhost or an IP address"
	case listen != "":
		names = "localhost, a loopback address or " + listen
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Host == "" {
			next.ServeHTTP(w, r)
			return
		}
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host // no port
		}
		host = canonicalHost(host)
		ip := net.ParseIP(host)
		switch {
		case host == "localhost", ip != nil && ip.IsLoopback():
		case listen != "" && host == listen, ip != nil && listenIP != nil && (ip.Equal(listenIP) || listenIP.IsUnspecified()):
		default:
			writeError(w, r, g.cfg.Logger, events.Errorf(eMisdirected,
				"the Host %q is not this kam's: without API tokens kam answers only requests to %s, "+
					"so that no web page can read it through a browser on this host (DNS rebinding); call it by one of those, or configure tokens",
				r.Host, names))
			return
		}
		next.ServeHTTP(w, r)
	})
}

// canonicalHost lowercases a host and drops IPv6 brackets and a final dot.
func canonicalHost(h string) string {
	h = strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// wait takes one request from the token's budget and returns 0, or, when
// the budget is spent, how long until it holds one again (nothing taken).
func (g *guard) wait(name string) time.Duration {
	if g.cfg.Rate <= 0 {
		return 0
	}
	g.mu.Lock()
	lim, ok := g.limiters[name]
	if !ok {
		lim = rate.NewLimiter(rate.Limit(g.cfg.Rate), g.cfg.Burst)
		g.limiters[name] = lim
	}
	g.mu.Unlock()
	now := g.cfg.Now()
	res := lim.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		return d
	}
	return 0
}

// bearer returns the token of an Authorization header "Bearer TOKEN" (the
// scheme's case does not matter).
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}
