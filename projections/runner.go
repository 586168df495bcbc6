package projections

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"kam/events"
	"kam/events/natsstore"
)

// Apply applies messages in order and commits them with the checkpoint in
// one transaction. Messages at or below the applied sequence are skipped.
func (p *Projector) Apply(ctx context.Context, msgs []events.Stored) error {
	for _, st := range msgs {
		p.apply(p.Decode(st))
	}
	return p.flush(ctx)
}

// Source delivers the stream's messages in order from a sequence.
type Source interface {
	Subscribe(ctx context.Context, from uint64) (Subscription, error)
}

// Subscription is an ordered read of the stream.
type Subscription interface {
	// Next blocks for the next message; pending is how many follow it.
	Next() (st events.Stored, pending uint64, err error)
	Stop()
}

// RunOptions tune the runner.
type RunOptions struct {
	// MaxBatch is the most messages one transaction holds (default 50000).
	// While the stream has more to deliver, the runner fills batches up to
	// this; once caught up, it commits what it has applied, at most once
	// per CommitInterval.
	// Big batches matter: a day's review touches most accounts' rows, and a
	// batch writes each touched row once.
	MaxBatch int
	// CommitInterval is the least time between two commits of a runner
	// that has caught up with the stream (default 10ms; negative: none).
	// Live appends come one request at a time: committing each as soon as
	// it was applied cost 400 - 490 transactions a second at 2,000 events/s,
	// and a sixth of a core more than now (BENCHMARKS.md). A reader waiting
	// with min_seq waits this much longer at most.
	CommitInterval time.Duration
	// MaxDelay bounds how long an applied message waits for its commit
	// while more keep arriving (default 5s); when the stream has no more to
	// deliver, the batch is committed within CommitInterval.
	MaxDelay time.Duration
	// StopAt, when not 0, makes Run return nil once it has applied this
	// sequence (a replay up to the stream's end as it was at start).
	StopAt uint64
	// Until, when not zero, makes Run return nil at the first event whose
	// business time is at or after it, once the reviews of the days that
	// event closes up to Until have run (as they ran in a model that goes
	// on): the model as of Until, with the events before it.
	Until time.Time
	// Progress, when set, is called after each commit with the sequence
	// applied.
	Progress func(applied uint64)
	// DeferAccountRows, with StopAt, writes the rows each account has one
	// of (accounts, account_movers, chains) only with the last commit, at
	// StopAt or when Run returns, instead of with every batch: for a build
	// that nothing reads or resumes before it is complete (kam replay
	// builds a file that takes its name only then). Its commits in between
	// then hold the events' rows and the state row, but accounts as of the
	// start: a crash leaves a model that must not be continued. A replay's
	// batches each touch nearly every account, so this writes 20,000 rows
	// where it wrote 500,000 (a million events; BENCHMARKS.md).
	DeferAccountRows bool
	// Nice, from 1 to 19, runs the writing goroutine on a thread of its
	// own at this lower OS priority (Linux; elsewhere nothing), which the
	// thread keeps until it ends with the goroutine; Service runs the
	// applying the same way. A live kam's HTTP handlers then get the
	// processor first when both are ready.
	Nice int
}

// Run follows the stream from the applied sequence until ctx ends, applying
// in batches. Decoding runs on its own goroutine, ahead of applying, and
// writing on another, behind it: three stages over two cores.
// It returns ctx's error on shutdown, after committing what it applied.
// Any other error (a failed commit, a lost subscription) leaves the
// in-memory model unusable: open a new Projector to resume.
func (p *Projector) Run(ctx context.Context, src Source, opts RunOptions) (err error) {
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 50000
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 5 * time.Second
	}
	if opts.CommitInterval == 0 {
		opts.CommitInterval = 10 * time.Millisecond
	}
	if opts.StopAt != 0 && p.appliedSeq >= opts.StopAt {
		return nil
	}
	if opts.StopAt > p.appliedSeq {
		p.reserveIDs(int(min(opts.StopAt-p.appliedSeq, 1<<26)))
	}
	p.deferRows = opts.DeferAccountRows && opts.StopAt != 0
	defer func() { p.deferRows = false }()
	sub, err := src.Subscribe(ctx, p.appliedSeq+1)
	if err != nil {
		return err
	}
	type decoded struct {
		in      Incoming
		pending uint64
		err     error
	}
	ch := make(chan decoded, 4096)
	go func() {
		defer close(ch)
		for {
			st, pending, err := sub.Next()
			if err != nil {
				select {
				case ch <- decoded{err: err}:
				case <-ctx.Done():
				}
				return
			}
			select {
			case ch <- decoded{in: decodeStored(st, p.pol), pending: pending}:
			case <-ctx.Done():
				return
			}
		}
	}()
	stop := context.AfterFunc(ctx, sub.Stop)
	defer stop()
	defer sub.Stop()

	// The writer commits a prepared batch while the next one is applied;
	// the next waits for it to finish, so at most one batch is held.
	writes := make(chan *pending)
	werr := make(chan error, 1)
	wdone := make(chan struct{})
	go func() {
		defer close(wdone)
		lowerPriority(opts.Nice)
		for ws := range writes {
			if err := p.write(context.WithoutCancel(ctx), ws); err != nil {
				werr <- err
				for range writes {
				}
				return
			}
			if opts.Progress != nil {
				opts.Progress(ws.status.AppliedSeq)
			}
		}
	}()
	defer func() {
		close(writes)
		<-wdone
		select {
		case e := <-werr:
			if err == nil || errors.Is(err, context.Canceled) {
				err = e
			}
		default:
		}
	}()

	n := 0
	var first, lastCommit time.Time
	// One timer for the whole run: a timer per message was a tenth of the
	// garbage of a replay.
	delay := time.NewTimer(time.Hour)
	delay.Stop()
	defer delay.Stop()
	commit := func() error {
		if n == 0 {
			return nil
		}
		n = 0
		delay.Stop()
		lastCommit = time.Now()
		ws, err := p.prepare()
		if err != nil {
			return err
		}
		select {
		case writes <- ws:
			return nil
		case err := <-werr:
			return err
		}
	}
	// last is the run's last commit: with the rows held back, if any.
	last := func() error {
		if p.deferRows {
			p.deferRows = false
			n++ // the accounts' rows must be committed
		}
		return commit()
	}
	for {
		var d decoded
		var ok bool
		if n > 0 {
			// Something waits for its commit: do not block longer than MaxDelay.
			select {
			case d, ok = <-ch:
			case <-delay.C:
				if err := commit(); err != nil {
					return err
				}
				continue
			case err := <-werr:
				return err
			}
		} else {
			select {
			case d, ok = <-ch:
			case err := <-werr:
				return err
			}
		}
		if !ok || d.err != nil {
			if err := last(); err != nil {
				return err
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if !ok {
				return errors.New("subscription ended")
			}
			return fmt.Errorf("read the stream after sequence %d: %w", p.appliedSeq, d.err)
		}
		// Times count to the millisecond, as everywhere in the model.
		if !opts.Until.IsZero() && d.in.Event != nil && !msTime(d.in.Event.Time).Before(opts.Until) {
			if p.closeBefore(d.in, opts.Until) {
				n++ // the reviews' rows must be committed
			}
			return last()
		}
		if n == 0 {
			first = time.Now()
			delay.Reset(opts.MaxDelay)
		}
		p.apply(d.in)
		n++
		if opts.StopAt != 0 && p.appliedSeq >= opts.StopAt {
			return last()
		}
		due := n >= opts.MaxBatch || time.Since(first) >= opts.MaxDelay
		if !due && d.pending == 0 {
			// Caught up: commit now, or once the interval since the last
			// commit has passed (what arrives meanwhile joins the batch).
			wait := min(opts.CommitInterval-time.Since(lastCommit), opts.MaxDelay-time.Since(first))
			if wait > 0 {
				delay.Reset(wait)
			} else {
				due = true
			}
		}
		if due {
			if err := commit(); err != nil {
				return err
			}
		}
	}
}

// reserveIDs makes room in the ledger's map for n more ids at once, instead
// of growing it a step at a time (rehashing, and holding old and new tables
// together while it grows).
func (p *Projector) reserveIDs(n int) {
	ids := make(map[idDigest]uint64, len(p.ids)+n)
	maps.Copy(ids, p.ids)
	p.ids = ids
}

// StreamSource reads a JetStream stream through ordered consumers. Every
// subscription after the first must find the stream the first one read
// (its creation time): a stream deleted and created anew is refused with
// natsstore.ErrStreamReplaced, rather than followed from the old sequence.
func StreamSource(js jetstream.JetStream, stream string) Source {
	return &jsSource{js: js, stream: stream}
}

type jsSource struct {
	js     jetstream.JetStream
	stream string

	mu      sync.Mutex
	created time.Time // of the stream the first subscription read
}

func (s *jsSource) Subscribe(ctx context.Context, from uint64) (Subscription, error) {
	s.mu.Lock()
	created := s.created
	s.mu.Unlock()
	sub, err := natsstore.SubscribeCreated(ctx, s.js, s.stream, from, created)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.created.IsZero() {
		s.created = sub.Created()
	}
	s.mu.Unlock()
	return sub, nil
}
