package natsstore

import (
	"testing"

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
