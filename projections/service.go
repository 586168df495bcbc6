package projections

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"kam/events"
	"kam/events/natsstore"
)

// Service keeps one read model up to date for a running kam: it runs the
// projector, resumes it after a failure from the file's checkpoint, and
// hands out the current Queries. Rebuild builds a new model from the start
// of the stream beside the serving one and swaps it in atomically once it
// has caught up: queries are answered by the old model until then, by the
// new one after, never by a half-built one.
//
// The serving file is DataDir/kam.db, a symbolic link to the current
// generation's file (kam-<n>.db), so that a swap is one rename.
type Service struct {
	Policy  *Policy // the policy new models are built under
	Stream  string
	Source  Source
	Log     *slog.Logger
	Opts    RunOptions
	DataDir string
	// LastSeq, when set, reports the stream's last sequence, for the
	// progress of a rebuild, and for Start to check that the model is not
	// ahead of the stream (Projector.CheckStream).
	LastSeq func(context.Context) (uint64, error)
	// EventIDAt, when set, returns the id of the event stored at seq (ok
	// false when there is none), for Start's check that the stream is the
	// one the model was built from.
	EventIDAt func(ctx context.Context, seq uint64) (id string, ok bool, err error)

	mu      sync.RWMutex
	cur     *model
	changed chan struct{} // closed and replaced on a swap
	rebuild *RebuildStatus
	retired []*model // swapped out, closed after a grace period
	// past holds the reviews and commits of the projectors replaced since
	// start (swapped out, or reloaded after an error), so that the counts
	// Status reports, which metrics export as counters, never go down.
	past struct {
		reviews, commits             int64
		reviewSeconds, commitSeconds float64
	}
	wg     sync.WaitGroup
	ctx    context.Context
	cancel context.CancelFunc
}

type model struct {
	db       *DB
	pol      *Policy
	proj     *Projector
	q        *Queries
	cancel   context.CancelFunc
	done     chan struct{}
	oldRules bool // built by other rules, served until a rebuild replaces it
}

// RebuildStatus reports a background rebuild.
type RebuildStatus struct {
	Running   bool   `json:"running"`
	Path      string `json:"path"`
	Policy    string `json:"policy"`
	Started   string `json:"started"`
	Applied   uint64 `json:"applied_seq"`
	Target    uint64 `json:"target_seq"`
	Swapped   string `json:"swapped,omitempty"`
	Error     string `json:"error,omitempty"`
	startedAt time.Time
}

// ServingPath is the link through which the serving read model is found.
func ServingPath(dataDir string) string { return filepath.Join(dataDir, "kam.db") }

// Start opens the serving read model (creating the first generation) and
// starts following the stream. With useStored, a model built under another
// policy is served under the policy it was built with, and one built by
// other rules (RulesVersion) is served too, for a rebuild under s.Policy to
// replace it; without, such a model is refused.
func (s *Service) Start(ctx context.Context, useStored bool) error {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	link := ServingPath(s.DataDir)
	path, err := filepath.EvalSymlinks(link)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if target, lerr := os.Readlink(link); lerr == nil {
			// A link made by hand whose target is missing (a relative
			// target is read from the data dir): not a reason to start
			// an empty model.
			return fmt.Errorf("%s links to %s, which does not exist: point it at a read model (a relative target is taken from %s), "+
				"or remove the link to build a new model from the stream", link, target, s.DataDir)
		}
		path = filepath.Join(s.DataDir, fmt.Sprintf("kam-%d.db", time.Now().UnixNano()))
		if err := pointTo(link, path); err != nil {
			return err
		}
	case err != nil:
		return err
	default:
		s.removeStrayGenerations(path)
	}
	pol := s.Policy
	if useStored {
		if stored, err := StoredPolicy(path); err != nil {
			return err
		} else if stored != nil {
			pol = stored
		}
	}
	m, err := s.openModel(ctx, path, pol, useStored)
	if err != nil {
		return err
	}
	if s.LastSeq != nil {
		last, err := s.LastSeq(ctx)
		if err == nil {
			err = m.proj.CheckStream(ctx, last, s.EventIDAt)
		}
		if err != nil {
			m.db.Close()
			return err
		}
	}
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.mu.Lock()
	s.cur = m
	s.changed = make(chan struct{})
	s.mu.Unlock()
	s.follow(m)
	return nil
}

// generationName matches the files of the read model's generations.
var generationName = regexp.MustCompile(`^kam-[0-9]+\.db(-wal|-shm)?$`)

// removeStrayGenerations removes the generations' files other than the
// serving one's: a rebuild that a crash interrupted, or a model swapped out
// that a crash kept from being removed after its grace period. Only one kam
// runs on a data dir (its lock), so no other process is using them.
func (s *Service) removeStrayGenerations(serving string) {
	entries, err := os.ReadDir(s.DataDir)
	if err != nil {
		s.Log.Warn("list the data dir for stray read models", "err", err)
		return
	}
	keep := filepath.Base(serving)
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || !generationName.MatchString(name) ||
			strings.TrimSuffix(strings.TrimSuffix(name, "-wal"), "-shm") == keep {
			continue
		}
		if err := os.Remove(filepath.Join(s.DataDir, name)); err != nil {
			s.Log.Warn("remove a stray read model file", "file", name, "err", err)
			continue
		}
		s.Log.Info("removed a read model file that no generation serves (left by an interrupted rebuild or swap)", "file", name)
	}
}

// sameDir reports whether a and b name the same directory, however
// written (relative, absolute, through a symbolic link).
func sameDir(a, b string) bool {
	sa, err := os.Stat(a)
	if err != nil {
		return false
	}
	sb, err := os.Stat(b)
	return err == nil && os.SameFile(sa, sb)
}

// pointTo makes link a symbolic link to target, atomically.
func pointTo(link, target string) error {
	tmp := link + ".tmp"
	os.Remove(tmp)
	if err := os.Symlink(filepath.Base(target), tmp); err != nil {
		return err
	}
	return os.Rename(tmp, link)
}

// StoredAppliedSeq reads the last sequence the serving read model of a
// data dir has applied: 0 without one.
func StoredAppliedSeq(dataDir string) (uint64, error) {
	path, err := filepath.EvalSymlinks(ServingPath(dataDir))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	var seq uint64
	_, err = storedState(path, "applied_seq", &seq)
	return seq, err
}

// StoredPolicy reads the policy a read model file was built under; nil for
// a file that holds none yet.
func StoredPolicy(path string) (*Policy, error) {
	var js string
	if ok, err := storedState(path, "policy_json", &js); !ok || err != nil {
		return nil, err
	}
	return ParseStoredPolicy([]byte(js))
}

// storedState reads one column of a read model file's state row into dest;
// ok is false for a file that does not exist or holds no state yet.
func storedState(path, column string, dest any) (ok bool, err error) {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	db, err := OpenReadOnly(path) // a look changes nothing, not the journal mode
	if err != nil {
		return false, err
	}
	defer db.Close()
	if err := db.QueryRow(`SELECT ` + column + ` FROM projector_state WHERE id = 1`).Scan(dest); err != nil {
		return false, nil // no state yet (or no table): a fresh model
	}
	return true, nil
}

// openModel opens the read model at path; with oldRules, one built by other
// rules is served until a rebuild replaces it.
func (s *Service) openModel(ctx context.Context, path string, pol *Policy, oldRules bool) (*model, error) {
	db, err := OpenDB(path)
	if err != nil {
		return nil, err
	}
	p, err := open(ctx, db, pol, s.Stream, s.Log, oldRules)
	if err != nil {
		db.Close()
		return nil, err
	}
	return &model{db: db, pol: pol, proj: p, q: NewQueries(db, pol), done: make(chan struct{}), oldRules: oldRules}, nil
}

// follow runs m's projector until the service stops or m is swapped out.
// After an error it reloads the projector from the file and goes on.
func (s *Service) follow(m *model) {
	ctx, cancel := context.WithCancel(s.ctx)
	m.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(m.done)
		// The applying, on this goroutine, behind the HTTP handlers too.
		lowerPriority(s.Opts.Nice)
		wait := 100 * time.Millisecond
		for {
			err := m.proj.Run(ctx, s.Source, s.Opts)
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, natsstore.ErrStreamReplaced) {
				// Another log under the same name: nothing of it may go
				// into this model. kam's stream watch stops kam.
				s.Log.Error("projector stopped for good: the stream was created anew", "path", m.db.Path, "err", err)
				return
			}
			s.Log.Error("projector stopped; resuming from the checkpoint", "path", m.db.Path, "err", err, "retry_in", wait)
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return
			}
			wait = min(2*wait, 5*time.Second)
			p, err := open(ctx, m.db, m.pol, s.Stream, s.Log, m.oldRules)
			if err != nil {
				s.Log.Error("reload projector", "err", err)
				continue
			}
			s.mu.Lock()
			s.addPast(m.proj.Status())
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
	st := s.cur.proj.Status()
	st.Reviews += s.past.reviews
	st.ReviewSeconds += s.past.reviewSeconds
	st.Commits += s.past.commits
	st.CommitSeconds += s.past.commitSeconds
	return st
}

// addPast counts a replaced projector's reviews and commits; s.mu is held.
func (s *Service) addPast(st Status) {
	s.past.reviews += st.Reviews
	s.past.reviewSeconds += st.ReviewSeconds
	s.past.commits += st.Commits
	s.past.commitSeconds += st.CommitSeconds
}

// CurrentPolicy is the policy of the serving read model.
func (s *Service) CurrentPolicy() *Policy { return s.current().pol }

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

// Rebuild starts building a new read model from the start of the stream
// under s.Policy, beside the serving one; once it has applied at least what
// the serving one has, it becomes the serving one and the old file is
// removed. An *events.Error with code EConflict says one is running.
func (s *Service) Rebuild() (RebuildStatus, error) {
	s.mu.Lock()
	if s.rebuild != nil && s.rebuild.Running {
		st := *s.rebuild
		s.mu.Unlock()
		return st, &events.Error{Code: events.EConflict, Message: "a rebuild is running: " + st.Path}
	}
	now := time.Now()
	path := filepath.Join(s.DataDir, fmt.Sprintf("kam-%d.db", now.UnixNano()))
	// The target is at least what the serving model has applied; the
	// rebuild raises it to the stream's end once it has read that.
	s.rebuild = &RebuildStatus{Running: true, Path: path, Policy: s.Policy.Version(), Started: now.UTC().Format(time.RFC3339), startedAt: now,
		Target: s.cur.proj.Status().AppliedSeq}
	st := *s.rebuild
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.runRebuild(path)
		s.mu.Lock()
		s.rebuild.Running = false
		if err != nil {
			s.rebuild.Error = err.Error()
		}
		s.mu.Unlock()
		if err != nil && s.ctx.Err() == nil {
			s.Log.Error("rebuild failed; the serving read model stays", "path", path, "err", err)
		}
	}()
	return st, nil
}

// RebuildStatus reports the last rebuild, if any.
func (s *Service) RebuildStatus() (RebuildStatus, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.rebuild == nil {
		return RebuildStatus{}, false
	}
	st := *s.rebuild
	return st, true
}

func (s *Service) runRebuild(path string) error {
	ctx := s.ctx
	s.Log.Info("rebuild started", "path", path, "policy", s.Policy.ShortVersion())
	m, err := s.openModel(ctx, path, s.Policy, false)
	if err != nil {
		return err
	}
	s.follow(m)
	// Wait until the new model has applied what the stream held when the
	// rebuild started, and what the serving model has applied.
	var target uint64
	if s.LastSeq != nil {
		if target, err = s.LastSeq(ctx); err != nil {
			return fmt.Errorf("read the stream's last sequence: %w", err)
		}
	}
	// report puts the progress in the rebuild's status: from the start,
	// then at every tick.
	report := func() (applied, serving uint64) {
		s.mu.Lock()
		defer s.mu.Unlock()
		applied, serving = m.proj.Status().AppliedSeq, s.cur.proj.Status().AppliedSeq
		s.rebuild.Applied, s.rebuild.Target = applied, max(target, serving)
		return applied, serving
	}
	report()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			m.cancel()
			<-m.done
			m.db.Close()
			os.Remove(path)
			return ctx.Err()
		case <-m.done:
			m.db.Close()
			return errors.New("the rebuild's projector stopped")
		case <-tick.C:
		}
		if applied, serving := report(); applied >= serving && applied >= target {
			break
		}
	}
	old, err := s.swap(m)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.rebuild.Swapped = time.Now().UTC().Format(time.RFC3339)
	s.mu.Unlock()
	s.Log.Info("rebuild swapped in", "path", path, "replaced", old, "applied_seq", m.proj.Status().AppliedSeq,
		"took", time.Since(s.rebuild.startedAt).Round(time.Millisecond))
	return nil
}

// swap makes m the serving model, points the serving link at it, stops and
// closes the old one and removes its files. It returns the old file's path.
func (s *Service) swap(m *model) (string, error) {
	if err := pointTo(ServingPath(s.DataDir), m.db.Path); err != nil {
		return "", fmt.Errorf("point the serving link at %s: %w", m.db.Path, err)
	}
	s.mu.Lock()
	old := s.cur
	s.cur = m
	s.addPast(old.proj.Status())
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	old.cancel()
	<-old.done
	// Queries that took the old model just before the swap may still run:
	// it is closed and removed after a grace period (or at Close).
	s.mu.Lock()
	s.retired = append(s.retired, old)
	s.mu.Unlock()
	time.AfterFunc(retireAfter, func() { s.retire(old) })
	return old.db.Path, nil
}

// retireAfter is how long a swapped-out model stays open for the queries
// that took it before the swap.
const retireAfter = 10 * time.Second

// retire closes a swapped-out model and removes its files, once.
func (s *Service) retire(old *model) {
	s.mu.Lock()
	found := false
	for i, m := range s.retired {
		if m == old {
			s.retired = append(s.retired[:i], s.retired[i+1:]...)
			found = true
			break
		}
	}
	s.mu.Unlock()
	if !found {
		return
	}
	if err := old.db.Close(); err != nil {
		s.Log.Warn("close the old read model", "path", old.db.Path, "err", err)
	}
	// kam removes only the generations it names: a file the link was
	// pointed at by hand (a what-if replay, say) stays where it is.
	base := filepath.Base(old.db.Path)
	if !sameDir(filepath.Dir(old.db.Path), s.DataDir) || !generationName.MatchString(base) && base != "kam.db" {
		s.Log.Info("the swapped-out read model is not one of kam's generations: left in place", "path", old.db.Path)
		return
	}
	for _, suffix := range []string{"-wal", "-shm", ""} {
		if suffix == "" && old.db.Path == ServingPath(s.DataDir) {
			break // a first-generation file at the link's name: replaced by the link already
		}
		os.Remove(old.db.Path + suffix)
	}
}

// Close stops following and closes the read models, after the last batch
// is committed; a rebuild in progress is abandoned and its file removed.
func (s *Service) Close() error {
	if s.cancel == nil {
		return errors.New("service not started")
	}
	s.cancel()
	s.wg.Wait()
	s.mu.RLock()
	retired := append([]*model(nil), s.retired...)
	s.mu.RUnlock()
	for _, m := range retired {
		s.retire(m)
	}
	return s.current().db.Close()
}
