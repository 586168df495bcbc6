package natsstore

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"kam/events"
)

// A read JetStream refuses as malformed fails the same way when sent
// again: it is no reason for a client to retry (503), unlike a read that
// got no answer.
func TestReadError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		code string
	}{
		{"bad request", &jetstream.APIError{Code: 400, ErrorCode: 10094, Description: "consumer delivery policy is deliver by start sequence, but optional start sequence is not set"}, events.EInternal},
		{"stream gone", jetstream.ErrStreamNotFound, events.EUnavailable},
		{"no answer", nats.ErrTimeout, events.EUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := events.ErrorCode(readError(tt.err)); got != tt.code {
				t.Errorf("got %q, want %q", got, tt.code)
			}
		})
	}
}

// TestSizeBound: the quick bound that spares the HTTP door an encoding is
// never below the message's real size, for data that JSON escapes the most.
func TestSizeBound(t *testing.T) {
	worst := []string{
		strings.Repeat(`\u0001`, 1000),      // control characters, escaped as given
		strings.Repeat("<>&", 1000),         // what an HTML-escaping encoder would grow
		strings.Repeat("\xff", 1000),        // invalid UTF-8, U+FFFD when re-encoded
		strings.Repeat(`\"\\`, 1000),        // escaped quotes and backslashes
		strings.Repeat("é漢😀", 300),          // multibyte characters
		strings.Repeat(`\ud83d\ude00`, 300), // escaped surrogate pairs
	}
	for i, text := range worst {
		e := &events.Event{SpecVersion: events.SpecVersion, ID: strings.Repeat("\u00e9", 60), Source: "s\x01<", Type: events.TypeVisitLogged,
			Subject: "ACME ~ é/" + strings.Repeat(">", 40), Time: time.Unix(0, 0).UTC(), Actor: "<a>",
			Data:       json.RawMessage(`{"visit_id":"` + text + `","rep":"r","notes":"` + text + `"}`),
			Extensions: map[string]json.RawMessage{"x" + text[:6]: json.RawMessage(`"` + text + `"`)}}
		m, err := Message(e)
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if got, bound := maxSize(m, e.Subject), sizeBound(e); bound < got {
			t.Errorf("case %d: bound %d below the message's size %d", i, bound, got)
		}
	}
}

// TestSameJSON: data compared by value, except where decoding loses what
// was written (every lone surrogate decodes to U+FFFD).
func TestSameJSON(t *testing.T) {
	for _, tc := range []struct {
		x, y string
		same bool
	}{
		{`{"a":1,"b":"é"}`, `{"b":"\u00e9", "a":1}`, true},
		{`{"a":1}`, `{"a":2}`, false},
		{`{"n":"\ud800"}`, `{"n":"\udbff"}`, false},
		{`{"n":"\ud800"}`, `{"n":"\ud800"}`, true},
		{`{"q":5}`, `{"q":5.0}`, false},                              // numbers as written
		{`{"e":"\ud83d\ude00","k":1}`, `{"k":1,"e":"😀"}`, true},      // a pair, escaped or not
		{`{"t":"a\\ud800b","k":1}`, `{"k":1,"t":"a\\ud800b"}`, true}, // an escaped backslash, then text
		{`{"n":"\ude00\ud83d"}`, `{"n":"\udfff\ud800"}`, false},      // low first: lone
	} {
		if got := sameJSON([]byte(tc.x), []byte(tc.y)); got != tc.same {
			t.Errorf("sameJSON(%s, %s) = %v, want %v", tc.x, tc.y, got, tc.same)
		}
	}
}
