// Command project measures how fast kam builds a read model from the stream,
// against the rate at which the same stream is merely consumed, in one run:
//
//	go run ./bench/project [-events 1000000 -accounts 20000 -days 1095]
//
// It fills an embedded JetStream with synthetic events, times an ordered
// consumer that reads them all and applies nothing (raw), then runs
// `kam replay` as its own process into a fresh SQLite file and reports its
// rate and peak RSS.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"

	"kam/events"
	"kam/events/natsstore"
	"kam/internal/synth"
	"kam/projections"
)

func main() {
	n := flag.Int("events", 1000000, "events in the stream")
	accounts := flag.Int("accounts", 20000, "accounts")
	days := flag.Int("days", 1095, "days of history")
	keep := flag.String("keep", "", "keep the read model at this path")
	profile := flag.String("profile", "", "write CPU and heap profiles of kam replay to PREFIX.cpu and PREFIX.heap")
	also := flag.String("compare", "", "also replay with this other kam binary and compare the two read models' digests")
	replayEnv := flag.String("replay-env", "", "environment settings for kam replay, e.g. GOMEMLIMIT=450MiB (space separated)")
	replayArgs := flag.String("replay-args", "", "more arguments for kam replay, e.g. \"--batch 100000\" (space separated)")
	onlyReplay := flag.Bool("only-replay", false, "skip the raw consume runs (for quick comparisons of kam builds)")
	natsBench := flag.String("nats-bench", "", "also time `nats bench js ordered` (natscli's ordered consumer, the issue's own raw figure) on the stream, with this nats binary")
	streamDir := flag.String("stream-dir", "", "keep the stream's store in this directory and reuse it when it is there (the same flags must be given)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "kam-bench-project")
	check(err)
	defer os.RemoveAll(dir)
	kam := filepath.Join(dir, "kam")
	build := exec.Command("go", "build", "-o", kam, "./cmd/kam")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	check(build.Run())

	storeDir := filepath.Join(dir, "nats")
	reuse := false
	if *streamDir != "" {
		storeDir = *streamDir
		_, err := os.Stat(storeDir)
		reuse = err == nil
	}
	// Each phase gets a server of its own over the same store: a server that
	// has just served a million messages to one consumer keeps working on
	// its caches while the next phase runs (kam replay took a third more CPU
	// after the raw phases than on a fresh server).
	ns, err := natsstore.RunEmbedded(natsstore.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: storeDir}, nil)
	check(err)
	defer func() { ns.Shutdown() }()
	fresh := func() string {
		ns.Shutdown()
		ns.WaitForShutdown()
		ns, err = natsstore.RunEmbedded(natsstore.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: storeDir}, nil)
		check(err)
		return ns.ClientURL()
	}
	nc, err := nats.Connect(ns.ClientURL())
	check(err)
	ctx := context.Background()
	store, err := natsstore.Open(ctx, nc, natsstore.Config{}, nil)
	check(err)

	start := time.Now()
	total, bytesTotal := uint64(0), 0
	if reuse {
		st, err := store.JetStream().Stream(ctx, store.StreamName())
		check(err)
		info := st.CachedInfo().State
		total, bytesTotal = info.LastSeq, int(info.Bytes/max(info.LastSeq, 1))
		fmt.Printf("machine: %d cores; stream of %s: %d events, ~%d bytes each (with subject and headers)\n", runtime.NumCPU(), storeDir, total, bytesTotal)
	} else {
		total, bytesTotal = fill(ctx, store, *n, *accounts, *days)
		fmt.Printf("machine: %d cores; stream: %d events over %d accounts and %d days, ~%d bytes each, filled in %.1fs\n",
			runtime.NumCPU(), total, *accounts, *days, bytesTotal, time.Since(start).Seconds())
	}
	nc.Close()
	debug.FreeOSMemory() // so that the children start from a small parent

	// raw: another process consumes everything and applies nothing (and
	// once more decoding and validating each event).
	consume := filepath.Join(dir, "consume")
	build = exec.Command("go", "build", "-o", consume, "./bench/consume")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	check(build.Run())
	var rawRate, decodeRate float64
	if !*onlyReplay {
		rawRate = consumeRate(consume, fresh(), total, false)
		decodeRate = consumeRate(consume, fresh(), total, true)
	}
	var natsRate float64
	if *natsBench != "" {
		natsRate = natsBenchRate(*natsBench, fresh(), store.StreamName(), total)
	}

	// kam replay, its own process.
	into := filepath.Join(dir, "replay.db")
	if *keep != "" {
		into = *keep
	}
	var out bytes.Buffer
	args := []string{"replay", "--nats-url", fresh(), "--into", into, "--quiet"}
	args = append(args, strings.Fields(*replayArgs)...)
	if *profile != "" {
		args = append(args, "--cpuprofile", *profile+".cpu", "--memprofile", *profile+".heap")
	}
	cmd := exec.Command(kam, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Env = append(os.Environ(), strings.Fields(*replayEnv)...)
	start = time.Now()
	if err := cmd.Run(); err != nil {
		log.Fatalf("kam replay: %v\n%s", err, out.String())
	}
	took := time.Since(start)
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	projRate := float64(total) / took.Seconds()

	fmt.Print(out.String())
	if *onlyReplay {
		fmt.Printf("%-48s %10.0f events/s\n", "kam replay into a fresh read model", projRate)
	} else {
		fmt.Printf("%-48s %10s %8s\n", "", "events/s", "vs raw")
		fmt.Printf("%-48s %10.0f %8s\n", "raw: ordered consumer (own process), no apply", rawRate, "100%")
		fmt.Printf("%-48s %10.0f %7.0f%%\n", "the same + decode + validate", decodeRate, 100*decodeRate/rawRate)
		fmt.Printf("%-48s %10.0f %7.0f%%\n", "kam replay into a fresh read model", projRate, 100*projRate/rawRate)
	}
	if natsRate > 0 {
		fmt.Printf("%-48s %10.0f events/s; kam replay %.0f%% of it\n", "nats bench js ordered (natscli, 500 buffered)", natsRate, 100*projRate/natsRate)
	}
	fmt.Printf("kam replay: %.1fs wall, %.1fs user, %.1fs system (peak RSS: see its own report above, read from /proc)\n", took.Seconds(),
		time.Duration(ru.Utime.Nano()).Seconds(), time.Duration(ru.Stime.Nano()).Seconds())

	if *also != "" {
		other := filepath.Join(dir, "other.db")
		cmd := exec.Command(*also, "replay", "--nats-url", fresh(), "--into", other, "--quiet")
		out, err := cmd.CombinedOutput()
		if err != nil {
			log.Fatalf("%s replay: %v\n%s", *also, err, out)
		}
		fmt.Printf("%s: %s", *also, out)
		a, b := digest(into), digest(other)
		same := true
		for i := range a {
			if a[i] != b[i] {
				same = false
				fmt.Printf("DIFFERENT %s: %d rows %s vs %d rows %s\n", a[i].Table, a[i].Rows, a[i].SHA256[:12], b[i].Rows, b[i].SHA256[:12])
			}
		}
		if !same {
			os.Exit(1)
		}
		fmt.Printf("%s builds the same read model (%d tables, equal digests)\n", *also, len(a))
	}
}

// consumeRate runs bench/consume and returns its events per second.
func consumeRate(bin, url string, total uint64, decode bool) float64 {
	args := []string{"-nats-url", url, "-to", fmt.Sprint(total)}
	if decode {
		args = append(args, "-decode")
	}
	out, err := exec.Command(bin, args...).Output()
	check(err)
	var n uint64
	var secs float64
	if _, err := fmt.Sscan(string(out), &n, &secs); err != nil || n != total {
		log.Fatalf("consume: %q: %v", out, err)
	}
	return float64(n) / secs
}

// natsBenchRate runs natscli's ordered-consumer benchmark over the stream
// and returns its messages per second.
func natsBenchRate(bin, url, stream string, total uint64) float64 {
	start := time.Now()
	out, err := exec.Command(bin, "bench", "js", "ordered", "--server", url, "--stream", stream,
		"--msgs", fmt.Sprint(total), "--no-progress").CombinedOutput()
	if err != nil {
		log.Fatalf("nats bench: %v\n%s", err, out)
	}
	took := time.Since(start)
	fmt.Printf("nats bench js ordered: %s", out)
	return float64(total) / took.Seconds()
}

func digest(path string) []projections.TableDigest {
	db, err := projections.OpenDB(path)
	check(err)
	defer db.Close()
	d, err := projections.Digest(context.Background(), db.Reader())
	check(err)
	return d
}

func check(err error) {
	if err != nil {
		log.Fatal(err)
	}
}

// fill appends the synthetic history and a closing tick; it returns the
// events appended and their average JSON size.
func fill(ctx context.Context, store *natsstore.Store, n, accounts, days int) (uint64, int) {
	first := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := synth.Events(synth.Options{Events: n, Accounts: accounts, Days: days, Seed: 7, Start: first})
	evs = append(evs, &events.Event{SpecVersion: "1.0", ID: "bench-final-tick", Source: "bench", Type: events.TypeClockTick,
		Time: first.AddDate(0, 0, days)})
	for i := 0; i < len(evs); i += 4096 {
		chunk := evs[i:min(i+4096, len(evs))]
		_, errs := store.AppendEach(ctx, chunk)
		for _, err := range errs {
			check(err)
		}
	}
	bytesTotal := 0
	for _, e := range evs[:1000] {
		b, _ := e.MarshalJSON()
		bytesTotal += len(b)
	}
	return uint64(len(evs)), bytesTotal / 1000
}
