package natsstore

import (
	"context"
	"errors"
	"fmt"
	"time"

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
	// The stream as it was when the subscription began: the ordered
	// consumer, reset (after a gap, a reconnect, or its stream's loss),
	// carries on from the next sequence of whatever stream now has the
	// name. The first message, and the first of each reset (a new consumer
	// name on the messages), check that the stream is still the one
	// created at created: a reset can come before any message, and the
	// stream can change between its lookup and the consumer's creation.
	ctx      context.Context // the subscriber's, for those checks
	stream   jetstream.Stream
	created  time.Time
	consumer string
	checked  bool // the first message was checked
}

// ErrStreamReplaced is returned by Next when the stream was deleted and
// created anew under the subscription: its messages are another log's.
var ErrStreamReplaced = errors.New("the stream was created anew since the subscription began")

// Subscribe starts reading the stream at sequence from (1 for the start).
func (s *Store) Subscribe(ctx context.Context, from uint64) (*Subscription, error) {
	return Subscribe(ctx, s.js, s.cfg.Stream, from)
}

// Subscribe reads stream from sequence from, through js.
func Subscribe(ctx context.Context, js jetstream.JetStream, stream string, from uint64) (*Subscription, error) {
	return SubscribeCreated(ctx, js, stream, from, time.Time{})
}

// SubscribeCreated is Subscribe for a reader that has read the stream
// created at created before (zero: any): a stream created anew since is
// refused with ErrStreamReplaced.
func SubscribeCreated(ctx context.Context, js jetstream.JetStream, stream string, from uint64, created time.Time) (*Subscription, error) {
	if from == 0 {
		from = 1
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("stream %s: %w", stream, err)
	}
	if !created.IsZero() {
		if err := sameStream(st.CachedInfo().Created, created); err != nil {
			return nil, err
		}
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
	return &Subscription{ctx: ctx, it: it, stream: st, created: st.CachedInfo().Created}, nil
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
	if !sub.checked || md.Consumer != sub.consumer {
		if err := sub.checkStream(); err != nil {
			return events.Stored{}, 0, err
		}
		sub.checked, sub.consumer = true, md.Consumer
	}
	return events.Stored{Seq: md.Sequence.Stream, Subject: m.Subject(), Stored: md.Timestamp.UTC(), Data: m.Data()},
		md.NumPending, nil
}

// checkStream checks that the stream is still the one the subscription
// began on.
func (sub *Subscription) checkStream() error {
	ctx, cancel := context.WithTimeout(sub.ctx, 10*time.Second)
	defer cancel()
	info, err := sub.stream.Info(ctx)
	if err != nil {
		return fmt.Errorf("check the stream the consumer reads: %w", err)
	}
	return sameStream(info.Created, sub.created)
}

// sameStream is ErrStreamReplaced when a stream created at created is not
// the one created at want.
func sameStream(created, want time.Time) error {
	if created.Equal(want) {
		return nil
	}
	return fmt.Errorf("%w (created %s, read before as the one created %s)",
		ErrStreamReplaced, created.UTC().Format(time.RFC3339Nano), want.UTC().Format(time.RFC3339Nano))
}

// Created is when the subscription's stream was created.
func (sub *Subscription) Created() time.Time { return sub.created }

// Stop ends the subscription; a blocked Next returns ErrStopped.
func (sub *Subscription) Stop() { sub.it.Stop() }
