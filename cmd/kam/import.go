package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	neturl "net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"kam/events"
	"kam/events/natsstore"
	"kam/importer"
)

func init() {
	register(command{name: "import", usage: "import an order history (CDNOW log or CSV) as events, through kam or NATS", run: (*Main).importFile})
}

func (m *Main) importFile(ctx context.Context, args []string) error {
	fs := m.flagSet("import")
	var nf natsFlags
	nf.register(fs)
	fs.Lookup("nats-url").Usage = "append straight to the stream on this NATS server or cluster (instead of --url)"
	var o importer.Options
	fs.StringVar(&o.Format, "format", importer.FormatCSV, "cdnow (the CDNOW master log) or csv (mapped by the --*-col flags)")
	fs.StringVar(&o.AccountCol, "account-col", "", "csv: header of the account (customer) column")
	fs.StringVar(&o.TimeCol, "time-col", "", "csv: header of the time column")
	fs.StringVar(&o.AmountCol, "amount-col", "", "csv: header of the amount column (a negative amount is a return)")
	fs.StringVar(&o.OrderCol, "order-col", "", "csv: header of the order (document) id column")
	fs.StringVar(&o.QtyCol, "qty-col", "", "csv: header of the quantity column")
	fs.StringVar(&o.TimeLayout, "time-layout", "", `csv: Go time layout of the time column, e.g. "2006-01-02 15:04:05" (default: RFC 3339 or a date; no zone means UTC)`)
	fs.StringVar(&o.Currency, "currency", "USD", "ISO 4217 currency of the amounts; kam refuses orders in another currency than its own")
	fs.StringVar(&o.Round, "round", "", `"half-even": round amounts finer than the currency's minor unit instead of reporting them as bad rows`)
	url := fs.String("url", "http://127.0.0.1:8080", "kam's HTTP address (unless --nats-url)")
	token := fs.String("token", "", "API token (Authorization: Bearer), with --url")
	badFile := fs.String("bad-rows", "", "write every bad row (line, reason, row) to this CSV file")
	showBad := fs.Int("show-bad", 20, "bad rows listed in the summary")
	strict := fs.Bool("strict", false, "append nothing if any row is bad")
	dryRun := fs.Bool("dry-run", false, "read and check the file, append nothing")
	force := fs.Bool("force", false, "send every event, even those the stream holds already (JetStream still drops the ids its duplicate window remembers)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: kam import [flags] FILE|- (see kam import -h)")
	}
	o.Now = m.Now()
	name := fs.Arg(0)
	in, size := m.Stdin, int64(0)
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		if st, err := f.Stat(); err == nil {
			size = st.Size()
		}
		in = f
	}
	start := time.Now()
	bar := newProgress(m.Stderr, m.terminal(), "reading", "bytes", size)
	file, err := importer.Parse(in, o, bar.set)
	bar.done()
	if err != nil {
		return err
	}
	evs := file.Events()
	orders, ordered, returns, returned, rounded := file.Totals()
	digits := file.Options.Digits
	cur := file.Options.Currency
	out := m.Stdout
	fmt.Fprintf(out, "%s: sha256 %s, %d rows read: %d orders (%s %s), %d returns (%s %s), %d accounts, %d bad rows",
		name, file.SHA256, file.Read, orders, events.FormatMinor(ordered, digits), cur, returns, events.FormatMinor(returned, digits), cur,
		file.Accounts(), len(file.Bad))
	if rounded > 0 {
		fmt.Fprintf(out, ", %d amounts rounded half-even", rounded)
	}
	fmt.Fprintln(out)
	if len(file.Rows) > 0 {
		fmt.Fprintf(out, "business time %s .. %s", file.Rows[0].Time.Format(time.RFC3339), file.Rows[len(file.Rows)-1].Time.Format(time.RFC3339))
		if tick, ok := file.Tick(); ok {
			fmt.Fprintf(out, "; closing clock.tick at %s\n", tick.Format(time.RFC3339))
		} else {
			fmt.Fprintf(out, "; no closing tick: %s is not over yet (kam serve's daily tick closes it)\n", tick.AddDate(0, 0, -1).Format(time.DateOnly))
		}
	}
	if err := reportBad(out, file, *showBad, *badFile); err != nil {
		return err
	}
	if *strict && len(file.Bad) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("kam import: %d bad rows and --strict: nothing appended", len(file.Bad))}
	}
	if *dryRun || len(evs) == 0 {
		fmt.Fprintf(out, "nothing appended (%s)\n", map[bool]string{true: "dry run", false: "no good rows"}[*dryRun])
		if !*dryRun && len(file.Bad) > 0 {
			return &exitError{code: 1, msg: fmt.Sprintf("kam import: every row of %d is bad: nothing appended", len(file.Bad))}
		}
		return nil
	}

	var (
		a        *appender
		reader   streamReader
		lateMark time.Time // when set: the stream's or read model's latest business time
		lateWhat string
	)
	if nf.url != "" {
		log := slog.New(slog.DiscardHandler)
		nc, err := nf.connect(nf.url, log)
		if err != nil {
			return err
		}
		defer nc.Close()
		store, err := natsstore.Open(ctx, nc, natsstore.Config{Stream: nf.stream}, log)
		if err != nil {
			return err
		}
		reader = storeReader(ctx, store)
		if last, ok, err := store.LastBusinessTime(ctx); err == nil && ok {
			lateMark, lateWhat = last, "the stream's last business event"
		}
		a = newStoreAppender(store)
	} else {
		c := newAPIClient(*url, *token)
		var st struct {
			Stream struct {
				LastSeq uint64 `json:"last_seq"`
			} `json:"stream"`
			Projector *struct {
				AppliedSeq uint64 `json:"applied_seq"`
				Watermark  string `json:"watermark"`
			} `json:"projector"`
		}
		if _, _, err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st); err != nil {
			return fmt.Errorf("kam at %s: %w", *url, err)
		}
		// The watermark counts once the read model has applied what the
		// stream holds (an import just before may still be applying): a
		// read with min_seq waits for that, a few seconds each time.
		for try, last := 0, st.Stream.LastSeq; try < 3 && st.Projector != nil && st.Projector.AppliedSeq < last; try++ {
			c.do(ctx, http.MethodGet, fmt.Sprintf("/v1/accounts?limit=1&min_seq=%d", last), nil, nil)
			if _, _, err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st); err != nil {
				return fmt.Errorf("kam at %s: %w", *url, err)
			}
		}
		reader = apiReader(ctx, c)
		if st.Projector != nil && st.Projector.Watermark != "" {
			if wm, err := time.Parse(time.RFC3339Nano, st.Projector.Watermark); err == nil {
				lateMark, lateWhat = wm, "the read model's watermark"
			}
		}
		a = newHTTPAppender(c)
	}

	rowEvents, tick := evs[:len(file.Rows)], evs[len(file.Rows):]
	plan := &resumePlan{send: make([]int, len(file.Rows)), sendTick: len(tick) > 0}
	for i := range plan.send {
		plan.send[i] = i
	}
	if !*force {
		if plan, err = findHeld(reader, file, evs); err != nil {
			return err
		}
		if done := plan.report(out, file, evs); done {
			return nil
		}
	}
	toSend := make([]*events.Event, 0, len(plan.send)+1)
	for _, i := range plan.send {
		toSend = append(toSend, rowEvents[i])
	}
	if plan.sendTick {
		toSend = append(toSend, tick[0])
	}
	if !lateMark.IsZero() {
		warnLate(m.Stderr, toSend, lateMark, lateWhat)
	}

	// A closing tick alone is no first batch to judge the rest by.
	a.stopIfAllRefused = len(plan.send) > 0
	send := newProgress(m.Stderr, m.terminal(), "appending", "rows", int64(len(plan.send)))
	for n, i := range plan.send {
		if err := a.add(ctx, rowEvents[i], file.Rows[i].Line); err != nil {
			return err
		}
		send.set(int64(n + 1))
	}
	if err := a.flush(ctx); err != nil {
		return err
	}
	sum := a.sum
	// The closing tick only after rows that made it into the stream: a
	// tick in a stream without them would make all later history late.
	if plan.sendTick && plan.held+sum.Appended+sum.Duplicates > 0 {
		if err := a.add(ctx, tick[0], 0); err != nil {
			return err
		}
		if err := a.flush(ctx); err != nil {
			return err
		}
	}
	send.done()
	took := time.Since(start)
	fmt.Fprintf(out, "appended %d, duplicates %d, refused %d of %d events in %s (%.0f events/s)\n",
		sum.Appended, sum.Duplicates, len(sum.Refused), sum.Lines, took.Round(time.Millisecond), float64(sum.Lines)/took.Seconds())
	listRefused(out, sum.Refused, *showBad)
	if len(sum.Refused) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("kam import: %d events refused", len(sum.Refused))}
	}
	return nil
}

// How a re-run finds what the stream holds of its file. Every run sends
// the rows of each kind (rounded or not: --round adds or leaves out the
// rounded ones) in order, a batch done before the next, so the earliest
// copy of any row the stream holds is that of one of the first rows a run
// stored, give or take rows sent again within their batch. A sample of
// each kind's rows (the first ones, powers of two, some spread over the
// file), and every row before the earliest copy it finds when those are
// few, find it. From a batch before it to the stream's end, the ids the
// stream holds decide each row and the tick exactly: rows of an
// interrupted batch stored or not, rows kam refused (invalid, over its
// --max-body, given up on after maxSendAttempts) wherever they lie, rows a
// later run sent again after the rest, other clients' events in between.
// What it cannot see: a stored copy before the earliest it finds, which
// takes more than 4,096 rows before that one without a copy of their own
// earlier; those rows would be sent again, as duplicates. The price is
// reading the stream from the file's first stored row on: CDNOW's 69,660
// through kam in about 2 s. The tick is decided by its id alone: a run
// whose last day differs (--round, a rounded last row) makes another tick
// under the same id, which is not sent.

// inFlight is the most rows a run of kam import has sent and not yet seen
// acknowledged: a chunk straight to the stream (storeChunk), or a batch
// through kam (at most 1000, newHTTPAppender).
const inFlight = storeChunk

// sampleRows is the rows of n whose copies mark where reading starts: the
// first nine, then every power of two, sixteen spread over the file, and
// the last.
func sampleRows(n int) []int {
	var out []int
	for i := range min(n, 9) {
		out = append(out, i)
	}
	for i := 16; i < n; i *= 2 {
		out = append(out, i)
	}
	for k := 1; k <= 16; k++ {
		out = append(out, k*n/17)
	}
	if n > 0 {
		out = append(out, n-1)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// seqID is an event of the stream: its sequence and id, and the event as
// stored (for a resume to see that a row it holds is the row this run makes).
type seqID struct {
	Seq uint64 `json:"seq"`
	ID  string `json:"id"`
	Raw []byte `json:"-"`
}

// streamReader is what a resume needs to read of the stream, through a
// running kam or straight from NATS.
type streamReader struct {
	// has returns the sequence of the account's event with id, 0 if none.
	has func(account, id string) (uint64, error)
	// events returns the next events of any subject after a sequence,
	// none at the stream's end.
	events func(after uint64) ([]seqID, error)
	// at returns the event stored at seq, if any (a Seq of 0: none).
	at func(seq uint64) (seqID, error)
}

// firstAt is the event at seq of a page read from seq-1 on.
func firstAt(seq uint64, page []seqID, err error) (seqID, error) {
	if err != nil || len(page) == 0 || page[0].Seq != seq {
		return seqID{}, err
	}
	return page[0], nil
}

func storeReader(ctx context.Context, store *natsstore.Store) streamReader {
	pageOf := func(read func(context.Context, uint64, int) ([]events.Stored, error), n int) func(uint64) ([]seqID, error) {
		return func(after uint64) ([]seqID, error) {
			stored, err := read(ctx, after, n)
			out := make([]seqID, len(stored))
			for i, st := range stored {
				out[i].Seq, out[i].Raw = st.Seq, st.Data
				if e, err := events.Decode(st.Data, false); err == nil {
					out[i].ID = e.ID
				}
			}
			return out, err
		}
	}
	page := func(read func(context.Context, uint64, int) ([]events.Stored, error)) func(uint64) ([]seqID, error) {
		return pageOf(read, 1000)
	}
	one := pageOf(store.Read, 1)
	return streamReader{
		has: func(account, id string) (uint64, error) {
			return findID(page(func(ctx context.Context, after uint64, n int) ([]events.Stored, error) {
				return store.ReadAccount(ctx, account, after, n)
			}), id)
		},
		events: page(store.Read),
		at: func(seq uint64) (seqID, error) {
			page, err := one(seq - 1)
			return firstAt(seq, page, err)
		},
	}
}

func apiReader(ctx context.Context, c *apiClient) streamReader {
	// GET /v1/events reads one account or all: ticks are looked for among all.
	pages := func(account string, limit int) func(after uint64) ([]seqID, error) {
		return func(after uint64) ([]seqID, error) {
			var page struct {
				Events []json.RawMessage `json:"events"`
			}
			path := fmt.Sprintf("/v1/events?after=%d&limit=%d", after, limit)
			what := fmt.Sprintf("the events after sequence %d", after)
			if account != "" {
				path += "&account=" + neturl.QueryEscape(account)
				what = fmt.Sprintf("the events of account %q", account)
			}
			if _, _, err := c.do(ctx, http.MethodGet, path, nil, &page); err != nil {
				return nil, fmt.Errorf("read %s: %w", what, err)
			}
			out := make([]seqID, len(page.Events))
			for i, raw := range page.Events {
				if err := json.Unmarshal(raw, &out[i]); err != nil {
					return nil, fmt.Errorf("read %s: %w", what, err)
				}
				out[i].Raw = raw
			}
			return out, nil
		}
	}
	all, one := pages("", 1000), pages("", 1)
	return streamReader{
		has:    func(account, id string) (uint64, error) { return findID(pages(account, 1000), id) },
		events: all,
		at: func(seq uint64) (seqID, error) {
			page, err := one(seq - 1)
			return firstAt(seq, page, err)
		},
	}
}

// resumePlan is what a run sends of a file, given what the stream holds.
type resumePlan struct {
	send     []int // the rows to send, in order (indices into File.Rows)
	sendTick bool  // whether the closing tick is to be sent
	held     int   // rows the stream holds
	lastRow  int   // the last of them in order (an index into File.Rows)
	// Found in the stream: the last row's first copy, and the tick.
	lastHeldSeq, tickSeq uint64
}

// findHeld works out which of the file's rows, and whether its closing
// tick, the stream holds, whatever JetStream's deduplication window still
// remembers, so that a run after an interrupted one sends only the rest
// (see sampleRows).
func findHeld(r streamReader, file *importer.File, evs []*events.Event) (*resumePlan, error) {
	plan := &resumePlan{}
	probed := map[int]uint64{}
	first := uint64(0) // the earliest copy found
	// A run with --round sends the rounded rows a run without it leaves
	// out, and the other way round: each kind, rounded or not, is sent in
	// order by every run, and is sampled on its own.
	var kinds [2][]int
	for i, row := range file.Rows {
		k := 0
		if row.Rounded {
			k = 1
		}
		kinds[k] = append(kinds[k], i)
	}
	for _, rows := range kinds {
		if len(rows) == 0 {
			continue
		}
		kindFirst, at := uint64(0), 0 // the kind's earliest copy, and its place in rows
		probe := func(j int) error {
			s, err := r.has(file.Rows[rows[j]].Account, evs[rows[j]].ID)
			if s > 0 {
				probed[rows[j]] = s
				if kindFirst == 0 || s < kindFirst {
					kindFirst, at = s, j
				}
			}
			return err
		}
		sample := sampleRows(len(rows))
		for _, j := range sample {
			if err := probe(j); err != nil {
				return nil, err
			}
		}
		if kindFirst == 0 {
			continue
		}
		// The rows before the earliest copy's row: a run that had the rows
		// before them refused, or sent some of them again within their
		// batch, may have stored rows among them earlier still. All of
		// them when they are few (the earliest copy is nearly always among
		// the first rows), else those after the sample before it.
		from := 0
		if k := slices.Index(sample, at); k > 0 && at > 4096 {
			from = sample[k-1] + 1
		}
		for j := from; j < at; j++ {
			if slices.Contains(sample, j) {
				continue
			}
			if err := probe(j); err != nil {
				return nil, err
			}
		}
		if first == 0 || kindFirst < first {
			first = kindFirst
		}
	}
	held := map[string]uint64{}
	if first > 0 {
		// The sampled rows held are the ones checked to be as this run
		// makes them.
		for _, i := range slices.Sorted(maps.Keys(probed)) {
			if err := sameAsHeld(r, probed[i], evs[i], file.Rows[i].Line); err != nil {
				return nil, err
			}
		}
		// From a batch before it: rows a run sent again within their batch
		// are stored after the rest of it.
		var err error
		if held, err = idsFrom(r, first-min(first, inFlight)); err != nil {
			return nil, err
		}
	}
	for i := range file.Rows {
		seq, ok := held[evs[i].ID]
		if !ok {
			plan.send = append(plan.send, i)
			continue
		}
		plan.held, plan.lastRow = plan.held+1, i
		plan.lastHeldSeq = seq
	}
	if len(evs) > len(file.Rows) {
		plan.tickSeq = held[evs[len(evs)-1].ID]
		plan.sendTick = plan.tickSeq == 0
	}
	return plan, nil
}

// sameAsHeld returns an error unless the event stored at seq is e, which a
// row's id alone does not say: the id comes from the file's content and the
// row, not from the flags that read it, so a run with another time layout,
// currency or column finds the rows held and would report them imported.
// findHeld checks the rows it sampled that the stream holds (the first
// ones, powers of two, sixteen spread over the file, the last): a change of
// flags that reads all of those the same and others not goes unseen.
func sameAsHeld(r streamReader, seq uint64, e *events.Event, line int) error {
	stored, err := r.at(seq)
	if err != nil {
		return err
	}
	if stored.Seq == 0 {
		return fmt.Errorf("line %d: the stream holds its event at sequence %d, which kam cannot read back", line, seq)
	}
	held, err := events.Decode(stored.Raw, false)
	if err != nil {
		return fmt.Errorf("line %d: the event stored at sequence %d: %w", line, seq, err)
	}
	diff := ""
	switch {
	case held.Type != e.Type:
		diff = fmt.Sprintf("type %s there, %s here", held.Type, e.Type)
	case held.Subject != e.Subject:
		diff = fmt.Sprintf("account %q there, %q here", held.Subject, e.Subject)
	case !held.Time.Equal(e.Time):
		diff = fmt.Sprintf("time %s there, %s here", held.Time.UTC().Format(time.RFC3339Nano), e.Time.UTC().Format(time.RFC3339Nano))
	case !sameJSON(held.Data, e.Data):
		diff = fmt.Sprintf("data %s there, %s here", held.Data, e.Data)
	default:
		return nil
	}
	return &exitError{code: 1, msg: fmt.Sprintf("kam import: line %d: the stream holds this row's event (%s, sequence %d) as "+
		"another run made it: %s. That run read the file with other flags (--time-layout, --currency, --round, the "+
		"columns). The log keeps what it was given: correct it with new events (an order.returned takes an amount back), "+
		"not by importing again; --force sends the rows anyway, and their ids make them duplicates", line, e.ID, seq, diff)}
}

// sameJSON reports whether two JSON documents hold the same values.
func sameJSON(a, b json.RawMessage) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return bytes.Equal(a, b)
	}
	return reflect.DeepEqual(x, y)
}

// idsFrom returns the ids of the events from sequence first to the
// stream's end, each with its first sequence.
func idsFrom(r streamReader, first uint64) (map[string]uint64, error) {
	ids := map[string]uint64{}
	for after := first - min(first, 1); ; {
		page, err := r.events(after)
		if err != nil || len(page) == 0 {
			return ids, err
		}
		for _, e := range page {
			if _, ok := ids[e.ID]; !ok {
				ids[e.ID] = e.Seq
			}
			after = e.Seq
		}
	}
}

// report says what the stream holds of the file and what the run sends;
// done is true when it holds everything.
func (p *resumePlan) report(w io.Writer, file *importer.File, evs []*events.Event) (done bool) {
	rows := len(file.Rows)
	var tick string
	if p.tickSeq > 0 {
		tick = fmt.Sprintf(" and %s at sequence %d", evs[len(evs)-1].ID, p.tickSeq)
	}
	switch {
	case p.held == 0:
	case len(p.send) == 0 && !p.sendTick:
		fmt.Fprintf(w, "already imported: the stream holds %s at sequence %d%s; nothing appended (--force sends it all again)\n",
			evs[p.lastRow].ID, p.lastHeldSeq, tick)
		return true
	case len(p.send) == 0:
		fmt.Fprintf(w, "the stream holds all %d rows but not the closing tick: appending it\n", rows)
	default:
		last := p.lastRow
		fmt.Fprintf(w, "resuming: the stream holds %d of %d rows (through line %d, %s)%s; appending the remaining %d",
			p.held, rows, file.Rows[last].Line, file.Rows[last].Time.Format(time.DateOnly), tick, len(p.send))
		if p.sendTick {
			fmt.Fprint(w, " and the closing tick")
		}
		fmt.Fprintln(w)
	}
	return false
}

// findID returns the sequence of the event with id among those pages
// reads, page after page, 0 if none.
func findID(pages func(after uint64) ([]seqID, error), id string) (uint64, error) {
	var after uint64
	for {
		page, err := pages(after)
		if err != nil || len(page) == 0 {
			return 0, err
		}
		for _, e := range page {
			if e.ID == id {
				return e.Seq, nil
			}
			after = e.Seq
		}
	}
}

// listRefused lists the first show refusals and counts the rest.
func listRefused(w io.Writer, refused []string, show int) {
	for i, r := range refused {
		if i >= show {
			fmt.Fprintf(w, "  ... and %d more refused\n", len(refused)-show)
			return
		}
		fmt.Fprintln(w, "  refused "+strings.Replace(r, "line 0:", "closing tick:", 1))
	}
}

// warnLate warns when events lie before what the log or read model has
// already seen: they arrive late, and count from the next review on.
func warnLate(w io.Writer, evs []*events.Event, mark time.Time, what string) {
	late := 0
	for _, e := range evs {
		if e.Time.Before(mark) {
			late++
		}
	}
	if late > 0 {
		fmt.Fprintf(w, "kam import: warning: %d of %d events lie before %s (%s): they arrive late and count from the next review on; "+
			"past tier decisions are not rewritten (import history into an empty stream first, or rebuild with kam replay)\n",
			late, len(evs), what, mark.Format(time.RFC3339))
	}
}

// reportBad lists the first show bad rows, and all of them in file.
func reportBad(w io.Writer, f *importer.File, show int, file string) error {
	if len(f.Bad) == 0 {
		return nil
	}
	reasons := map[string]int{}
	var order []string
	for _, b := range f.Bad {
		k := reasonKind(b.Reason)
		if reasons[k] == 0 {
			order = append(order, k)
		}
		reasons[k]++
	}
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = fmt.Sprintf("%d %s", reasons[k], k)
	}
	fmt.Fprintf(w, "bad rows (not imported): %s\n", strings.Join(parts, ", "))
	for i, b := range f.Bad {
		if i >= show {
			fmt.Fprintf(w, "  ... and %d more", len(f.Bad)-show)
			if file == "" {
				fmt.Fprint(w, " (--bad-rows FILE lists them all)")
			}
			fmt.Fprintln(w)
			break
		}
		fmt.Fprintf(w, "  %s\n", b)
	}
	if file == "" {
		return nil
	}
	fh, err := os.Create(file)
	if err != nil {
		return fmt.Errorf("--bad-rows: %w", err)
	}
	cw := csv.NewWriter(fh)
	cw.Write([]string{"line", "reason", "row"})
	for _, b := range f.Bad {
		cw.Write([]string{strconv.Itoa(b.Line), b.Reason, b.Text})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		fh.Close()
		return fmt.Errorf("--bad-rows: %w", err)
	}
	if err := fh.Close(); err != nil {
		return fmt.Errorf("--bad-rows: %w", err)
	}
	fmt.Fprintf(w, "all %d bad rows written to %s\n", len(f.Bad), file)
	return nil
}

// reasonKind groups bad-row reasons for the summary: the reason without
// the row's own values.
func reasonKind(reason string) string {
	switch {
	case strings.Contains(reason, "a row needs an account"), strings.Contains(reason, "no account"):
		return "without account"
	case strings.Contains(reason, "decimals"):
		return "finer than the minor unit"
	case strings.Contains(reason, "rounds to 0"):
		return "rounding to 0"
	case strings.Contains(reason, "in the future"):
		return "in the future"
	case strings.Contains(reason, "malformed CSV"), strings.Contains(reason, "fields"):
		return "malformed"
	}
	return "other"
}

// progress draws a one-line progress bar on a terminal: done of total,
// rate and ETA, at most ten times a second. Off a terminal it draws nothing.
type progress struct {
	w            io.Writer
	on           bool
	label, unit  string
	total        int64
	start, drawn time.Time
	mu           sync.Mutex
	n            int64
}

func newProgress(w io.Writer, on bool, label, unit string, total int64) *progress {
	return &progress{w: w, on: on, label: label, unit: unit, total: total, start: time.Now()}
}

func (p *progress) set(n int64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.n = n
	if now := time.Now(); now.Sub(p.drawn) >= 100*time.Millisecond {
		p.drawn = now
		p.draw()
	}
}

func (p *progress) draw() {
	el := time.Since(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.n) / el
	}
	const width = 30
	frac := 0.0
	if p.total > 0 {
		frac = min(float64(p.n)/float64(p.total), 1)
	}
	fill := int(frac * width)
	eta := "?"
	if rate > 0 && p.total > 0 {
		eta = time.Duration(float64(p.total-p.n) / rate * float64(time.Second)).Round(time.Second).String()
	}
	fmt.Fprintf(p.w, "\r%-9s [%s%s] %3.0f%% %d/%d %s  %.0f %s/s  ETA %s   ", p.label,
		strings.Repeat("=", fill), strings.Repeat(" ", width-fill), 100*frac, p.n, p.total, p.unit, rate, p.unit, eta)
}

func (p *progress) done() {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw()
	fmt.Fprintln(p.w)
}
