package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"kam/events/natsstore"
	"kam/internal/synth"
	"kam/projections"
)

// buildKam builds the kam binary once per test binary run.
var buildKam = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "kam-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "kam")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// kamProcess is `kam serve` in a process of its own.
type kamProcess struct {
	t    *testing.T
	cmd  *exec.Cmd
	http string
	nats string
	logs *syncBuffer
}

var (
	httpAddrRE = regexp.MustCompile(`msg="http api listening" addr=(\S+)`)
	natsURLRE  = regexp.MustCompile(`msg="nats server embedded" url=(\S+)`)
)

// startProcess runs the kam binary's serve on dataDir and waits until it listens.
func startProcess(t *testing.T, dataDir string, extra ...string) *kamProcess {
	t.Helper()
	bin, err := buildKam()
	if err != nil {
		t.Fatal(err)
	}
	args := append([]string{"serve", "--data-dir", dataDir, "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1"}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	k := &kamProcess{t: t, cmd: cmd, logs: &syncBuffer{}}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.kill() })
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			k.logs.Write([]byte(line + "\n"))
			if m := natsURLRE.FindStringSubmatch(line); m != nil {
				k.nats = m[1]
			}
			if m := httpAddrRE.FindStringSubmatch(line); m != nil {
				k.http = m[1]
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("kam did not listen within 60s:\n%s", k.logs.String())
	}
	return k
}

func (k *kamProcess) kill() {
	if k.cmd.ProcessState == nil {
		k.cmd.Process.Kill()
		k.cmd.Wait()
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (k *kamProcess) stop() {
	k.t.Helper()
	k.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- k.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			k.t.Fatalf("kam exited with %v:\n%s", err, k.logs.String())
		}
	case <-time.After(30 * time.Second):
		k.t.Fatalf("kam did not stop within 30s")
	}
}

func (k *kamProcess) status() (applied, last uint64) {
	k.t.Helper()
	resp, err := http.Get("http://" + k.http + "/v1/status")
	if err != nil {
		k.t.Fatal(err)
	}
	defer resp.Body.Close()
	var st uiStatus
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &st); err != nil {
		k.t.Fatalf("status: %v: %s", err, b)
	}
	return st.Projector.AppliedSeq, st.Stream.LastSeq
}

// checkFor polls f until it returns nil or the time is up.
func checkFor(t *testing.T, total, every time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(total)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(every)
	}
	t.Fatalf("after %s: %v", total, err)
}

// TestKillNine kills kam with SIGKILL while it projects, twice, restarts it,
// and checks that the read model it finishes is, table by table, the one a
// replay of the same stream builds without interruption.
func TestKillNine(t *testing.T) {
	dir := t.TempDir()
	// Small batches, so that a kill lands between commits, and mid-batch.
	k := startProcess(t, dir, "--batch", "2000", "--no-ticks")

	// Publish straight onto the stream, as any NATS client may.
	nc, err := nats.Connect(k.nats)
	if err != nil {
		t.Fatal(err)
	}
	store, err := natsstore.Open(context.Background(), nc, natsstore.Config{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	evs := synth.Events(synth.Options{Events: 60000, Accounts: 2000, Days: 400, Seed: 11,
		Start: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
	for i := 0; i < len(evs); i += 4096 {
		if _, errs := store.AppendEach(context.Background(), evs[i:min(i+4096, len(evs))]); errs != nil {
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	nc.Close()
	total := uint64(len(evs))

	for round, at := range []uint64{total / 4, total / 2} {
		checkFor(t, 60*time.Second, 5*time.Millisecond, func() error {
			if applied, _ := k.status(); applied < at {
				return fmt.Errorf("applied %d, waiting for %d", applied, at)
			}
			return nil
		})
		applied, _ := k.status()
		if applied >= total {
			t.Fatalf("round %d: the projector finished before the kill; make the stream longer", round)
		}
		if err := k.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		k.cmd.Wait()
		t.Logf("round %d: killed at applied sequence %d of %d", round, applied, total)
		k = startProcess(t, dir, "--batch", "2000", "--no-ticks")
	}
	checkFor(t, 120*time.Second, 20*time.Millisecond, func() error {
		if applied, last := k.status(); applied < last || last < total {
			return fmt.Errorf("applied %d of %d", applied, last)
		}
		return nil
	})
	k.stop()

	// The reference: the same stream replayed without interruption.
	ref := filepath.Join(t.TempDir(), "ref.db")
	var out syncBuffer
	if code := (&Main{Stdout: &out, Stderr: &out}).Run(context.Background(),
		[]string{"replay", "--data-dir", dir, "--into", ref, "--quiet"}); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, out.String())
	}
	got, want := digestFile(t, filepath.Join(dir, "kam.db")), digestFile(t, ref)
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("table %s after kill -9 and restarts: %d rows %s, uninterrupted replay: %d rows %s",
				want[i].Table, got[i].Rows, got[i].SHA256[:12], want[i].Rows, want[i].SHA256[:12])
		}
	}
	if !strings.Contains(out.String(), "60000 events applied") {
		t.Errorf("replay summary: %s", out.String())
	}
}

func digestFile(t *testing.T, path string) []projections.TableDigest {
	t.Helper()
	db, err := projections.OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	d, err := projections.Digest(context.Background(), db.Reader())
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestSIGHUPStopsGracefully: a hang-up (a closed terminal, a supervisor)
// stops kam as SIGTERM does, committing and closing in order; it killed kam
// on the spot before.
func TestSIGHUPStopsGracefully(t *testing.T) {
	k := startProcess(t, t.TempDir(), "--no-ticks")
	k.cmd.Process.Signal(syscall.SIGHUP)
	done := make(chan error, 1)
	go func() { done <- k.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(k.logs.String(), "projector stopped") {
			t.Errorf("after SIGHUP: %v\n%s", err, k.logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("kam did not stop within 30s of SIGHUP")
	}
}

// TestServeRefusesUnsafeSettings: settings that would open kam to anyone or
// make every append fail are refused at start, naming the flag.
func TestServeRefusesUnsafeSettings(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--nats-listen", "0.0.0.0:-1"}, "--nats-listen 0.0.0.0:-1 is not a loopback address"},
		{[]string{"--max-body", "-1"}, "--max-body -1"},
		{[]string{"--max-batch", "0"}, "--max-batch 0"},
		{[]string{"--projector-nice", "20"}, "--projector-nice 20: want 0 to 19"},
		{[]string{"--projector-nice", "-1"}, "--projector-nice -1: want 0 to 19"},
	} {
		var out syncBuffer
		m := &Main{Stdout: &out, Stderr: &out}
		args := append([]string{"serve", "--data-dir", t.TempDir(), "--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1", "--no-ticks"}, tc.args...)
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		code := m.Run(ctx, args)
		cancel()
		if code == 0 || !strings.Contains(out.String(), tc.want) {
			t.Errorf("%v: exit %d, want a refusal naming %q:\n%s", tc.args, code, tc.want, out.String())
		}
	}
}

// TestSIGHUPIgnoredUnderNohup: started with SIGHUP ignored (as nohup does),
// kam goes on after a hang-up.
func TestSIGHUPIgnoredUnderNohup(t *testing.T) {
	bin, err := buildKam()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `trap "" HUP; exec "$0" "$@"`, bin, "serve", "--data-dir", t.TempDir(),
		"--http", "127.0.0.1:0", "--nats-listen", "127.0.0.1:-1", "--no-ticks")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	ready := make(chan struct{})
	var logs syncBuffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			logs.Write([]byte(sc.Text() + "\n"))
			if httpAddrRE.MatchString(sc.Text()) {
				close(ready)
			}
		}
	}()
	select {
	case <-ready:
	case <-time.After(60 * time.Second):
		t.Fatalf("kam did not listen within 60s:\n%s", logs.String())
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	cmd.Process.Signal(syscall.SIGHUP)
	select {
	case err := <-done:
		t.Fatalf("kam stopped on a SIGHUP it was started ignoring: %v\n%s", err, logs.String())
	case <-time.After(2 * time.Second):
	}
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("SIGTERM after the hang-up: %v\n%s", err, logs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("kam did not stop within 30s of SIGTERM")
	}
}
