// Package natsstore is kam's event log on NATS JetStream: the stream KAM, its
// subjects and headers, appends with deduplication, optimistic concurrency
// and atomic batches, reads, and the embedded server. It is the only code of
// kam that knows subjects and headers.
package natsstore

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"reflect"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nuid"

	"kam/events"
)

// Header names kam sets on every message.
const (
	hdrMsgID            = "Nats-Msg-Id"
	hdrExpectedSubjSeq  = "Nats-Expected-Last-Subject-Sequence"
	hdrExpectedSubjFilt = "Nats-Expected-Last-Subject-Sequence-Subject"
	hdrBatchID          = "Nats-Batch-Id"
	hdrBatchSeq         = "Nats-Batch-Sequence"
	hdrBatchCommit      = "Nats-Batch-Commit"
	hdrExpectedStream   = "Nats-Expected-Stream"

	// JetStream error codes kam reacts to.
	errMsgTooLarge          = 10054
	errStreamNotMatch       = 10060
	errWrongLastSeq         = 10071
	errDuplicateInProcess   = 10158
	errWrongLastSeqConstant = 10164
	errBatchHasDuplicate    = 10201
	errBatchTooManyInflight = 10210
	errBatchIncomplete      = 10176

	// MaxBatch is the most events one atomic append may hold (the server's
	// default limit of an atomic batch).
	MaxBatch = 1000
)

// Config says which stream to use and how it must be set up.
type Config struct {
	Stream     string        // default "KAM"
	Replicas   int           // default 1
	Duplicates time.Duration // the deduplication window, default 24h
	Timeout    time.Duration // per call when the context has no deadline, default 5s
	// MustExist makes Open refuse a stream that does not exist (a read
	// model built from one that was deleted) instead of creating it.
	MustExist bool
}

func (c *Config) defaults() {
	if c.Stream == "" {
		c.Stream = "KAM"
	}
	if c.Replicas == 0 {
		c.Replicas = 1
	}
	if c.Duplicates == 0 {
		c.Duplicates = 24 * time.Hour
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
}

// Store implements events.Store on a JetStream stream.
type Store struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	stream jetstream.Stream
	cfg    Config
	log    *slog.Logger

	// maxMsg caches MaxMsgBytes for a second: the connection's answer
	// takes its lock, which every publish holds too.
	maxMsg   atomic.Int64
	maxMsgAt atomic.Int64 // unix nanoseconds of maxMsg
}

var _ events.Store = (*Store)(nil)

// StreamConfig is the stream kam asks for.
func StreamConfig(c Config) jetstream.StreamConfig {
	c.defaults()
	return jetstream.StreamConfig{
		Name:               c.Stream,
		Description:        "kam: the immutable event log of key accounts",
		Subjects:           []string{AllAccounts, TickSubject},
		Retention:          jetstream.LimitsPolicy,
		Storage:            jetstream.FileStorage,
		Replicas:           c.Replicas,
		Duplicates:         c.Duplicates,
		DenyDelete:         true,
		DenyPurge:          true,
		AllowDirect:        true,
		AllowAtomicPublish: true,
		MaxMsgs:            -1,
		MaxBytes:           -1,
		MaxAge:             0,
		MaxMsgsPerSubject:  -1,
		Discard:            jetstream.DiscardOld,
	}
}

// Open connects the store to its stream, creating the stream when missing.
// When the stream exists with settings kam did not ask for, Open returns an
// error naming each difference and changes nothing.
func Open(ctx context.Context, nc *nats.Conn, cfg Config, log *slog.Logger) (*Store, error) {
	cfg.defaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	js, err := jetstream.New(nc,
		jetstream.WithPublishAsyncMaxPending(4096),
		jetstream.WithPublishAsyncTimeout(cfg.Timeout))
	if err != nil {
		return nil, fmt.Errorf("jetstream: %w", err)
	}
	want := StreamConfig(cfg)
	ctx, cancel := context.WithTimeout(ctx, 2*cfg.Timeout)
	defer cancel()
	stream, err := js.Stream(ctx, cfg.Stream)
	switch {
	case errors.Is(err, jetstream.ErrStreamNotFound) && cfg.MustExist:
		return nil, fmt.Errorf("stream %s does not exist: %w", cfg.Stream, err)
	case errors.Is(err, jetstream.ErrStreamNotFound):
		stream, err = js.CreateStream(ctx, want)
		if err != nil {
			return nil, fmt.Errorf("create stream %s: %w", cfg.Stream, err)
		}
		log.Info("stream created", "stream", cfg.Stream, "replicas", cfg.Replicas, "duplicates", cfg.Duplicates)
	case err != nil:
		return nil, fmt.Errorf("look up stream %s: %w", cfg.Stream, err)
	default:
		if diffs := ConfigDiff(want, stream.CachedInfo().Config); len(diffs) > 0 {
			return nil, fmt.Errorf("stream %s exists with settings kam did not ask for (%s); kam changes nothing: fix the stream or the flags",
				cfg.Stream, strings.Join(diffs, "; "))
		}
	}
	return &Store{nc: nc, js: js, stream: stream, cfg: cfg, log: log}, nil
}

// ConfigDiff lists the settings in which have differs from want, among those
// kam sets.
func ConfigDiff(want, have jetstream.StreamConfig) []string {
	var d []string
	diff := func(name string, w, h any) {
		if fmt.Sprint(w) != fmt.Sprint(h) {
			d = append(d, fmt.Sprintf("%s is %v, kam asks for %v", name, h, w))
		}
	}
	diff("subjects", want.Subjects, have.Subjects)
	diff("retention", want.Retention, have.Retention)
	diff("storage", want.Storage, have.Storage)
	diff("replicas", want.Replicas, have.Replicas)
	diff("duplicate window", want.Duplicates, have.Duplicates)
	diff("deny_delete", want.DenyDelete, have.DenyDelete)
	diff("deny_purge", want.DenyPurge, have.DenyPurge)
	diff("allow_atomic", want.AllowAtomicPublish, have.AllowAtomicPublish)
	diff("max_age", want.MaxAge, have.MaxAge)
	diff("max_msgs", want.MaxMsgs, have.MaxMsgs)
	diff("max_bytes", want.MaxBytes, have.MaxBytes)
	diff("max_msgs_per_subject", want.MaxMsgsPerSubject, have.MaxMsgsPerSubject)
	return d
}

// JetStream returns the JetStream context (for consumers and tools).
func (s *Store) JetStream() jetstream.JetStream { return s.js }

// StreamName returns the stream's name.
func (s *Store) StreamName() string { return s.cfg.Stream }

// Message builds the NATS message of a valid event.
func Message(e *events.Event) (*nats.Msg, error) {
	data, err := e.MarshalJSON()
	if err != nil {
		return nil, err
	}
	m := nats.NewMsg(SubjectFor(e.Subject, e.Type))
	m.Data = data
	m.Header.Set(hdrMsgID, e.ID)
	return m, nil
}

// MaxMsgBytes is the most bytes, data and headers, one message of the log
// may have: the NATS server's max_payload (1 MiB by default) as the
// connection knows it, or the stream's max_msg_size when lower. A message
// over it is refused by the connection, or by the stream, however often it
// is sent.
func (s *Store) MaxMsgBytes() int64 {
	now := time.Now().UnixNano()
	if at := s.maxMsgAt.Load(); at != 0 && now-at < int64(time.Second) {
		return s.maxMsg.Load()
	}
	limit := s.nc.MaxPayload()
	if m := int64(s.stream.CachedInfo().Config.MaxMsgSize); m > 0 && (limit <= 0 || m < limit) {
		limit = m
	}
	s.maxMsg.Store(limit)
	s.maxMsgAt.Store(now)
	return limit
}

// CheckSize returns an ETooLarge error when e's message would be over
// MaxMsgBytes with the headers an append may add to it (the message id, an
// atomic batch's and an expected sequence's), so that one event is refused
// or taken alike however it is appended. The error's detail names no field:
// it is the event as a whole; callers set its index.
func (s *Store) CheckSize(e *events.Event) error {
	if sizeBound(e) <= s.MaxMsgBytes() {
		return nil // encoding it would cost the HTTP door a tenth of its rate
	}
	m, err := Message(e)
	if err != nil {
		return err
	}
	return s.checkSize(e, m)
}

// sizeBound is at least the size of e's message with every header an
// append may add: JSON escapes make at most six bytes of one (\u00XX), and
// the rest (attribute names, the time, the headers) is under 4 KiB.
func sizeBound(e *events.Event) int64 {
	n := len(e.SpecVersion) + len(e.ID) + len(e.Source) + len(e.Type) + len(e.Subject) +
		len(e.Actor) + len(e.CorrelationID) + len(e.CausationID) + len(e.Data)
	for k, v := range e.Extensions {
		n += len(k) + len(v)
	}
	// The id is in the message id header too; the subject, encoded, in
	// the subject and the expected-subject filter.
	return int64(6*n+3*len(e.ID)+3*len(e.Subject)) + 4096
}

func (s *Store) checkSize(e *events.Event, m *nats.Msg) error {
	if d, ok := s.overLimit(e, m); ok {
		return &events.Error{Code: events.ETooLarge, Message: "the event is too large for the event log", Details: []events.FieldError{d}}
	}
	return nil
}

// overLimit reports whether m, e's message, is over MaxMsgBytes, and if so
// the detail that says so. An event the bound clears is not measured.
func (s *Store) overLimit(e *events.Event, m *nats.Msg) (events.FieldError, bool) {
	limit := s.MaxMsgBytes()
	if limit <= 0 || sizeBound(e) <= limit {
		return events.FieldError{}, false
	}
	n := maxSize(m, e.Subject)
	if n <= limit {
		return events.FieldError{}, false
	}
	return events.FieldError{Problem: fmt.Sprintf(
		"the event is %d bytes as a message of the event log (with its headers), over the log's limit of %d bytes (NATS max_payload)",
		n, limit)}, true
}

// maxSize is the size of m as NATS counts it against max_payload (its data
// and its headers as encoded: "NATS/1.0\r\n", "Key: value\r\n" each, and
// "\r\n"), with the largest headers an append adds to a message of account.
func maxSize(m *nats.Msg, account string) int64 {
	n := len(m.Data) + len("NATS/1.0\r\n") + len("\r\n")
	hdr := func(k, v string) { n += len(k) + len(": ") + len(v) + len("\r\n") }
	for k, vs := range m.Header {
		for _, v := range vs {
			hdr(k, v)
		}
	}
	hdr(hdrBatchID, batchIDShape) // as long as every nuid
	hdr(hdrBatchSeq, strconv.Itoa(MaxBatch))
	hdr(hdrBatchCommit, "1")
	hdr(hdrExpectedSubjSeq, strconv.FormatUint(math.MaxUint64, 10))
	hdr(hdrExpectedSubjFilt, AccountFilter(account))
	return int64(n)
}

// batchIDShape has the length of a batch id (a nuid).
var batchIDShape = strings.Repeat("x", len(nuid.Next()))

// tooLarge checks every message against the log's limit, so that nothing
// of a batch is sent when one of its events cannot be stored.
func (s *Store) tooLarge(evs []*events.Event, msgs []*nats.Msg) error {
	var details []events.FieldError
	for i, m := range msgs {
		if d, over := s.overLimit(evs[i], m); over {
			d.Index = i
			details = append(details, d)
		}
	}
	if len(details) == 0 {
		return nil
	}
	return &events.Error{Code: events.ETooLarge, Details: details,
		Message: fmt.Sprintf("%d of %d events are over the event log's limit of %d bytes a message; nothing was appended", len(details), len(evs), s.MaxMsgBytes())}
}

// ctx bounds a call by the store's timeout, or by ctx's deadline when that
// comes sooner.
func (s *Store) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, s.cfg.Timeout)
}

// Append stores evs in order, all or nothing. One event is one publish; more
// are one JetStream atomic batch, so that the log holds all of them or none.
// If the batch holds events stored before (a client retrying), JetStream
// refuses the batch; Append then reports those as duplicates and stores the
// others as one atomic batch again (see appendAtomic), which completes the
// retry without storing any event twice, or a part of the batch alone.
func (s *Store) Append(ctx context.Context, evs []*events.Event, opts events.AppendOptions) ([]events.AppendResult, error) {
	res, err := s.append(ctx, evs, opts)
	if opts.ExpectedSeq != nil && seqConflict(err) {
		// JetStream checks the expected sequence before the message id,
		// so a client retrying an append that was stored (its ack lost)
		// meets its own events as a conflict; they are duplicates.
		if dup, ok := s.storedAfter(ctx, evs, *opts.ExpectedSeq); ok {
			return dup, nil
		}
	}
	return res, err
}

// storedAfter reports whether evs, in order, are the account's events right
// after sequence after, and if so their results as duplicates.
func (s *Store) storedAfter(ctx context.Context, evs []*events.Event, after uint64) ([]events.AppendResult, bool) {
	stored, err := s.ReadAccount(ctx, evs[0].Subject, after, len(evs))
	if err != nil || len(stored) != len(evs) {
		return nil, false
	}
	res := make([]events.AppendResult, len(evs))
	for i, st := range stored {
		m, err := Message(evs[i])
		if err != nil || !sameEvent(evs[i], m.Data, st.Data) {
			return nil, false
		}
		res[i] = events.AppendResult{ID: evs[i].ID, Seq: st.Seq, Duplicate: true}
	}
	return res, true
}

// seqConflict reports whether err is JetStream refusing an expected
// sequence (not an id used by another event, also a conflict).
func seqConflict(err error) bool {
	var apiErr *jetstream.APIError
	return errors.As(err, &apiErr) && (apiErr.ErrorCode == errWrongLastSeq || apiErr.ErrorCode == errWrongLastSeqConstant)
}

// sameEvent reports whether stored, the data of a message stored under e's
// id, is e, whose message data is data: a retry, a duplicate to answer with
// the stored sequence, rather than another event sent under a used id,
// which would be lost. kam's encoding of an event depends only on what the
// client sent (MarshalJSON: fixed order, no time of receipt), so what may
// differ between a retry and its first send is compared for its meaning:
//   - the actor, which kam sets from the request's principal (a retry with
//     other credentials is the same event), is left out;
//   - a dataversion left out is version 1;
//   - data is compared as JSON values (its keys in another order, "\u00e9"
//     for "é");
//   - two clock ticks under one id at the same time are the same fact,
//     whoever appended them (kam serve's own tick and kam demo's).
func sameEvent(e *events.Event, data, stored []byte) bool {
	if bytes.Equal(data, stored) {
		return true
	}
	st, err := events.Decode(stored, true)
	if err != nil {
		return false
	}
	if e.Type == events.TypeClockTick && st.Type == events.TypeClockTick && e.ID == st.ID && e.Time.Equal(st.Time) {
		return true
	}
	a, b := *e, *st
	b.Actor = a.Actor
	a.Data, b.Data = nil, nil
	a.DataVersion, b.DataVersion = cmp.Or(a.DataVersion, 1), cmp.Or(b.DataVersion, 1)
	ja, errA := a.MarshalJSON()
	jb, errB := b.MarshalJSON()
	return errA == nil && errB == nil && bytes.Equal(ja, jb) && sameJSON(e.Data, st.Data)
}

// hasLoneSurrogate reports whether a JSON text escapes a UTF-16 surrogate
// that is not half of a pair ("\ud800" alone, or a low one first).
func hasLoneSurrogate(b []byte) bool {
	hex4 := func(i int) (rune, bool) { // the \uXXXX at b[i:]
		if i+6 > len(b) || b[i] != '\\' || b[i+1] != 'u' {
			return 0, false
		}
		v, err := strconv.ParseUint(string(b[i+2:i+6]), 16, 16)
		return rune(v), err == nil
	}
	for i := 0; i < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		r, ok := hex4(i)
		if !ok {
			i++ // an escaped character: "\\" is no start of an escape
			continue
		}
		switch {
		case r >= 0xDC00 && r <= 0xDFFF:
			return true // a low surrogate first
		case r >= 0xD800 && r <= 0xDBFF:
			if lo, ok := hex4(i + 6); ok && lo >= 0xDC00 && lo <= 0xDFFF {
				i += 11 // the pair
				continue
			}
			return true
		}
		i += 5
	}
	return false
}

// sameJSON reports whether two JSON texts hold the same value (numbers
// compared as written).
func sameJSON(x, y []byte) bool {
	if bytes.Equal(x, y) {
		return true
	}
	if hasLoneSurrogate(x) || hasLoneSurrogate(y) {
		// Decoding makes every lone surrogate U+FFFD: "\ud800" and
		// "\udbff" would compare equal. Such data is the same only as
		// written.
		return false
	}
	var vx, vy any
	for _, c := range []struct {
		b []byte
		v *any
	}{{x, &vx}, {y, &vy}} {
		d := json.NewDecoder(bytes.NewReader(c.b))
		d.UseNumber()
		if d.Decode(c.v) != nil {
			return false
		}
	}
	return reflect.DeepEqual(vx, vy)
}

// idUsed is the error for event i of an append, e, whose id is that of
// another event, stored at seq.
func idUsed(i int, e *events.Event, seq uint64) error {
	return &events.Error{Code: events.EConflict,
		Message: fmt.Sprintf("the id %q is already used by a different event", e.ID),
		Details: []events.FieldError{{Index: i, Field: "id", Problem: fmt.Sprintf("already used by a different event at sequence %d", seq)}}}
}

// checkDuplicate returns nil when the message stored at seq, of which the
// log said e (event i of an append, sent as data) is a duplicate, is e, and
// idUsed when it is another event.
func (s *Store) checkDuplicate(ctx context.Context, i int, e *events.Event, data []byte, seq uint64) error {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	m, err := s.stream.GetMsg(ctx, seq)
	if err != nil {
		return unavailable("read the event stored under the id", err)
	}
	if !sameEvent(e, data, m.Data) {
		return idUsed(i, e, seq)
	}
	return nil
}

func (s *Store) append(ctx context.Context, evs []*events.Event, opts events.AppendOptions) ([]events.AppendResult, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	if len(evs) > MaxBatch {
		return nil, events.Errorf(events.ETooLarge, "at most %d events can be appended at once, got %d", MaxBatch, len(evs))
	}
	msgs := make([]*nats.Msg, len(evs))
	for i, e := range evs {
		m, err := Message(e)
		if err != nil {
			return nil, err
		}
		msgs[i] = m
	}
	if err := s.tooLarge(evs, msgs); err != nil {
		return nil, err
	}
	if opts.ExpectedSeq != nil {
		account := evs[0].Subject
		for _, e := range evs {
			if e.Subject != account || account == "" {
				return nil, events.Errorf(events.EInvalid, "an expected sequence needs all events to be of one account")
			}
		}
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()

	if len(msgs) == 1 {
		expect(msgs[0], opts.ExpectedSeq, evs[0].Subject)
		ack, err := s.js.PublishMsg(ctx, msgs[0])
		if err != nil {
			return nil, s.publishError(ctx, err, evs[0])
		}
		if ack.Duplicate {
			if err := s.checkDuplicate(ctx, 0, evs[0], msgs[0].Data, ack.Sequence); err != nil {
				return nil, err
			}
		}
		return []events.AppendResult{{ID: evs[0].ID, Seq: ack.Sequence, Duplicate: ack.Duplicate}}, nil
	}
	// An id twice in one batch is one event sent twice: JetStream would
	// refuse the batch for it, so it goes once and the later ones are its
	// duplicates. Two events under one id are refused.
	res := make([]events.AppendResult, len(evs))
	firstOf := make(map[string]int, len(evs))
	todo := make([]int, 0, len(evs))
	for i, e := range evs {
		j, ok := firstOf[e.ID]
		if !ok {
			firstOf[e.ID] = i
			todo = append(todo, i)
			continue
		}
		if !bytes.Equal(msgs[i].Data, msgs[j].Data) {
			return nil, &events.Error{Code: events.EInvalid, Message: fmt.Sprintf("events %d and %d have the same id and different content", j, i),
				Details: []events.FieldError{
					{Index: j, Field: "id", Problem: fmt.Sprintf("also the id of event %d, with different content", i)},
					{Index: i, Field: "id", Problem: fmt.Sprintf("also the id of event %d, with different content", j)}}}
		}
	}
	if err := s.appendAtomic(ctx, evs, msgs, todo, opts.ExpectedSeq, res); err != nil {
		return nil, err
	}
	for i, e := range evs {
		if j := firstOf[e.ID]; j != i {
			res[i] = res[j]
			res[i].Duplicate = true
		}
	}
	return res, nil
}

// expect puts the expected sequence of account, if any, on m.
func expect(m *nats.Msg, expected *uint64, account string) {
	if expected != nil {
		m.Header.Set(hdrExpectedSubjSeq, strconv.FormatUint(*expected, 10))
		m.Header.Set(hdrExpectedSubjFilt, AccountFilter(account))
	}
}

// maxRetryRounds bounds how often appendAtomic sends a batch again after
// finding some of its events stored: only writers storing the same events
// at the same time make it take another round.
const maxRetryRounds = 3

// appendAtomic stores the events todo (indexes into evs and msgs) as one
// atomic batch, the expected sequence (if any) on its first message, and
// fills their results. If some are stored already (a client retrying an
// append whose acknowledgement it lost, or sending an event stored by
// another append), JetStream refuses the batch; appendAtomic then finds
// which are stored without storing anything (see stored), answers those
// as duplicates, and sends the others again as one atomic batch, with the
// expected sequence: they are stored whole or not at all, right after the
// expected sequence, as if the stored ones had not been sent.
func (s *Store) appendAtomic(ctx context.Context, evs []*events.Event, msgs []*nats.Msg, todo []int, expected *uint64, res []events.AppendResult) error {
	for round := 1; ; round++ {
		batch := make([]*nats.Msg, len(todo))
		for k, i := range todo {
			batch[k] = fresh(msgs[i])
		}
		expect(batch[0], expected, evs[todo[0]].Subject)
		last, err := s.publishAtomic(ctx, batch)
		if err == nil {
			first := last - uint64(len(todo)) + 1
			for k, i := range todo {
				res[i] = events.AppendResult{ID: evs[i].ID, Seq: first + uint64(k)}
			}
			return nil
		}
		var apiErr *jetstream.APIError
		if !errors.As(err, &apiErr) || apiErr.ErrorCode != errBatchHasDuplicate {
			return s.publishError(ctx, err, evs[todo[0]])
		}
		if round > maxRetryRounds {
			return &events.Error{Code: events.EUnavailable, RetryAfter: 1, Err: err,
				Message: "the batch kept meeting its own events stored by other appends at the same time; nothing of it was stored; retry"}
		}
		rest, err := s.duplicates(ctx, evs, msgs, todo, res)
		if err != nil {
			return err
		}
		if len(rest) == 0 {
			return nil
		}
		todo = rest
	}
}

// duplicates finds which events of todo are stored and fills their results
// as duplicates (their first sequence), storing nothing new, and returns
// the others, in order.
func (s *Store) duplicates(ctx context.Context, evs []*events.Event, msgs []*nats.Msg, todo []int, res []events.AppendResult) ([]int, error) {
	left := make(map[string]int, len(todo)) // id → index, not decided yet
	for _, i := range todo {
		left[evs[i].ID] = i
	}
	var rest []int // not stored, in order
	for {
		undecided := make([]int, 0, len(left))
		for _, i := range todo {
			if _, ok := left[evs[i].ID]; ok {
				undecided = append(undecided, i)
			}
		}
		if len(undecided) == 0 {
			return rest, nil
		}
		// The first stored event; those before it are not stored.
		j, err := s.firstStored(ctx, msgs, undecided)
		if err != nil {
			return nil, s.publishError(ctx, err, evs[undecided[0]])
		}
		for _, i := range undecided[:j] {
			rest = append(rest, i)
			delete(left, evs[i].ID)
		}
		if j == len(undecided) {
			return rest, nil
		}
		i := undecided[j]
		delete(left, evs[i].ID)
		seq, err := s.duplicateSeq(ctx, evs, msgs, i, res)
		if err != nil {
			return nil, err
		}
		if seq == 0 {
			continue
		}
		// The append that stored it stored others of the batch beside
		// it, in the batch's order or another: the stream around it, by
		// direct gets, finds them (halving again for each took longer
		// than an append may, and every retry failed the same way). A
		// few misses end the search, more once it has found some: other
		// writers' events may lie between those of one append.
		// A copy stored before the duplicate window began is no
		// duplicate (the stream stores the event again, as it would sent
		// alone); the window by the server's clock, not kam's, however
		// the clocks differ.
		info, err := s.stream.Info(ctx)
		if err != nil {
			return nil, readError(err)
		}
		since := info.TimeStamp.Add(-info.Config.Duplicates)
		for _, step := range []int64{1, -1} {
			budget := scanFirstMisses
			for q, misses := int64(seq)+step, 0; q >= 1 && misses < budget && len(left) > 0; q += step {
				m, err := s.stream.GetMsg(ctx, uint64(q))
				if err != nil {
					misses++
					continue
				}
				i, ok := left[m.Header.Get(hdrMsgID)]
				if !ok || m.Time.Before(since) {
					misses++
					continue
				}
				misses, budget = 0, scanMisses
				if !sameEvent(evs[i], msgs[i].Data, m.Data) {
					return nil, idUsed(i, evs[i], uint64(q))
				}
				res[i] = events.AppendResult{ID: evs[i].ID, Seq: uint64(q), Duplicate: true}
				delete(left, evs[i].ID)
			}
		}
	}
}

// scanFirstMisses and scanMisses are how many messages that are none of the
// batch's end the search of the stream around a stored event: before it
// has found another of them, and after.
const (
	scanFirstMisses = 4
	scanMisses      = 64
)

// duplicateSeq sends event i, found stored, on its own: a duplicate,
// nothing is stored, and the acknowledgement gives its sequence, which it
// returns (0 when the event was stored anew: its first copy left the
// duplicate window in between, and it is stored again as any event sent
// after the window is). It fills i's result.
func (s *Store) duplicateSeq(ctx context.Context, evs []*events.Event, msgs []*nats.Msg, i int, res []events.AppendResult) (uint64, error) {
	ack, err := s.js.PublishMsg(ctx, fresh(msgs[i]))
	if err != nil {
		return 0, s.publishError(ctx, err, evs[i])
	}
	res[i] = events.AppendResult{ID: evs[i].ID, Seq: ack.Sequence, Duplicate: ack.Duplicate}
	if !ack.Duplicate {
		return 0, nil
	}
	if err := s.checkDuplicate(ctx, i, evs[i], msgs[i].Data, ack.Sequence); err != nil {
		return 0, err
	}
	return ack.Sequence, nil
}

// firstStored returns the index of the first event of todo that is stored,
// len(todo) if none is. It probes growing runs from the start (1, 2, 4, ...
// events) and halves the first run found to hold one, so that finding an
// event k places on takes about 2·log2(k) probes.
func (s *Store) firstStored(ctx context.Context, msgs []*nats.Msg, todo []int) (int, error) {
	from := 0
	for step := 1; from < len(todo); step *= 2 {
		to := min(from+step, len(todo), from+MaxBatch-1) // a probe is the events and one more message
		some, err := s.stored(ctx, msgsOf(msgs, todo[from:to]))
		if err != nil {
			return 0, err
		}
		if !some {
			from = to
			continue
		}
		lo, hi := from, to // holds a stored event
		for hi-lo > 1 {
			mid := lo + (hi-lo)/2
			some, err := s.stored(ctx, msgsOf(msgs, todo[lo:mid]))
			if err != nil {
				return 0, err
			}
			if some {
				hi = mid
			} else {
				lo = mid
			}
		}
		return lo, nil
	}
	return len(todo), nil
}

// msgsOf is the messages of the events at the indexes idx.
func msgsOf(msgs []*nats.Msg, idx []int) []*nats.Msg {
	out := make([]*nats.Msg, len(idx))
	for k, i := range idx {
		out[k] = msgs[i]
	}
	return out
}

// stored reports whether any event of msgs is stored (within the duplicate
// window) without storing anything: it sends them in an atomic batch whose
// last message names another stream, so the batch always fails. The stream
// checks a batch's messages in order, each one's id before what it
// expects, so the batch fails as holding a duplicate if one of msgs is
// stored, and for the stream it names if none is.
func (s *Store) stored(ctx context.Context, msgs []*nats.Msg) (bool, error) {
	batch := make([]*nats.Msg, 0, len(msgs)+1)
	for _, m := range msgs {
		batch = append(batch, fresh(m))
	}
	probe := nats.NewMsg(msgs[0].Subject)
	probe.Header.Set(hdrExpectedStream, s.cfg.Stream+".not") // no stream's name holds a '.'
	_, err := s.publishAtomic(ctx, append(batch, probe))
	var apiErr *jetstream.APIError
	switch {
	case err == nil:
		return false, fmt.Errorf("a probe for duplicates of event %q was stored", msgs[0].Header.Get(hdrMsgID))
	case errors.As(err, &apiErr) && apiErr.ErrorCode == errBatchHasDuplicate:
		return true, nil
	case errors.As(err, &apiErr) && apiErr.ErrorCode == errStreamNotMatch:
		return false, nil
	default:
		// Refused for another reason before its last message: the
		// events cannot be stored as they are.
		return false, err
	}
}

// fresh is a copy of an event's message: its subject, data and id,
// without the headers an earlier send added.
func fresh(m *nats.Msg) *nats.Msg {
	c := nats.NewMsg(m.Subject)
	c.Data = m.Data
	c.Header.Set(hdrMsgID, m.Header.Get(hdrMsgID))
	return c
}

// publishAtomic sends msgs as one atomic batch and returns the sequence of
// the last one. The messages before the commit go without a reply subject;
// the server acknowledges the batch as a whole on the commit.
func (s *Store) publishAtomic(ctx context.Context, msgs []*nats.Msg) (uint64, error) {
	id := nuid.Next()
	for i, m := range msgs {
		m.Header.Set(hdrBatchID, id)
		m.Header.Set(hdrBatchSeq, strconv.Itoa(i+1))
		if i < len(msgs)-1 {
			if err := s.nc.PublishMsg(m); err != nil {
				return 0, err
			}
		}
	}
	commit := msgs[len(msgs)-1]
	commit.Header.Set(hdrBatchCommit, "1")
	resp, err := s.nc.RequestMsgWithContext(ctx, commit)
	if err != nil {
		return 0, err
	}
	var ack struct {
		jetstream.PubAck
		Count uint64              `json:"count"`
		Error *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(resp.Data, &ack); err != nil {
		return 0, fmt.Errorf("atomic batch ack: %w", err)
	}
	if ack.Error != nil {
		return 0, ack.Error
	}
	if ack.Count != uint64(len(msgs)) {
		return 0, fmt.Errorf("atomic batch ack counts %d messages, sent %d", ack.Count, len(msgs))
	}
	return ack.Sequence, nil
}

// permanent are nats.go's errors for a message it refuses to send at all:
// sending it again fails the same way, so they are no reason to retry.
var permanent = []error{nats.ErrBadSubject, nats.ErrHeadersNotSupported, nats.ErrBadHeaderMsg, nats.ErrInvalidMsg,
	jetstream.ErrInvalidSubject}

// publishError turns a failed publish into a kam error: a conflict with the
// account's current sequence, ETooLarge for a message over the log's limit,
// EInvalid for anything else the log refused, EInternal for a message the
// connection will not send, or EUnavailable for anything that means the log
// did not acknowledge (the client may retry: ids make retries safe).
func (s *Store) publishError(ctx context.Context, err error, first *events.Event) error {
	if errors.Is(err, nats.ErrMaxPayload) {
		return &events.Error{Code: events.ETooLarge, Err: err,
			Message: fmt.Sprintf("the event is over the event log's limit of %d bytes a message (NATS max_payload)", s.MaxMsgBytes())}
	}
	for _, p := range permanent {
		if errors.Is(err, p) {
			return &events.Error{Code: events.EInternal, Err: err, Message: "the event log's connection refused to send the events"}
		}
	}
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode {
		case errMsgTooLarge:
			return &events.Error{Code: events.ETooLarge, Err: err,
				Message: "the event is over the stream's limit of bytes a message (" + apiErr.Description + ")"}
		case errWrongLastSeq, errWrongLastSeqConstant:
			cur, lerr := s.LastSeq(context.WithoutCancel(ctx), first.Subject)
			if lerr != nil {
				s.log.Warn("conflict: cannot read the account's last sequence", "account", first.Subject, "err", lerr)
			}
			return &events.Error{Code: events.EConflict, CurrentSequence: cur, Err: err,
				Message: fmt.Sprintf("account %q has changed: its last sequence is %d", first.Subject, cur)}
		case errBatchTooManyInflight, errBatchIncomplete, errDuplicateInProcess:
			// A batch the server could not take whole now: nothing of it is
			// stored, and sending it again may succeed.
			return &events.Error{Code: events.EUnavailable, RetryAfter: 1, Err: err,
				Message: "the event log could not take the batch now (" + apiErr.Description + "); nothing was stored; retry"}
		}
		if apiErr.Code >= 400 && apiErr.Code < 500 {
			return &events.Error{Code: events.EInvalid, Err: err,
				Message: "the event log refused the events: " + apiErr.Description}
		}
	}
	return &events.Error{Code: events.EUnavailable, RetryAfter: 1, Err: err,
		Message: "the event log did not acknowledge the events; nothing is known to be stored; retry with the same ids"}
}

// AppendEach stores each event on its own, with bounded in-flight
// acknowledgements, and reports each one.
func (s *Store) AppendEach(ctx context.Context, evs []*events.Event) ([]events.AppendResult, []error) {
	res := make([]events.AppendResult, len(evs))
	errs := make([]error, len(evs))
	futures := make([]jetstream.PubAckFuture, len(evs))
	// No overall deadline here: each acknowledgement has the store's timeout
	// (the publisher's async timeout), however many events the call holds.
	for i, e := range evs {
		res[i].ID = e.ID
		m, err := Message(e)
		if err != nil {
			errs[i] = err
			continue
		}
		if err := s.checkSize(e, m); err != nil {
			errs[i] = err
			continue
		}
		f, err := s.js.PublishMsgAsync(m, jetstream.WithStallWait(s.cfg.Timeout))
		if err != nil {
			errs[i] = s.publishError(ctx, err, e)
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case ack := <-f.Ok():
			res[i].Seq, res[i].Duplicate = ack.Sequence, ack.Duplicate
			if ack.Duplicate {
				errs[i] = s.checkDuplicate(ctx, i, evs[i], f.Msg().Data, ack.Sequence)
			}
		case err := <-f.Err():
			errs[i] = s.publishError(ctx, err, evs[i])
		case <-ctx.Done():
			errs[i] = s.publishError(ctx, ctx.Err(), evs[i])
		}
	}
	return res, errs
}

// LastSeq returns the sequence of the account's last event, 0 if it has none.
func (s *Store) LastSeq(ctx context.Context, account string) (uint64, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	m, err := s.stream.GetLastMsgForSubject(ctx, AccountFilter(account))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

// ReadAccount returns up to limit events of one account after a sequence.
func (s *Store) ReadAccount(ctx context.Context, account string, after uint64, limit int) ([]events.Stored, error) {
	return s.read(ctx, AccountFilter(account), after, limit)
}

// Read returns up to limit events of any subject after a sequence.
func (s *Store) Read(ctx context.Context, after uint64, limit int) ([]events.Stored, error) {
	return s.read(ctx, "", after, limit)
}

// ReadTicks returns up to limit clock ticks after a sequence.
func (s *Store) ReadTicks(ctx context.Context, after uint64, limit int) ([]events.Stored, error) {
	return s.read(ctx, TickSubject, after, limit)
}

func (s *Store) read(ctx context.Context, filter string, after uint64, limit int) ([]events.Stored, error) {
	if limit <= 0 || after == math.MaxUint64 {
		// No sequence is greater than the greatest (and after+1 would
		// wrap to 0, which JetStream refuses as a start).
		return nil, nil
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	cfg := jetstream.ConsumerConfig{
		AckPolicy:         jetstream.AckNonePolicy,
		DeliverPolicy:     jetstream.DeliverByStartSequencePolicy,
		OptStartSeq:       after + 1,
		FilterSubject:     filter,
		InactiveThreshold: time.Minute,
		MemoryStorage:     true,
		Replicas:          1,
	}
	cons, err := s.stream.CreateConsumer(ctx, cfg)
	if err != nil {
		return nil, readError(err)
	}
	defer func() {
		_ = s.stream.DeleteConsumer(context.WithoutCancel(ctx), cons.CachedInfo().Name)
	}()
	n := int(min(cons.CachedInfo().NumPending, uint64(limit)))
	out := make([]events.Stored, 0, n)
	for len(out) < n {
		batch, err := cons.Fetch(n-len(out), jetstream.FetchContext(ctx))
		if err != nil {
			return nil, readError(err)
		}
		for m := range batch.Messages() {
			st, err := storedOf(m)
			if err != nil {
				return nil, err
			}
			out = append(out, st)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) {
			return nil, readError(err)
		}
	}
	return out, nil
}

// ReadSeq returns the message stored at seq.
func (s *Store) ReadSeq(ctx context.Context, seq uint64) (events.Stored, error) {
	if seq == 0 {
		// Sequences start at 1; JetStream would answer 0 with a
		// malformed-request error, which is no reason to retry.
		return events.Stored{}, events.Errorf(events.ENotFound, "no event at sequence 0")
	}
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	m, err := s.stream.GetMsg(ctx, seq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return events.Stored{}, events.Errorf(events.ENotFound, "no event at sequence %d", seq)
	}
	if err != nil {
		return events.Stored{}, readError(err)
	}
	return events.Stored{Seq: m.Sequence, Subject: m.Subject, Stored: m.Time.UTC(), Data: m.Data}, nil
}

func storedOf(m jetstream.Msg) (events.Stored, error) {
	md, err := m.Metadata()
	if err != nil {
		return events.Stored{}, fmt.Errorf("message metadata: %w", err)
	}
	return events.Stored{Seq: md.Sequence.Stream, Subject: m.Subject(), Stored: md.Timestamp.UTC(), Data: m.Data()}, nil
}

// readError turns a failed read into a kam error: JetStream refusing the
// request (a 400: a request kam should not have made) is no reason to
// retry, so it is internal; anything else is EUnavailable.
func readError(err error) error {
	var apiErr *jetstream.APIError
	if errors.As(err, &apiErr) && apiErr.Code == 400 {
		return &events.Error{Code: events.EInternal, Err: err, Message: "the event log refused the read: " + apiErr.Description}
	}
	return unavailable("read the event log", err)
}

func unavailable(what string, err error) error {
	return &events.Error{Code: events.EUnavailable, RetryAfter: 1, Err: err,
		Message: "cannot " + what + ": " + err.Error()}
}

// Status describes the stream for /v1/status and audits.
type Status struct {
	Name       string `json:"name"`
	FirstSeq   uint64 `json:"first_seq"`
	LastSeq    uint64 `json:"last_seq"`
	Messages   uint64 `json:"messages"`
	Bytes      uint64 `json:"bytes"`
	DenyDelete bool   `json:"deny_delete"`
	DenyPurge  bool   `json:"deny_purge"`
	// The retention limits (-1 and "0s": none). DenyDelete and DenyPurge
	// refuse deletes and purges, but whoever may administer the stream can
	// still lower a limit, and the server then drops the oldest messages.
	MaxMsgs  int64  `json:"max_msgs"`
	MaxBytes int64  `json:"max_bytes"`
	MaxAge   string `json:"max_age"`
	// Complete: every message appended is still there (the stream starts
	// at sequence 1 and holds as many messages as its last sequence).
	Complete   bool   `json:"complete"`
	Replicas   int    `json:"replicas"`
	Duplicates string `json:"duplicate_window"`
	Leader     string `json:"leader,omitempty"`
	// Created is when the stream was created: a stream deleted and made
	// anew under the same name has another.
	Created time.Time `json:"created"`
}

// Status reads the stream's current state.
func (s *Store) Status(ctx context.Context) (Status, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	info, err := s.stream.Info(ctx)
	if err != nil {
		return Status{}, unavailable("read the stream's state", err)
	}
	st := Status{
		Name: info.Config.Name, FirstSeq: info.State.FirstSeq, LastSeq: info.State.LastSeq, Messages: info.State.Msgs,
		Bytes: info.State.Bytes, DenyDelete: info.Config.DenyDelete, DenyPurge: info.Config.DenyPurge,
		MaxMsgs: info.Config.MaxMsgs, MaxBytes: info.Config.MaxBytes, MaxAge: info.Config.MaxAge.String(),
		Complete: info.State.Msgs == info.State.LastSeq,
		Replicas: info.Config.Replicas, Duplicates: info.Config.Duplicates.String(), Created: info.Created.UTC(),
	}
	if info.Cluster != nil {
		st.Leader = info.Cluster.Leader
	}
	return st, nil
}

// LastBusinessTime returns the business time of the last account event in
// the stream; ok is false when the stream holds none.
func (s *Store) LastBusinessTime(ctx context.Context) (time.Time, bool, error) {
	ctx, cancel := s.ctx(ctx)
	defer cancel()
	m, err := s.stream.GetLastMsgForSubject(ctx, AllAccounts)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, err
	}
	e, err := events.Decode(m.Data, false)
	if err != nil || e.Time.IsZero() {
		// A poison message: fall back to when it was stored.
		return m.Time.UTC(), true, nil
	}
	return e.Time, true, nil
}
