package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// Service keeps one read model up to date for a running kam: it runs the
// projector, resumes it after a failure from the file's checkpoint, and
// hands out the current Queries. Swap replaces the model with another
// (a rebuilt one) atomically.
type Service struct {
	Policy *Policy
	Stream string
	Source Source
	Log    *slog.Logger
	Opts   RunOptions

	mu      sync.RWMutex
	cur     *model
	changed chan struct{} // closed and replaced on Swap
	wg      sync.WaitGroup
	cancel  context.CancelFunc
}

type model struct {
	db     *DB
	proj   *Projector
	q      *Queries
	cancel context.CancelFunc
	done   chan struct{}
}

// Start opens the read model at path and starts following the stream.
func (s *Service) Start(ctx context.Context, path string) error {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	m, err := s.openModel(ctx, path)
	if err != nil {
		return err
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.mu.Lock()
	s.cur = m
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.follow(ctx, m)
	return nil
}

func (s *Service) openModel(ctx context.Context, path string) (*model, error) {
	db, err := OpenDB(path)
	if err != nil {
		return nil, err
	}
	p, err := Open(ctx, db, s.Policy, s.Stream, s.Log)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &model{db: db, proj: p, q: NewQueries(db, s.Policy), done: make(chan struct{})}, nil
}

// follow runs m's projector until ctx ends or m is swapped out. After an
// error it reloads the projector from the file and goes on.
func (s *Service) follow(ctx context.Context, m *model) {
	ctx, m.cancel = context.WithCancel(ctx)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(m.done)
		wait := 100 * time.Millisecond
		for {
			err := m.proj.Run(ctx, s.Source, s.Opts)
			if ctx.Err() != nil {
				return
			}
			s.Log.Error("projector stopped; resuming from the checkpoint", "err", err, "retry_in", wait)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
			wait = min(2*wait, 5*time.Second)
			p, err := Open(ctx, m.db, s.Policy, s.Stream, s.Log)
			if err != nil {
				s.Log.Error("reload projector", "err", err)
				continue
			}
			s.mu.Lock()
			m.proj = p
			s.mu.Unlock()
		}
	}()
}

func (s *Service) current() *model {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cur
}

// Queries returns the query side of the current read model.
func (s *Service) Queries() *Queries { return s.current().q }

// Status returns the current projector's status.
func (s *Service) Status() Status {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.cur.proj.Status()
}

// Path is the current read model's file.
func (s *Service) Path() string { return s.current().db.Path }

// DB is the current read model.
func (s *Service) DB() *DB { return s.current().db }

// WaitApplied waits until the read model has applied seq (also across a swap).
func (s *Service) WaitApplied(ctx context.Context, seq uint64) error {
	for {
		s.mu.RLock()
		p, changed := s.cur.proj, s.changed
		s.mu.RUnlock()
		wctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-changed:
				cancel()
			case <-wctx.Done():
			}
		}()
		err := p.WaitApplied(wctx, seq)
		cancel()
		if err == nil || ctx.Err() != nil {
			return err
		}
	}
}

// Swap makes the read model at path the current one (it must be built under
// the same policy and stream, and is followed from its checkpoint on); the
// old one stops and is closed. It returns the old file's path.
func (s *Service) Swap(ctx context.Context, path string) (string, error) {
	m, err := s.openModel(ctx, path)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	old := s.cur
	s.cur = m
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.follow(context.WithoutCancel(ctx), m)
	old.cancel()
	<-old.done
	if err := old.db.Close(); err != nil {
		return old.db.Path, fmt.Errorf("close the old read model: %w", err)
	}
	return old.db.Path, nil
}

// Close stops following and closes the read model, after the last batch
// is committed.
func (s *Service) Close() error {
	if s.cancel == nil {
		return errors.New("service not started")
	}
	s.cancel()
	m := s.current()
	m.cancel()
	s.wg.Wait()
	return m.db.Close()
}
