package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"kam/events/natsstore"
	"kam/projections"
)

func init() {
	register(command{name: "replay", usage: "build a fresh read model from the stream into a new SQLite file", run: (*Main).replay})
}

// streamAccess is a read-only way to a kam stream: through --nats-url, or by
// opening --data-dir's store when no kam runs on it.
type streamAccess struct {
	nats     natsFlags
	dataDir  string
	embedded bool // open started a server in this process
}

func (a *streamAccess) register(fs interface {
	StringVar(p *string, name, value, usage string)
}) {
	a.nats.register(fs)
	fs.StringVar(&a.dataDir, "data-dir", "./kam-data", "data dir whose store to read when no --nats-url is given (no kam may run on it)")
}

// open connects to the stream and returns it with a closer.
func (a *streamAccess) open(ctx context.Context, log *slog.Logger) (jetstream.JetStream, jetstream.Stream, func(), error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	url := a.nats.url
	if url == "" {
		store := filepath.Join(a.dataDir, "nats")
		if _, err := os.Stat(store); err != nil {
			return nil, nil, nil, fmt.Errorf("no store in %s (%v): give --data-dir of a kam, or --nats-url", a.dataDir, err)
		}
		release, err := lockDataDir(a.dataDir)
		if err != nil {
			return nil, nil, nil, err
		}
		closers = append(closers, release)
		ns, err := natsstore.RunEmbedded(natsstore.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: store}, log.With("component", "nats-server"))
		if err != nil {
			closeAll()
			return nil, nil, nil, err
		}
		closers = append(closers, func() { ns.Shutdown(); ns.WaitForShutdown() })
		url = ns.ClientURL()
		a.embedded = true
	}
	nc, err := a.nats.connect(url, log)
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	closers = append(closers, nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		closeAll()
		return nil, nil, nil, err
	}
	s, err := js.Stream(ctx, a.nats.stream)
	if err != nil {
		closeAll()
		return nil, nil, nil, fmt.Errorf("stream %s: %w", a.nats.stream, err)
	}
	return js, s, closeAll, nil
}

// replayBatch is the transaction size of a rebuild: a batch writes each
// touched row once, and the day's reviews touch nearly every account, so
// bigger batches write less (1M events: 45,700 events/s at 50,000, 58,500
// at 100,000; 200,000 was slower under the same heap limit, since the
// collector works harder: BENCHMARKS.md).
const replayBatch = 100000

func (m *Main) replay(ctx context.Context, args []string) error {
	fs := m.flagSet("replay")
	var acc streamAccess
	acc.register(fs)
	into := fs.String("into", "", "the new SQLite file (must not exist)")
	policy := fs.String("policy", "", "policy file (default: the built-in policy)")
	until := fs.String("until", "", "the model as of this moment: the events before it and the reviews of the days closed by it (RFC 3339, or YYYY-MM-DD meaning that day's close)")
	batch := fs.Int("batch", replayBatch, "most events per transaction")
	quiet := fs.Bool("quiet", false, "no progress line")
	memLimit := fs.Int("memory-limit", 440, "MiB: the Go heap's soft limit, collected only when reached, on top of an embedded server's heap (0: Go's defaults; GOGC/GOMEMLIMIT in the environment win)")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file (for performance work)")
	memprofile := fs.String("memprofile", "", "write a heap profile at the end to this file")
	traceFile := fs.String("trace", "", "write an execution trace to this file (go tool trace)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if *into == "" {
		return fmt.Errorf("--into FILE is required")
	}
	if _, err := os.Stat(*into); err == nil {
		return fmt.Errorf("%s exists: replay builds a new file; choose another name or remove it", *into)
	}
	// The model is built under another name and given its own once
	// complete: a replay that is killed leaves INTO.partial, never a file
	// at INTO that kam diff or serve could take for a finished model.
	partial := *into + ".partial"
	if _, err := os.Stat(partial); err == nil {
		return fmt.Errorf("%s exists: an interrupted replay left it, or another one is building it; remove it (and its -wal and -shm) first", partial)
	}
	pol, err := projections.LoadPolicy(*policy)
	if err != nil {
		return err
	}
	opts := projections.RunOptions{MaxBatch: *batch}
	if *until != "" {
		t, err := projections.ParseMoment(*until)
		if err != nil {
			return fmt.Errorf("--until: %w", err)
		}
		opts.Until = t
	}
	stopProfiles, err := profiles(*cpuprofile, *memprofile, *traceFile)
	if err != nil {
		return err
	}
	defer stopProfiles()
	log := slog.New(slog.NewTextHandler(m.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	js, stream, closeStream, err := acc.open(ctx, log)
	if err != nil {
		return err
	}
	defer closeStream()
	acc.setMemoryLimit(*memLimit)
	info, err := stream.Info(ctx)
	if err != nil {
		return err
	}
	last := info.State.LastSeq
	res, err := buildReadModel(ctx, js, acc.nats.stream, partial, pol, last, opts, progressWriter(m, *quiet), log)
	if err != nil {
		removeModel(partial)
		return err
	}
	// Closed, the model is one file (SQLite folds the WAL back in); a link
	// gives it its name unless something took the name meanwhile.
	if st, err := os.Stat(partial + "-wal"); err == nil && st.Size() > 0 {
		return fmt.Errorf("the model in %s still has a write-ahead log after closing; it was not given the name %s", partial, *into)
	}
	if err := os.Link(partial, *into); err != nil {
		return fmt.Errorf("the model is complete in %s, but it could not be named %s: %w", partial, *into, err)
	}
	removeModel(partial)
	fmt.Fprintf(m.Stdout, "replayed %s up to sequence %d into %s: %d events applied, %d set aside, %.1fs (%.0f events/s), policy %s, peak RSS %s\n",
		acc.nats.stream, res.Status.AppliedSeq, *into, res.Status.Applied, res.Status.Rejected, res.Took.Seconds(),
		float64(res.Status.AppliedSeq)/res.Took.Seconds(), pol.ShortVersion(), peakRSS())
	return nil
}

// removeModel removes a read model's file and its WAL and shared memory.
func removeModel(path string) {
	for _, suffix := range []string{"", "-wal", "-shm"} {
		os.Remove(path + suffix)
	}
}

// buildResult is what a build did.
type buildResult struct {
	Status projections.Status
	Took   time.Duration
}

// buildReadModel projects the stream into a new file up to sequence last.
func buildReadModel(ctx context.Context, js jetstream.JetStream, stream, path string, pol *projections.Policy, last uint64,
	opts projections.RunOptions, progress io.Writer, log *slog.Logger) (buildResult, error) {
	start := time.Now()
	db, err := projections.OpenDB(path)
	if err != nil {
		return buildResult{}, err
	}
	defer db.Close()
	p, err := projections.Open(ctx, db, pol, stream, log)
	if err != nil {
		return buildResult{}, err
	}
	if last > 0 {
		// Nothing reads or continues the file before the build is complete.
		opts.StopAt, opts.DeferAccountRows = last, true
		if progress != nil {
			opts.Progress = func(applied uint64) {
				el := time.Since(start).Seconds()
				rate := float64(applied) / el
				eta := time.Duration(float64(last-min(applied, last))/rate) * time.Second
				fmt.Fprintf(progress, "\r%d / %d events (%.0f%%), %.0f/s, ETA %s   ", applied, last,
					100*float64(applied)/float64(last), rate, eta.Round(time.Second))
			}
		}
		if err := p.Run(ctx, projections.StreamSource(js, stream), opts); err != nil {
			return buildResult{}, err
		}
		if progress != nil {
			fmt.Fprintln(progress)
		}
	}
	return buildResult{Status: p.Status(), Took: time.Since(start)}, nil
}

// progressWriter is where progress lines go: stderr when it is a terminal.
func progressWriter(m *Main, quiet bool) io.Writer {
	if quiet || !m.terminal() {
		return nil
	}
	return m.Stderr
}

// peakRSS reads this process's peak resident set (VmHWM) from /proc, which,
// unlike a child's rusage, does not count its parent's memory before exec.
func peakRSS() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			if _, err := fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb); err == nil {
				return fmt.Sprintf("%d MiB", kb/1024)
			}
		}
	}
	return "unknown"
}

// setMemoryLimit makes a batch build collect garbage only when its heap
// reaches limit MiB: a replay's live data (the model) is much smaller than
// what it allocates on the way, so collecting at a fixed ceiling instead of
// at every doubling saves a fifth of its time (BENCHMARKS.md). GOGC or
// GOMEMLIMIT in the environment win.
//
// A server that open embedded in this process holds a heap of its own: the
// ids of the deduplication window (180 MiB for a million events appended
// within it) and the blocks it reads. The limit comes on top of what that
// heap is once the server has started: counted in the limit, the server left
// the build too little room and the collector ran nearly all the time (a
// replay of a million events took 2.5 times as long).
func (a *streamAccess) setMemoryLimit(mib int) {
	if mib <= 0 || os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	limit := int64(mib) << 20
	if a.embedded {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		limit += int64(ms.HeapAlloc)
	}
	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(-1)
}
