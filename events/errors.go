package events

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. Each maps to one HTTP status in handlers; callers test them with
// ErrorCode, never by matching messages.
const (
	EInvalid     = "invalid"     // the input breaks a rule; Details names the fields
	EConflict    = "conflict"    // an expected sequence did not hold
	ENotFound    = "not_found"   // no such account, event or route
	ETooLarge    = "too_large"   // body or batch over the limit
	EUnsupported = "unsupported" // a body that is not JSON
	EUnavailable = "unavailable" // JetStream (or the projector) did not answer in time; retry
	ETimeout     = "timeout"     // a bounded wait ran out (read-your-writes)
	EInternal    = "internal"    // a bug or an unexpected failure; logged
)

// FieldError names one field of one event and what is wrong with it.
type FieldError struct {
	Index   int    `json:"index"`
	Field   string `json:"field"`
	Problem string `json:"problem"`
}

func (f FieldError) String() string {
	if f.Field == "" {
		return f.Problem
	}
	return f.Field + ": " + f.Problem
}

// Error is kam's error type: a code, a message meant for the user, and for
// EInvalid the list of fields at fault.
type Error struct {
	Code    string
	Message string
	Details []FieldError
	// CurrentSequence is set with EConflict: the account's last sequence now.
	CurrentSequence uint64
	// RetryAfter is a hint in seconds for EUnavailable.
	RetryAfter int
	// Err is the underlying cause, if any; not shown to users.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	for i, d := range e.Details {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(d.String())
	}
	if e.Err != nil && e.Code == EInternal {
		fmt.Fprintf(&b, ": %v", e.Err)
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given code and message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, EInternal for
// any other non-nil error, and "" for nil.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// ErrorMessage returns the user-facing message of err: the *Error's message
// for kam errors, a generic one for anything else (which is not shown to users).
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
