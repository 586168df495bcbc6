package natsstore_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"kam/events"
	"kam/events/natsstore"
)

// runServer starts kam's embedded server on a free port with its store in
// dir, and shuts it down at the end of the test.
func runServer(tb testing.TB, dir string) *server.Server {
	tb.Helper()
	s, err := natsstore.RunEmbedded(natsstore.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: dir}, nil)
	if err != nil {
		tb.Fatalf("RunEmbedded: %v", err)
	}
	tb.Cleanup(s.Shutdown)
	return s
}

// mustConnect connects to s; the connection never gives up reconnecting, as
// kam's does not, so that a stopped server shows as a timeout.
func mustConnect(tb testing.TB, s *server.Server) *nats.Conn {
	tb.Helper()
	nc, err := nats.Connect(s.ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		tb.Fatalf("connect: %v", err)
	}
	tb.Cleanup(nc.Close)
	return nc
}

func mustOpen(tb testing.TB, nc *nats.Conn, cfg natsstore.Config) *natsstore.Store {
	tb.Helper()
	st, err := natsstore.Open(context.Background(), nc, cfg, nil)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return st
}

// newStore is a store on a fresh server of its own.
func newStore(tb testing.TB) (*natsstore.Store, *server.Server) {
	tb.Helper()
	s := runServer(tb, tb.TempDir())
	return mustOpen(tb, mustConnect(tb, s), natsstore.Config{}), s
}

// next returns the subscription's next message, failing the test when none
// comes within 5s (Next itself has no deadline).
func next(tb testing.TB, sub *natsstore.Subscription) (events.Stored, uint64, error) {
	tb.Helper()
	type result struct {
		m       events.Stored
		pending uint64
		err     error
	}
	c := make(chan result, 1)
	go func() {
		m, pending, err := sub.Next()
		c <- result{m, pending, err}
	}()
	select {
	case r := <-c:
		return r.m, r.pending, r.err
	case <-time.After(5 * time.Second):
		tb.Fatal("Next: nothing after 5s")
		return events.Stored{}, 0, nil
	}
}

// order is a valid order.placed event of account with the given id.
func order(id, account string) *events.Event {
	return &events.Event{
		SpecVersion: events.SpecVersion, ID: id, Source: "test", Type: events.TypeOrderPlaced, Subject: account,
		Time: time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC),
		Data: []byte(fmt.Sprintf(`{"order_id":%q,"amount":"1.00"}`, id)),
	}
}

func tick(id string) *events.Event {
	return &events.Event{SpecVersion: events.SpecVersion, ID: id, Source: "test", Type: events.TypeClockTick,
		Time: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
}

func mustAppend(tb testing.TB, st *natsstore.Store, opts events.AppendOptions, evs ...*events.Event) []events.AppendResult {
	tb.Helper()
	res, err := st.Append(context.Background(), evs, opts)
	if err != nil {
		tb.Fatalf("Append: %v", err)
	}
	if len(res) != len(evs) {
		tb.Fatalf("Append: got %d results, want %d", len(res), len(evs))
	}
	return res
}

func seqPtr(n uint64) *uint64 { return &n }

func mustStatus(tb testing.TB, st *natsstore.Store) natsstore.Status {
	tb.Helper()
	s, err := st.Status(context.Background())
	if err != nil {
		tb.Fatalf("Status: %v", err)
	}
	return s
}

// ids decodes the ids of stored events.
func ids(tb testing.TB, stored []events.Stored) []string {
	tb.Helper()
	out := []string{}
	for _, s := range stored {
		e, err := events.Decode(s.Data, false)
		if err != nil {
			tb.Fatalf("Decode of stored seq %d: %v", s.Seq, err)
		}
		out = append(out, e.ID)
	}
	return out
}

func seqs(stored []events.Stored) []uint64 {
	out := []uint64{}
	for _, s := range stored {
		out = append(out, s.Seq)
	}
	return out
}

func mustKamError(tb testing.TB, err error, code string) *events.Error {
	tb.Helper()
	var ke *events.Error
	if !errors.As(err, &ke) {
		tb.Fatalf("error: got %v (%T), want an *events.Error with code %q", err, err, code)
	}
	if ke.Code != code {
		tb.Fatalf("error code: got %q (%v), want %q", ke.Code, err, code)
	}
	return ke
}

func TestOpenCreatesStream(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	stream, err := st.JetStream().Stream(ctx, "KAM")
	if err != nil {
		t.Fatalf("stream KAM: %v", err)
	}
	cfg := stream.CachedInfo().Config
	if got, want := cfg.Subjects, []string{"kam.acct.>", "kam.clock.tick"}; !reflect.DeepEqual(got, want) {
		t.Errorf("subjects: got %q, want %q", got, want)
	}
	if !cfg.DenyDelete || !cfg.DenyPurge {
		t.Errorf("deny delete, deny purge: got %v, %v, want true, true", cfg.DenyDelete, cfg.DenyPurge)
	}
	if cfg.Duplicates != 24*time.Hour {
		t.Errorf("duplicates window: got %v, want 24h", cfg.Duplicates)
	}
	if !cfg.AllowAtomicPublish {
		t.Errorf("allow atomic publish: got false, want true")
	}
	if cfg.Replicas != 1 || cfg.Storage != jetstream.FileStorage || cfg.Retention != jetstream.LimitsPolicy {
		t.Errorf("replicas, storage, retention: got %d, %v, %v, want 1, file, limits", cfg.Replicas, cfg.Storage, cfg.Retention)
	}
	if cfg.MaxAge != 0 || cfg.MaxMsgs != -1 || cfg.MaxBytes != -1 || cfg.MaxMsgsPerSubject != -1 {
		t.Errorf("limits: got max_age %v max_msgs %d max_bytes %d max_msgs_per_subject %d, want none",
			cfg.MaxAge, cfg.MaxMsgs, cfg.MaxBytes, cfg.MaxMsgsPerSubject)
	}
	if d := natsstore.ConfigDiff(natsstore.StreamConfig(natsstore.Config{}), cfg); len(d) != 0 {
		t.Errorf("ConfigDiff with the created stream: got %q, want none", d)
	}

	// The stream keeps what it holds.
	mustAppend(t, st, events.AppendOptions{}, order("o-1", "acme"))
	if err := stream.DeleteMsg(ctx, 1); err == nil {
		t.Errorf("DeleteMsg: got nil, want an error")
	}
	if err := stream.Purge(ctx); err == nil {
		t.Errorf("Purge: got nil, want an error")
	}
	if got := mustStatus(t, st).Messages; got != 1 {
		t.Errorf("messages after delete and purge: got %d, want 1", got)
	}
}

func TestOpenWithOwnDuplicatesWindow(t *testing.T) {
	s := runServer(t, t.TempDir())
	st := mustOpen(t, mustConnect(t, s), natsstore.Config{Stream: "OTHER", Duplicates: time.Hour})
	status := mustStatus(t, st)
	if status.Name != "OTHER" || status.Duplicates != "1h0m0s" {
		t.Errorf("stream: got %s with window %s, want OTHER with 1h0m0s", status.Name, status.Duplicates)
	}
}

func TestOpenRefusesOtherSettings(t *testing.T) {
	tests := []struct {
		name    string
		cfg     natsstore.Config
		setting string
	}{
		{"duplicates window", natsstore.Config{Duplicates: time.Hour}, "duplicate window is 24h0m0s, kam asks for 1h0m0s"},
		{"replicas", natsstore.Config{Replicas: 3}, "replicas is 1, kam asks for 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := runServer(t, t.TempDir())
			nc := mustConnect(t, s)
			st := mustOpen(t, nc, natsstore.Config{})
			mustAppend(t, st, events.AppendOptions{}, order("o-1", "acme"))
			before := mustStatus(t, st)

			_, err := natsstore.Open(context.Background(), nc, tt.cfg, nil)
			if err == nil {
				t.Fatalf("Open: got nil error, want one naming %q", tt.setting)
			}
			if !strings.Contains(err.Error(), tt.setting) {
				t.Errorf("Open: got %q, want it to name %q", err, tt.setting)
			}
			if after := mustStatus(t, st); after != before {
				t.Errorf("stream after the refused Open: got %+v, want %+v", after, before)
			}
			mustOpen(t, nc, natsstore.Config{})
		})
	}
}

// A stream made by hand with a setting kam relies on missing is refused.
func TestOpenRefusesStreamAllowingDeletes(t *testing.T) {
	s := runServer(t, t.TempDir())
	nc := mustConnect(t, s)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cfg := natsstore.StreamConfig(natsstore.Config{})
	cfg.DenyDelete, cfg.DenyPurge = false, false
	if _, err := js.CreateStream(context.Background(), cfg); err != nil {
		t.Fatalf("CreateStream: %v", err)
	}
	_, err = natsstore.Open(context.Background(), nc, natsstore.Config{}, nil)
	if err == nil {
		t.Fatal("Open: got nil error, want one naming deny_delete and deny_purge")
	}
	for _, want := range []string{"deny_delete is false, kam asks for true", "deny_purge is false, kam asks for true"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("Open: got %q, want it to name %q", err, want)
		}
	}
}

func TestConfigDiff(t *testing.T) {
	want := natsstore.StreamConfig(natsstore.Config{})
	tests := []struct {
		name string
		edit func(*jetstream.StreamConfig)
		diff []string
	}{
		{"same", func(*jetstream.StreamConfig) {}, nil},
		{"description and direct get are not kam's concern", func(c *jetstream.StreamConfig) { c.Description, c.AllowDirect = "x", false }, nil},
		{"duplicates", func(c *jetstream.StreamConfig) { c.Duplicates = 2 * time.Minute },
			[]string{"duplicate window is 2m0s, kam asks for 24h0m0s"}},
		{"subjects", func(c *jetstream.StreamConfig) { c.Subjects = []string{"kam.>"} },
			[]string{"subjects is [kam.>], kam asks for [kam.acct.> kam.clock.tick]"}},
		{"max age and memory", func(c *jetstream.StreamConfig) { c.MaxAge, c.Storage = time.Hour, jetstream.MemoryStorage },
			[]string{"storage is Memory, kam asks for File", "max_age is 1h0m0s, kam asks for 0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			have := want
			tt.edit(&have)
			if got := natsstore.ConfigDiff(want, have); !reflect.DeepEqual(got, tt.diff) {
				t.Errorf("got %q, want %q", got, tt.diff)
			}
		})
	}
}

func TestAppendDuplicate(t *testing.T) {
	st, _ := newStore(t)
	first := mustAppend(t, st, events.AppendOptions{}, order("o-1", "acme"))
	again := mustAppend(t, st, events.AppendOptions{}, order("o-1", "acme"))
	if want := (events.AppendResult{ID: "o-1", Seq: 1}); first[0] != want {
		t.Errorf("first append: got %+v, want %+v", first[0], want)
	}
	if want := (events.AppendResult{ID: "o-1", Seq: 1, Duplicate: true}); again[0] != want {
		t.Errorf("second append: got %+v, want %+v", again[0], want)
	}
	res, errs := st.AppendEach(context.Background(), []*events.Event{order("o-1", "acme"), order("o-2", "acme")})
	if want := []error{nil, nil}; !reflect.DeepEqual(errs, want) {
		t.Fatalf("AppendEach errors: got %v, want %v", errs, want)
	}
	if want := []events.AppendResult{{ID: "o-1", Seq: 1, Duplicate: true}, {ID: "o-2", Seq: 2}}; !reflect.DeepEqual(res, want) {
		t.Errorf("AppendEach: got %+v, want %+v", res, want)
	}
	if got := mustStatus(t, st).Messages; got != 2 {
		t.Errorf("messages: got %d, want 2", got)
	}
}

func TestAppendExpectedSeq(t *testing.T) {
	st, _ := newStore(t)
	mustAppend(t, st, events.AppendOptions{ExpectedSeq: seqPtr(0)}, order("o-1", "acme"))
	// Another account's event does not move acme's sequence, and a new
	// account starts at 0 whatever the stream holds.
	mustAppend(t, st, events.AppendOptions{ExpectedSeq: seqPtr(0)}, order("o-2", "acme.b"))
	mustAppend(t, st, events.AppendOptions{ExpectedSeq: seqPtr(0)}, order("o-3", "acm"))
	mustAppend(t, st, events.AppendOptions{}, tick("2026-02-01"))

	_, err := st.Append(context.Background(), []*events.Event{order("o-4", "acme")}, events.AppendOptions{ExpectedSeq: seqPtr(0)})
	if ke := mustKamError(t, err, events.EConflict); ke.CurrentSequence != 1 {
		t.Errorf("current sequence: got %d, want 1", ke.CurrentSequence)
	}
	_, err = st.Append(context.Background(), []*events.Event{order("o-4", "acme")}, events.AppendOptions{ExpectedSeq: seqPtr(2)})
	if ke := mustKamError(t, err, events.EConflict); ke.CurrentSequence != 1 {
		t.Errorf("current sequence: got %d, want 1", ke.CurrentSequence)
	}
	res := mustAppend(t, st, events.AppendOptions{ExpectedSeq: seqPtr(1)}, order("o-4", "acme"))
	if res[0].Seq != 5 {
		t.Errorf("seq: got %d, want 5", res[0].Seq)
	}
	if got := mustStatus(t, st).Messages; got != 5 {
		t.Errorf("messages: got %d, want 5", got)
	}
}

func TestAppendExpectedSeqNeedsOneAccount(t *testing.T) {
	st, _ := newStore(t)
	tests := []struct {
		name string
		evs  []*events.Event
	}{
		{"two accounts", []*events.Event{order("o-1", "a"), order("o-2", "b")}},
		{"a tick", []*events.Event{tick("2026-02-01")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := st.Append(context.Background(), tt.evs, events.AppendOptions{ExpectedSeq: seqPtr(0)})
			mustKamError(t, err, events.EInvalid)
		})
	}
	if got := mustStatus(t, st).Messages; got != 0 {
		t.Errorf("messages: got %d, want 0", got)
	}
}

// Two writers that saw the same state: one wins, the other learns where the
// account is now.
func TestAppendConcurrentWriters(t *testing.T) {
	tests := []struct {
		name  string
		batch int
		// seed: each batch begins with the stored event, as a retry
		// of an append that stored it would; it adds nothing.
		seed bool
	}{
		{"single events", 1, false},
		{"batches", 3, false},
		{"batches holding a stored event", 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := runServer(t, t.TempDir())
			writers := []*natsstore.Store{
				mustOpen(t, mustConnect(t, s), natsstore.Config{}),
				mustOpen(t, mustConnect(t, s), natsstore.Config{}),
			}
			mustAppend(t, writers[0], events.AppendOptions{}, order("seed", "acme"))
			added := tt.batch
			if tt.seed {
				added--
			}

			var (
				wg    sync.WaitGroup
				start = make(chan struct{})
				res   = make([][]events.AppendResult, 2)
				errs  = make([]error, 2)
			)
			for w := range writers {
				evs := make([]*events.Event, tt.batch)
				for i := range evs {
					evs[i] = order(fmt.Sprintf("w%d-%d", w, i), "acme")
				}
				if tt.seed {
					evs[0] = order("seed", "acme")
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					res[w], errs[w] = writers[w].Append(context.Background(), evs, events.AppendOptions{ExpectedSeq: seqPtr(1)})
				}()
			}
			close(start)
			wg.Wait()

			if (errs[0] == nil) == (errs[1] == nil) {
				t.Fatalf("errors: got %v and %v, want exactly one nil", errs[0], errs[1])
			}
			win, lose := 0, 1
			if errs[0] != nil {
				win, lose = 1, 0
			}
			if res[lose] != nil {
				t.Errorf("loser's results: got %+v, want nil", res[lose])
			}
			ke := mustKamError(t, errs[lose], events.EConflict)
			last := res[win][len(res[win])-1].Seq
			if ke.CurrentSequence != last {
				t.Errorf("current sequence: got %d, want the winner's %d", ke.CurrentSequence, last)
			}
			if got, want := mustStatus(t, writers[0]).Messages, uint64(1+added); got != want {
				t.Errorf("messages: got %d, want %d", got, want)
			}
			// The winner's new events follow the expected sequence.
			for i, r := range res[win][tt.batch-added:] {
				if r.Duplicate || r.Seq != uint64(2+i) {
					t.Errorf("winner's new event %d: got %+v, want sequence %d", i, r, 2+i)
				}
			}
		})
	}
}

func TestAppendBatch(t *testing.T) {
	st, _ := newStore(t)
	mustAppend(t, st, events.AppendOptions{}, order("other", "other"))
	batch := []*events.Event{order("o-1", "acme"), order("o-2", "acme"), order("o-3", "acme")}
	res := mustAppend(t, st, events.AppendOptions{ExpectedSeq: seqPtr(0)}, batch...)
	want := []events.AppendResult{{ID: "o-1", Seq: 2}, {ID: "o-2", Seq: 3}, {ID: "o-3", Seq: 4}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("results: got %+v, want %+v", res, want)
	}
	stored, err := st.ReadAccount(context.Background(), "acme", 0, 10)
	if err != nil {
		t.Fatalf("ReadAccount: %v", err)
	}
	if got, want := ids(t, stored), []string{"o-1", "o-2", "o-3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("stored ids: got %q, want %q", got, want)
	}
	if got, want := seqs(stored), []uint64{2, 3, 4}; !reflect.DeepEqual(got, want) {
		t.Errorf("stored seqs: got %v, want %v", got, want)
	}

	// A batch of several accounts, without an expected sequence.
	res = mustAppend(t, st, events.AppendOptions{}, order("o-5", "a.b"), tick("2026-02-01"), order("o-6", "ünï"))
	want = []events.AppendResult{{ID: "o-5", Seq: 5}, {ID: "2026-02-01", Seq: 6}, {ID: "o-6", Seq: 7}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("results: got %+v, want %+v", res, want)
	}
}

// A client that lost the acknowledgement of an append sends it again, with
// the same ids and the same expected sequence.
func TestAppendRetried(t *testing.T) {
	tests := []struct {
		name  string
		opts  events.AppendOptions
		batch int
	}{
		{"batch without expected sequence", events.AppendOptions{}, 3},
		{"batch with the expected sequence of the first try", events.AppendOptions{ExpectedSeq: seqPtr(1)}, 3},
		{"one event without expected sequence", events.AppendOptions{}, 1},
		{"one event with the expected sequence of the first try", events.AppendOptions{ExpectedSeq: seqPtr(1)}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := newStore(t)
			mustAppend(t, st, events.AppendOptions{}, order("o-0", "acme"))
			batch := func() []*events.Event {
				evs := make([]*events.Event, tt.batch)
				for i := range evs {
					evs[i] = order(fmt.Sprint("o-", i+1), "acme")
				}
				return evs
			}
			first := mustAppend(t, st, tt.opts, batch()...)
			again := mustAppend(t, st, tt.opts, batch()...)
			want := make([]events.AppendResult, len(first))
			for i, r := range first {
				want[i] = events.AppendResult{ID: r.ID, Seq: r.Seq, Duplicate: true}
			}
			if !reflect.DeepEqual(again, want) {
				t.Errorf("retry: got %+v, want %+v", again, want)
			}
			if got, want := mustStatus(t, st).Messages, uint64(1+tt.batch); got != want {
				t.Errorf("messages: got %d, want %d", got, want)
			}
		})
	}
}

// A retry is a duplicate only when the events stored after the expected
// sequence are the retried ones; anything else stays a conflict.
func TestAppendRetryAfterOthersIsConflict(t *testing.T) {
	st, _ := newStore(t)
	mustAppend(t, st, events.AppendOptions{}, order("o-1", "acme"))
	tests := []struct {
		name     string
		evs      []*events.Event
		expected uint64
	}{
		{"another event", []*events.Event{order("o-9", "acme")}, 0},
		{"a stored event with a new one", []*events.Event{order("o-1", "acme"), order("o-9", "acme")}, 0},
		{"a new event before a stored one", []*events.Event{order("o-9", "acme"), order("o-1", "acme")}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := st.Append(context.Background(), tt.evs, events.AppendOptions{ExpectedSeq: seqPtr(tt.expected)})
			if res != nil {
				t.Errorf("results: got %+v, want nil", res)
			}
			if ke := mustKamError(t, err, events.EConflict); ke.CurrentSequence != 1 {
				t.Errorf("current sequence: got %d, want 1", ke.CurrentSequence)
			}
			if got := mustStatus(t, st).Messages; got != 1 {
				t.Errorf("messages: got %d, want 1", got)
			}
		})
	}
}

func TestAppendBatchConflictAppendsNothing(t *testing.T) {
	st, _ := newStore(t)
	mustAppend(t, st, events.AppendOptions{}, order("o-1", "acme"), order("o-2", "acme"))
	batch := []*events.Event{order("o-3", "acme"), order("o-4", "acme"), order("o-5", "acme")}
	for _, expected := range []uint64{0, 1, 3} {
		res, err := st.Append(context.Background(), batch, events.AppendOptions{ExpectedSeq: seqPtr(expected)})
		if res != nil {
			t.Errorf("expected %d: results: got %+v, want nil", expected, res)
		}
		if ke := mustKamError(t, err, events.EConflict); ke.CurrentSequence != 2 {
			t.Errorf("expected %d: current sequence: got %d, want 2", expected, ke.CurrentSequence)
		}
		if got := mustStatus(t, st).Messages; got != 2 {
			t.Errorf("expected %d: messages: got %d, want 2", expected, got)
		}
	}
	// The refused batch left nothing behind that would make it a duplicate.
	res := mustAppend(t, st, events.AppendOptions{ExpectedSeq: seqPtr(2)}, batch...)
	if want := []events.AppendResult{{ID: "o-3", Seq: 3}, {ID: "o-4", Seq: 4}, {ID: "o-5", Seq: 5}}; !reflect.DeepEqual(res, want) {
		t.Errorf("results: got %+v, want %+v", res, want)
	}
}

func TestAppendTooMany(t *testing.T) {
	st, _ := newStore(t)
	evs := make([]*events.Event, natsstore.MaxBatch+1)
	for i := range evs {
		evs[i] = order(fmt.Sprint("o-", i), "acme")
	}
	_, err := st.Append(context.Background(), evs, events.AppendOptions{})
	mustKamError(t, err, events.ETooLarge)
	if got := mustStatus(t, st).Messages; got != 0 {
		t.Errorf("messages: got %d, want 0", got)
	}
}

func TestReadAccount(t *testing.T) {
	st, _ := newStore(t)
	accounts := []string{"acme", "a.b", "a b", "ünï", "a", "acme.x", "*", ">"}
	want := map[string][]string{}
	for round := 0; round < 3; round++ {
		for _, a := range accounts {
			id := fmt.Sprintf("%s/%d", a, round)
			mustAppend(t, st, events.AppendOptions{}, order(id, a))
			want[a] = append(want[a], id)
		}
		mustAppend(t, st, events.AppendOptions{}, tick(fmt.Sprint("tick-", round)))
	}
	ctx := context.Background()
	for _, a := range accounts {
		t.Run(a, func(t *testing.T) {
			stored, err := st.ReadAccount(ctx, a, 0, 100)
			if err != nil {
				t.Fatalf("ReadAccount: %v", err)
			}
			if got := ids(t, stored); !reflect.DeepEqual(got, want[a]) {
				t.Errorf("ids: got %q, want %q", got, want[a])
			}
			for i, s := range stored {
				if s.Subject != natsstore.SubjectFor(a, events.TypeOrderPlaced) {
					t.Errorf("subject: got %q, want %q", s.Subject, natsstore.SubjectFor(a, events.TypeOrderPlaced))
				}
				if i > 0 && s.Seq <= stored[i-1].Seq {
					t.Errorf("seqs not increasing: %v", seqs(stored))
				}
				if s.Stored.IsZero() {
					t.Errorf("stored time of seq %d: got zero, want the stream's timestamp", s.Seq)
				}
			}

			// Paging: one at a time, each page after the last seq seen.
			var paged []events.Stored
			after := uint64(0)
			for {
				page, err := st.ReadAccount(ctx, a, after, 1)
				if err != nil {
					t.Fatalf("ReadAccount after %d: %v", after, err)
				}
				if len(page) == 0 {
					break
				}
				if len(page) != 1 {
					t.Fatalf("page after %d: got %d events, want 1", after, len(page))
				}
				paged = append(paged, page...)
				after = page[0].Seq
			}
			if !reflect.DeepEqual(paged, stored) {
				t.Errorf("paged one by one: got seqs %v, want %v", seqs(paged), seqs(stored))
			}
			page, err := st.ReadAccount(ctx, a, stored[0].Seq, 1)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := seqs(page), seqs(stored[1:2]); !reflect.DeepEqual(got, want) {
				t.Errorf("after %d limit 1: got %v, want %v", stored[0].Seq, got, want)
			}
		})
	}

	t.Run("unknown account", func(t *testing.T) {
		stored, err := st.ReadAccount(ctx, "nobody", 0, 100)
		if err != nil || len(stored) != 0 {
			t.Errorf("got %v, %v, want no events", seqs(stored), err)
		}
	})
	t.Run("limit 0", func(t *testing.T) {
		stored, err := st.ReadAccount(ctx, "acme", 0, 0)
		if err != nil || len(stored) != 0 {
			t.Errorf("got %v, %v, want no events", seqs(stored), err)
		}
	})
	t.Run("whole stream", func(t *testing.T) {
		stored, err := st.Read(ctx, 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := len(stored), 3*len(accounts)+3; got != want {
			t.Errorf("events: got %d, want %d", got, want)
		}
		for i, s := range stored {
			if s.Seq != uint64(i+1) {
				t.Fatalf("seq at %d: got %d, want %d", i, s.Seq, i+1)
			}
		}
	})
}

func TestLastSeq(t *testing.T) {
	st, _ := newStore(t)
	mustAppend(t, st, events.AppendOptions{}, order("o-1", "a.b"), order("o-2", "a"), order("o-3", "a.b"), tick("t"))
	tests := []struct {
		account string
		want    uint64
	}{{"a.b", 3}, {"a", 2}, {"a.", 0}, {"b", 0}}
	for _, tt := range tests {
		got, err := st.LastSeq(context.Background(), tt.account)
		if err != nil || got != tt.want {
			t.Errorf("LastSeq(%q): got %d, %v, want %d", tt.account, got, err, tt.want)
		}
	}
}

func TestReadSeq(t *testing.T) {
	st, _ := newStore(t)
	e := order("o-1", "a.b")
	mustAppend(t, st, events.AppendOptions{}, e)
	got, err := st.ReadSeq(context.Background(), 1)
	if err != nil {
		t.Fatalf("ReadSeq(1): %v", err)
	}
	data, _ := e.MarshalJSON()
	if got.Seq != 1 || got.Subject != natsstore.SubjectFor("a.b", e.Type) || string(got.Data) != string(data) {
		t.Errorf("ReadSeq(1): got %d %q %s, want 1 %q %s", got.Seq, got.Subject, got.Data, natsstore.SubjectFor("a.b", e.Type), data)
	}
	if got.Stored.IsZero() || got.Stored.Location() != time.UTC {
		t.Errorf("stored time: got %v, want a UTC timestamp", got.Stored)
	}
	for _, seq := range []uint64{0, 2, 1000} {
		_, err := st.ReadSeq(context.Background(), seq)
		mustKamError(t, err, events.ENotFound)
	}
}

// The log outlives its server.
func TestRestartKeepsEverything(t *testing.T) {
	dir := t.TempDir()
	s := runServer(t, dir)
	cfg := natsstore.Config{Duplicates: 2 * time.Hour}
	st := mustOpen(t, mustConnect(t, s), cfg)
	mustAppend(t, st, events.AppendOptions{}, order("o-1", "acme"), order("o-2", "a.b"), order("o-3", "acme"))
	mustAppend(t, st, events.AppendOptions{}, tick("2026-02-01"))
	before, err := st.Read(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	s.Shutdown()
	s.WaitForShutdown()

	s2 := runServer(t, dir)
	st2 := mustOpen(t, mustConnect(t, s2), cfg)
	after, err := st2.Read(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(after, before) {
		t.Errorf("events after restart: got %v, want %v", ids(t, after), ids(t, before))
	}
	status := mustStatus(t, st2)
	if status.Duplicates != "2h0m0s" || !status.DenyDelete || !status.DenyPurge || status.LastSeq != 4 {
		t.Errorf("stream after restart: got %+v, want window 2h, deny delete and purge, last seq 4", status)
	}
	// Deduplication survives the restart too.
	res := mustAppend(t, st2, events.AppendOptions{}, order("o-2", "a.b"))
	if want := (events.AppendResult{ID: "o-2", Seq: 2, Duplicate: true}); res[0] != want {
		t.Errorf("append after restart: got %+v, want %+v", res[0], want)
	}
}

func TestAppendWithoutServer(t *testing.T) {
	tests := []struct {
		name  string
		close func(*server.Server, *nats.Conn)
		batch int
	}{
		{"server stopped, one event", func(s *server.Server, _ *nats.Conn) { s.Shutdown() }, 1},
		{"server stopped, a batch", func(s *server.Server, _ *nats.Conn) { s.Shutdown() }, 3},
		{"connection closed, one event", func(_ *server.Server, nc *nats.Conn) { nc.Close() }, 1},
		{"connection closed, a batch", func(_ *server.Server, nc *nats.Conn) { nc.Close() }, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := runServer(t, t.TempDir())
			nc := mustConnect(t, s)
			st := mustOpen(t, nc, natsstore.Config{Timeout: 300 * time.Millisecond})
			tt.close(s, nc)
			evs := make([]*events.Event, tt.batch)
			for i := range evs {
				evs[i] = order(fmt.Sprint("o-", i), "acme")
			}
			for _, opts := range []events.AppendOptions{{}, {ExpectedSeq: seqPtr(0)}} {
				res, err := st.Append(context.Background(), evs, opts)
				if res != nil {
					t.Errorf("results: got %+v, want nil", res)
				}
				if ke := mustKamError(t, err, events.EUnavailable); ke.RetryAfter <= 0 {
					t.Errorf("retry after: got %d, want > 0", ke.RetryAfter)
				}
			}
			_, errs := st.AppendEach(context.Background(), evs)
			for i, err := range errs {
				if got := events.ErrorCode(err); got != events.EUnavailable {
					t.Errorf("AppendEach error %d: got %q (%v), want %q", i, got, err, events.EUnavailable)
				}
			}
			_, err := st.ReadSeq(context.Background(), 1)
			mustKamError(t, err, events.EUnavailable)
		})
	}
}

func TestSubscribe(t *testing.T) {
	st, _ := newStore(t)
	for i := 1; i <= 10; i++ {
		mustAppend(t, st, events.AppendOptions{}, order(fmt.Sprint("o-", i), "acme"))
	}
	sub, err := st.Subscribe(context.Background(), 6)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	defer sub.Stop()
	for seq := uint64(6); seq <= 10; seq++ {
		m, pending, err := next(t, sub)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		if m.Seq != seq || pending != 10-seq {
			t.Errorf("Next: got seq %d pending %d, want seq %d pending %d", m.Seq, pending, seq, 10-seq)
		}
		if got, want := ids(t, []events.Stored{m}), []string{fmt.Sprint("o-", seq)}; !reflect.DeepEqual(got, want) {
			t.Errorf("id at seq %d: got %q, want %q", seq, got, want)
		}
	}
	// Caught up, it goes on with what comes next.
	mustAppend(t, st, events.AppendOptions{}, tick("2026-02-01"))
	m, pending, err := next(t, sub)
	if err != nil || m.Seq != 11 || pending != 0 || m.Subject != natsstore.TickSubject {
		t.Errorf("Next after catching up: got seq %d pending %d subject %q err %v, want 11 0 %q", m.Seq, pending, m.Subject, err, natsstore.TickSubject)
	}

	done := make(chan error, 1)
	go func() {
		_, _, err := sub.Next()
		done <- err
	}()
	sub.Stop()
	select {
	case err := <-done:
		if !errors.Is(err, natsstore.ErrStopped) {
			t.Errorf("Next after Stop: got %v, want %v", err, natsstore.ErrStopped)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next after Stop: still blocked after 5s")
	}
}

func TestSubscribeFromStart(t *testing.T) {
	st, _ := newStore(t)
	mustAppend(t, st, events.AppendOptions{}, order("o-1", "a"), order("o-2", "b"))
	sub, err := st.Subscribe(context.Background(), 0)
	if err != nil {
		t.Fatalf("Subscribe: %v", err)
	}
	defer sub.Stop()
	var got []uint64
	for range 2 {
		m, _, err := next(t, sub)
		if err != nil {
			t.Fatalf("Next: %v", err)
		}
		got = append(got, m.Seq)
	}
	if want := []uint64{1, 2}; !reflect.DeepEqual(got, want) {
		t.Errorf("seqs from 0: got %v, want %v", got, want)
	}
}

// TestSubscribeStreamReplaced: a stream deleted and created anew under a
// subscription is not followed from the old sequence on as if it were the
// same log: Next says so (the ordered consumer, reset, would carry on).
func TestSubscribeStreamReplaced(t *testing.T) {
	st, _ := newStore(t)
	for i := 1; i <= 3; i++ {
		mustAppend(t, st, events.AppendOptions{}, order(fmt.Sprint("o-", i), "acme"))
	}
	ctx := context.Background()
	sub, err := st.Subscribe(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	for range 3 {
		if _, _, err := next(t, sub); err != nil {
			t.Fatal(err)
		}
	}
	replaceStream(t, st)
	done := nextErr(sub)
	expectReplaced(t, done)
	// A new subscription by a reader of the old stream is refused too.
	js := st.JetStream()
	if _, err := natsstore.SubscribeCreated(ctx, js, st.StreamName(), 4, sub.Created()); !errors.Is(err, natsstore.ErrStreamReplaced) {
		t.Errorf("SubscribeCreated with the old stream's creation time: %v, want %v", err, natsstore.ErrStreamReplaced)
	}
	if sub2, err := natsstore.SubscribeCreated(ctx, js, st.StreamName(), 1, time.Time{}); err != nil {
		t.Errorf("SubscribeCreated without one: %v", err)
	} else {
		sub2.Stop()
	}
}

// TestSubscribeStreamReplacedBeforeAnyMessage: a caught-up reader, waiting
// for its first message, is not fed the new stream's either (the consumer
// resets before it has delivered anything).
func TestSubscribeStreamReplacedBeforeAnyMessage(t *testing.T) {
	st, _ := newStore(t)
	for i := 1; i <= 3; i++ {
		mustAppend(t, st, events.AppendOptions{}, order(fmt.Sprint("o-", i), "acme"))
	}
	ctx := context.Background()
	sub, err := st.Subscribe(ctx, 4) // caught up: nothing to deliver yet
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Stop()
	done := nextErr(sub)
	replaceStream(t, st)
	expectReplaced(t, done)
}

// replaceStream deletes st's stream, creates it anew with the same
// configuration, and appends six orders to the new one.
func replaceStream(t *testing.T, st *natsstore.Store) {
	t.Helper()
	ctx := context.Background()
	js := st.JetStream()
	s, err := js.Stream(ctx, st.StreamName())
	if err != nil {
		t.Fatal(err)
	}
	cfg := s.CachedInfo().Config
	if err := js.DeleteStream(ctx, st.StreamName()); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 6; i++ {
		mustAppend(t, st, events.AppendOptions{}, order(fmt.Sprint("new-", i), "acme"))
	}
}

// nextErr runs sub.Next in the background and reports its error (a message
// is an error too: none of the new stream's may come).
func nextErr(sub *natsstore.Subscription) <-chan error {
	done := make(chan error, 1)
	go func() {
		m, _, err := sub.Next()
		if err == nil {
			err = fmt.Errorf("got seq %d of the new stream", m.Seq)
		}
		done <- err
	}()
	return done
}

// expectReplaced waits for done to report ErrStreamReplaced.
func expectReplaced(t *testing.T, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		if !errors.Is(err, natsstore.ErrStreamReplaced) {
			t.Errorf("Next after the stream was created anew: %v, want %v", err, natsstore.ErrStreamReplaced)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Next: nothing within 60s of the stream's replacement")
	}
}

// big is an order of account whose data holds a note of n bytes.
func big(id, account string, n int) *events.Event {
	e := order(id, account)
	e.Data = []byte(fmt.Sprintf(`{"order_id":%q,"amount":"1.00","note":%q}`, id, strings.Repeat("x", n)))
	return e
}

// An event over NATS's max_payload can never be stored: it is refused as
// too large, not as a log that did not answer, and nothing of an atomic
// batch holding it is stored. AppendEach refuses it alone.
func TestAppendOverMaxPayload(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	limit := st.MaxMsgBytes()
	if limit != 1<<20 {
		t.Fatalf("MaxMsgBytes: got %d, want %d (the server's default max_payload)", limit, 1<<20)
	}
	// Under the limit as data, over it with its headers.
	over := big("o-big", "acme", int(limit)-100)
	if err := st.CheckSize(order("o-1", "acme")); err != nil {
		t.Errorf("CheckSize of a small event: %v", err)
	}
	ke := mustKamError(t, st.CheckSize(over), events.ETooLarge)
	if len(ke.Details) != 1 || !strings.Contains(ke.Details[0].Problem, fmt.Sprint(limit)) {
		t.Errorf("CheckSize details: got %+v, want one naming the limit %d", ke.Details, limit)
	}

	_, err := st.Append(ctx, []*events.Event{over}, events.AppendOptions{})
	mustKamError(t, err, events.ETooLarge)
	for _, opts := range []events.AppendOptions{{}, {ExpectedSeq: seqPtr(0)}} {
		_, err = st.Append(ctx, []*events.Event{order("o-1", "acme"), over, order("o-2", "acme")}, opts)
		ke = mustKamError(t, err, events.ETooLarge)
		if len(ke.Details) != 1 || ke.Details[0].Index != 1 {
			t.Errorf("batch details: got %+v, want one of index 1", ke.Details)
		}
	}
	if got := mustStatus(t, st).Messages; got != 0 {
		t.Errorf("messages after the refused appends: got %d, want 0", got)
	}

	res, errs := st.AppendEach(ctx, []*events.Event{order("o-1", "acme"), over, order("o-2", "acme")})
	if errs[0] != nil || errs[2] != nil || res[0].Seq != 1 || res[2].Seq != 2 {
		t.Errorf("AppendEach: the small events: got %+v, %v; want seqs 1 and 2", res, errs)
	}
	mustKamError(t, errs[1], events.ETooLarge)
	if got := mustStatus(t, st).Messages; got != 2 {
		t.Errorf("messages: got %d, want 2", got)
	}
}

// An atomic batch that holds an event stored before is still stored whole
// or not at all: the stored event is a duplicate, and when the stream
// refuses one of the others (here: it takes no more than 2 messages), none
// of them is stored.
func TestAppendBatchWithStoredEventIsAtomic(t *testing.T) {
	for _, opts := range []events.AppendOptions{{}, {ExpectedSeq: seqPtr(1)}} {
		t.Run(fmt.Sprint("expected sequence ", opts.ExpectedSeq != nil), func(t *testing.T) {
			st, _ := newStore(t)
			ctx := context.Background()
			mustAppend(t, st, events.AppendOptions{}, order("o-1", "acme"))
			stream, err := st.JetStream().Stream(ctx, "KAM")
			if err != nil {
				t.Fatal(err)
			}
			cfg := stream.CachedInfo().Config
			cfg.MaxMsgs, cfg.Discard = 2, jetstream.DiscardNew
			if _, err := st.JetStream().UpdateStream(ctx, cfg); err != nil {
				t.Fatalf("UpdateStream: %v", err)
			}
			_, err = st.Append(ctx, []*events.Event{order("o-1", "acme"), order("o-2", "acme"), order("o-3", "acme")}, opts)
			if err == nil {
				t.Fatal("Append over the stream's limit: got no error")
			}
			if got := mustStatus(t, st).Messages; got != 1 {
				t.Errorf("messages: got %d, want 1 (nothing of the refused batch)", got)
			}
			// Within the limit, the stored event is a duplicate and the
			// new one is stored after it.
			res := mustAppend(t, st, opts, order("o-1", "acme"), order("o-2", "acme"))
			if want := []events.AppendResult{{ID: "o-1", Seq: 1, Duplicate: true}, {ID: "o-2", Seq: 2}}; !reflect.DeepEqual(res, want) {
				t.Errorf("results: got %+v, want %+v", res, want)
			}
		})
	}
}

// An id twice in one batch, the same event, is stored once; the second is
// its duplicate.
func TestAppendBatchWithRepeatedEvent(t *testing.T) {
	st, _ := newStore(t)
	res := mustAppend(t, st, events.AppendOptions{}, order("o-1", "acme"), order("o-2", "acme"), order("o-1", "acme"))
	want := []events.AppendResult{{ID: "o-1", Seq: 1}, {ID: "o-2", Seq: 2}, {ID: "o-1", Seq: 1, Duplicate: true}}
	if !reflect.DeepEqual(res, want) {
		t.Errorf("results: got %+v, want %+v", res, want)
	}
	if got := mustStatus(t, st).Messages; got != 2 {
		t.Errorf("messages: got %d, want 2", got)
	}
}

// A second event under a stored id, with other content, is not a retry: it
// is refused naming the id and where the first one is, and nothing of its
// append is stored. A retry whose only difference is the actor (kam sets it
// from the request's credentials) stays a duplicate.
func TestAppendIDUsedByOtherEvent(t *testing.T) {
	st, _ := newStore(t)
	ctx := context.Background()
	mustAppend(t, st, events.AppendOptions{}, order("o-1", "acme"))
	other := order("o-1", "acme")
	other.Data = []byte(`{"order_id":"o-1","amount":"999.00"}`)
	wantUsed := func(t *testing.T, err error, index int) {
		t.Helper()
		ke := mustKamError(t, err, events.EConflict)
		want := []events.FieldError{{Index: index, Field: "id", Problem: "already used by a different event at sequence 1"}}
		if !reflect.DeepEqual(ke.Details, want) {
			t.Errorf("details: got %+v, want %+v", ke.Details, want)
		}
	}
	_, err := st.Append(ctx, []*events.Event{other}, events.AppendOptions{})
	wantUsed(t, err, 0)
	_, err = st.Append(ctx, []*events.Event{order("o-2", "acme"), other}, events.AppendOptions{})
	wantUsed(t, err, 1)
	_, err = st.Append(ctx, []*events.Event{order("o-2", "acme"), other}, events.AppendOptions{ExpectedSeq: seqPtr(1)})
	wantUsed(t, err, 1)
	if got := mustStatus(t, st).Messages; got != 1 {
		t.Errorf("messages: got %d, want 1", got)
	}
	res, errs := st.AppendEach(ctx, []*events.Event{order("o-2", "acme"), other})
	if errs[0] != nil || res[0].Seq != 2 {
		t.Errorf("AppendEach: o-2: got %+v, %v; want sequence 2", res[0], errs[0])
	}
	wantUsed(t, errs[1], 1)

	// The same event under another actor is a retry.
	again := order("o-1", "acme")
	again.Actor = "someone-else"
	res = mustAppend(t, st, events.AppendOptions{}, again)
	if want := []events.AppendResult{{ID: "o-1", Seq: 1, Duplicate: true}}; !reflect.DeepEqual(res, want) {
		t.Errorf("retry under another actor: got %+v, want %+v", res, want)
	}

	// Two events under one id in one batch.
	_, err = st.Append(ctx, []*events.Event{order("o-3", "acme"), order("o-4", "acme"), func() *events.Event {
		e := order("o-3", "acme")
		e.Data = []byte(`{"order_id":"o-3","amount":"2.00"}`)
		return e
	}()}, events.AppendOptions{})
	ke := mustKamError(t, err, events.EInvalid)
	if len(ke.Details) != 2 || ke.Details[0].Index != 0 || ke.Details[1].Index != 2 {
		t.Errorf("details: got %+v, want indexes 0 and 2", ke.Details)
	}
	if got := mustStatus(t, st).Messages; got != 2 {
		t.Errorf("messages: got %d, want 2", got)
	}
}

// No event comes after the greatest sequence: reading after it is an empty
// page, not a request JetStream refuses (after+1 wraps to 0).
func TestReadAfterLastPossibleSequence(t *testing.T) {
	st, _ := newStore(t)
	mustAppend(t, st, events.AppendOptions{}, order("o-1", "acme"))
	ctx := context.Background()
	got, err := st.Read(ctx, math.MaxUint64, 10)
	if err != nil || len(got) != 0 {
		t.Errorf("Read: got %v, %v; want nothing", got, err)
	}
	got, err = st.ReadAccount(ctx, "acme", math.MaxUint64, 10)
	if err != nil || len(got) != 0 {
		t.Errorf("ReadAccount: got %v, %v; want nothing", got, err)
	}
}

// TestAppendBatchRetryScattered: an atomic batch whose stored events lie
// here and there (every other one, stored by an earlier append; or stored
// one by one in reverse order) completes: each stored event is its
// duplicate, with its sequence, and the others are stored after them. The
// first version of the search halved the batch again for each stored event
// and ran out of the append's time (503) at every retry.
func TestAppendBatchRetryScattered(t *testing.T) {
	for _, tc := range []struct {
		name    string
		n       int
		stored  func(i int) bool
		reverse bool
	}{
		{"every other one", 1000, func(i int) bool { return i%2 == 1 }, false},
		{"one by one in reverse order", 300, func(i int) bool { return true }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, _ := newStore(t)
			var all, old []*events.Event
			for i := 0; i < tc.n; i++ {
				e := order(fmt.Sprintf("o-%d", i), "acme")
				all = append(all, e)
				if tc.stored(i) {
					old = append(old, e)
				}
			}
			seqOf := map[string]uint64{}
			if tc.reverse {
				for i := len(old) - 1; i >= 0; i-- {
					for _, r := range mustAppend(t, st, events.AppendOptions{}, old[i]) {
						seqOf[r.ID] = r.Seq
					}
				}
			} else {
				for _, r := range mustAppend(t, st, events.AppendOptions{}, old...) {
					seqOf[r.ID] = r.Seq
				}
			}
			res := mustAppend(t, st, events.AppendOptions{}, all...)
			next := uint64(len(old)) + 1
			for i, r := range res {
				want := events.AppendResult{ID: all[i].ID, Seq: seqOf[all[i].ID], Duplicate: true}
				if !tc.stored(i) {
					want = events.AppendResult{ID: all[i].ID, Seq: next}
					next++
				}
				if r != want {
					t.Fatalf("result %d: got %+v, want %+v", i, r, want)
				}
			}
			if got := mustStatus(t, st).Messages; got != uint64(tc.n) {
				t.Errorf("messages: got %d, want %d", got, tc.n)
			}
		})
	}
}

// TestAppendRetrySameMeaning: a retry is told from another event under a
// used id by what the event says, not by how it is written: data with its
// keys in another order or escaped otherwise, a dataversion of 1 given on
// one send only, and a clock tick of another source at the same time are
// duplicates; another amount is not.
func TestAppendRetrySameMeaning(t *testing.T) {
	st, _ := newStore(t)
	first := order("o-1", "acme")
	first.Data = []byte(`{"order_id":"o-1","amount":"1.00","notes":"é"}`)
	mustAppend(t, st, events.AppendOptions{}, first)
	ticked := time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)
	mustAppend(t, st, events.AppendOptions{}, &events.Event{SpecVersion: events.SpecVersion, ID: "clock.tick/2026-02-01",
		Source: "kam/serve", Type: events.TypeClockTick, Time: ticked})

	retry := order("o-1", "acme")
	retry.Data = []byte(`{"notes":"\u00e9","amount":"1.00","order_id":"o-1"}`)
	retry.DataVersion = 1
	demoTick := &events.Event{SpecVersion: events.SpecVersion, ID: "clock.tick/2026-02-01", Source: "kam/demo",
		Type: events.TypeClockTick, Time: ticked}
	for _, e := range []*events.Event{retry, demoTick} {
		res, err := st.Append(context.Background(), []*events.Event{e}, events.AppendOptions{})
		if err != nil || !res[0].Duplicate {
			t.Errorf("%s sent again, written otherwise: %+v, %v; want a duplicate", e.ID, res, err)
		}
	}
	other := order("o-1", "acme")
	other.Data = []byte(`{"order_id":"o-1","amount":"2.00","notes":"é"}`)
	if _, err := st.Append(context.Background(), []*events.Event{other}, events.AppendOptions{}); events.ErrorCode(err) != events.EConflict {
		t.Errorf("another amount under o-1: got %v, want a conflict", err)
	}
}

// TestAppendBatchRetryWindow: in an atomic retry, a copy stored before the
// duplicate window began is no duplicate (sent alone, the event would be
// stored anew): the event is stored again, another event under its id is
// not refused, and an event stored again since is answered with that copy.
func TestAppendBatchRetryWindow(t *testing.T) {
	s := runServer(t, t.TempDir())
	st := mustOpen(t, mustConnect(t, s), natsstore.Config{Duplicates: 2 * time.Second})
	a, b := order("A", "acme"), order("B", "acme")
	mustAppend(t, st, events.AppendOptions{}, b) // 1
	time.Sleep(2500 * time.Millisecond)          // B's copy leaves the window
	mustAppend(t, st, events.AppendOptions{}, a) // 2
	b2 := order("B", "acme")
	b2.Data = []byte(`{"order_id":"B","amount":"2.00"}`)
	res := mustAppend(t, st, events.AppendOptions{}, a, b2)
	if want := []events.AppendResult{{ID: "A", Seq: 2, Duplicate: true}, {ID: "B", Seq: 3}}; !reflect.DeepEqual(res, want) {
		t.Errorf("[A again, other content under B's expired id]: got %+v, want %+v", res, want)
	}
	for i := 0; i < 70; i++ { // more than the search's misses
		mustAppend(t, st, events.AppendOptions{}, order(fmt.Sprintf("x-%d", i), "other"))
	}
	res = mustAppend(t, st, events.AppendOptions{}, a, b2)
	if want := []events.AppendResult{{ID: "A", Seq: 2, Duplicate: true}, {ID: "B", Seq: 3, Duplicate: true}}; !reflect.DeepEqual(res, want) {
		t.Errorf("[A, B] again: got %+v, want %+v", res, want)
	}
}
