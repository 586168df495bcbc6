// Command latency measures GET /v1/accounts/{id} with 16 concurrent clients
// while ingest runs, against a real `kam serve` process:
//
//	go run ./bench/latency [-accounts 20000 -events 300000 -seconds 20]
//
// It builds kam, starts it on a fresh data dir, fills the stream with a
// history (straight onto NATS) and waits until it is applied, then, for the
// given time, posts batches of 500 events (-ingest-batch) from one client (ingest; as fast
// as kam takes them, or at -ingest-rate events/s) while 16 clients read
// random accounts (each as fast as it gets answers, or at -read-rate reads/s
// on average, as a Poisson process),
// and reports the read latencies' percentiles.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"kam/events/natsstore"
	"kam/internal/synth"
)

func main() {
	accounts := flag.Int("accounts", 20000, "accounts")
	n := flag.Int("events", 300000, "events of history before the measurement")
	seconds := flag.Int("seconds", 20, "how long to measure")
	readers := flag.Int("readers", 16, "concurrent readers")
	ingest := flag.Bool("ingest", true, "ingest while reading")
	rate := flag.Int("ingest-rate", 0, "events/s the ingesting client aims at (0: as fast as kam takes them)")
	profile := flag.String("profile", "", "write kam's CPU profile to this file")
	readRate := flag.Int("read-rate", 0, "reads/s of each reader (0: closed loop, each reads again as soon as it has its answer)")
	kamArgs := flag.String("kam-args", "", "more arguments for kam serve, space-separated (--no-projector: readers must get /healthz)")
	batch := flag.Int("ingest-batch", 500, "events in each POST /v1/events of the ingesting client")
	ingestDays := flag.Int("ingest-days", 0, "business days the ingested events span (0: as dense as the history, a day closing every 6,667 events; 1: live events of one day, no day closes while measuring)")
	kamEnv := flag.String("kam-env", "", "environment settings for kam serve, e.g. GOGC=100 (space-separated)")
	kamLog := flag.String("kam-log", "", "write kam's log to this file")
	path := flag.String("path", "/v1/accounts/", "what the readers get, followed by an account id when it ends with a slash (/healthz: the HTTP floor)")
	clientGC := flag.Bool("client-gc", false, "let this client's own collector run while it measures (by default it is held off, up to a 4 GiB heap: its pauses are not kam's latency)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "kam-bench-latency")
	check(err)
	atExit(func() { os.RemoveAll(dir) })
	defer runAtExit()
	kam := filepath.Join(dir, "kam")
	build := exec.Command("go", "build", "-o", kam, "./cmd/kam")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	check(build.Run())

	args := []string{"serve", "--data-dir", filepath.Join(dir, "data"), "--http", "127.0.0.1:0",
		"--nats-listen", "127.0.0.1:-1", "--no-ticks", "--rate-limit", "0"}
	if *profile != "" {
		args = append(args, "--cpuprofile", *profile)
	}
	args = append(args, strings.Fields(*kamArgs)...)
	cmd := exec.Command(kam, args...)
	cmd.Env = append(os.Environ(), strings.Fields(*kamEnv)...)
	// kam goes when this process goes, however it goes.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr, err := cmd.StderrPipe()
	check(err)
	check(cmd.Start())
	atExit(func() { cmd.Process.Signal(syscall.SIGTERM); cmd.Wait() })
	httpRE := regexp.MustCompile(`msg="http api listening" addr=(\S+)`)
	natsRE := regexp.MustCompile(`msg="nats server embedded" url=(\S+)`)
	var httpAddr, natsURL string
	sc := bufio.NewScanner(stderr)
	for httpAddr == "" && sc.Scan() {
		if m := natsRE.FindStringSubmatch(sc.Text()); m != nil {
			natsURL = m[1]
		}
		if m := httpRE.FindStringSubmatch(sc.Text()); m != nil {
			httpAddr = m[1]
		}
	}
	logTo := io.Discard
	if *kamLog != "" {
		f, err := os.Create(*kamLog)
		check(err)
		defer f.Close()
		logTo = f
	}
	go io.Copy(logTo, stderr)
	base := "http://" + httpAddr

	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := synth.Events(synth.Options{Events: *n, Accounts: *accounts, Days: 700, Seed: 5, Start: start})
	nc, err := nats.Connect(natsURL)
	check(err)
	store, err := natsstore.Open(context.Background(), nc, natsstore.Config{}, nil)
	check(err)
	_, errs := store.AppendEach(context.Background(), evs)
	for _, err := range errs {
		check(err)
	}
	nc.Close()
	t0 := time.Now()
	if !strings.Contains(*kamArgs, "--no-projector") {
		resp, err := http.Get(fmt.Sprintf("%s/v1/accounts?limit=1&min_seq=%d", base, *n))
		for err == nil && resp.StatusCode == http.StatusGatewayTimeout {
			resp.Body.Close()
			resp, err = http.Get(fmt.Sprintf("%s/v1/accounts?limit=1&min_seq=%d", base, *n))
		}
		check(err)
		resp.Body.Close()
	}
	fmt.Printf("machine: %d cores; %d events over %d accounts applied %.1fs after appending\n",
		runtime.NumCPU(), *n, *accounts, time.Since(t0).Seconds())

	// Ingest: more of the same history's accounts, later in time, as
	// request bodies made beforehand: the client must not measure its own
	// work, and byte slices hold no pointers for its collector to scan (2M
	// events held as structs made the collector here stall the readers for
	// up to a quarter of a second).
	bodies := ingestBodies(*accounts, *seconds, *rate, *ingestDays, *batch, start.AddDate(0, 0, 700))
	runtime.GC()
	if !*clientGC {
		// The readers' goroutines would otherwise wait for this process's
		// own collector between taking the time and sending, or after the
		// answer came: a measuring error, not kam's latency. A 15 s run
		// allocates some hundreds of MB; the limit keeps a long one safe.
		debug.SetMemoryLimit(4 << 30)
		debug.SetGCPercent(-1)
	}
	stop := make(chan struct{})
	var ingested atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		began := time.Now()
		for i, b := range bodies {
			if !*ingest {
				return
			}
			select {
			case <-stop:
				return
			default:
			}
			if *rate > 0 {
				// Open loop: batch i leaves at its time, late or not.
				time.Sleep(time.Until(began.Add(time.Duration(i**batch) * time.Second / time.Duration(*rate))))
			}
			resp, err := http.Post(base+"/v1/events", "application/json", bytes.NewReader(b))
			check(err)
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusCreated {
				fatalf("ingest: %s", resp.Status)
			}
			ingested.Add(int64(*batch))
		}
	}()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	gcBefore := ms.NumGC
	before := scrape(base)
	cpuBefore, selfBefore := cpuTime(cmd.Process.Pid), cpuTime(os.Getpid())
	var mu sync.Mutex
	var lat []time.Duration
	var notFound atomic.Int64
	deadline := time.Now().Add(time.Duration(*seconds) * time.Second)
	for r := 0; r < *readers; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(r), 9))
			// A connection of its own, kept alive: the default transport
			// keeps 2 idle connections per host, so 16 readers sharing it
			// would mostly dial a new one per request.
			client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
			var mine []time.Duration
			next := time.Now()
			for time.Now().Before(deadline) {
				if *readRate > 0 {
					// Open loop: reads leave as a Poisson process of the
					// given rate, each at its time; a late answer does not
					// delay the next read. (Reads at fixed steps from a
					// common start would leave all readers' reads at the
					// same instants, in bursts of 16.)
					next = next.Add(time.Duration(rng.ExpFloat64() * float64(time.Second) / float64(*readRate)))
					time.Sleep(time.Until(next))
				}
				id := ""
				if strings.HasSuffix(*path, "/") {
					id = fmt.Sprintf("ACCT-%06d", rng.IntN(*accounts))
				}
				t := time.Now()
				resp, err := client.Get(base + *path + id)
				check(err)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mine = append(mine, time.Since(t))
				if resp.StatusCode == http.StatusNotFound {
					notFound.Add(1)
				} else if resp.StatusCode != http.StatusOK {
					fatalf("GET %s: %s", id, resp.Status)
				}
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}(r)
	}
	time.Sleep(time.Until(deadline))
	close(stop)
	wg.Wait()
	after := scrape(base)
	runtime.ReadMemStats(&ms)
	cpuKam, cpuSelf := cpuTime(cmd.Process.Pid)-cpuBefore, cpuTime(os.Getpid())-selfBefore
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	q := func(p float64) time.Duration { return lat[int(p*float64(len(lat)-1))] }
	fmt.Printf("%d reads in %ds by %d clients (%.0f/s; %d of accounts not seen yet), %d events ingested meanwhile (%.0f/s)\n",
		len(lat), *seconds, *readers, float64(len(lat))/float64(*seconds), notFound.Load(), ingested.Load(), float64(ingested.Load())/float64(*seconds))
	fmt.Printf("GET %s: p50 %v, p90 %v, p99 %v, max %v\n",
		*path, q(0.5).Round(10*time.Microsecond), q(0.9).Round(10*time.Microsecond), q(0.99).Round(10*time.Microsecond), lat[len(lat)-1].Round(10*time.Microsecond))
	per := func(name string) string {
		n := after[name+"_count"] - before[name+"_count"]
		if n == 0 {
			return "0"
		}
		return fmt.Sprintf("%.0f (%.1f ms each)", n, (after[name+"_sum"]-before[name+"_sum"])*1000/n)
	}
	fmt.Printf("meanwhile kam committed %s transactions and ran %s day-close reviews\n",
		per("kam_projector_commit_duration_seconds"), per("kam_projector_review_duration_seconds"))
	// kam's own timing of the reads, from its handler's start to the answer
	// written (the client's figures add the network stack and the waits to
	// be scheduled on both sides).
	if route := `route="GET /v1/accounts/{id}"`; strings.HasPrefix(*path, "/v1/accounts/") {
		bucket := func(m map[string]float64, le string) (n float64) {
			for k, v := range m {
				if strings.HasPrefix(k, "kam_http_request_duration_seconds_bucket{") && strings.Contains(k, route) &&
					strings.Contains(k, `le="`+le+`"`) {
					n += v
				}
			}
			return n
		}
		all := bucket(after, "+Inf") - bucket(before, "+Inf")
		if all > 0 {
			fmt.Printf("kam's own timing of the reads: %.2f%% within 1 ms, %.2f%% within 5 ms\n",
				100*(bucket(after, "0.001")-bucket(before, "0.001"))/all, 100*(bucket(after, "0.005")-bucket(before, "0.005"))/all)
		}
	}
	fmt.Printf("CPU: kam %.0f%% of a core, this client %.0f%% (%d collections of its own); kam's peak RSS %s\n",
		cpuKam.Seconds()*100/float64(*seconds), cpuSelf.Seconds()*100/float64(*seconds), ms.NumGC-gcBefore, peakRSS(cmd.Process.Pid))
}

// peakRSS returns the VmHWM line of process pid's status (Linux).
func peakRSS(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	check(err)
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "?"
}

// cpuTime returns the user and system CPU time process pid has used
// (Linux: /proc/pid/stat, in clock ticks of 10 ms).
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	check(err)
	// The fields after the command, which is in parentheses: utime and
	// stime are the 12th and 13th.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	var utime, stime int64
	fmt.Sscan(f[11], &utime)
	fmt.Sscan(f[12], &stime)
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// scrape returns kam's metrics without labels, by name.
func scrape(base string) map[string]float64 {
	resp, err := http.Get(base + "/metrics")
	check(err)
	defer resp.Body.Close()
	m := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		// NAME{LABELS} VALUE; a label value may hold spaces.
		line := sc.Text()
		i := strings.LastIndexByte(line, ' ')
		if i < 0 || strings.HasPrefix(line, "#") {
			continue
		}
		if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
			m[line[:i]] = v
		}
	}
	check(sc.Err())
	return m
}

// ingestBodies returns enough batches of size events for the ingesting
// client, each marshalled as a POST /v1/events body: as many as kam takes in
// seconds at rate events/s, or at the fastest it has been seen to take them,
// over the given business days.
func ingestBodies(accounts, seconds, rate, days, size int, start time.Time) [][]byte {
	n := seconds * 30000
	if rate > 0 {
		n = seconds * rate * 2
	}
	if days <= 0 {
		// As dense in time as the history: 2,000,000 events in 300 days.
		days = max(1, n*300/2000000)
	}
	more := synth.Events(synth.Options{Events: n, Accounts: accounts, Days: days, Seed: 6, Start: start})
	var bodies [][]byte
	for i := 0; i+size <= len(more); i += size {
		b, err := json.Marshal(more[i : i+size])
		check(err)
		bodies = append(bodies, b)
	}
	return bodies
}

func check(err error) {
	if err != nil {
		fatalf("%v", err)
	}
}

var (
	exitMu   sync.Mutex
	cleanups []func()
)

// atExit registers f to run, last registered first, when main returns or a
// check fails: a failed run must not leave kam running or its files behind.
func atExit(f func()) {
	exitMu.Lock()
	defer exitMu.Unlock()
	cleanups = append(cleanups, f)
}

func runAtExit() {
	exitMu.Lock()
	fs := cleanups
	cleanups = nil
	exitMu.Unlock()
	for i := len(fs) - 1; i >= 0; i-- {
		fs[i]()
	}
}

func fatalf(format string, args ...any) {
	runAtExit()
	log.Fatalf(format, args...)
}
