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
	accounts := fs.Int("accounts", demo.DefaultAccounts, "number of accounts")
	days := fs.Int("days", demo.DefaultDays, "number of business days")
	seed := fs.Int64("seed", 1, "random seed: the same flags give the same events, byte for byte")
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
		sum, err = postEvents(ctx, newAPIClient(*url, *token), func(emit func(*events.Event, int) error) error {
			n := 0
			return demo.Generate(o, func(e *events.Event) error { n++; count(e); return emit(e, n) })
		})
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
		for _, r := range sum.Refused {
			fmt.Fprintln(m.Stderr, "  refused "+r)
		}
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

// appendDemo appends the demo to the stream in order, in chunks whose
// acknowledgements are awaited together.
func appendDemo(ctx context.Context, store *natsstore.Store, o demo.Options, each func(*events.Event)) (*appendSummary, error) {
	a := &chunkAppender{store: store, sum: &appendSummary{}}
	n := 0
	err := demo.Generate(o, func(e *events.Event) error {
		n++
		if each != nil {
			each(e)
		}
		return a.add(ctx, e, fmt.Sprintf("event %d", n))
	})
	if err != nil {
		return a.sum, err
	}
	return a.sum, a.flush(ctx)
}

// chunkAppender appends events straight to the stream, in order, a chunk
// at a time (AppendEach publishes a chunk asynchronously and awaits its
// acknowledgements). Events the log did not acknowledge are retried a few
// times: their ids make a retry safe.
type chunkAppender struct {
	store *natsstore.Store
	sum   *appendSummary
	evs   []*events.Event
	names []string
}

const appendChunk = 2000

func (a *chunkAppender) add(ctx context.Context, e *events.Event, name string) error {
	a.evs = append(a.evs, e)
	a.names = append(a.names, name)
	if len(a.evs) >= appendChunk {
		return a.flush(ctx)
	}
	return nil
}

func (a *chunkAppender) flush(ctx context.Context) error {
	evs, names := a.evs, a.names
	a.evs, a.names = a.evs[:0:0], a.names[:0:0]
	wait := 250 * time.Millisecond
	for attempt := 0; len(evs) > 0; attempt++ {
		res, errs := a.store.AppendEach(ctx, evs)
		var againE []*events.Event
		var againN []string
		for i, err := range errs {
			switch {
			case err == nil && res[i].Duplicate:
				a.sum.Duplicates++
			case err == nil:
				a.sum.Appended++
			case events.ErrorCode(err) == events.EUnavailable && attempt < maxSendAttempts:
				againE, againN = append(againE, evs[i]), append(againN, names[i])
			default:
				a.sum.Refused = append(a.sum.Refused, names[i]+": "+err.Error())
			}
		}
		// A retry may land after later events of the chunk: the projector
		// counts a late event from the next review on. Rare (the log did
		// not answer), and said in the summary as duplicates/appended.
		evs, names = againE, againN
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

// postEvents sends the events that gen makes through a running kam, in
// order, in batches of up to 1000 (and 3 MiB), with per-event results.
// gen's emit takes each event with the number that names it in errors
// (its line in the input).
func postEvents(ctx context.Context, c *apiClient, gen func(emit func(*events.Event, int) error) error) (*appendSummary, error) {
	p := &publisher{client: c, batch: 1000}
	sum := &appendSummary{}
	var (
		raws  []json.RawMessage
		lines []int
		size  int
	)
	flush := func() error {
		if len(raws) == 0 {
			return nil
		}
		err := p.send(ctx, raws, lines, sum)
		raws, lines, size = nil, nil, 0
		return err
	}
	err := gen(func(e *events.Event, line int) error {
		b, err := e.MarshalJSON()
		if err != nil {
			return err
		}
		if size+len(b) > maxBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
		raws = append(raws, b)
		lines = append(lines, line)
		size += len(b) + 1
		sum.Lines++
		if len(raws) >= p.batch {
			return flush()
		}
		return nil
	})
	if err != nil {
		return sum, err
	}
	return sum, flush()
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
