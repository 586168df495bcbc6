package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	_ "github.com/mattn/go-sqlite3"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"kam/events/natsstore"
	"kam/projections"
)

// auditScript appends the scripted history of ACME and BETA and returns the
// sequences: ACME's tier goes none→A at the close of 2026-01-05 (closed by
// e3) and A→B at the close of 2026-01-07 (closed by the tick e5).
func auditScript(t *testing.T, k *kam, acmeFirst string) {
	t.Helper()
	post := func(ev map[string]any, hdr ...string) {
		t.Helper()
		if code, body := k.call("POST", "/v1/events", ev, hdr...); code != 201 {
			t.Fatalf("append %v: %d %v", ev["id"], code, body)
		}
	}
	e1 := order("e1", "ACME", "2026-01-05T10:00:00Z", acmeFirst)
	e1["correlationid"] = "c-1"
	post(e1, "Kam-Actor", "alice")
	post(order("e2", "BETA", "2026-01-05T11:00:00Z", "100.00"))
	post(order("e3", "ACME", "2026-01-06T09:00:00Z", "10.00"), "Kam-Actor", "bob")
	post(order("e4", "BETA", "2026-01-07T09:00:00Z", "5000.00"))
	post(map[string]any{"id": "e5", "source": "test", "type": "clock.tick", "time": "2026-01-08T00:00:00Z"})
}

func TestAuditTrail(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	auditScript(t, k, "1000.00")
	code, a := k.call("GET", "/v1/accounts/ACME/audit?min_seq=5", nil)
	if code != 200 {
		t.Fatalf("audit: %d %v", code, a)
	}
	type want struct {
		kind, effective, from, to string
		closeSeq                  float64
		closeID                   string
		moved                     []string
	}
	wants := []want{
		// First review, the close of 2026-01-05 (e3's time closed it):
		// ACME 1000.00 of 1100.00, nothing above it → A; score 65.00 ≥ 60 → key;
		// first order less than 90 days before → new.
		{"tier", "2026-01-06T00:00:00Z", "<nil>", "A", 3, "e3", []string{"e1"}},
		{"key", "2026-01-06T00:00:00Z", "<nil>", "true", 3, "e3", []string{"e1"}},
		{"loyalty", "2026-01-06T00:00:00Z", "<nil>", "new", 3, "e3", []string{"e1"}},
		// The close of 2026-01-07 (the tick): BETA 5100.00 ranks first;
		// ACME's 1010.00 has 5100.00 above it: 100*5100 >= 80*6110 → B, not key.
		{"tier", "2026-01-08T00:00:00Z", "A", "B", 5, "e5", []string{"e3"}},
		{"key", "2026-01-08T00:00:00Z", "true", "false", 5, "e5", []string{"e3"}},
	}
	ds := a["decisions"].([]any)
	if len(ds) != len(wants) {
		t.Fatalf("decisions: got %d, want %d: %v", len(ds), len(wants), ds)
	}
	for i, w := range wants {
		d := ds[i].(map[string]any)
		closed := d["closed_by"].(map[string]any)
		var moved []string
		for _, m := range d["moved"].([]any) {
			moved = append(moved, m.(map[string]any)["id"].(string))
		}
		got := fmt.Sprint(d["kind"], d["effective"], fmt.Sprint(d["from"]), fmt.Sprint(d["to"]), closed["seq"], closed["id"], moved)
		exp := fmt.Sprint(w.kind, w.effective, w.from, w.to, w.closeSeq, w.closeID, w.moved)
		if got != exp {
			t.Errorf("decision %d: got %s, want %s", i+1, got, exp)
		}
	}
	// The events are shown as stored, with who appended them.
	first := ds[0].(map[string]any)["moved"].([]any)[0].(map[string]any)
	if first["actor"] != "alice" || first["correlationid"] != "c-1" || first["source"] != "e2e" || first["stored_at"] == nil {
		t.Errorf("moved event as stored: got %v", first)
	}
	stream := a["stream"].(map[string]any)
	if stream["deny_delete"] != true || stream["deny_purge"] != true {
		t.Errorf("stream settings in the audit: %v", stream)
	}
	if c := a["chain"].(map[string]any); c["length"].(float64) != 2 || len(c["head"].(string)) != 64 {
		t.Errorf("chain: %v", c)
	}

	var out syncBuffer
	m := &Main{Stdout: &out, Stderr: &out}
	if code := m.Run(context.Background(), []string{"audit", "--url", "http://" + k.addrs.HTTP, "ACME"}); code != 0 {
		t.Fatalf("kam audit: exit %d: %s", code, out.String())
	}
	for _, s := range []string{`AUDIT STATEMENT: account "ACME"`, "TIER  (none) -> A", "TIER  A -> B", "actor alice",
		"The day was closed by #5 clock.tick id e5", "deny delete: yes"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("kam audit text lacks %q:\n%s", s, out.String())
		}
	}
	out = syncBuffer{}
	if code := m.Run(context.Background(), []string{"audit", "--url", "http://" + k.addrs.HTTP, "--as-of", "2026-01-06", "ACME"}); code != 0 ||
		!strings.Contains(out.String(), "3 decisions") {
		t.Errorf("kam audit --as-of 2026-01-06: exit %d, want the 3 decisions of the first close:\n%s", code, out.String())
	}
}

// runKam runs a kam command in-process and returns its exit code and its
// output, stdout then stderr.
func runKam(t *testing.T, args ...string) (int, string) {
	t.Helper()
	code, stdout, stderr := runKamSplit(t, args...)
	return code, stdout + stderr
}

func runKamSplit(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr syncBuffer
	code := (&Main{Stdout: &stdout, Stderr: &stderr}).Run(context.Background(), args)
	return code, stdout.String(), stderr.String()
}

// TestVerify: verify passes on a healthy model, through a running kam and
// on its data dir, and fails naming the row when a row is changed by hand.
func TestVerify(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	auditScript(t, k, "1000.00")
	k.call("GET", "/v1/accounts?min_seq=5", nil)
	if code, out := runKam(t, "verify", "--url", "http://"+k.addrs.HTTP, "--quiet"); code != 0 || !strings.Contains(out, "exactly what the log implies") {
		t.Fatalf("verify --url on a healthy model: exit %d:\n%s", code, out)
	}
	k.stop()
	if code, out := runKam(t, "verify", "--data-dir", dir, "--quiet"); code != 0 || !strings.Contains(out, "accounts") {
		t.Fatalf("verify --data-dir on a healthy model: exit %d:\n%s", code, out)
	}

	editModel(t, dir, `UPDATE accounts SET tier = 'C' WHERE account = 'BETA'`)
	code, out := runKam(t, "verify", "--data-dir", dir, "--quiet")
	if code != 1 || !strings.Contains(out, "accounts         DIFFERS") || !strings.Contains(out, "serving: BETA") ||
		!strings.Contains(out, "rebuilt: BETA") {
		t.Errorf("verify after a hand edit: exit %d, want 1 naming BETA's row:\n%s", code, out)
	}
	if strings.Count(out, "DIFFERS") != 1 {
		t.Errorf("only the accounts table was changed:\n%s", out)
	}

	// A view redefined by hand: the data are intact, the file is not.
	editModel(t, dir, `UPDATE accounts SET tier = (SELECT to_tier FROM tier_history h WHERE h.account = 'BETA'
		ORDER BY effective DESC LIMIT 1) WHERE account = 'BETA';
		DROP VIEW v_tier_changes; CREATE VIEW v_tier_changes AS SELECT 'forged' AS account`)
	code, out = runKam(t, "verify", "--data-dir", dir, "--quiet")
	if code != 1 || !strings.Contains(out, "schema           DIFFERS") || !strings.Contains(out, "v_tier_changes") ||
		strings.Count(out, "DIFFERS") != 1 {
		t.Errorf("verify after a view was redefined: exit %d, want 1 naming the schema only:\n%s", code, out)
	}
}

// TestVerifyChain: the hash chains recomputed from a history that differs
// by one byte from the filed one differ, for that account only.
func TestVerifyChain(t *testing.T) {
	dir := auditedDir(t)
	code, filed, _ := runKamSplit(t, "verify", "--chain", "--data-dir", dir)
	if code != 0 || !strings.Contains(filed, "ACME 2 ") || !strings.Contains(filed, "BETA 2 ") {
		t.Fatalf("verify --chain: exit %d:\n%s", code, filed)
	}
	filedPath := filepath.Join(t.TempDir(), "chains.txt")
	if err := os.WriteFile(filedPath, []byte(filed), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runKam(t, "verify", "--chain", "--data-dir", dir, "--against", filedPath); code != 0 {
		t.Fatalf("the same history against its own filed chains: exit %d:\n%s", code, out)
	}

	// The same history but one byte: 1000.00 → 1000.01 in ACME's first order.
	other := t.TempDir()
	k2 := startKam(t, other, "--no-ticks")
	auditScript(t, k2, "1000.01")
	k2.call("GET", "/v1/accounts?min_seq=5", nil)
	k2.stop()
	code, out := runKam(t, "verify", "--chain", "--data-dir", other, "--against", filedPath)
	var differing []string
	for _, line := range strings.Split(out, "\n") {
		if strings.Contains(line, "DIFFERS") {
			differing = append(differing, strings.Fields(line)[0])
		}
	}
	if code != 1 || fmt.Sprint(differing) != "[ACME]" {
		t.Errorf("a one-byte change against the filed chains: exit %d, want 1 with ACME differing only:\n%s", code, out)
	}
}

// TestAuditStreamCut: DenyDelete and DenyPurge do not stop whoever may
// administer the stream from lowering its limits; the audit then says that
// the stream lost messages, and which of the recorded events are gone.
func TestAuditStreamCut(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks")
	defer k.stop()
	auditScript(t, k, "1000.00")
	k.call("GET", "/v1/accounts?min_seq=5", nil)
	var out syncBuffer
	m := &Main{Stdout: &out, Stderr: &out}
	if code := m.Run(context.Background(), []string{"audit", "ACME", "--url", "http://" + k.addrs.HTTP}); code != 0 ||
		!strings.Contains(out.String(), "every message appended still there: yes") {
		t.Fatalf("kam audit of a whole stream: exit %d:\n%s", code, out.String())
	}

	js := kamJetStream(t, k)
	ctx := context.Background()
	s, err := js.Stream(ctx, "KAM")
	if err != nil {
		t.Fatal(err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cfg := info.Config
	cfg.MaxMsgs = 2 // keeps the last two of five
	if _, err := js.UpdateStream(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	_, st := k.call("GET", "/v1/status", nil)
	stream := st["stream"].(map[string]any)
	if stream["complete"] != false || stream["first_seq"] != float64(4) || stream["max_msgs"] != float64(2) {
		t.Errorf("status after the cut: %v", stream)
	}
	out = syncBuffer{}
	if code := m.Run(context.Background(), []string{"audit", "ACME", "--url", "http://" + k.addrs.HTTP}); code != 0 {
		t.Fatalf("kam audit: exit %d:\n%s", code, out.String())
	}
	for _, s := range []string{"sequences 4 to 5", "every message appended still there: NO", "max messages 2",
		"NOT IN THE STREAM ANY MORE"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("kam audit after the cut lacks %q:\n%s", s, out.String())
		}
	}
}

// TestChainOfAStrayToken: a message on a subject token that is no account's
// canonical token has a chain of its own, which neither passes for the
// account whose id the token spells nor upsets kam verify --chain.
func TestChainOfAStrayToken(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks")
	defer k.stop()
	ev := map[string]any{"specversion": "1.0", "id": "o-1", "source": "t", "type": "order.placed", "subject": "~Lh",
		"time": "2026-01-05T10:00:00Z", "data": map[string]any{"order_id": "o1", "amount": "1.00"}}
	if code, body := k.call("POST", "/v1/events", ev); code != 201 {
		t.Fatalf("append: %d %v", code, body)
	}
	js := kamJetStream(t, k)
	if _, err := js.Publish(context.Background(), "kam.acct.~Lh.order.placed", []byte("not an event")); err != nil {
		t.Fatal(err)
	}
	code, a := k.call("GET", "/v1/accounts/~Lh/audit?min_seq=2", nil)
	if code != 200 {
		t.Fatalf("audit: %d %v", code, a)
	}
	if c := a["chain"].(map[string]any); c["length"] != float64(1) || c["last_seq"] != float64(1) {
		t.Errorf("the account's chain: %v, want its own message only (sequence 1)", c)
	}
	if code, out := runKam(t, "verify", "--chain", "--url", "http://"+k.addrs.HTTP); code != 0 ||
		!strings.Contains(out, "\n~Lh 1 ") || !strings.Contains(out, "  ~Lh (a subject token that names no account)\n") {
		t.Errorf("verify --chain: exit %d:\n%s", code, out)
	}
}

// TestVerifyAgainstNeedsChain: --against compares chains; alone it is an
// error, not silently ignored.
func TestVerifyAgainstNeedsChain(t *testing.T) {
	code, out := runKam(t, "verify", "--data-dir", t.TempDir(), "--against", "filed.txt")
	if code == 0 || !strings.Contains(out, "--against FILE compares hash chains: give it with --chain") {
		t.Errorf("verify --against without --chain: exit %d:\n%s", code, out)
	}
}

// kamJetStream is a JetStream client on k's embedded NATS server, closed
// when the test ends.
func kamJetStream(t *testing.T, k *kam) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(k.addrs.NATS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

// TestFirstDifferenceModelMoved: rows of a running kam that applied more
// since its digests are not compared, and verify says so and goes on to
// the next table, where it stopped with the 409.
func TestFirstDifferenceModelMoved(t *testing.T) {
	rebuilt, err := projections.OpenDB(filepath.Join(t.TempDir(), "kam.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer rebuilt.Close()
	serving := servingModel{rows: func(context.Context, string, int, int) ([][]any, error) {
		return nil, fmt.Errorf("%w: the read model has applied sequence 9, not 7 (409 conflict)", errModelMoved)
	}}
	got, err := firstDifference(context.Background(), serving, rebuilt, "accounts")
	if err != nil || !strings.Contains(got, "rows not compared: the serving model has applied more since its digests") {
		t.Errorf("got %q, %v; want the rows left uncompared, no error", got, err)
	}
}

// TestVerifyChainSeesOrderAndTicks: the chains cover every message of the
// log with its place. Two accounts' messages that trade places, or a clock
// tick moved, change the decisions a rebuild makes; each is now seen by a
// chain (before, each account's chain hashed its own messages' bytes
// alone, and no chain covered the ticks).
func TestVerifyChainSeesOrderAndTicks(t *testing.T) {
	history := func(swap bool, tick string) string {
		t.Helper()
		evs := []map[string]any{
			order("e1", "ACME", "2026-01-05T10:00:00Z", "1000.00"),
			order("e2", "BETA", "2026-01-05T11:00:00Z", "100.00"),
			{"id": "e3", "source": "test", "type": "clock.tick", "time": tick},
		}
		if swap {
			evs[0], evs[1] = evs[1], evs[0]
		}
		dir := t.TempDir()
		appendThenStop(t, dir, 3, evs...)
		return dir
	}
	list, filed := fileChains(t, history(false, "2026-01-06T00:00:00Z"))
	if !strings.Contains(list, "kam.clock.tick 1 ") {
		t.Fatalf("verify --chain: want the ticks' chain too:\n%s", list)
	}
	for _, tc := range []struct {
		name string
		dir  string
		want string
	}{
		{"ACME's and BETA's orders traded places", history(true, "2026-01-06T00:00:00Z"), "[ACME BETA]"},
		{"the tick an hour earlier", history(false, "2026-01-05T23:00:00Z"), "[kam.clock.tick]"},
	} {
		code, out := runKam(t, "verify", "--chain", "--data-dir", tc.dir, "--against", filed)
		if code != 1 || differing(out) != tc.want {
			t.Errorf("%s: exit %d with %s differing, want 1 with %s:\n%s", tc.name, code, differing(out), tc.want, out)
		}
	}
}

// TestVerifyChainGrown: a list filed earlier is of a shorter log; a chain
// that has grown since is equal to it if its first links end in the filed
// head (an auditor checks a live log), and differs if they do not.
func TestVerifyChainGrown(t *testing.T) {
	dir := auditedDir(t)
	list, filed := fileChains(t, dir)
	appendThenStop(t, dir, 6, order("e6", "ACME", "2026-01-08T10:00:00Z", "1.00"))
	code, out := runKam(t, "verify", "--chain", "--data-dir", dir, "--against", filed)
	if code != 0 || !strings.Contains(out, "ACME 3 ") || !strings.Contains(out, "grew from 2") || strings.Contains(out, "DIFFERS") {
		t.Errorf("a log grown since the list was filed: exit %d, want 0 with ACME grown from 2:\n%s", code, out)
	}
	// A filed head that the log's first links do not end in still differs.
	lines := strings.Split(list, "\n")
	for i, l := range lines {
		if f := strings.Fields(l); len(f) == 3 && f[0] == "ACME" {
			lines[i] = "ACME 2 " + strings.Repeat("0", 64)
		}
	}
	if err := os.WriteFile(filed, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runKam(t, "verify", "--chain", "--data-dir", dir, "--against", filed); code != 1 || differing(out) != "[ACME]" {
		t.Errorf("a grown chain whose first links do not end in the filed head: exit %d, want 1 with ACME differing:\n%s", code, out)
	}
}

// TestEventLineLongData: a statement's line shows an event's data whole, or
// cut visibly with the amount after it; never silently without it (an
// order's data of 200 bytes or more was left out, amount and all).
func TestEventLineLongData(t *testing.T) {
	short := `{"order_id":"o-1","amount":"316.17"}`
	long := `{"order_id":"o-2","amount":"916.17","notes":"` + strings.Repeat("é", 150) + `"}`
	for _, tc := range []struct{ data, want string }{
		{short, ", data " + short},
		{long, `, data (` + fmt.Sprint(len(long)) + ` bytes, the first 200) {"order_id":"o-2","amount":"916.17"`},
		{long, "…, amount 916.17"},
	} {
		line := eventLine(json.RawMessage(`{"seq":7,"id":"o","type":"order.placed","data":` + tc.data + `}`))
		if !strings.Contains(line, tc.want) || !utf8.ValidString(line) {
			t.Errorf("line %q: want it to hold %q, in UTF-8", line, tc.want)
		}
	}
}

// TestVerifyChainModelMoved: when a running kam applies more while kam
// verify --chain reads its chains, nothing is compared, and the exit code
// says so (3), not a difference (1), which a scripted audit must tell apart.
func TestVerifyChainModelMoved(t *testing.T) {
	serving := servingModel{applied: 7, rows: func(context.Context, string, int, int) ([][]any, error) {
		return nil, errModelMoved
	}}
	var out syncBuffer
	err := (&Main{Stdout: &out, Stderr: &out}).verifyChains(context.Background(), nil, nil, serving, "")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 3 {
		t.Errorf("chains read from a model that moved on: got %v, want exit 3", err)
	}
}

// TestVerifySchemaMigrations: the record of the migrations run is part of
// the model, and kam verify reads the file without running any (it ran the
// migration whose record was deleted again, and the file looked whole).
func TestVerifySchemaMigrations(t *testing.T) {
	dir := auditedDir(t)
	editModel(t, dir, `DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`)
	code, out := runKam(t, "verify", "--data-dir", dir, "--quiet")
	if code != 1 || !strings.Contains(out, "schema_migrations DIFFERS") || strings.Count(out, "DIFFERS") != 1 {
		t.Errorf("verify after the latest migration's record was deleted: exit %d, want 1 naming schema_migrations only:\n%s", code, out)
	}
}

// TestVerifyChainLists: chains are told apart by token (an account named
// "kam.clock.tick" beside the ticks' chain); a list printed by an --against
// run can be filed again; a chain begun after the list was filed is new,
// not a difference; and a list without the header (links of a kam before
// rules 4) is refused as such, not read as a changed log.
func TestVerifyChainLists(t *testing.T) {
	dir := t.TempDir()
	appendThenStop(t, dir, 2, order("e1", "kam.clock.tick", "2026-01-05T10:00:00Z", "10.00"),
		map[string]any{"id": "e2", "source": "test", "type": "clock.tick", "time": "2026-01-06T00:00:00Z"})
	list, filed := fileChains(t, dir)
	if strings.Count(list, " 1 ") != 2 || !strings.HasPrefix(list, chainsHeader) {
		t.Fatalf("verify --chain with an account named kam.clock.tick: want two chains of 1:\n%s", list)
	}
	appendThenStop(t, dir, 3, order("e3", "NEWCO", "2026-01-06T10:00:00Z", "1.00"))
	code, out, remarks := runKamSplit(t, "verify", "--chain", "--data-dir", dir, "--against", filed)
	if code != 0 || !strings.Contains(out, "NEWCO 1 ") || !strings.Contains(remarks, "NEWCO is new since") {
		t.Fatalf("a chain begun after the list was filed: exit %d, want 0 with NEWCO new:\n%s%s", code, out, remarks)
	}
	// That output is a list to file in turn.
	if err := os.WriteFile(filed, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := runKam(t, "verify", "--chain", "--data-dir", dir, "--against", filed); code != 0 {
		t.Errorf("against the list an --against run printed: exit %d:\n%s", code, out)
	}
	// Lists of the formats before rules 5.
	for _, tc := range []struct{ list, want string }{
		{"ACME 2 " + strings.Repeat("0", 64) + "\n", "before rules 4"},
		{"# kam chains v2: stream KAM up to sequence 3\nNEWCO 1 " + strings.Repeat("0", 64) + "\n", "of rules 4"},
		{"# kam chains v4: stream KAM up to sequence 3\nNEWCO 1 " + strings.Repeat("0", 64) + "\n", "by a newer kam"},
	} {
		if err := os.WriteFile(filed, []byte(tc.list), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, out := runKam(t, "verify", "--chain", "--data-dir", dir, "--against", filed); code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("a list of older chains: exit %d, want a refusal with %q:\n%s", code, tc.want, out)
		}
	}
}

// TestLocalModelMoved: kam verify --data-dir reads a file a running kam may
// be writing; rows of a later state than the digests it read are refused as
// a model that moved on (as --url does), not compared as a difference.
func TestLocalModelMoved(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	defer k.stop()
	if code, body := k.call("POST", "/v1/events", order("e1", "ACME", "2026-01-05T10:00:00Z", "1.00")); code != 201 {
		t.Fatalf("append: %d %v", code, body)
	}
	k.call("GET", "/v1/accounts?min_seq=1", nil)
	model, err := localModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer model.close()
	if _, err := model.rows(context.Background(), "chains", 0, 10); err != nil {
		t.Fatalf("rows at the digests' state: %v", err)
	}
	if code, body := k.call("POST", "/v1/events", order("e2", "ACME", "2026-01-05T11:00:00Z", "1.00")); code != 201 {
		t.Fatalf("append: %d %v", code, body)
	}
	k.call("GET", "/v1/accounts?min_seq=2", nil)
	if _, err := model.rows(context.Background(), "chains", 0, 10); !errors.Is(err, errModelMoved) {
		t.Errorf("rows after the model applied more: got %v, want errModelMoved", err)
	}
}

// TestVerifyChainFiledChecks: a chain that grew by a link at or below the
// filed sequence was changed, not grown; labels that read like remarks
// ("DIFFERS") are labels; a list of another stream, of sequence 0, or past
// the log's end is refused.
func TestVerifyChainFiledChecks(t *testing.T) {
	dir := t.TempDir()
	appendThenStop(t, dir, 3, order("e1", "ACME", "2026-01-05T10:00:00Z", "1.00"), order("e2", "DIFFERS", "2026-01-05T10:00:00Z", "1.00"),
		order("e3", "Not DIFFERS Ltd", "2026-01-05T10:00:00Z", "1.00"))
	list, filed := fileChains(t, dir)
	against := func(text string) (int, string) {
		t.Helper()
		if err := os.WriteFile(filed, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return runKam(t, "verify", "--chain", "--data-dir", dir, "--against", filed)
	}
	if code, out := against(list); code != 0 {
		t.Errorf("accounts named DIFFERS, against their own list: exit %d:\n%s", code, out)
	}
	appendThenStop(t, dir, 5, order("e4", "ACME", "2026-01-05T11:00:00Z", "1.00"), order("e5", "BETA", "2026-01-05T11:00:00Z", "1.00"))
	if code, out := against(list); code != 0 || !strings.Contains(out, "ACME grew from 1") {
		t.Errorf("grown since sequence 3: exit %d, want 0:\n%s", code, out)
	}
	// The same list claimed as of sequence 4: ACME's second link (4) was
	// then in the log, so the list says it had one link where it had two.
	if code, out := against(strings.Replace(list, "up to sequence 3", "up to sequence 4", 1)); code != 1 || differing(out) != "[ACME]" {
		t.Errorf("a link at or below the filed sequence: exit %d, want 1 with ACME differing:\n%s", code, out)
	}
	for _, tc := range []struct{ header, want string }{
		{"stream OTHER up to sequence 3", "of stream OTHER"},
		{"stream KAM up to sequence 0", "sequence 0"},
		{"stream KAM up to sequence 99", "past the stream's last"},
	} {
		if code, out := against(strings.Replace(list, "stream KAM up to sequence 3", tc.header, 1)); code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("a list with the header %q: exit %d, want a refusal with %q:\n%s", tc.header, code, tc.want, out)
		}
	}
}

// appendThenStop starts kam on dir, appends evs (the stream then ends at
// sequence last), waits until the read model has them, and stops kam.
func appendThenStop(t *testing.T, dir string, last int, evs ...map[string]any) {
	t.Helper()
	k := startKam(t, dir, "--no-ticks")
	defer k.stop()
	for _, ev := range evs {
		if code, body := k.call("POST", "/v1/events", ev); code != 201 {
			t.Fatalf("append %v: %d %v", ev["id"], code, body)
		}
	}
	k.call("GET", fmt.Sprintf("/v1/accounts?min_seq=%d", last), nil)
}

// fileChains files the list kam verify --chain prints for dir: it returns
// the list and the file that holds it.
func fileChains(t *testing.T, dir string) (list, path string) {
	t.Helper()
	code, out, remarks := runKamSplit(t, "verify", "--chain", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("verify --chain: exit %d:\n%s%s", code, out, remarks)
	}
	path = filepath.Join(t.TempDir(), "chains.txt")
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		t.Fatal(err)
	}
	return out, path
}

// differing lists the chains kam verify's output says differ.
func differing(out string) string {
	var d []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 1 && f[1] == "DIFFERS" {
			d = append(d, f[0])
		}
	}
	return fmt.Sprint(d)
}

// editModel changes the serving read model of dir by hand.
func editModel(t *testing.T, dir, statements string) {
	t.Helper()
	path, err := filepath.EvalSymlinks(filepath.Join(dir, "kam.db"))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(statements); err != nil {
		t.Fatal(err)
	}
}

// TestVerifyChainLabelQuoted: a label that is not printable (a token any
// NATS client can publish under decodes to it) is quoted in the list, so
// that it adds no line of its own.
func TestVerifyChainLabelQuoted(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	evil := "Evil\nZZFORGED 7 00ff"
	// Tokens NATS takes whole, though Go counts them as holding space.
	for _, token := range []string{natsstore.Token(evil), "v\vw", "x\u00a0y"} {
		if _, err := kamJetStream(t, k).Publish(context.Background(), "kam.acct."+token+".order.placed", []byte("{}")); err != nil {
			t.Fatal(err)
		}
	}
	if code, body := k.call("POST", "/v1/events", order("e2", "ACME", "2026-01-05T10:00:00Z", "1.00")); code != 201 {
		t.Fatalf("append: %d %v", code, body)
	}
	k.call("GET", "/v1/accounts?min_seq=4", nil)
	k.stop()
	list, filed := fileChains(t, dir)
	if strings.Contains(list, "\nZZFORGED") || !strings.Contains(list, strconv.Quote(evil)) || !strings.Contains(list, `"v\vw" 1 `) {
		t.Errorf("a label with a newline: want it quoted on its chain's line:\n%s", list)
	}
	if code, out := runKam(t, "verify", "--chain", "--data-dir", dir, "--against", filed); code != 0 {
		t.Errorf("against its own list: exit %d:\n%s", code, out)
	}
}

// TestVerifyNamesTheRow: the first difference says which row, by its key:
// a row with other values, or a row one side lacks (a deleted row shifted
// every row after it, and the pair shown by place misled).
func TestVerifyNamesTheRow(t *testing.T) {
	dir := auditedDir(t)
	editModel(t, dir, `UPDATE accounts SET tier = 'C' WHERE account = 'BETA';
		DELETE FROM tier_history WHERE (effective, account) = (SELECT effective, account FROM tier_history ORDER BY effective, account LIMIT 1)`)
	code, out := runKam(t, "verify", "--data-dir", dir, "--quiet")
	for _, want := range []string{"the row of key BETA holds other values", "the serving model lacks the rebuilt row of key 2026-01-06T00:00:00.000Z | ACME"} {
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("verify after a row changed and a row deleted: exit %d, want 1 with %q:\n%s", code, want, out)
		}
	}
}

// TestWhichRow: the first difference's rows are told apart by their keys as
// typed values, also at a page's last row and when keys print alike.
func TestWhichRow(t *testing.T) {
	row := func(key ...any) []any { return append(key, "v") }
	for _, tc := range []struct {
		name string
		a, b [][]any
		want string
	}{
		{"other values", [][]any{{"X", "w"}}, [][]any{{"X", "v"}}, "the row of key X holds other values"},
		{"a row lacking", [][]any{row("B")}, [][]any{row("A"), row("B")}, "the serving model lacks the rebuilt row of key A"},
		{"a row too many", [][]any{row("A"), row("B")}, [][]any{row("B")}, "has a row of key A that the rebuilt one lacks"},
		{"keys that print alike", [][]any{row("X | request", "complaint | Y")}, [][]any{row("X", "request | complaint | Y"), row("X | request", "complaint | Y")},
			"lacks the rebuilt row of key X | request | complaint | Y"},
		{"JSON numbers against integers", [][]any{{float64(7), "w"}}, [][]any{{int64(7), "v"}}, "the row of key 7 holds other values"},
	} {
		keys := []int{0}
		if tc.name == "keys that print alike" {
			keys = []int{0, 1}
		}
		if got := whichRow(tc.a, tc.b, 0, keys); !strings.Contains(got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

// TestVerifyOtherRules: a model built by other rules than kam's differs
// from a rebuild for that alone, and verify says so, not only "differs".
func TestVerifyOtherRules(t *testing.T) {
	dir := t.TempDir()
	appendThenStop(t, dir, 1, order("e1", "ACME", "2026-01-05T10:00:00Z", "1.00"))
	editModel(t, dir, `UPDATE projector_state SET rules = 4`)
	code, out := runKam(t, "verify", "--data-dir", dir, "--quiet")
	if code != 1 || !strings.Contains(out, "built by version 4 of kam's rules") {
		t.Errorf("verify of a model of rules 4: exit %d, want 1 naming the rules:\n%s", code, out)
	}
}

// auditedDir is a data dir holding auditScript's history, applied, with no
// kam running on it.
func auditedDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	defer k.stop()
	auditScript(t, k, "1000.00")
	k.call("GET", "/v1/accounts?min_seq=5", nil)
	return dir
}
