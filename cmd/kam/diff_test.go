package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kam/analytics"
	"kam/events"
	"kam/events/natsstore"
	"kam/projections"
)

// buildModel folds evs into a new read model at path under pol, in process,
// and closes it.
func buildModel(t *testing.T, path string, pol *projections.Policy, evs []*events.Event) {
	t.Helper()
	db, err := projections.OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p, err := projections.Open(context.Background(), db, pol, "KAM", nil)
	if err != nil {
		t.Fatal(err)
	}
	msgs := make([]events.Stored, len(evs))
	for i, e := range evs {
		b, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		msgs[i] = events.Stored{Seq: uint64(i + 1), Subject: natsstore.SubjectFor(e.Subject, e.Type), Stored: e.Time.Add(time.Second), Data: b}
	}
	if err := p.Apply(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
}

// whatIfScenario is a small hand-made history, closed by a tick at
// 2026-03-01: five accounts with one order each, X1 100 days before the
// close and the others 30 days before (revenue 5000, 3000, 1000, 600 and
// 400 of 10000), and X6 with a visit only. All standard, no partnership,
// no discount.
//
// Under the default policy (cuts 80/95, key at 60, new for 90 days):
//   - before = 0, 5000, 8000, 9000, 9600: X1 A, X2 A, X3 B, X4 B, X5 C; X6 C;
//   - X1's score is 35% volume (100) + 15% concentration (100) + 15% price
//     insensitivity (100) = 65: a key account; X2's is 52.5: not;
//   - X1 ordered 100 days ago, once: no_brand_loyalty; the others new.
//
// Under the proposal (cuts 50/90, key at 70, new for 120 days):
//   - X2 (100*5000 is not < 50*10000) is B; X4 (100*9000 is not < 90*10000) is C;
//   - X1's 65 is under 70: not a key account any more;
//   - X1 is new again.
func whatIfScenario() []*events.Event {
	var evs []*events.Event
	add := func(typ, acct, at string, data string) {
		tm, err := time.Parse(time.RFC3339, at)
		if err != nil {
			panic(err)
		}
		evs = append(evs, &events.Event{SpecVersion: "1.0", ID: fmt.Sprintf("w%d", len(evs)+1), Source: "test", Type: typ,
			Subject: acct, Time: tm, Data: json.RawMessage(data)})
	}
	order := func(acct, at, amount string) {
		add(events.TypeOrderPlaced, acct, at, `{"order_id":"o-`+acct+`","amount":"`+amount+`"}`)
	}
	order("X1", "2025-11-21T10:00:00Z", "5000.00") // 100 days before 2026-03-01
	order("X2", "2026-01-30T10:00:00Z", "3000.00") // 30 days before
	order("X3", "2026-01-30T11:00:00Z", "1000.00")
	order("X4", "2026-01-30T12:00:00Z", "600.00")
	order("X5", "2026-01-30T13:00:00Z", "400.00")
	add(events.TypeVisitLogged, "X6", "2026-02-10T10:00:00Z", `{"visit_id":"v1","rep":"Ann","contact":{"name":"Bo","role":"user"}}`)
	add(events.TypeClockTick, "", "2026-03-01T00:00:00Z", "")
	return evs
}

func proposedPolicy(t *testing.T) *projections.Policy {
	t.Helper()
	b := string(projections.DefaultPolicyJSON())
	for _, r := range [][2]string{
		{`"cut_a": 80, "cut_b": 95`, `"cut_a": 50, "cut_b": 90`},
		{`"min_score": 60`, `"min_score": 70`},
		{`"new_days": 90`, `"new_days": 120`},
	} {
		if !strings.Contains(b, r[0]) {
			t.Fatalf("the default policy has no %s", r[0])
		}
		b = strings.Replace(b, r[0], r[1], 1)
	}
	pol, err := projections.ParsePolicy([]byte(b))
	if err != nil {
		t.Fatal(err)
	}
	return pol
}

// squeeze collapses each line's runs of spaces (tabwriter's columns).
func squeeze(s string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		lines[i] = strings.Join(strings.Fields(l), " ")
	}
	return strings.Join(lines, "\n")
}

func TestDiffWhatIf(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "today.db"), filepath.Join(dir, "proposal.db")
	buildModel(t, a, projections.DefaultPolicy(), whatIfScenario())
	buildModel(t, b, proposedPolicy(t), whatIfScenario())

	code, out, errOut := runCmd(t, "diff", a, b)
	if code != 1 {
		t.Fatalf("kam diff: exit %d, want 1 (they differ)\n%s%s", code, out, errOut)
	}
	for _, want := range []string{
		"6 accounts compared, 3 differ",
		"tier: A→B: 1, B→C: 1",
		"key account: yes→no: 1\n",
		"loyalty: no_brand_loyalty→new: 1",
		"early adopter: no change",
		"\nX1 A yes → no no_brand_loyalty → new no\n",
		"\nX2 A → B no new no\n",
		"\nX4 B → C no new no\n",
	} {
		if !strings.Contains(squeeze(out), want) {
			t.Errorf("kam diff output does not contain %q:\n%s", want, out)
		}
	}

	code, out, _ = runCmd(t, "diff", "--format", "json", a, b)
	var got struct {
		Compared int                `json:"compared"`
		Changes  []analytics.Change `json:"changes"`
	}
	if err := json.Unmarshal([]byte(out), &got); err != nil || code != 1 {
		t.Fatalf("json: exit %d, %v\n%s", code, err, out)
	}
	want := []analytics.Change{
		{Account: "X1", InA: true, InB: true, A: analytics.Decision{Tier: "A", Key: true, Loyalty: "no_brand_loyalty"}, B: analytics.Decision{Tier: "A", Loyalty: "new"}},
		{Account: "X2", InA: true, InB: true, A: analytics.Decision{Tier: "A", Loyalty: "new"}, B: analytics.Decision{Tier: "B", Loyalty: "new"}},
		{Account: "X4", InA: true, InB: true, A: analytics.Decision{Tier: "B", Loyalty: "new"}, B: analytics.Decision{Tier: "C", Loyalty: "new"}},
	}
	if fmt.Sprint(got.Changes) != fmt.Sprint(want) || got.Compared != 6 {
		t.Errorf("json changes:\ngot  %+v\nwant %+v", got.Changes, want)
	}

	code, out, _ = runCmd(t, "diff", "--format", "csv", a, b)
	wantCSV := "account,tier_a,tier_b,key_account_a,key_account_b,loyalty_a,loyalty_b,early_adopter_a,early_adopter_b\n" +
		"X1,A,A,yes,no,no_brand_loyalty,new,no,no\nX2,A,B,no,no,new,new,no,no\nX4,B,C,no,no,new,new,no,no\n"
	if code != 1 || out != wantCSV {
		t.Errorf("csv: exit %d\n%s\nwant\n%s", code, out, wantCSV)
	}

	// A model agrees with itself, and with a rebuild under its own policy.
	c := filepath.Join(dir, "again.db")
	buildModel(t, c, projections.DefaultPolicy(), whatIfScenario())
	if code, out, _ := runCmd(t, "diff", a, c); code != 0 || !strings.Contains(out, "6 accounts compared, 0 differ") {
		t.Errorf("same policy: exit %d, want 0\n%s", code, out)
	}
	for _, args := range [][]string{{"diff", a}, {"diff", a, filepath.Join(dir, "none.db")}, {"diff", "--format", "xml", a, b}} {
		if code, _, errOut := runCmd(t, args...); code != 2 || errOut == "" {
			t.Errorf("kam %v: exit %d, want 2 with a message", args, code)
		}
	}
}

// TestReplayWhatIfThenDiff is the analyst's path through real commands: the
// scenario goes through a running kam, `kam replay --policy` builds the
// proposal's read model from the stream, and `kam diff` reports exactly the
// scenario's changes against the serving model.
func TestReplayWhatIfThenDiff(t *testing.T) {
	dir := t.TempDir()
	k := startKam(t, dir, "--no-ticks")
	var batch []any
	for _, e := range whatIfScenario() {
		b, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		batch = append(batch, json.RawMessage(b))
	}
	code, body := k.call("POST", "/v1/events", batch)
	if code != 201 {
		t.Fatalf("append the scenario: %d %v", code, body)
	}
	k.call("GET", fmt.Sprintf("/v1/accounts?min_seq=%d", len(batch)), nil)
	k.stop()

	polFile := filepath.Join(t.TempDir(), "proposal.json")
	if err := os.WriteFile(polFile, proposedPolicy(t).Canonical(), 0o644); err != nil {
		t.Fatal(err)
	}
	proposal := filepath.Join(t.TempDir(), "proposal.db")
	// What an interrupted replay leaves in the way is named, and nothing
	// is built meanwhile.
	if err := os.WriteFile(proposal+".partial", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "replay", "--data-dir", dir, "--policy", polFile, "--into", proposal, "--quiet")
	if _, err := os.Stat(proposal); code == 0 || !strings.Contains(errOut, proposal+".partial exists") || !os.IsNotExist(err) {
		t.Fatalf("kam replay beside an interrupted one's file: exit %d, %s exists: %v\n%s%s", code, proposal, err, out, errOut)
	}
	os.Remove(proposal + ".partial")
	if code, out, errOut := runCmd(t, "replay", "--data-dir", dir, "--policy", polFile, "--into", proposal, "--quiet"); code != 0 {
		t.Fatalf("kam replay --policy: exit %d\n%s%s", code, out, errOut)
	}
	// The model took its name once complete; nothing of its building is left.
	for _, suffix := range []string{".partial", ".partial-wal", ".partial-shm", "-wal"} {
		if _, err := os.Stat(proposal + suffix); !os.IsNotExist(err) {
			t.Errorf("%s%s after the replay: %v", proposal, suffix, err)
		}
	}
	code, out, errOut = runCmd(t, "diff", filepath.Join(dir, "kam.db"), proposal)
	if code != 1 {
		t.Fatalf("kam diff: exit %d, want 1\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"6 accounts compared, 3 differ", "tier: A→B: 1, B→C: 1", "\nX1 A yes → no no_brand_loyalty → new no\n"} {
		if !strings.Contains(squeeze(out), want) {
			t.Errorf("kam diff after kam replay --policy does not contain %q:\n%s", want, out)
		}
	}
}
