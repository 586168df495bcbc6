package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"kam/events/natsstore"
	"kam/internal/synth"
	"kam/projections"
)

// fill appends n synthetic events straight onto kam's stream and waits
// until the read model has applied them.
func fill(t *testing.T, k *kam, n int, seed uint64) uint64 {
	t.Helper()
	nc, err := nats.Connect(k.addrs.NATS)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	store, err := natsstore.Open(context.Background(), nc, natsstore.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	evs := synth.Events(synth.Options{Events: n, Accounts: 500, Days: 300, Seed: seed, Start: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)})
	var last uint64
	for i := 0; i < len(evs); i += 4096 {
		res, errs := store.AppendEach(context.Background(), evs[i:min(i+4096, len(evs))])
		for j, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
			last = max(last, res[j].Seq)
		}
	}
	if code, body := k.call("GET", "/v1/status", nil); code != 200 {
		t.Fatalf("status: %d %v", code, body)
	}
	checkFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		_, body := k.call("GET", "/v1/status", nil)
		if applied := body["projector"].(map[string]any)["applied_seq"].(float64); uint64(applied) < last {
			return fmt.Errorf("applied %v of %d", applied, last)
		}
		return nil
	})
	return last
}

// TestRebuildSwapUnderQueries rebuilds the read model in the background
// while clients query it: every answer, before, during and after the swap,
// is the complete model's.
func TestRebuildSwapUnderQueries(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	last := fill(t, k, 20000, 3)
	_, abc := k.call("GET", "/v1/reports/abc", nil)
	_, list := k.call("GET", "/v1/accounts?limit=5&sort=revenue", nil)
	want := fmt.Sprint(abc["total_revenue"], abc["accounts"], abc["tiers"], list["total"], list["accounts"])
	wantTotals := fmt.Sprint(abc["total_revenue"], abc["accounts"])
	before, _ := filepath.EvalSymlinks(filepath.Join(dir, "kam.db"))
	commits := func() float64 {
		resp, err := http.Get(k.url("/metrics"))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "kam_projector_commit_duration_seconds_count "); ok {
				f, err := strconv.ParseFloat(v, 64)
				if err != nil {
					t.Fatalf("metrics: %q: %v", line, err)
				}
				return f
			}
		}
		t.Fatalf("no kam_projector_commit_duration_seconds_count in /metrics:\n%s", b)
		return 0
	}
	commitsBefore := commits()

	var answered, wrong atomic.Int64
	var firstWrong atomic.Value
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := 0; c < 4; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				_, abc := k.call("GET", "/v1/reports/abc", nil)
				_, list := k.call("GET", "/v1/accounts?limit=5&sort=revenue", nil)
				got := fmt.Sprint(abc["total_revenue"], abc["accounts"], abc["tiers"], list["total"], list["accounts"])
				answered.Add(1)
				if got != want {
					wrong.Add(1)
					firstWrong.CompareAndSwap(nil, got)
				}
			}
		}()
	}
	code, body := k.call("POST", "/v1/admin/rebuild", nil)
	if code != 202 {
		t.Fatalf("POST /v1/admin/rebuild: %d %v", code, body)
	}
	if rb, _ := body["rebuild"].(map[string]any); rb == nil || rb["target_seq"] != float64(last) {
		t.Errorf("the rebuild's first status: %v, want target_seq %d (what the serving model has applied)", body, last)
	}
	if code, _ := k.call("POST", "/v1/admin/rebuild", nil); code != 409 && code != 202 {
		t.Errorf("a second rebuild while one runs: got %d, want 409 (or 202 if the first had finished)", code)
	}
	checkFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		_, body := k.call("GET", "/v1/admin/rebuild", nil)
		rb := body["rebuild"].(map[string]any)
		if rb["error"] != nil {
			t.Fatalf("rebuild failed: %v", rb)
		}
		if rb["swapped"] == nil {
			return fmt.Errorf("not swapped yet: %v", rb)
		}
		return nil
	})
	time.Sleep(200 * time.Millisecond) // queries against the new model too
	close(stop)
	wg.Wait()
	if wrong.Load() > 0 || answered.Load() < 10 {
		t.Errorf("%d of %d answers differed from the complete model's; first: %v\nwant: %s", wrong.Load(), answered.Load(), firstWrong.Load(), want)
	}
	// The counts metrics export as counters do not go down with the swap.
	if c := commits(); c < commitsBefore {
		t.Errorf("commits: %v after the swap, %v before", c, commitsBefore)
	}
	after, _ := filepath.EvalSymlinks(filepath.Join(dir, "kam.db"))
	if after == before {
		t.Errorf("the serving file is still %s after the swap", before)
	}
	t.Logf("%d answers, swapped %s for %s", answered.Load(), filepath.Base(before), filepath.Base(after))

	// After a restart, kam serves the rebuilt model; the old file is gone
	// (removed at the latest when kam stops).
	k.stop()
	if _, err := os.Stat(before); !os.IsNotExist(err) {
		t.Errorf("the old read model %s is still there (%v)", before, err)
	}
	k2 := startKam(t, dir, "--no-ticks")
	_, abc = k2.call("GET", "/v1/reports/abc", nil)
	if got := fmt.Sprint(abc["total_revenue"], abc["accounts"]); got != wantTotals {
		t.Errorf("after a restart: got %s, want %s", got, wantTotals)
	}
}

// TestServeRebuildUnderNewPolicy: a read model built under one policy is
// served (under its own policy) while `kam serve --rebuild --policy NEW`
// builds the new one, which then replaces it.
func TestServeRebuildUnderNewPolicy(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	fill(t, k, 5000, 4)
	_, st := k.call("GET", "/v1/status", nil)
	oldPolicy := st["projector"].(map[string]any)["policy"]
	k.stop()

	var buf bytes.Buffer
	(&Main{Stdout: &buf}).Run(context.Background(), []string{"policy"})
	pol := filepath.Join(t.TempDir(), "p.json")
	if err := os.WriteFile(pol, bytes.Replace(buf.Bytes(), []byte(`"cut_a": 80`), []byte(`"cut_a": 60`), 1), 0o644); err != nil {
		t.Fatal(err)
	}
	k2 := startKam(t, dir, "--no-ticks", "--policy", pol, "--rebuild")
	checkFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		_, st := k2.call("GET", "/v1/status", nil)
		if p := st["projector"].(map[string]any)["policy"]; p == oldPolicy {
			return fmt.Errorf("still serving policy %v", p)
		}
		return nil
	})
	_, abc := k2.call("GET", "/v1/reports/abc", nil)
	if abc["cut_a"].(float64) != 60 {
		t.Errorf("ABC report after the swap: cut_a %v, want 60", abc["cut_a"])
	}
}

// TestServeRebuildOtherRules: a read model built by another version of kam's
// rules is refused, with the way to rebuild it; `kam serve --rebuild` serves
// it meanwhile and replaces it with one built by this version.
func TestServeRebuildOtherRules(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	fill(t, k, 3000, 5)
	_, st := k.call("GET", "/v1/status", nil)
	if r := st["projector"].(map[string]any)["rules"]; r != float64(projections.RulesVersion) {
		t.Fatalf("a new model's rules: got %v, want %d", r, projections.RulesVersion)
	}
	k.stop()
	db, err := sql.Open("sqlite3", "file:"+projections.ServingPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`UPDATE projector_state SET rules = 1`); err != nil {
		t.Fatal(err)
	}
	db.Close()

	code, _, errOut := runCmd(t, "serve", "--data-dir", dir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1", "--no-ticks")
	if code == 0 || !strings.Contains(errOut, "built by version 1 of kam's rules") || !strings.Contains(errOut, "kam serve --rebuild") {
		t.Fatalf("kam serve on a model of rules 1: exit %d\n%s\nwant a refusal that says how to rebuild", code, errOut)
	}
	k2 := startKam(t, dir, "--no-ticks", "--rebuild")
	checkFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		_, st := k2.call("GET", "/v1/status", nil)
		if r := st["projector"].(map[string]any)["rules"]; r != float64(projections.RulesVersion) {
			return fmt.Errorf("still serving a model of rules %v", r)
		}
		return nil
	})
}

// TestStrayGenerationsRemoved: a crash during a rebuild, or just after a
// swap, leaves generation files that no link serves; the next start removes
// them, and nothing else in the data dir.
func TestStrayGenerationsRemoved(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	if code, body := k.call("POST", "/v1/events", order("o1", "ACME", "2026-03-01T10:00:00Z", "10.00")); code != 201 {
		t.Fatalf("append: %d %v", code, body)
	}
	k.stop()
	serving, err := filepath.EvalSymlinks(projections.ServingPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	stray := []string{"kam-123.db", "kam-123.db-wal", "kam-123.db-shm", "kam-456.db"}
	kept := []string{"kam-whatif.db", "notes.db", "kam-7.db.partial"}
	for _, name := range append(stray, kept...) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	k = startKam(t, dir, "--no-ticks")
	defer k.stop()
	for _, name := range stray {
		if _, err := os.Stat(filepath.Join(dir, name)); !os.IsNotExist(err) {
			t.Errorf("%s: still there (%v)", name, err)
		}
	}
	for _, name := range append(kept, filepath.Base(serving)) {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("%s: %v, want it kept", name, err)
		}
	}
	if code, body := k.call("GET", "/v1/accounts/ACME?min_seq=1", nil); code != 200 || body["revenue_total"] != "10.00" {
		t.Errorf("ACME after the restart: %d %v", code, body)
	}
}

// TestDanglingServingLink: a kam.db link made by hand whose target is
// missing is refused, naming both, and no read model is removed.
func TestDanglingServingLink(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	k.stop()
	serving, err := filepath.EvalSymlinks(projections.ServingPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	link := projections.ServingPath(dir)
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("what-if.db", link); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	m := &Main{Stdout: &out, Stderr: &out}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // kam served on before
	defer cancel()
	code := m.Run(ctx, []string{"serve", "--data-dir", dir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1", "--no-ticks"})
	if code == 0 || !strings.Contains(out.String(), "links to what-if.db, which does not exist") {
		t.Errorf("serve with a dangling kam.db: exit %d\n%s", code, out.String())
	}
	if _, err := os.Stat(serving); err != nil {
		t.Errorf("the model the link pointed at before: %v, want it kept", err)
	}
}

// TestRebuildKeepsAHandPointedModel: a model the serving link was pointed
// at by hand (a what-if replay outside the data dir) is swapped out by a
// rebuild but not removed: kam removes only the generations it names.
func TestRebuildKeepsAHandPointedModel(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	if code, body := k.call("POST", "/v1/events", order("o1", "ACME", "2026-03-01T10:00:00Z", "10.00")); code != 201 {
		t.Fatalf("append: %d %v", code, body)
	}
	k.call("GET", "/v1/accounts/ACME?min_seq=1", nil)
	k.stop()
	whatIf := filepath.Join(t.TempDir(), "what-if.db")
	if code, out, errOut := runCmd(t, "replay", "--data-dir", dir, "--into", whatIf, "--quiet"); code != 0 {
		t.Fatalf("replay: exit %d\n%s%s", code, out, errOut)
	}
	link := projections.ServingPath(dir)
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(whatIf, link); err != nil {
		t.Fatal(err)
	}
	k = startKam(t, dir, "--no-ticks")
	rebuildAndStop(t, k)
	if _, err := os.Stat(whatIf); err != nil {
		t.Errorf("the hand-pointed model after a rebuild and a stop: %v, want it kept", err)
	}
}

// TestRebuildInALinkedDataDir: with the data dir a symbolic link to
// another directory, a rebuild still removes the generation it replaced
// (the model's path reads through the link, the data dir's does not).
func TestRebuildInALinkedDataDir(t *testing.T) {
	real := t.TempDir()
	dir := filepath.Join(t.TempDir(), "kam-data")
	if err := os.Symlink(real, dir); err != nil {
		t.Fatal(err)
	}
	k := startKam(t, dir, "--no-ticks")
	if code, body := k.call("POST", "/v1/events", order("o1", "ACME", "2026-03-01T10:00:00Z", "10.00")); code != 201 {
		t.Fatalf("append: %d %v", code, body)
	}
	// Restarted, kam finds its model through the links.
	k.stop()
	k = startKam(t, dir, "--no-ticks")
	before, _ := filepath.EvalSymlinks(projections.ServingPath(dir))
	rebuildAndStop(t, k)
	if _, err := os.Stat(before); !os.IsNotExist(err) {
		t.Errorf("the replaced generation %s: %v, want it removed", before, err)
	}
}

// rebuildAndStop rebuilds k's read model, waits for the swap, and stops k,
// which retires the swapped-out model at once.
func rebuildAndStop(t *testing.T, k *kam) {
	t.Helper()
	if code, body := k.call("POST", "/v1/admin/rebuild", nil); code != 202 {
		t.Fatalf("rebuild: %d %v", code, body)
	}
	checkFor(t, 60*time.Second, 20*time.Millisecond, func() error {
		_, body := k.call("GET", "/v1/admin/rebuild", nil)
		if rb := body["rebuild"].(map[string]any); rb["swapped"] == nil {
			return fmt.Errorf("not swapped yet: %v", rb)
		}
		return nil
	})
	k.stop()
}
