package projections

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServiceNice: a Service with Opts.Nice applies and writes on two
// threads of their own, niced by that much, which end with the projector.
// (A goroutine that locks the process's main thread and ends leaves it
// idle for good, as Go cannot end that thread: it is counted apart.)
func TestServiceNice(t *testing.T) {
	const level = 7
	main0, others0 := threadNices(t)
	base := slices.Min(append(others0, main0))
	target := min(base+level, 19)
	count := func(nices []int) (n int) {
		for _, v := range nices {
			if v == target {
				n++
			}
		}
		return n
	}
	var s stream
	s.order("ACME", "2026-01-05T10:00:00Z", "100.00")
	s.tick("2026-01-06T00:00:00Z")
	svc := &Service{Policy: DefaultPolicy(), Stream: "KAM", Source: sliceSource(s.msgs), DataDir: t.TempDir(), Opts: RunOptions{Nice: level}}
	ctx := context.Background()
	if err := svc.Start(ctx, false); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := svc.WaitApplied(wctx, uint64(len(s.msgs))); err != nil {
		t.Fatal(err)
	}
	main1, others1 := threadNices(t)
	n := count(others1) - count(others0)
	if main1 == target && main0 != target {
		n++
	}
	if n != 2 {
		t.Errorf("%d more threads at nice %d while the projector runs, want 2 (applying, writing)", n, target)
	}
	if err := svc.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, others := threadNices(t)
		if count(others) == count(others0) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d threads at nice %d after Close, %d before: they serve other goroutines now", count(others), target, count(others0))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// threadNices returns the nice value of the process's main thread and
// of each of its other threads.
func threadNices(t *testing.T) (main int, others []int) {
	t.Helper()
	tasks, err := filepath.Glob("/proc/self/task/*/stat")
	if err != nil || len(tasks) == 0 {
		t.Fatalf("threads: %v", err)
	}
	self := "/proc/self/task/" + strconv.Itoa(os.Getpid()) + "/stat"
	for _, task := range tasks {
		b, err := os.ReadFile(task)
		if err != nil {
			continue // a thread that ended meanwhile
		}
		// pid (comm) state ... : nice is the 19th field, the 17th after comm.
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		v, err := strconv.Atoi(f[16])
		if err != nil {
			t.Fatalf("%s: %q", task, b)
		}
		if task == self {
			main = v
		} else {
			others = append(others, v)
		}
	}
	return main, others
}
