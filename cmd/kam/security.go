package main

import (
	"flag"
	"fmt"
	"log/slog"
	"net"
	"time"

	"kam/auth"
	"kam/handlers"
)

// securityFlags are serve's flags about who may call the API, how often,
// and when kam calls itself ready.
type securityFlags struct {
	insecure bool
	tokens   string
	rate     float64
	burst    int
	readyLag time.Duration
	maxBody  int64
	maxBatch int
}

func (s *securityFlags) register(fs *flag.FlagSet) {
	fs.BoolVar(&s.insecure, "insecure", false, "allow a non-loopback --http address without API tokens")
	fs.StringVar(&s.tokens, "tokens", "", "API tokens file: one token a line, NAME SCOPE[,SCOPE...] SHA256-HEX (see kam token new); "+
		"scopes publish, read, audit, admin (admin holds all)")
	fs.Float64Var(&s.rate, "rate-limit", 200, "requests a second one API token may make (0: no limit); over it kam answers 429 with Retry-After")
	fs.IntVar(&s.burst, "rate-burst", 400, "requests one API token may make at once: the bucket that --rate-limit refills")
	fs.DurationVar(&s.readyLag, "ready-max-lag", 10*time.Second,
		"/readyz fails while the oldest stream message the read model has not applied is older than this")
	fs.Int64Var(&s.maxBody, "max-body", handlers.DefaultMaxBody, "largest request body in bytes (413 over it)")
	fs.IntVar(&s.maxBatch, "max-batch", handlers.DefaultMaxBatch, "most events in one POST /v1/events (413 over it; at most 1000)")
}

// guard returns the API's guard and says how the API is protected. With a
// tokens file every route but the health checks needs a token with the
// route's scope, and each token has its own rate limit. Without one kam
// serves on loopback only: a non-loopback address is refused unless
// --insecure says otherwise; and it answers only requests whose Host is a
// loopback name or httpAddr's host (see handlers.GuardConfig.Listen).
func (s *securityFlags) guard(httpAddr string, met *handlers.Metrics, log *slog.Logger) (handlers.Guard, error) {
	cfg := handlers.GuardConfig{Metrics: met, Logger: log, Listen: httpAddr}
	if s.maxBatch < 1 || s.maxBatch > 1000 {
		return nil, fmt.Errorf("--max-batch %d: want 1 to 1000 (JetStream's atomic batch limit)", s.maxBatch)
	}
	if s.maxBody < 1 {
		return nil, fmt.Errorf("--max-body %d: want a positive number of bytes", s.maxBody)
	}
	if s.tokens != "" {
		set, err := auth.Load(s.tokens)
		if err != nil {
			return nil, err
		}
		if set.Len() == 0 {
			return nil, fmt.Errorf("--tokens %s holds no token: add one with kam token new NAME --scopes SCOPES", s.tokens)
		}
		cfg.Tokens, cfg.Rate, cfg.Burst = set, s.rate, s.burst
		log.Info("API tokens required", "tokens", set.Len(), "file", s.tokens, "rate_limit", s.rate, "rate_burst", s.burst)
		return handlers.NewGuard(cfg), nil
	}
	if !isLoopback(httpAddr) {
		if !s.insecure {
			return nil, fmt.Errorf("--http %s is not a loopback address and no API tokens are configured: "+
				"anyone who reaches it could append and read; give --tokens FILE, or add --insecure to accept that", httpAddr)
		}
		log.Warn("serving without API tokens on a non-loopback address (--insecure)", "http", httpAddr)
	} else {
		log.Info("no API tokens configured: serving on loopback only", "http", httpAddr)
	}
	return handlers.NewGuard(cfg), nil
}

// isLoopback reports whether host:port binds only loopback interfaces.
func isLoopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
