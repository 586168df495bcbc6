package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"time"

	"kam/demo"
	"kam/events"
	"kam/events/natsstore"
)

func init() {
	register(command{name: "demo", usage: "generate a realistic demo history: NDJSON, or appended over HTTP or NATS", run: (*Main).demo})
}

func (m *Main) demo(ctx context.Context, args []string) error {
	fs := m.flagSet("demo")
	var nf natsFlags
	nf.register(fs)
	fs.Lookup("nats-url").Usage = "append straight to the stream on this NATS server or cluster"
	accounts := fs.Int("accounts", demo.DefaultAccounts, "number of accounts")
	days := fs.Int("days", demo.DefaultDays, "number of business days")
	seed := fs.Int64("seed", 1, "random seed: the same flags and --end give the same events, byte for byte")
	endDay := fs.String("end", "", "last business day, YYYY-MM-DD (default: yesterday, UTC, so that a kam accepts every event)")
	url := fs.String("url", "", "append through a running kam at this HTTP address")
	token := fs.String("token", "", "API token (Authorization: Bearer), with --url")
	out := fs.String("o", "", "write NDJSON to FILE, - for stdout (the default when neither --url nor --nats-url is given)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q: kam demo takes flags only", fs.Arg(0))
	}
	// 0 means the default to demo.Generate, not to someone who typed it.
	if *accounts < 1 {
		return fmt.Errorf("--accounts %d: want at least 1", *accounts)
	}
	if *days < 1 {
		return fmt.Errorf("--days %d: want at least 1", *days)
	}
	o := demo.Options{Accounts: *accounts, Days: *days, Seed: *seed}
	if *endDay == "" {
		o.End = yesterday(m.Now())
	} else {
		t, err := time.Parse(time.DateOnly, *endDay)
		if err != nil {
			return fmt.Errorf("--end %q: want a date YYYY-MM-DD", *endDay)
		}
		o.End = t
	}
	targets := 0
	for _, s := range []string{*url, nf.url, *out} {
		if s != "" {
			targets++
		}
	}
	if targets > 1 {
		return fmt.Errorf("give one of --url, --nats-url and -o, not several")
	}
	progress := newProgress(m.Stderr, m.terminal(), "demo", "days", int64(o.Days))
	start := time.Now()
	var (
		sum *appendSummary
		err error
	)
	counts := map[string]int{}
	first := o.End.AddDate(0, 0, -(o.Days - 1))
	count := func(e *events.Event) {
		counts[e.Type]++
		progress.set(min(int64(e.Time.Sub(first)/(24*time.Hour))+1, int64(o.Days)))
	}
	switch {
	case *url != "":
		a := newHTTPAppender(newAPIClient(*url, *token))
		n := 0
		err = demo.Generate(o, func(e *events.Event) error { n++; count(e); return a.add(ctx, e, n) })
		if err == nil {
			err = a.flush(ctx)
		}
		sum = a.sum
	case nf.url != "":
		log := slog.New(slog.DiscardHandler)
		nc, cerr := nf.connect(nf.url, log)
		if cerr != nil {
			return cerr
		}
		defer nc.Close()
		store, oerr := natsstore.Open(ctx, nc, natsstore.Config{Stream: nf.stream}, log)
		if oerr != nil {
			return oerr
		}
		if st, serr := store.Status(ctx); serr == nil && st.Messages > 0 {
			fmt.Fprintf(m.Stderr, "kam demo: warning: stream %s already holds %d events; the demo is appended after them\n", st.Name, st.Messages)
		}
		sum, err = appendDemo(ctx, store, o, count)
	default:
		w := m.Stdout
		if *out != "" && *out != "-" {
			f, ferr := os.Create(*out)
			if ferr != nil {
				return ferr
			}
			defer f.Close()
			w = f
		}
		sum, err = writeDemo(w, o, count)
	}
	progress.done()
	if err != nil {
		return err
	}
	types := make([]string, 0, len(counts))
	total := 0
	for t, n := range counts {
		types = append(types, fmt.Sprintf("%s %d", t, n))
		total += n
	}
	sort.Strings(types)
	fmt.Fprintf(m.Stderr, "demo: %d events for %d accounts over %d days ending %s, seed %d, in %s\n  %s\n",
		total, o.Accounts, o.Days, o.End.Format(time.DateOnly), o.Seed, time.Since(start).Round(time.Millisecond), strings.Join(types, ", "))
	if *url != "" || nf.url != "" {
		fmt.Fprintf(m.Stderr, "  appended %d, duplicates %d, refused %d\n", sum.Appended, sum.Duplicates, len(sum.Refused))
		listRefused(m.Stderr, sum.Refused, 20)
		if len(sum.Refused) > 0 {
			return &exitError{code: 1, msg: fmt.Sprintf("kam demo: %d events refused", len(sum.Refused))}
		}
	}
	return nil
}

// yesterday is the UTC midnight that starts the day before now's.
func yesterday(now time.Time) time.Time {
	return now.UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
}

// writeDemo writes the demo as NDJSON.
func writeDemo(w io.Writer, o demo.Options, each func(*events.Event)) (*appendSummary, error) {
	bw := bufio.NewWriterSize(w, 1<<20)
	err := demo.Generate(o, func(e *events.Event) error {
		each(e)
		b, err := e.MarshalJSON()
		if err != nil {
			return err
		}
		bw.Write(b)
		return bw.WriteByte('\n')
	})
	if err != nil {
		return nil, err
	}
	return &appendSummary{}, bw.Flush()
}

// appendSummary counts what an append of many events did.
type appendSummary = publishSummary

// appendDemo appends the demo to the stream in order.
func appendDemo(ctx context.Context, store *natsstore.Store, o demo.Options, each func(*events.Event)) (*appendSummary, error) {
	a := newStoreAppender(store)
	n := 0
	err := demo.Generate(o, func(e *events.Event) error {
		n++
		if each != nil {
			each(e)
		}
		return a.add(ctx, e, n)
	})
	if err != nil {
		return a.sum, err
	}
	return a.sum, a.flush(ctx)
}

// appender appends events in order, in batches, through a running kam
// (HTTP, the publisher's batches with per-event results) or straight to the
// stream (AppendEach, a chunk of asynchronous publishes at a time), and
// counts what happened. Each event comes with its line: where it is in the
// input (0 for none), which names it in refusals.
type appender struct {
	post  *publisher       // through kam, or
	store *natsstore.Store // straight to the stream
	sum   *appendSummary
	evs   []*events.Event   // the batch, for the stream
	raws  []json.RawMessage // the batch, for kam
	lines []int
	size  int
	// stopIfAllRefused: when every event of the first batch is refused,
	// the rest would be too (another currency, say): stop there.
	stopIfAllRefused bool
	batches          int
}

func newHTTPAppender(c *apiClient) *appender {
	return &appender{post: &publisher{client: c, batch: 1000}, sum: &appendSummary{}}
}

func newStoreAppender(store *natsstore.Store) *appender {
	return &appender{store: store, sum: &appendSummary{}}
}

// storeChunk is how many events one AppendEach publishes before awaiting
// their acknowledgements.
const storeChunk = 2000

func (a *appender) add(ctx context.Context, e *events.Event, line int) error {
	a.sum.Lines++
	if a.post != nil {
		b, err := e.MarshalJSON()
		if err != nil {
			return err
		}
		if a.post.full(len(a.raws), a.size, len(b)) {
			if err := a.flush(ctx); err != nil {
				return err
			}
		}
		a.size += len(b) + 1
		a.raws = append(a.raws, b)
	} else {
		a.evs = append(a.evs, e)
	}
	a.lines = append(a.lines, line)
	if a.post == nil && len(a.evs) >= storeChunk {
		return a.flush(ctx)
	}
	return nil
}

func (a *appender) flush(ctx context.Context) error {
	if len(a.lines) == 0 {
		return nil
	}
	evs, raws, lines := a.evs, a.raws, a.lines
	a.evs, a.raws, a.lines, a.size = nil, nil, nil, 0
	refused := len(a.sum.Refused)
	var err error
	if a.post != nil {
		err = a.post.send(ctx, raws, lines, a.sum)
	} else {
		err = a.appendEach(ctx, evs, lines)
	}
	if err != nil {
		return err
	}
	a.batches++
	if a.stopIfAllRefused && a.batches == 1 && len(a.sum.Refused)-refused == len(lines) {
		return fmt.Errorf("every event of the first batch was refused, so the rest is not sent; the first: %s", a.sum.Refused[refused])
	}
	return nil
}

// appendEach appends a chunk straight to the stream. Events the log did not
// acknowledge are sent again a few times: their ids make that safe. (A
// resent event may land after later ones of its chunk; the projector counts
// a late event from the next review on.)
func (a *appender) appendEach(ctx context.Context, evs []*events.Event, lines []int) error {
	wait := 250 * time.Millisecond
	for attempt := 0; len(evs) > 0; attempt++ {
		res, errs := a.store.AppendEach(ctx, evs)
		var againE []*events.Event
		var againL []int
		for i, err := range errs {
			switch {
			case err == nil && res[i].Duplicate:
				a.sum.Duplicates++
			case err == nil:
				a.sum.Appended++
			case events.ErrorCode(err) == events.EUnavailable && attempt < maxSendAttempts:
				againE, againL = append(againE, evs[i]), append(againL, lines[i])
			default:
				a.sum.Refused = append(a.sum.Refused, fmt.Sprintf("line %d: %v", lines[i], err))
			}
		}
		evs, lines = againE, againL
		if len(evs) > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return ctx.Err()
			}
			wait = min(2*wait, 5*time.Second)
		}
	}
	return nil
}

// loadDemo appends the demo history to an empty stream, for kam serve
// --demo. A stream that holds any event is left alone, with a log line.
func loadDemo(ctx context.Context, store *natsstore.Store, o demo.Options, log *slog.Logger) error {
	st, err := store.Status(ctx)
	if err != nil {
		return err
	}
	if st.Messages > 0 {
		log.Info("demo not loaded: the stream already holds events", "stream", st.Name, "messages", st.Messages)
		return nil
	}
	start := time.Now()
	sum, err := appendDemo(ctx, store, o, nil)
	if err != nil {
		return fmt.Errorf("load the demo: %w", err)
	}
	if len(sum.Refused) > 0 {
		return fmt.Errorf("load the demo: %d events refused, the first: %s", len(sum.Refused), sum.Refused[0])
	}
	log.Info("demo loaded", "events", sum.Appended, "accounts", o.Accounts, "days", o.Days,
		"end", o.End.Format(time.DateOnly), "seed", o.Seed, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// serveDemo is kam serve --demo: the default demo, ending yesterday.
func (m *Main) serveDemo(ctx context.Context, on bool, store *natsstore.Store, log *slog.Logger) error {
	if !on {
		return nil
	}
	return loadDemo(ctx, store, demo.Options{Accounts: demo.DefaultAccounts, Days: demo.DefaultDays, Seed: 1, End: yesterday(m.Now())},
		log.With("component", "demo"))
}
