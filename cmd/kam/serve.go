package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	neturl "net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"kam/events"
	"kam/events/natsstore"
	"kam/handlers"
	"kam/projections"
	"kam/web"
)

func init() {
	register(command{name: "serve", usage: "run kam: NATS (embedded or external), projectors and the HTTP API", run: (*Main).serve})
}

// natsFlags are the flags of every command that talks to NATS.
type natsFlags struct {
	url, creds, user, password, nkey string
	tlsCA, tlsCert, tlsKey           string
	stream                           string
}

func (f *natsFlags) register(fs interface {
	StringVar(p *string, name, value, usage string)
}) {
	fs.StringVar(&f.url, "nats-url", "", "external NATS server or cluster URL(s), comma separated; none runs the embedded server")
	fs.StringVar(&f.creds, "nats-creds", "", "NATS credentials file (JWT + nkey seed)")
	fs.StringVar(&f.nkey, "nats-nkey", "", "NATS nkey seed file")
	fs.StringVar(&f.user, "nats-user", "", "NATS user")
	fs.StringVar(&f.password, "nats-password", "", "NATS password")
	fs.StringVar(&f.tlsCA, "nats-tls-ca", "", "CA certificate file to verify the NATS server")
	fs.StringVar(&f.tlsCert, "nats-tls-cert", "", "client certificate file for NATS mutual TLS")
	fs.StringVar(&f.tlsKey, "nats-tls-key", "", "client key file for NATS mutual TLS")
	fs.StringVar(&f.stream, "stream", "KAM", "JetStream stream name")
}

// connect opens a client connection with the flags' security settings.
func (f *natsFlags) connect(url string, log *slog.Logger) (*nats.Conn, error) {
	opts := []nats.Option{
		nats.Name("kam"),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		// No buffer while reconnecting: a publish then fails at once. With
		// one, an append answered with 503 (its acknowledgement timed out)
		// went out after the reconnect and was stored, which a client that
		// sent no id could not retry without storing it twice.
		nats.ReconnectBufSize(-1),
		nats.Timeout(5 * time.Second),
		// A dead server or a cut link is noticed within 15s, not the
		// client's default 4 minutes; drain and socket writes are bounded.
		nats.PingInterval(5 * time.Second),
		nats.MaxPingsOutstanding(3),
		nats.DrainTimeout(10 * time.Second),
		nats.FlusherTimeout(10 * time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", handlers.RedactURL(nc.ConnectedUrl())) }),
	}
	if f.creds != "" {
		opts = append(opts, nats.UserCredentials(f.creds))
	}
	if f.nkey != "" {
		o, err := nats.NkeyOptionFromSeed(f.nkey)
		if err != nil {
			return nil, fmt.Errorf("--nats-nkey: %w", err)
		}
		opts = append(opts, o)
	}
	if f.user != "" {
		opts = append(opts, nats.UserInfo(f.user, f.password))
	}
	if f.tlsCA != "" {
		opts = append(opts, nats.RootCAs(f.tlsCA))
	}
	if f.tlsCert != "" || f.tlsKey != "" {
		opts = append(opts, nats.ClientCert(f.tlsCert, f.tlsKey))
	}
	if f.tlsCA != "" || f.tlsCert != "" {
		opts = append(opts, nats.Secure(&tls.Config{MinVersion: tls.VersionTLS12}))
	}
	nc, err := nats.Connect(url, opts...)
	var ue *neturl.Error
	if errors.As(err, &ue) && strings.Contains(url, "@") {
		// The parser's message quotes the URL, credentials and all (in an
		// escaped form, or a piece of them in an escape it refuses).
		return nil, fmt.Errorf("connect to NATS at %s: the URL cannot be parsed (the parser's message is not shown: it quotes the credentials)",
			handlers.RedactURL(url))
	}
	if err != nil {
		// The client's error may quote the URL itself (a password with a
		// bare % fails to parse, and the parse error shows it all).
		msg := err.Error()
		for _, u := range append(strings.Split(url, ","), url) {
			if u = strings.TrimSpace(u); u != "" {
				msg = strings.ReplaceAll(msg, u, handlers.RedactURL(u))
			}
		}
		return nil, fmt.Errorf("connect to NATS at %s: %s", handlers.RedactURL(url), msg)
	}
	return nc, nil
}

type serveFlags struct {
	nats        natsFlags
	security    securityFlags
	dataDir     string
	natsListen  string
	natsConfig  string
	httpAddr    string
	replicas    int
	duplicates  time.Duration
	syncAlways  bool
	policy      string
	batch       int
	commitEvery time.Duration
	nice        int
	noProject   bool
	rebuild     bool
	noTicks     bool
	logLevel    string
	logFormat   string
	shutdownMax time.Duration
}

func (m *Main) serve(ctx context.Context, args []string) error {
	var f serveFlags
	fs := m.flagSet("serve")
	f.nats.register(fs)
	f.security.register(fs)
	fs.StringVar(&f.dataDir, "data-dir", "./kam-data", "directory for the embedded JetStream store and the SQLite read model")
	fs.StringVar(&f.natsListen, "nats-listen", "127.0.0.1:4222", "client address of the embedded NATS server (loopback by default)")
	fs.StringVar(&f.natsConfig, "nats-config", "", "nats-server configuration file for the embedded server")
	fs.StringVar(&f.httpAddr, "http", "127.0.0.1:8080", "HTTP API address")
	fs.IntVar(&f.replicas, "replicas", 1, "stream replicas (3 on a cluster)")
	fs.DurationVar(&f.duplicates, "duplicates", 24*time.Hour, "JetStream deduplication window")
	fs.BoolVar(&f.syncAlways, "sync-always", false, "embedded server: fsync every message before acknowledging it")
	fs.StringVar(&f.policy, "policy", "", "policy file (JSON; default: the built-in policy, see kam policy)")
	fs.IntVar(&f.batch, "batch", 50000, "most events the projector commits in one transaction")
	fs.DurationVar(&f.commitEvery, "commit-interval", 10*time.Millisecond, "least time between the projector's commits once it has caught up (a reader with min_seq waits this much longer at most; 0: commit every arrival)")
	fs.IntVar(&f.nice, "projector-nice", 10, "the projector applies and writes on threads of this lower OS priority (nice, 1 to 19; 0: the same as the HTTP handlers), so that reads go first (Linux)")
	fs.BoolVar(&f.noProject, "no-projector", false, "ingest only: run no read model")
	fs.BoolVar(&f.rebuild, "rebuild", false, "rebuild the read model from the stream in the background (under --policy), serving the old one until the new one has caught up")
	fs.BoolVar(&f.noTicks, "no-ticks", false, "do not append the daily clock.tick")
	demoOn := fs.Bool("demo", false, "load the demo history (kam demo's defaults, ending yesterday) into an empty stream at start")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.DurationVar(&f.shutdownMax, "shutdown-timeout", 15*time.Second, "how long to wait for requests in flight on shutdown")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile to this file until shutdown (for performance work)")
	memprofile := fs.String("memprofile", "", "write a heap profile (live and allocated since start) to this file at shutdown")
	traceFile := fs.String("trace", "", "write an execution trace to this file until shutdown (go tool trace; about 10 MB a second under load)")
	if err := m.parse(fs, args); err != nil {
		return err
	}
	if f.nice < 0 || f.nice > 19 {
		return fmt.Errorf("--projector-nice %d: want 0 to 19", f.nice)
	}
	if !f.noProject && f.nice > 0 && runtime.GOOS == "linux" {
		moreProcs.Do(func() {
			if os.Getenv("GOMAXPROCS") == "" {
				runtime.GOMAXPROCS(runtime.GOMAXPROCS(0) + 2)
			}
		})
	}
	stopProfiles, err := profiles(*cpuprofile, *memprofile, *traceFile)
	if err != nil {
		return err
	}
	defer stopProfiles()
	log, err := m.logger(f.logLevel, f.logFormat)
	if err != nil {
		return err
	}
	pol, err := projections.LoadPolicy(f.policy)
	if err != nil {
		return err
	}
	met := handlers.NewMetrics()
	guard, err := f.security.guard(f.httpAddr, met, log.With("component", "http"))
	if err != nil {
		return err
	}
	release, err := lockDataDir(f.dataDir)
	if err != nil {
		return err
	}
	defer release()

	// Open in order; close in reverse order through the deferred closers.
	var closers []func()
	defer func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}()

	natsInfo := handlers.NATSInfo{Mode: "external", URL: f.nats.url}
	url := f.nats.url
	if url == "" && !isLoopback(f.natsListen) {
		// The embedded server takes any client unless its configuration
		// says otherwise: anyone who reaches it could read the stream,
		// append past the API's checks, or change the stream's limits.
		if f.natsConfig == "" {
			return fmt.Errorf("--nats-listen %s is not a loopback address and no --nats-config gives the embedded NATS server an authorization block: "+
				"anyone who reaches it could read the stream, append to it and change its limits; give --nats-config FILE with authorization, or listen on loopback", f.natsListen)
		}
		log.Warn("the embedded NATS server listens beyond loopback: its --nats-config must require authorization", "nats_listen", f.natsListen, "config", f.natsConfig)
	}
	if url == "" {
		ns, err := natsstore.RunEmbedded(natsstore.EmbeddedConfig{
			Listen:     f.natsListen,
			StoreDir:   filepath.Join(f.dataDir, "nats"),
			ConfigFile: f.natsConfig,
			SyncAlways: f.syncAlways,
		}, log.With("component", "nats-server"))
		if err != nil {
			return err
		}
		closers = append(closers, func() {
			ns.Shutdown()
			ns.WaitForShutdown()
			log.Info("nats server stopped")
		})
		url = ns.ClientURL()
		natsInfo = handlers.NATSInfo{Mode: "embedded", URL: url}
		log.Info("nats server embedded", "url", url, "store", filepath.Join(f.dataDir, "nats"), "sync_always", f.syncAlways)
	}
	nc, err := f.nats.connect(url, log.With("component", "nats"))
	if err != nil {
		return err
	}
	closers = append(closers, func() {
		if err := nc.Drain(); err != nil {
			nc.Close()
		}
		for nc.IsDraining() {
			time.Sleep(10 * time.Millisecond)
		}
	})
	// A read model that has applied messages of a stream is not continued
	// on a stream created in its place: kam does not create it then.
	var applied uint64
	if !f.noProject {
		if applied, err = projections.StoredAppliedSeq(f.dataDir); err != nil {
			return err
		}
	}
	store, err := openStore(ctx, nc, natsstore.Config{
		Stream: f.nats.stream, Replicas: f.replicas, Duplicates: f.duplicates, MustExist: applied > 0,
	}, log.With("component", "store"))
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("%w; the read model in %s has applied %d of its messages: bring the stream back, or move the read model away "+
			"(kam.db and the kam-<n>.db file it links to) and start kam again, which creates the stream and builds a new model", err, f.dataDir, applied)
	}
	if err != nil {
		return err
	}
	st, err := store.Status(ctx)
	if err != nil {
		return err
	}
	log.Info("stream ready", "stream", st.Name, "last_seq", st.LastSeq, "replicas", st.Replicas,
		"deny_delete", st.DenyDelete, "deny_purge", st.DenyPurge, "duplicates", st.Duplicates)
	if err := m.serveDemo(ctx, *demoOn, store, log); err != nil {
		return err
	}

	var reads handlers.ReadModel
	var svc *projections.Service
	if !f.noProject {
		svc = &projections.Service{
			Policy: pol, Stream: store.StreamName(), Source: projections.StreamSource(store.JetStream(), store.StreamName()),
			Log: log.With("component", "projector"), Opts: projections.RunOptions{MaxBatch: f.batch, CommitInterval: commitInterval(f.commitEvery), Nice: f.nice}, DataDir: f.dataDir,
			LastSeq: func(ctx context.Context) (uint64, error) {
				st, err := store.Status(ctx)
				return st.LastSeq, err
			},
			EventIDAt: func(ctx context.Context, seq uint64) (string, bool, error) {
				st, err := store.ReadSeq(ctx, seq)
				if events.ErrorCode(err) == events.ENotFound {
					return "", false, nil
				}
				if err != nil {
					return "", false, err
				}
				e, err := events.Decode(st.Data, false)
				if err != nil {
					return "", true, nil // not an event: it cannot be the one applied there
				}
				return e.ID, true, nil
			},
		}
		// With --rebuild, a model built under another policy is served under
		// its own until the rebuild under the new one replaces it.
		if err := svc.Start(ctx, f.rebuild); err != nil {
			return err
		}
		closers = append(closers, func() {
			if err := svc.Close(); err != nil {
				log.Warn("close read model", "err", err)
			}
			log.Info("projector stopped", "applied_seq", svc.Status().AppliedSeq)
		})
		reads = svc
		log.Info("read model open", "path", svc.Path(), "policy", svc.CurrentPolicy().ShortVersion(), "applied_seq", svc.Status().AppliedSeq)
		if f.rebuild {
			if _, err := svc.Rebuild(); err != nil {
				return err
			}
		}
	}
	if !f.noTicks {
		tctx, cancel := context.WithCancel(ctx)
		done := make(chan struct{})
		t := &ticker{store: store, now: m.Now, log: log.With("component", "ticker"), delay: 5 * time.Second}
		if svc != nil {
			t.watermark = func(ctx context.Context) (time.Time, bool, error) {
				st, err := store.Status(ctx)
				if err != nil {
					return time.Time{}, false, err
				}
				if err := svc.WaitApplied(ctx, st.LastSeq); err != nil {
					return time.Time{}, false, fmt.Errorf("wait for the read model to apply sequence %d: %w", st.LastSeq, err)
				}
				wm := svc.Status().Watermark
				if wm == "" {
					return time.Time{}, false, nil
				}
				at, err := time.Parse(time.RFC3339Nano, wm)
				return at, err == nil, err
			}
		}
		go func() { defer close(done); t.run(tctx) }()
		closers = append(closers, func() { cancel(); <-done })
	}

	met.WatchProjector(store, reads, nc.IsConnected, log.With("component", "metrics"))
	api := &handlers.Server{
		Log:             met.InstrumentLog(store),
		Reads:           reads,
		Admin:           adminOf(svc),
		Rules:           pol.Rules(),
		FutureTolerance: time.Duration(pol.FutureToleranceSeconds) * time.Second,
		NATS:            natsInfo,
		Now:             m.Now,
		Logger:          log.With("component", "http"),
		Guard:           guard,
		UI:              web.Handler(),
		Metrics:         met.Handler(),
		Ready: handlers.Readiness(handlers.ReadinessConfig{
			Connected: nc.IsConnected, Log: store, Reads: reads, MaxLag: f.security.readyLag, Now: m.Now}),
		MaxBody:  f.security.maxBody,
		MaxBatch: f.security.maxBatch,
	}
	ln, err := net.Listen("tcp", f.httpAddr)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	srv := &http.Server{
		Handler:           api.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()
	streamErr := make(chan error, 1)
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	go watchStream(wctx, store, st.Created, streamErr)
	log.Info("http api listening", "addr", ln.Addr().String())
	if m.Ready != nil {
		m.Ready(Addrs{HTTP: ln.Addr().String(), NATS: url})
	}

	var stop error
	select {
	case <-ctx.Done():
		log.Info("shutting down: no new requests, finishing those in flight")
	case err := <-serveErr:
		return fmt.Errorf("http: %w", err)
	case stop = <-streamErr:
		log.Error("shutting down: the stream is not the one kam started on", "err", stop)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), f.shutdownMax)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("http shutdown", "err", err)
	}
	if err := <-serveErr; err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("http serve", "err", err)
	}
	log.Info("http api stopped")
	return stop
}

// streamCheckEvery is how often a running kam checks that its stream is
// still the one it started on.
var streamCheckEvery = 2 * time.Second

// watchStream reports on errc when the stream was deleted, or deleted and
// created anew under kam (its creation time changed): the projector would
// otherwise follow the new stream from the old model's sequence, while
// appends were answered 201 and never applied. kam stops; at its next start
// the stream check says what to do. (A stream that reports fewer messages
// than the model applied is no reason: a cluster's replicas answer with
// their own, older state while the stream has no leader.)
func watchStream(ctx context.Context, store *natsstore.Store, created time.Time, errc chan<- error) {
	t := time.NewTicker(streamCheckEvery)
	defer t.Stop()
	missing := 0 // checks in a row that found no stream (a cluster may say so in passing)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st, err := store.Status(ctx)
		if errors.Is(err, jetstream.ErrStreamNotFound) {
			if missing++; missing >= 3 {
				errc <- fmt.Errorf("stream %s was deleted", store.StreamName())
				return
			}
			continue
		}
		missing = 0
		if err != nil {
			continue // NATS away: readiness says so; check again later
		}
		if !st.Created.Equal(created) {
			errc <- fmt.Errorf("stream %s was created anew at %s (kam started on the one created at %s)",
				st.Name, st.Created.Format(time.RFC3339Nano), created.Format(time.RFC3339Nano))
			return
		}
	}
}

// adminOf is the admin side of the read model, nil without one (never a
// typed nil in the interface).
func adminOf(svc *projections.Service) handlers.Admin {
	if svc == nil {
		return nil
	}
	return svc
}

// commitInterval maps the flag, where 0 means no interval, to
// RunOptions.CommitInterval, where 0 means the default.
// moreProcs gives Go two processors more than cores, once: the projector's
// applying and writing goroutines, locked to their threads at a lower OS
// priority, hold a processor each while they run (in C too, while SQLite
// commits); with two more, an HTTP handler that becomes ready finds a free
// one, and the OS, which sees the projector's threads niced, runs it first.
// Measured against the same build without both: p99 of account reads under
// ingest 5.5 - 7.9 against 9.2 - 12.1 ms in four alternating pairs
// (BENCHMARKS.md). Linux only, where the threads are niced. Go then no
// longer follows a change of the container's CPU limit while kam runs.
var moreProcs sync.Once

func commitInterval(d time.Duration) time.Duration {
	if d <= 0 {
		return -1
	}
	return d
}
