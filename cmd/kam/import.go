package main

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	neturl "net/url"
	"os"
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
	force := fs.Bool("force", false, "send every event even when the file's last event is in the stream already (JetStream still drops the ids it remembers)")
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

	// A file imported before is found by its last row's event, whatever
	// JetStream's deduplication window remembers. Rounding brings in rows
	// that an import without it left out: the last rounded row's event
	// must be there too.
	probes := []int{len(file.Rows) - 1}
	for i := len(file.Rows) - 1; i >= 0; i-- {
		if file.Rows[i].Rounded {
			probes = append(probes, i)
			break
		}
	}
	imported := func(has func(account, id string) (uint64, error)) (bool, error) {
		var seqs []string
		for _, i := range probes {
			seq, err := has(file.Rows[i].Account, evs[i].ID)
			if err != nil || seq == 0 {
				return false, err
			}
			seqs = append(seqs, fmt.Sprintf("%s at sequence %d", evs[i].ID, seq))
		}
		fmt.Fprintf(out, "already imported: the stream holds %s; nothing appended (--force sends it all again)\n", strings.Join(seqs, " and "))
		return true, nil
	}
	var a *appender
	rows := int64(len(file.Rows))
	send := newProgress(m.Stderr, m.terminal(), "appending", "rows", rows)
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
		if !*force {
			if done, err := imported(func(account, id string) (uint64, error) { return storeHas(ctx, store, account, id) }); err != nil || done {
				return err
			}
		}
		if last, ok, err := store.LastBusinessTime(ctx); err == nil && ok {
			warnLate(m.Stderr, evs, last, "the stream's last business event")
		}
		a = newStoreAppender(store)
	} else {
		c := newAPIClient(*url, *token)
		var st struct {
			Projector *struct {
				Watermark string `json:"watermark"`
			} `json:"projector"`
		}
		if _, _, err := c.do(ctx, http.MethodGet, "/v1/status", nil, &st); err != nil {
			return fmt.Errorf("kam at %s: %w", *url, err)
		}
		if !*force {
			if done, err := imported(func(account, id string) (uint64, error) { return apiHas(ctx, c, account, id) }); err != nil || done {
				return err
			}
		}
		if st.Projector != nil && st.Projector.Watermark != "" {
			if wm, err := time.Parse(time.RFC3339Nano, st.Projector.Watermark); err == nil {
				warnLate(m.Stderr, evs, wm, "the read model's watermark")
			}
		}
		a = newHTTPAppender(c)
	}
	a.stopIfAllRefused = true
	rowEvents, tick := evs[:len(file.Rows)], evs[len(file.Rows):]
	for i, e := range rowEvents {
		if err := a.add(ctx, e, file.Rows[i].Line); err != nil {
			return err
		}
		send.set(int64(i + 1))
	}
	if err := a.flush(ctx); err != nil {
		return err
	}
	sum := a.sum
	// The closing tick only after rows that made it into the stream: a
	// tick in a stream without them would make all later history late.
	if len(tick) > 0 && sum.Appended+sum.Duplicates > 0 {
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
		sum.Appended, sum.Duplicates, len(sum.Refused), len(evs), took.Round(time.Millisecond), float64(len(evs))/took.Seconds())
	listRefused(out, sum.Refused, *showBad)
	if len(sum.Refused) > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("kam import: %d events refused", len(sum.Refused))}
	}
	return nil
}

// storeHas returns the sequence of the account's event with id, 0 if none.
func storeHas(ctx context.Context, store *natsstore.Store, account, id string) (uint64, error) {
	var after uint64
	for {
		page, err := store.ReadAccount(ctx, account, after, 1000)
		if err != nil || len(page) == 0 {
			return 0, err
		}
		for _, st := range page {
			if e, err := events.Decode(st.Data, false); err == nil && e.ID == id {
				return st.Seq, nil
			}
			after = st.Seq
		}
	}
}

// apiHas is storeHas through a running kam's GET /v1/events.
func apiHas(ctx context.Context, c *apiClient, account, id string) (uint64, error) {
	var after uint64
	for {
		var page struct {
			Events []struct {
				Seq uint64 `json:"seq"`
				ID  string `json:"id"`
			} `json:"events"`
		}
		path := fmt.Sprintf("/v1/events?account=%s&after=%d&limit=1000", neturl.QueryEscape(account), after)
		if _, _, err := c.do(ctx, http.MethodGet, path, nil, &page); err != nil {
			return 0, fmt.Errorf("read the events of account %q: %w", account, err)
		}
		if len(page.Events) == 0 {
			return 0, nil
		}
		for _, e := range page.Events {
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
