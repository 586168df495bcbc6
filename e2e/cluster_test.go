package e2e

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"kam/events/natsstore"
	"kam/projections"
)

// replicasCurrent reports an error unless every replica of the stream is
// online and current.
func replicasCurrent(ctx context.Context, js jetstream.JetStream, stream string) error {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return err
	}
	info, err := s.Info(ctx)
	if err != nil {
		return err
	}
	if info.Cluster == nil || info.Cluster.Leader == "" {
		return fmt.Errorf("stream %s has no leader", stream)
	}
	if len(info.Cluster.Replicas) != 2 {
		return fmt.Errorf("stream %s: leader %s with %d replicas, want 2", stream, info.Cluster.Leader, len(info.Cluster.Replicas))
	}
	for _, r := range info.Cluster.Replicas {
		if r.Offline || !r.Current {
			return fmt.Errorf("replica %s: offline %v, current %v, lag %d", r.Name, r.Offline, r.Current, r.Lag)
		}
	}
	return nil
}

// digestOf is the content digest of a read-model file, table by table.
func digestOf(t testing.TB, path string) string {
	t.Helper()
	db, err := projections.OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ds, err := projections.Digest(context.Background(), db.Reader())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "%s %d %s\n", d.Table, d.Rows, d.SHA256)
	}
	return b.String()
}

// TestClusterNodeLossUnderLoad runs kam on a three-node JetStream cluster
// (three nats-server processes, the stream with 3 replicas): kam A ingests
// and projects, kam B projects into its own SQLite file. Under load, the
// node leading the stream is killed (kill -9) and later started again; then
// another node is killed, so that the restarted node must hold its share.
// No acknowledged event is lost, ingest goes on while the node is down with
// 503s only while the leader moves, and both read models end with equal
// digests.
func TestClusterNodeLossUnderLoad(t *testing.T) {
	dir := t.TempDir()
	nodes := startNATS(t, dir, 3)
	var urls []string
	for _, n := range nodes {
		urls = append(urls, n.url())
	}
	url := strings.Join(urls, ",")
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	// The cluster takes JetStream requests once its meta leader is elected.
	checkFor(t, 60*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := js.AccountInfo(ctx)
		return err
	})

	// The stream is made as kam makes it, so that its leader is known
	// before kam starts: both kams are given the leader's address only, so
	// that the node killed below is the one they are connected to. They must
	// reconnect to another (the cluster tells clients of its other nodes),
	// go on appending, and their projectors must find the stream's new
	// leader.
	var leader string
	checkFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s, err := js.CreateStream(ctx, natsstore.StreamConfig(natsstore.Config{Replicas: 3}))
		if err != nil {
			return err
		}
		info, err := s.Info(ctx)
		if err != nil {
			return err
		}
		if info.Cluster == nil || info.Cluster.Leader == "" {
			return errors.New("the stream has no leader yet")
		}
		leader = info.Cluster.Leader
		return nil
	})
	var victim *natsNode
	for _, n := range nodes {
		if n.name == leader {
			victim = n
		}
	}
	if victim == nil {
		t.Fatalf("stream leader %q is none of the nodes", leader)
	}
	a := startKamProc(t, "kam-a", filepath.Join(dir, "kam-a"), "--nats-url", victim.url(), "--replicas", "3")
	b := startKamProc(t, "kam-b", filepath.Join(dir, "kam-b"), "--nats-url", victim.url(), "--replicas", "3")
	st, err := a.status()
	if err != nil {
		t.Fatal(err)
	}
	if st.Stream.Replicas != 3 {
		t.Fatalf("stream replicas: got %d, want 3", st.Stream.Replicas)
	}

	l := newLoader(func() string { return "http://" + a.http }, 3, 20)
	l.start()
	defer l.stop()
	l.waitAcked(t, 500, 60*time.Second)

	if st, err = a.status(); err != nil || st.Stream.Leader != victim.name {
		t.Fatalf("the stream leader moved before the kill: %v %v", st.Stream.Leader, err)
	}
	// The times are taken before the kill and the restart: answers to requests
	// in flight fail as the node goes, before kill() returns.
	killedAt := time.Now()
	victim.kill()
	l.waitAcked(t, 500, 90*time.Second) // ingest goes on with two nodes
	continuedAt := time.Now()
	st, _ = a.status()
	newLeader := st.Stream.Leader

	restartedAt := time.Now()
	victim.restart(t)
	checkFor(t, 90*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return replicasCurrent(ctx, js, "KAM")
	})
	caughtUpAt := time.Now()
	l.waitAcked(t, 300, 60*time.Second)
	l.stop()

	// Another node goes: the restarted one must now hold the stream with
	// the third.
	var second *natsNode
	for _, n := range nodes {
		if n != victim && n.name != newLeader {
			second = n
		}
	}
	second.kill()

	acked, outs := l.snapshot()
	var first503, last503 time.Time
	for _, o := range outs {
		switch o.status {
		case http.StatusCreated:
		case http.StatusServiceUnavailable:
			if o.retryAfter == "" {
				t.Errorf("503 without Retry-After: %s", o.err)
			}
			if first503.IsZero() {
				first503 = o.at
			}
			last503 = o.at
			inKill := o.at.After(killedAt) && o.at.Before(killedAt.Add(20*time.Second))
			inRestart := o.at.After(restartedAt) && o.at.Before(restartedAt.Add(20*time.Second))
			if !inKill && !inRestart {
				t.Errorf("503 at %s after the kill, outside a leader move: %s", o.at.Sub(killedAt).Round(time.Millisecond), o.err)
			}
		default:
			t.Errorf("answer %d (want only 201 and 503): %s", o.status, o.err)
		}
	}

	stored := b.storedIDs(t)
	total := l.checkNoneLost(t, stored)
	stA := a.waitCaughtUp(t, uint64(total), 120*time.Second)
	stB := b.waitCaughtUp(t, uint64(total), 120*time.Second)
	if stA.Stream.LastSeq != stB.Stream.LastSeq || stA.Stream.Messages != uint64(total) {
		t.Errorf("stream: A sees last %d, B %d, messages %d; want both %d", stA.Stream.LastSeq, stB.Stream.LastSeq, stA.Stream.Messages, total)
	}
	refused := a.metric(t, `kam_http_request_duration_seconds_count{code="503",route="POST /v1/events"}`)
	if err := a.stop(30 * time.Second); err != nil {
		t.Errorf("kam A stop: %v", err)
	}
	if err := b.stop(30 * time.Second); err != nil {
		t.Errorf("kam B stop: %v", err)
	}
	da := digestOf(t, filepath.Join(a.dataDir, "kam.db"))
	db := digestOf(t, filepath.Join(b.dataDir, "kam.db"))
	if da != db {
		t.Errorf("read models differ:\nA:\n%sB:\n%s", da, db)
	}

	window := "none"
	if !first503.IsZero() {
		window = fmt.Sprintf("%s to %s after the kill", first503.Sub(killedAt).Round(time.Millisecond), last503.Sub(killedAt).Round(time.Millisecond))
	}
	t.Logf("leader %s killed; new leader %s; %d events acknowledged after the kill within %s; node back and current %s after its restart",
		victim.name, newLeader, 500, continuedAt.Sub(killedAt).Round(time.Millisecond), caughtUpAt.Sub(restartedAt).Round(time.Millisecond))
	t.Logf("acknowledged %d, stored %d, both read models at %d with equal digests; answers %v (metrics: %v 503s); 503s %s",
		acked, total, stA.Projector.AppliedSeq, summarize(outs), refused, window)
}
