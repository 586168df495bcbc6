package handlers

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"kam/events"
)

// ReadinessConfig says when a kam is ready for traffic.
type ReadinessConfig struct {
	// Connected reports whether the NATS connection is up.
	Connected func() bool
	Log       EventLog
	// Reads is the read model; nil when this kam runs none.
	Reads ReadModel
	// MaxLag is how old the oldest message the projector has not applied
	// may be (default 10s).
	MaxLag time.Duration
	Now    func() time.Time
}

// Readiness returns the check behind /readyz: NATS connected, the stream
// answering, and the read model caught up within MaxLag. Its errors have
// code EUnavailable and say which part is not ready.
func Readiness(cfg ReadinessConfig) func(context.Context) error {
	if cfg.MaxLag <= 0 {
		cfg.MaxLag = 10 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return func(ctx context.Context) error {
		if cfg.Connected != nil && !cfg.Connected() {
			return &events.Error{Code: events.EUnavailable, RetryAfter: 1, Message: "not ready: NATS is not connected"}
		}
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		st, err := cfg.Log.Status(ctx)
		if err != nil {
			return &events.Error{Code: events.EUnavailable, RetryAfter: 1, Err: err,
				Message: "not ready: the stream does not answer: " + events.ErrorMessage(err)}
		}
		if cfg.Reads == nil {
			return nil
		}
		lag, err := lagAt(ctx, cfg.Log, st.LastSeq, cfg.Reads.Status().AppliedSeq, cfg.Now())
		if err != nil {
			return &events.Error{Code: events.EUnavailable, RetryAfter: 1, Err: err,
				Message: "not ready: cannot read the projector's next message: " + events.ErrorMessage(err)}
		}
		if lag.Seconds > cfg.MaxLag.Seconds() {
			return &events.Error{Code: events.EUnavailable, RetryAfter: 1, Message: fmt.Sprintf(
				"not ready: the read model is %d messages (%.1fs) behind the stream, more than %s (applied %d of %d)",
				lag.Messages, lag.Seconds, cfg.MaxLag, lag.AppliedSeq, lag.LastSeq)}
		}
		return nil
	}
}

// handleReadyz answers 200 when Ready passes (or is not set), 503 naming
// what is not ready otherwise.
func (s *Server) handleReadyz(w http.ResponseWriter, r *http.Request) {
	if s.Ready != nil {
		if err := s.Ready(r.Context()); err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}
