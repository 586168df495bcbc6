package e2e

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// readyz returns the status of k's /readyz (0 if it does not answer).
func (k *kamProc) readyz() int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", k.url("/readyz"), nil)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestExternalNATSRestartUnderIngest kills the external nats-server (kill
// -9) while clients append through kam, and starts it again: while it is
// down clients get 503 with Retry-After and /readyz fails; afterwards every
// acknowledged event is in the stream, and kam's projector resumes without
// kam being restarted.
func TestExternalNATSRestartUnderIngest(t *testing.T) {
	dir := t.TempDir()
	n := startNATS(t, dir, 1)[0]
	k := startKamProc(t, "kam", filepath.Join(dir, "kam"), "--nats-url", n.url())
	l := newLoader(func() string { return "http://" + k.http }, 3, 20)
	l.start()
	defer l.stop()
	l.waitAcked(t, 300, 60*time.Second)

	// Taken before the kill: requests in flight fail as the server goes,
	// before kill() returns (a 503 answered then was counted as before it).
	killedAt := time.Now()
	n.kill()
	checkFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if code := k.readyz(); code != http.StatusServiceUnavailable {
			return fmt.Errorf("/readyz with NATS down: got %d, want 503", code)
		}
		return nil
	})
	if v := k.metric(t, "kam_nats_connected"); v != 0 {
		t.Errorf("kam_nats_connected with NATS down: got %v, want 0", v)
	}
	checkFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		_, outs := l.snapshot()
		n503 := 0
		for _, o := range outs {
			if o.status == http.StatusServiceUnavailable && o.at.After(killedAt) {
				n503++
			}
		}
		if n503 < 3 {
			return fmt.Errorf("%d answers 503 since NATS was killed, want 3", n503)
		}
		return nil
	})
	n.restart(t)
	restartedAt := time.Now()
	l.waitAcked(t, 300, 90*time.Second)
	l.stop()

	acked, outs := l.snapshot()
	var first201 time.Time
	for _, o := range outs {
		switch o.status {
		case http.StatusCreated:
			if o.at.After(restartedAt) && first201.IsZero() {
				first201 = o.at
			}
		case http.StatusServiceUnavailable:
			if o.retryAfter == "" {
				t.Errorf("503 without Retry-After: %s", o.err)
			}
			if o.at.Before(killedAt) {
				t.Errorf("503 before NATS was killed: %s", o.err)
			}
		default:
			t.Errorf("answer %d (want only 201 and 503): %s", o.status, o.err)
		}
	}
	stored := k.storedIDs(t)
	total := l.checkNoneLost(t, stored)
	st := k.waitCaughtUp(t, uint64(total), 60*time.Second)
	if code := k.readyz(); code != http.StatusOK {
		t.Errorf("/readyz after the restart: got %d, want 200", code)
	}
	for _, c := range []struct {
		sample string
		ok     func(float64) bool
		want   string
	}{
		{"kam_nats_connected", func(v float64) bool { return v == 1 }, "1"},
		{"kam_projector_lag_messages", func(v float64) bool { return v == 0 }, "0"},
		{`kam_events_refused_total{reason="unavailable",type="order.placed"}`, func(v float64) bool { return v > 0 }, "> 0"},
		{`kam_events_appended_total{type="order.placed"}`, func(v float64) bool { return v > 0 }, "> 0"},
	} {
		if v := k.metric(t, c.sample); !c.ok(v) {
			t.Errorf("%s: got %v, want %s", c.sample, v, c.want)
		}
	}
	t.Logf("acknowledged %d, stored %d, applied %d; answers %v; NATS down %s, first 201 %s after its restart",
		acked, total, st.Projector.AppliedSeq, summarize(outs), restartedAt.Sub(killedAt).Round(time.Millisecond),
		first201.Sub(restartedAt).Round(time.Millisecond))
	if err := k.stop(30 * time.Second); err != nil {
		t.Errorf("kam stop: %v", err)
	}
}

// TestEmbeddedKamRestartUnderIngest: with the embedded NATS server, kam's
// process is the server, so the failure is kam's: it is killed with kill -9
// under load, then stopped with SIGTERM under load, and started again each
// time. No acknowledged event is lost, and the projector picks up where its
// checkpoint was.
func TestEmbeddedKamRestartUnderIngest(t *testing.T) {
	dir := t.TempDir()
	k := startKamProc(t, "kam", filepath.Join(dir, "kam"))
	var addr atomic.Pointer[string]
	setAddr := func() { a := "http://" + k.http; addr.Store(&a) }
	setAddr()
	l := newLoader(func() string { return *addr.Load() }, 3, 20)
	l.start()
	defer l.stop()
	l.waitAcked(t, 300, 60*time.Second)

	k.kill()
	killedAt := time.Now()
	k.restart(t)
	setAddr()
	restartedAt := time.Now()
	l.waitAcked(t, 300, 90*time.Second)

	if err := k.stop(30 * time.Second); err != nil {
		t.Errorf("SIGTERM under load: %v (want a clean exit)", err)
	}
	k.restart(t)
	setAddr()
	l.waitAcked(t, 300, 90*time.Second)
	l.stop()

	acked, outs := l.snapshot()
	for _, o := range outs {
		switch o.status {
		case http.StatusCreated, 0:
		case http.StatusServiceUnavailable:
			if o.retryAfter == "" {
				t.Errorf("503 without Retry-After: %s", o.err)
			}
		default:
			t.Errorf("answer %d (want 201, 503 or none while kam is down): %s", o.status, o.err)
		}
	}
	stored := k.storedIDs(t)
	total := l.checkNoneLost(t, stored)
	st := k.waitCaughtUp(t, uint64(total), 60*time.Second)
	t.Logf("acknowledged %d, stored %d, applied %d; answers %v (0: no answer while kam was down); restart after kill -9 took %s",
		acked, total, st.Projector.AppliedSeq, summarize(outs), restartedAt.Sub(killedAt).Round(time.Millisecond))
	if err := k.stop(30 * time.Second); err != nil {
		t.Errorf("kam stop: %v", err)
	}
}

// TestRefusedWhileDisconnectedIsNotStored: an event answered with 503 while
// the NATS server is away is not stored later, when kam reconnects: the
// client library must not keep it to send then (a client that sent no id
// could not retry it without storing it twice).
func TestRefusedWhileDisconnectedIsNotStored(t *testing.T) {
	dir := t.TempDir()
	n := startNATS(t, dir, 1)[0]
	k := startKamProc(t, "kam", filepath.Join(dir, "kam"), "--nats-url", n.url())
	n.kill()
	checkFor(t, 30*time.Second, 50*time.Millisecond, func() error {
		if code := k.readyz(); code != http.StatusServiceUnavailable {
			return fmt.Errorf("/readyz with NATS down: got %d, want 503", code)
		}
		return nil
	})
	body := `{"specversion":"1.0","id":"while-down","source":"e2e","type":"account.registered","subject":"DOWN-1",` +
		`"time":"2026-01-05T10:00:00Z","data":{"name":"d"}}`
	resp, err := httpClient.Post(k.url("/v1/events"), "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("POST with NATS down: %d, want 503", resp.StatusCode)
	}
	n.restart(t)
	checkFor(t, 60*time.Second, 50*time.Millisecond, func() error {
		if code := k.readyz(); code != http.StatusOK {
			return fmt.Errorf("/readyz after the restart: got %d, want 200", code)
		}
		return nil
	})
	time.Sleep(3 * time.Second) // what a reconnect flushes arrives within this
	if ids := k.storedIDs(t); ids["while-down"] != 0 {
		t.Errorf("the event answered with 503 was stored after the reconnect: %v", ids)
	}
}
