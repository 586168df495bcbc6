package natsstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"kam/events"
)

// ErrStopped is returned by Next after Stop.
var ErrStopped = errors.New("subscription stopped")

// Subscription delivers every message of the stream in sequence order from a
// start sequence, through an ordered consumer: nothing is kept on the server,
// so a rebuild needs no server-side reset, and a gap is healed by the client.
type Subscription struct {
	it jetstream.MessagesContext
}

// Subscribe starts reading the stream at sequence from (1 for the start).
func (s *Store) Subscribe(ctx context.Context, from uint64) (*Subscription, error) {
	return Subscribe(ctx, s.js, s.cfg.Stream, from)
}

// Subscribe reads stream from sequence from, through js.
func Subscribe(ctx context.Context, js jetstream.JetStream, stream string, from uint64) (*Subscription, error) {
	if from == 0 {
		from = 1
	}
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
		DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:   from,
		// Without a bound, the client retries a reset forever, which after a
		// cluster node's loss was seen to stall a projector for good; with
		// one, Next returns an error and the caller opens a new consumer.
		MaxResetAttempts: 3,
	})
	if err != nil {
		return nil, fmt.Errorf("ordered consumer on %s from %d: %w", stream, from, err)
	}
	// A larger buffer than the default 500 roughly doubles throughput.
	it, err := cons.Messages(jetstream.PullMaxMessages(2000))
	if err != nil {
		return nil, fmt.Errorf("consume %s: %w", stream, err)
	}
	return &Subscription{it: it}, nil
}

// Next blocks for the next message and returns it with the number of
// messages the stream held after it when it was delivered (0: caught up).
func (sub *Subscription) Next() (events.Stored, uint64, error) {
	m, err := sub.it.Next()
	if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
		return events.Stored{}, 0, ErrStopped
	}
	if err != nil {
		return events.Stored{}, 0, err
	}
	md, err := m.Metadata()
	if err != nil {
		return events.Stored{}, 0, fmt.Errorf("message metadata: %w", err)
	}
	return events.Stored{Seq: md.Sequence.Stream, Subject: m.Subject(), Stored: md.Timestamp.UTC(), Data: m.Data()},
		md.NumPending, nil
}

// Stop ends the subscription; a blocked Next returns ErrStopped.
func (sub *Subscription) Stop() { sub.it.Stop() }
