// Package e2e holds kam's tests with real processes, where the point is a
// real failure: nats-server nodes killed and restarted, a three-node
// JetStream cluster, a kam process killed under load. TestMain builds the kam
// binary (with -race when the tests run with it) and nats-server, at the
// version go.mod names, from the module cache.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var bin struct {
	kam, natsServer string
}

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	flag.Parse()
	dir, err := os.MkdirTemp("", "kam-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	if err := statSources(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	bin.kam = filepath.Join(dir, "kam")
	bin.natsServer = filepath.Join(dir, "nats-server")
	kamArgs := []string{"build", "-o", bin.kam}
	if raceEnabled {
		kamArgs = append(kamArgs, "-race")
	}
	for _, args := range [][]string{
		append(kamArgs, "kam/cmd/kam"),
		{"build", "-o", bin.natsServer, "github.com/nats-io/nats-server/v2"},
	} {
		start := time.Now()
		cmd := exec.Command("go", args...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			fmt.Fprintf(os.Stderr, "go %s: %v\n%s", strings.Join(args, " "), err, out)
			return 1
		}
		if testing.Verbose() {
			fmt.Fprintf(os.Stderr, "e2e: go %s (%s)\n", strings.Join(args, " "), time.Since(start).Round(time.Millisecond))
		}
	}
	return m.Run()
}

// statSources stats every Go file of the module, so that go test's result
// cache knows these tests depend on them (the binaries are built by a
// subprocess, whose reads the cache does not see).
func statSources() error {
	root, err := filepath.Abs("..")
	if err != nil {
		return err
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "node_modules") && p != root {
			return filepath.SkipDir
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".go") || strings.HasSuffix(p, ".sql") || d.Name() == "go.mod" || d.Name() == "go.sum") {
			_, err := os.Stat(p)
			return err
		}
		return nil
	})
}

// checkFor calls f every sleep until it returns nil or timeout passes, then
// fails the test with f's last error.
func checkFor(t testing.TB, timeout, sleep time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %v", timeout, err)
		}
		time.Sleep(sleep)
	}
}

// freePorts returns n distinct free loopback ports, below the kernel's
// ephemeral range: a port from that range, free now, could be taken by an
// outgoing connection (a route dialing a peer) before its server listens.
func freePorts(t testing.TB, n int) []int {
	t.Helper()
	lo, hi := 10000, 32767
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		var elo, ehi int
		if _, err := fmt.Sscan(string(b), &elo, &ehi); err == nil && elo > lo+1000 {
			hi = elo - 1
		}
	}
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries > 1000 {
			t.Fatalf("no %d free ports in %d-%d", n, lo, hi)
		}
		p := lo + rand.IntN(hi-lo+1)
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
		if err != nil {
			continue
		}
		ls = append(ls, l)
		ports = append(ports, p)
	}
	return ports
}

// proc is a process the test started; its output goes to a file.
type proc struct {
	t       testing.TB
	name    string
	args    []string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{}
	err     error // of Wait, once done is closed
}

// startProc starts path with args; the process is killed when the test ends
// (or, through Pdeathsig, when the test binary dies).
func startProc(t testing.TB, name, logPath, path string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, args: args, logPath: logPath}
	p.start(path)
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- last lines of %s (%s):\n%s", name, logPath, tail(logPath, 40))
		}
	})
	return p
}

func (p *proc) start(path string) {
	p.t.Helper()
	f, err := os.OpenFile(p.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		p.t.Fatal(err)
	}
	fmt.Fprintf(f, "=== %s %s %s\n", time.Now().Format(time.RFC3339Nano), path, strings.Join(p.args, " "))
	cmd := exec.Command(path, p.args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		p.t.Fatalf("start %s: %v", p.name, err)
	}
	p.cmd, p.done, p.err = cmd, make(chan struct{}), nil
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return p.cmd != nil
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *proc) kill() {
	if p.cmd == nil {
		return
	}
	if p.running() {
		_ = p.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-p.done
}

// stop sends SIGTERM and waits up to timeout for a clean exit.
func (p *proc) stop(timeout time.Duration) error {
	p.t.Helper()
	if !p.running() {
		return fmt.Errorf("%s is not running: %v", p.name, p.err)
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(timeout):
		p.kill()
		return fmt.Errorf("%s did not stop within %s of SIGTERM", p.name, timeout)
	}
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// natsNode is one nats-server process with JetStream, standalone or in a
// cluster, restartable on the same ports and store.
type natsNode struct {
	*proc
	name       string
	clientPort int
	conf       string
}

func (n *natsNode) url() string { return fmt.Sprintf("nats://127.0.0.1:%d", n.clientPort) }

// startNATS writes a nats-server config for each node and starts them:
// one node is standalone; several form a cluster with routes to each other.
func startNATS(t testing.TB, dir string, nodes int) []*natsNode {
	t.Helper()
	ports := freePorts(t, 2*nodes)
	var routes []string
	for i := range nodes {
		routes = append(routes, fmt.Sprintf("nats-route://127.0.0.1:%d", ports[nodes+i]))
	}
	out := make([]*natsNode, nodes)
	for i := range nodes {
		name := fmt.Sprintf("n%d", i+1)
		conf := fmt.Sprintf("server_name: %s\nlisten: \"127.0.0.1:%d\"\njetstream { store_dir: %q }\n",
			name, ports[i], filepath.Join(dir, name, "js"))
		if nodes > 1 {
			conf += fmt.Sprintf("cluster {\n  name: kam-e2e\n  listen: \"127.0.0.1:%d\"\n  routes: [%s]\n}\n",
				ports[nodes+i], strings.Join(routes, ", "))
		}
		if err := os.MkdirAll(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dir, name, "nats.conf")
		if err := os.WriteFile(file, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		out[i] = &natsNode{name: name, clientPort: ports[i], conf: file}
		out[i].proc = startProc(t, "nats-server "+name, filepath.Join(dir, name, "log"), bin.natsServer, "-c", file)
	}
	for _, n := range out {
		n.waitListening(t)
	}
	return out
}

func (n *natsNode) waitListening(t testing.TB) {
	t.Helper()
	checkFor(t, 30*time.Second, 20*time.Millisecond, func() error {
		if !n.running() {
			t.Fatalf("%s exited: %v\n%s", n.name, n.err, tail(n.logPath, 20))
		}
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", n.clientPort), time.Second)
		if err != nil {
			return err
		}
		return c.Close()
	})
}

// restart starts the node again with its config (same ports, same store).
func (n *natsNode) restart(t testing.TB) {
	t.Helper()
	n.proc.start(bin.natsServer)
	n.waitListening(t)
}

// kamProc is a kam serve process.
type kamProc struct {
	*proc
	dataDir string
	extra   []string
	http    string // host:port, read from its log
}

// startKamProc runs kam serve on dataDir with a free HTTP port and waits
// until its API listens.
func startKamProc(t testing.TB, name, dataDir string, extra ...string) *kamProc {
	t.Helper()
	k := &kamProc{dataDir: dataDir, extra: extra}
	args := append([]string{"serve", "--data-dir", dataDir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1",
		"--log-format", "json", "--no-ticks"}, extra...)
	k.proc = startProc(t, name, dataDir+".log", bin.kam, args...)
	k.waitListening(t)
	return k
}

// restart starts kam again on the same data dir (a new HTTP port).
func (k *kamProc) restart(t testing.TB) {
	t.Helper()
	k.proc.start(bin.kam)
	k.waitListening(t)
}

// waitListening reads the log until this run's "http api listening" line.
func (k *kamProc) waitListening(t testing.TB) {
	t.Helper()
	k.http = ""
	checkFor(t, 90*time.Second, 20*time.Millisecond, func() error {
		if !k.running() {
			t.Fatalf("%s exited before listening: %v\n%s", k.name, k.err, tail(k.logPath, 30))
		}
		f, err := os.Open(k.logPath)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		addr := ""
		for sc.Scan() {
			line := sc.Bytes()
			if bytes.HasPrefix(line, []byte("=== ")) {
				addr = "" // a new run starts
				continue
			}
			var l struct {
				Msg  string `json:"msg"`
				Addr string `json:"addr"`
			}
			if json.Unmarshal(line, &l) == nil && l.Msg == "http api listening" {
				addr = l.Addr
			}
		}
		if addr == "" {
			return errors.New(k.name + " is not listening yet")
		}
		k.http = addr
		return nil
	})
}

func (k *kamProc) url(path string) string { return "http://" + k.http + path }

var httpClient = &http.Client{Timeout: 20 * time.Second}

// getJSON GETs a path of kam and decodes the answer.
func getJSON(ctx context.Context, url string, out any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode != 200 {
		return resp.StatusCode, fmt.Errorf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return resp.StatusCode, json.Unmarshal(b, out)
}

// kamStatus is the part of /v1/status the tests read.
type kamStatus struct {
	Stream struct {
		LastSeq  uint64 `json:"last_seq"`
		Messages uint64 `json:"messages"`
		Replicas int    `json:"replicas"`
		Leader   string `json:"leader"`
	} `json:"stream"`
	Projector struct {
		AppliedSeq uint64 `json:"applied_seq"`
		Lag        uint64 `json:"lag"`
	} `json:"projector"`
}

func (k *kamProc) status() (kamStatus, error) {
	var st kamStatus
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := getJSON(ctx, k.url("/v1/status"), &st)
	return st, err
}

// waitCaughtUp waits until k's read model has applied the stream's last
// sequence, at least last.
func (k *kamProc) waitCaughtUp(t testing.TB, last uint64, timeout time.Duration) kamStatus {
	t.Helper()
	var st kamStatus
	checkFor(t, timeout, 50*time.Millisecond, func() error {
		var err error
		if st, err = k.status(); err != nil {
			return err
		}
		if st.Stream.LastSeq < last || st.Projector.AppliedSeq != st.Stream.LastSeq {
			return fmt.Errorf("%s: applied %d of %d, want %d", k.name, st.Projector.AppliedSeq, st.Stream.LastSeq, last)
		}
		return nil
	})
	return st
}

// storedIDs reads the whole stream through kam's API: each event id with
// the number of times it is stored.
func (k *kamProc) storedIDs(t testing.TB) map[string]int {
	t.Helper()
	ids := map[string]int{}
	after := uint64(0)
	for {
		var page struct {
			Events []struct {
				Seq uint64 `json:"seq"`
				ID  string `json:"id"`
			} `json:"events"`
			NextAfter uint64 `json:"next_after"`
		}
		var err error
		checkFor(t, 30*time.Second, 100*time.Millisecond, func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			_, err = getJSON(ctx, k.url(fmt.Sprintf("/v1/events?after=%d&limit=1000", after)), &page)
			return err
		})
		if len(page.Events) == 0 {
			return ids
		}
		for _, e := range page.Events {
			ids[e.ID]++
		}
		after = page.NextAfter
	}
}

// metric returns the value of one sample line of k's /metrics (name with
// its labels as Prometheus prints them), 0 if absent.
func (k *kamProc) metric(t testing.TB, sample string) float64 {
	t.Helper()
	resp, err := httpClient.Get(k.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			var v float64
			fmt.Sscan(rest, &v)
			return v
		}
	}
	return 0
}

// outcome is what one POST /v1/events got.
type outcome struct {
	at         time.Time
	status     int // 0: no answer (connection refused or reset)
	retryAfter string
	err        string
}

// loader appends batches of unique events through kam's API from several
// workers, as a well-behaved client does: a batch that is not acknowledged
// is sent again, with the same ids, after Retry-After.
type loader struct {
	target  func() string // kam's base URL now
	workers int
	maxSize int

	mu       sync.Mutex
	acked    map[string]bool
	sent     map[string]bool
	outcomes []outcome
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

func newLoader(target func() string, workers, maxSize int) *loader {
	return &loader{target: target, workers: workers, maxSize: maxSize, acked: map[string]bool{}, sent: map[string]bool{}}
}

// event is an order or a visit of one of 50 accounts, at a business time
// that moves one hour per event of the worker, so that days close as the
// load goes on.
func event(w, n int) map[string]any {
	id := fmt.Sprintf("w%d-%06d", w, n)
	acct := fmt.Sprintf("ACCT-%02d", (n*7+w*13)%50)
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(n) * time.Hour).Add(time.Duration(w) * time.Minute)
	if n%5 == 4 {
		return map[string]any{"id": id, "source": "e2e", "type": "visit.logged", "subject": acct, "time": at.Format(time.RFC3339),
			"data": map[string]any{"visit_id": id, "rep": "rep", "contact": map[string]any{"name": "Ann", "role": "decision_maker"}}}
	}
	return map[string]any{"id": id, "source": "e2e", "type": "order.placed", "subject": acct, "time": at.Format(time.RFC3339),
		"data": map[string]any{"order_id": id, "amount": fmt.Sprintf("%d.%02d", 10+(n*31+w)%900, n%100)}}
}

func (l *loader) start() {
	ctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	for w := range l.workers {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			n := 0
			for b := 0; ctx.Err() == nil; b++ {
				size := 1 + (b*7+w)%l.maxSize
				batch := make([]map[string]any, size)
				ids := make([]string, size)
				for i := range batch {
					batch[i] = event(w, n)
					ids[i] = batch[i]["id"].(string)
					n++
				}
				l.send(ctx, batch, ids)
			}
		}()
	}
}

// send posts one batch until it is acknowledged, or the load stops (a
// batch in flight then is finished first, for at most 30s).
func (l *loader) send(ctx context.Context, batch []map[string]any, ids []string) {
	body, _ := json.Marshal(batch)
	deadline := time.Time{}
	for {
		if ctx.Err() != nil {
			if deadline.IsZero() {
				deadline = time.Now().Add(30 * time.Second)
			} else if time.Now().After(deadline) {
				return
			}
		}
		l.mu.Lock()
		for _, id := range ids {
			l.sent[id] = true
		}
		l.mu.Unlock()
		o := outcome{}
		resp, err := httpClient.Post(l.target()+"/v1/events", "application/json", bytes.NewReader(body))
		o.at = time.Now()
		wait := 100 * time.Millisecond
		if err != nil {
			o.err = err.Error()
		} else {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			o.status, o.retryAfter = resp.StatusCode, resp.Header.Get("Retry-After")
			if o.status != http.StatusCreated {
				o.err = string(b)
			}
			if o.retryAfter != "" {
				var s int
				fmt.Sscan(o.retryAfter, &s)
				wait = time.Duration(s) * time.Second
			}
		}
		l.mu.Lock()
		l.outcomes = append(l.outcomes, o)
		if o.status == http.StatusCreated {
			for _, id := range ids {
				l.acked[id] = true
			}
		}
		l.mu.Unlock()
		if o.status == http.StatusCreated {
			return
		}
		if o.status != 0 && o.status != http.StatusServiceUnavailable {
			return // counted as unexpected by the test
		}
		time.Sleep(wait)
	}
}

func (l *loader) stop() {
	l.cancel()
	l.wg.Wait()
}

// snapshot returns the counts so far.
func (l *loader) snapshot() (acked int, outcomes []outcome) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked), append([]outcome(nil), l.outcomes...)
}

// waitAcked waits until at least n events more than now are acknowledged.
func (l *loader) waitAcked(t testing.TB, n int, timeout time.Duration) {
	t.Helper()
	base, _ := l.snapshot()
	checkFor(t, timeout, 20*time.Millisecond, func() error {
		if got, _ := l.snapshot(); got < base+n {
			return fmt.Errorf("acknowledged %d events, want %d", got-base, n)
		}
		return nil
	})
}

// checkNoneLost fails the test if an acknowledged event is not stored, or
// one is stored twice, and returns how many events the stream holds.
func (l *loader) checkNoneLost(t testing.TB, stored map[string]int) int {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	lost := 0
	for id := range l.acked {
		if stored[id] == 0 {
			lost++
			if lost <= 5 {
				t.Errorf("acknowledged event %s is not in the stream", id)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged events lost", lost, len(l.acked))
	}
	for id, n := range stored {
		if n > 1 {
			t.Errorf("event %s is stored %d times", id, n)
		}
		if !l.sent[id] {
			t.Errorf("event %s is stored but was never sent", id)
		}
	}
	return len(stored)
}

// summarize counts outcomes by status (0: no answer).
func summarize(outcomes []outcome) map[int]int {
	m := map[int]int{}
	for _, o := range outcomes {
		m[o.status]++
	}
	return m
}
