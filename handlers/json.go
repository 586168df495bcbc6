package handlers

import (
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/nats-io/nats.go"

	"kam/events"
)

// statusOf is the one table from error code to HTTP status.
var statusOf = map[string]int{
	events.EInvalid:     http.StatusBadRequest,
	events.EConflict:    http.StatusConflict,
	events.ENotFound:    http.StatusNotFound,
	events.ETooLarge:    http.StatusRequestEntityTooLarge,
	events.EUnsupported: http.StatusUnsupportedMediaType,
	events.EUnavailable: http.StatusServiceUnavailable,
	events.ETimeout:     http.StatusGatewayTimeout,
	events.EInternal:    http.StatusInternalServerError,
	eUnauthorized:       http.StatusUnauthorized,
	eForbidden:          http.StatusForbidden,
	eRateLimited:        http.StatusTooManyRequests,
	eMisdirected:        http.StatusMisdirectedRequest,
	eMethodNotAllowed:   http.StatusMethodNotAllowed,
}

const (
	eUnauthorized = "unauthorized"
	eForbidden    = "forbidden"
	eRateLimited  = "rate_limited"
	eMisdirected  = "misdirected"
	// eMethodNotAllowed: the path has routes, none for the method.
	eMethodNotAllowed = "method_not_allowed"
)

// writeJSON marshals v first, so that a marshalling failure still gets a
// proper 500 instead of a half-written body.
func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		b = []byte(`{"error":{"code":"internal","message":"internal error"}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

type errorBody struct {
	Code            string              `json:"code"`
	Message         string              `json:"message"`
	Details         []events.FieldError `json:"details,omitempty"`
	CurrentSequence *uint64             `json:"current_sequence,omitempty"`
}

func errorBodyOf(err error) errorBody {
	code := events.ErrorCode(err)
	body := errorBody{Code: code, Message: events.ErrorMessage(err)}
	var e *events.Error
	if errors.As(err, &e) {
		body.Details = e.Details
		// A conflict with the account's sequence names no field; one
		// that does (an id used by another event) has no sequence to give.
		if code == events.EConflict && len(e.Details) == 0 {
			cur := e.CurrentSequence
			body.CurrentSequence = &cur
		}
	}
	return body
}

// writeError answers with err's code and message; only internal errors are
// logged, since everything else is the client's to read.
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	writeErrorWith(w, r, log, err, nil)
}

// writeErrorWith is writeError with more members in the answer's object,
// next to "error" (what could be answered all the same).
func writeErrorWith(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error, more map[string]any) {
	err, _ = explainNATSDown(err)
	code := events.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		log.Error("request failed", "method", r.Method, "path", r.URL.Path, "code", code, "err", err)
	}
	var e *events.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	} else if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	body := map[string]any{"error": errorBodyOf(err)}
	for k, v := range more {
		body[k] = v
	}
	writeJSON(w, status, body)
}

// natsDown are nats.go's errors for a connection that is down. kam's
// connection keeps no buffer while it reconnects, so a call made then fails
// with "outbound buffer limit exceeded", which tells an operator nothing.
var natsDown = []error{nats.ErrReconnectBufExceeded, nats.ErrConnectionReconnecting, nats.ErrDisconnected,
	nats.ErrConnectionClosed, nats.ErrNoServers}

// explainNATSDown returns err with "NATS is unreachable: " in front of its
// message when a down NATS connection caused it, and whether one did.
func explainNATSDown(err error) (error, bool) {
	for _, d := range natsDown {
		if errors.Is(err, d) {
			var e *events.Error
			if !errors.As(err, &e) {
				return &events.Error{Code: events.EUnavailable, RetryAfter: 1, Err: err, Message: "NATS is unreachable: " + err.Error()}, true
			}
			c := *e
			c.Message = "NATS is unreachable: " + e.Message
			return &c, true
		}
	}
	return err, false
}
