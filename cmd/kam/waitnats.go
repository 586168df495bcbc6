package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"kam/events/natsstore"
)

// streamWait bounds how long serve waits at start for JetStream to answer:
// a cluster that has just started is still electing its leaders, and kam
// started beside it (by a service manager, say) should wait, not fail.
const streamWait = 60 * time.Second

// openStore opens the store, trying again while JetStream does not answer
// (a timeout, no responders, a 503 from the cluster) for up to streamWait.
// Any other error, such as a stream with other settings, stops at once.
func openStore(ctx context.Context, nc *nats.Conn, cfg natsstore.Config, log *slog.Logger) (*natsstore.Store, error) {
	deadline := time.Now().Add(streamWait)
	wait := 250 * time.Millisecond
	for {
		store, err := natsstore.Open(ctx, nc, cfg, log)
		if err == nil || !jetStreamNotReady(err) || time.Now().Add(wait).After(deadline) {
			return store, err
		}
		log.Warn("JetStream does not answer yet; trying again", "err", err, "retry_in", wait)
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil, err
		}
		wait = min(2*wait, 5*time.Second)
	}
}

func jetStreamNotReady(err error) bool {
	var apiErr *jetstream.APIError
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrNoResponders) || errors.Is(err, jetstream.ErrNoStreamResponse) ||
		(errors.As(err, &apiErr) && apiErr.Code == 503)
}
