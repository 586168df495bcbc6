package handlers

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"kam/events"
)

// Request headers.
const (
	HeaderExpectedSequence = "Kam-Expected-Sequence"
	// HeaderActor names the principal appending, until tokens exist.
	HeaderActor = "Kam-Actor"
)

type appendResult struct {
	Index     int        `json:"index"`
	ID        string     `json:"id,omitempty"`
	Seq       uint64     `json:"seq,omitempty"`
	Duplicate bool       `json:"duplicate"`
	Error     *errorBody `json:"error,omitempty"`
}

// handleEventsPost appends one event (a JSON object) or a batch (an array).
// Everything is validated before anything is appended; an invalid event
// refuses the whole request unless ?partial=true asks for per-event results.
// The Content-Type must be a JSON type (see requireJSON); the body decides
// whether it is one event or a batch, and a body that is not a JSON object
// or array gets 415.
func (s *Server) handleEventsPost(w http.ResponseWriter, r *http.Request) {
	// The limits of a request, for a client to size its batches by (kam
	// import and demo read them from a 413).
	w.Header().Set(HeaderMaxBody, strconv.FormatInt(s.MaxBody, 10))
	w.Header().Set(HeaderMaxBatch, strconv.Itoa(s.MaxBatch))
	q := r.URL.Query()
	partial, err := flagParam(q, "partial")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	atomic, err := flagParam(q, "atomic")
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if atomic && partial {
		// All or nothing, and each on its own: the two cannot hold at once.
		writeError(w, r, s.Logger, events.Errorf(events.EInvalid, "atomic=true cannot be combined with partial=true"))
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeError(w, r, s.Logger, events.Errorf(events.ETooLarge, "the body is over %d bytes", s.MaxBody))
			return
		}
		writeError(w, r, s.Logger, events.Errorf(events.EInvalid, "cannot read the body: %v", err))
		return
	}
	raws, err := splitBody(body, s.MaxBatch)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}

	evs := make([]*events.Event, len(raws))
	var details []events.FieldError
	refused := make([]error, len(raws))
	// The actor of what is appended: the authenticated principal, or, while
	// kam runs without tokens, the Kam-Actor header.
	actor := Principal(r.Context())
	if actor == "" {
		actor = r.Header.Get(HeaderActor)
	}
	for i, raw := range raws {
		e, err := s.decodeEvent(raw, actor)
		if err == nil {
			// An event the log cannot take is refused before anything
			// is sent, as an invalid one is: sending it would fail
			// however often it were retried.
			err = s.Log.CheckSize(e)
		}
		if err != nil {
			refused[i] = withIndex(err, i)
			details = append(details, detailsOf(refused[i])...)
			continue
		}
		evs[i] = e
	}

	sameIDs(evs, refused, &details)

	var expected *uint64
	if h := r.Header.Get(HeaderExpectedSequence); h != "" {
		n, err := strconv.ParseUint(h, 10, 64)
		if err != nil {
			writeError(w, r, s.Logger, &events.Error{Code: events.EInvalid, Message: "invalid header",
				Details: []events.FieldError{{Field: HeaderExpectedSequence, Problem: "must be a non-negative integer"}}})
			return
		}
		if partial {
			writeError(w, r, s.Logger, events.Errorf(events.EInvalid, "%s cannot be combined with partial=true", HeaderExpectedSequence))
			return
		}
		expected = &n
	}

	if !partial {
		if len(details) > 0 {
			writeError(w, r, s.Logger, refusal(refused, details))
			return
		}
		if expected != nil {
			for _, e := range evs {
				if e.Subject != evs[0].Subject || e.Subject == "" {
					writeError(w, r, s.Logger, events.Errorf(events.EInvalid,
						"%s needs every event of the request to be of one account", HeaderExpectedSequence))
					return
				}
			}
		}
		res, err := s.appendAll(r, evs, expected, atomic)
		if err != nil {
			writeError(w, r, s.Logger, err)
			return
		}
		out := make([]appendResult, len(res))
		for i, a := range res {
			out[i] = appendResult{Index: i, ID: a.ID, Seq: a.Seq, Duplicate: a.Duplicate}
		}
		writeJSON(w, http.StatusCreated, map[string]any{"results": out})
		return
	}

	// partial: append the valid ones, report each.
	var valid []*events.Event
	var at []int
	for i, e := range evs {
		if e != nil {
			valid = append(valid, e)
			at = append(at, i)
		}
	}
	res, errs := s.Log.AppendEach(r.Context(), valid)
	for k, i := range at {
		if errs[k] != nil {
			refused[i] = withIndex(errs[k], i)
		}
	}
	out := make([]appendResult, len(raws))
	status := http.StatusCreated
	for i := range raws {
		out[i].Index = i
		if refused[i] != nil {
			b := errorBodyOf(refused[i])
			out[i].Error = &b
			status = http.StatusMultiStatus
		}
	}
	duplicates := 0
	for k, i := range at {
		if errs[k] == nil {
			out[i].ID, out[i].Seq, out[i].Duplicate = res[k].ID, res[k].Seq, res[k].Duplicate
			if res[k].Duplicate {
				duplicates++
			}
		} else {
			out[i].ID = valid[k].ID
		}
	}
	writeJSON(w, status, map[string]any{"results": out, "appended": len(raws) - countErrs(refused) - duplicates,
		"duplicates": duplicates, "refused": countErrs(refused)})
}

// appendAll stores a request's valid events. With an expected sequence, or
// when the client asks for ?atomic=true, the batch is one JetStream atomic
// batch: stored whole or not at all. Otherwise the events are published
// pipelined, each with its id as message id: if JetStream fails midway the
// answer is an error (never a 201), some events may be stored, and the
// client's retry with the same ids stores the rest and nothing twice. That
// is about 1.7 times faster (an atomic batch is staged in a store of its own
// on the server, then stored: BENCHMARKS.md).
func (s *Server) appendAll(r *http.Request, evs []*events.Event, expected *uint64, atomic bool) ([]events.AppendResult, error) {
	if expected != nil || atomic || len(evs) == 1 {
		return s.Log.Append(r.Context(), evs, events.AppendOptions{ExpectedSeq: expected})
	}
	res, errs := s.Log.AppendEach(r.Context(), evs)
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// decodeEvent decodes, fills and validates one event as the HTTP door does.
func (s *Server) decodeEvent(raw json.RawMessage, actor string) (*events.Event, error) {
	e, err := events.Decode(raw, true)
	if err != nil {
		return nil, err
	}
	e.Normalize(s.NewID)
	if actor != "" {
		e.Actor = actor
	}
	if _, err := events.Validate(e, s.Rules); err != nil {
		return nil, err
	}
	if err := events.CheckAtDoor(raw, e); err != nil {
		return nil, err
	}
	if err := events.CheckNotFuture(e, s.Now(), s.FutureTolerance); err != nil {
		return nil, err
	}
	return e, nil
}

// splitBody returns the events of a body: one object, or an array of them.
func splitBody(body []byte, maxBatch int) ([]json.RawMessage, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, events.Errorf(events.EInvalid, "the body is empty; send an event or an array of events")
	}
	switch body[0] {
	case '{':
		if !json.Valid(body) {
			return nil, events.Errorf(events.EInvalid, "the body is not valid JSON")
		}
		return []json.RawMessage{body}, nil
	case '[':
		elems, err := events.SplitArray(body)
		if err != nil {
			return nil, events.Errorf(events.EInvalid, "the body is not a valid JSON array: %v", err)
		}
		if len(elems) == 0 {
			return nil, events.Errorf(events.EInvalid, "the batch is empty")
		}
		if len(elems) > maxBatch {
			return nil, events.Errorf(events.ETooLarge, "a batch holds at most %d events, got %d", maxBatch, len(elems))
		}
		arr := make([]json.RawMessage, len(elems))
		for i, e := range elems {
			arr[i] = e
		}
		return arr, nil
	}
	return nil, events.Errorf(events.EUnsupported, "the body is not JSON: send an event object or an array of events")
}

// sameIDs refuses each event of a request whose id an earlier one has, with
// other content: one of them would be lost (the log keeps the first event
// of an id and answers the others as its duplicates). The later one is
// refused, and details names both. The same event twice is a retry within
// the request, and goes on.
func sameIDs(evs []*events.Event, refused []error, details *[]events.FieldError) {
	firstOf := make(map[string]int, len(evs))
	for i, e := range evs {
		if e == nil {
			continue
		}
		j, ok := firstOf[e.ID]
		if !ok {
			firstOf[e.ID] = i
			continue
		}
		a, errA := evs[j].MarshalJSON()
		b, errB := e.MarshalJSON()
		if errA == nil && errB == nil && bytes.Equal(a, b) {
			continue
		}
		d := events.FieldError{Index: i, Field: "id", Problem: fmt.Sprintf("also the id of event %d, with different content", j)}
		refused[i] = &events.Error{Code: events.EInvalid, Message: "invalid event", Details: []events.FieldError{d}}
		evs[i] = nil
		*details = append(*details,
			events.FieldError{Index: j, Field: "id", Problem: fmt.Sprintf("also the id of event %d, with different content", i)}, d)
	}
}

// refusal is the error of a request some of whose events are refused
// before anything is appended: 413 when each of them is too large for the
// log, else 400.
func refusal(refused []error, details []events.FieldError) error {
	code, what := events.ETooLarge, "too large for the event log"
	for _, err := range refused {
		if err != nil && events.ErrorCode(err) != events.ETooLarge {
			code, what = events.EInvalid, "invalid"
		}
	}
	msg := "invalid event"
	switch {
	case len(refused) > 1:
		msg = fmt.Sprintf("%d of %d events are %s; nothing was appended", countErrs(refused), len(refused), what)
	case code == events.ETooLarge:
		msg = "the event is too large for the event log"
	}
	slices.SortStableFunc(details, func(a, b events.FieldError) int { return cmp.Compare(a.Index, b.Index) })
	return &events.Error{Code: code, Message: msg, Details: details}
}

func withIndex(err error, i int) error {
	var e *events.Error
	if errors.As(err, &e) {
		c := *e
		c.Details = make([]events.FieldError, len(e.Details))
		for k, d := range e.Details {
			d.Index = i
			c.Details[k] = d
		}
		return &c
	}
	return err
}

func detailsOf(err error) []events.FieldError {
	var e *events.Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}

func countErrs(errs []error) int {
	n := 0
	for _, e := range errs {
		if e != nil {
			n++
		}
	}
	return n
}

// The headers of POST /v1/events' answers that give this kam's limits of
// a request: its body's bytes (--max-body) and its events (--max-batch).
const (
	HeaderMaxBody  = "Kam-Max-Body"
	HeaderMaxBatch = "Kam-Max-Batch"
)

// maxEventsLimit is the most events one GET /v1/events answers.
const maxEventsLimit = 1000

// handleEventsGet pages through the log, for one account or for all:
// the authoritative history, read from the stream.
func (s *Server) handleEventsGet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, err := uintParam(q.Get("after"), "after", 0)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	limit, err := rangeParam(q.Get("limit"), "limit", 100, 1, maxEventsLimit)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	var stored []events.Stored
	if acct := q.Get("account"); acct != "" {
		stored, err = s.Log.ReadAccount(r.Context(), acct, after, int(limit))
	} else {
		stored, err = s.Log.Read(r.Context(), after, int(limit))
	}
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	out := make([]json.RawMessage, len(stored))
	next := after
	for i, st := range stored {
		out[i] = StoredJSON(st)
		next = st.Seq
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": out, "next_after": next})
}

// StoredJSON is an event as stored, with its sequence and stored time in front:
// {"seq":N,"stored_at":"...",<the event's attributes>}.
func StoredJSON(st events.Stored) json.RawMessage {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"seq":%d,"stored_at":%q`, st.Seq, st.Stored.UTC().Format("2006-01-02T15:04:05.999999999Z07:00"))
	// Bytes that are not UTF-8 (published to the stream directly; the door
	// refuses them) are served as U+FFFD, as JSON decoding reads them: the
	// answer stays valid JSON.
	data := bytes.ToValidUTF8(bytes.TrimSpace(st.Data), []byte("\uFFFD"))
	if len(data) > 2 && data[0] == '{' && json.Valid(data) {
		b.WriteByte(',')
		b.Write(data[1:])
	} else {
		// Not an object (a poison message): keep it whole under "raw".
		raw, _ := json.Marshal(string(st.Data))
		b.WriteString(`,"raw":`)
		b.Write(raw)
		b.WriteByte('}')
	}
	return b.Bytes()
}

// rangeParam is uintParam for a parameter that must lie in lo..hi.
func rangeParam(v, name string, def, lo, hi uint64) (uint64, error) {
	n, err := uintParam(v, name, def)
	if err == nil && (n < lo || n > hi) {
		return 0, &events.Error{Code: events.EInvalid, Message: "invalid query parameter",
			Details: []events.FieldError{{Field: name, Problem: fmt.Sprintf("must be %d to %d", lo, hi)}}}
	}
	return n, err
}

// flagParam reads a switch of a write, "true" or "false" (false when
// absent). Anything else is refused, "1" too: read as false, it would
// silently drop what the client asked for, and POST /v1/events has always
// documented the two words only.
func flagParam(q url.Values, name string) (bool, error) {
	switch q.Get(name) {
	case "", "false":
		return false, nil
	case "true":
		return true, nil
	}
	return false, &events.Error{Code: events.EInvalid, Message: "invalid query parameter",
		Details: []events.FieldError{{Field: name, Problem: "must be true or false"}}}
}

func uintParam(v, name string, def uint64) (uint64, error) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, &events.Error{Code: events.EInvalid, Message: "invalid query parameter",
			Details: []events.FieldError{{Field: name, Problem: "must be a non-negative integer"}}}
	}
	return n, nil
}
