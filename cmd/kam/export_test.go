package main

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

func readCSV(t *testing.T, s string) [][]string {
	t.Helper()
	recs, err := csv.NewReader(strings.NewReader(s)).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, s)
	}
	return recs
}

// TestExport exports the demo's accounts, tier histories, ABC report and
// service levels, and checks them against each other and the API.
func TestExport(t *testing.T) {
	k := startKam(t, t.TempDir(), "--demo", "--no-ticks")
	waitProjected(t, k, 30*time.Second)
	url := "http://" + k.addrs.HTTP
	export := func(args ...string) string {
		t.Helper()
		code, out, errOut := runCmd(t, append(append([]string{"export"}, args...), "--url", url)...)
		if code != 0 {
			t.Fatalf("kam export %v: exit %d: %s", args, code, errOut)
		}
		return out
	}

	accts := readCSV(t, export("accounts"))
	if strings.Join(accts[0], ",") != strings.Join(accountColumns, ",") || len(accts) != 201 {
		t.Fatalf("accounts: got header %v and %d rows, want %v and 200", accts[0], len(accts)-1, accountColumns)
	}
	tierOf := map[string]string{}
	for _, r := range accts[1:] {
		tierOf[r[0]] = r[5]
		if !strings.Contains(r[11], ".") || !strings.Contains(r[12], ".") {
			t.Errorf("account %s: revenue %q, %q: want decimal strings", r[0], r[11], r[12])
		}
	}
	var asJSON []map[string]any
	if err := json.Unmarshal([]byte(export("accounts", "--format", "json")), &asJSON); err != nil || len(asJSON) != 200 {
		t.Fatalf("accounts as JSON: %v, %d objects", err, len(asJSON))
	}
	if _, ok := asJSON[0]["revenue_window"].(string); !ok || asJSON[0]["id"] != accts[1][0] {
		t.Errorf("accounts as JSON: first %v, want id %s with a string revenue", asJSON[0], accts[1][0])
	}

	// Every account's history ends in its tier of today.
	hist := readCSV(t, export("tiers"))
	if strings.Join(hist[0], ",") != strings.Join(tierColumns, ",") {
		t.Fatalf("tiers: header %v, want %v", hist[0], tierColumns)
	}
	last := map[string]string{}
	var mid string
	for _, r := range hist[1:] {
		last[r[0]] = r[3]
		if r[2] != "" && mid == "" {
			mid = r[1] // the first change after a first review
		}
	}
	for id, tier := range tierOf {
		if last[id] != tier {
			t.Errorf("account %s: history ends in %q, account says %q", id, last[id], tier)
		}
	}
	// As of an earlier moment, only what had taken effect by then.
	earlier := readCSV(t, export("tiers", "--as-of", mid))
	if len(earlier) >= len(hist) || len(earlier) < 2 {
		t.Errorf("tiers as of %s: got %d rows of %d", mid, len(earlier)-1, len(hist)-1)
	}
	for _, r := range earlier[1:] {
		if r[1] > mid {
			t.Errorf("tiers as of %s: row effective %s", mid, r[1])
		}
	}

	abc := readCSV(t, export("tiers", "--report"))
	n := 0
	for _, r := range abc[1:] {
		c, err := strconv.Atoi(r[4])
		if err != nil {
			t.Fatalf("tier report: accounts %q: %v", r[4], err)
		}
		n += c
	}
	if len(abc) != 4 || abc[1][3] != "A" || abc[3][3] != "C" || n != 200 {
		t.Errorf("tier report: got %v, want A, B and C summing to 200 accounts", abc)
	}

	sla := readCSV(t, export("sla"))
	if len(sla) != 7 || sla[1][1] != "A" || sla[1][2] != "requests" || sla[2][2] != "complaints" || sla[2][6] != "" {
		t.Errorf("sla: got %v, want 6 rows, tier A requests first, complaints without a response", sla)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(export("sla", "--format", "json")), &rep); err != nil || rep["tiers"] == nil {
		t.Fatalf("sla as JSON: %v %v", err, rep)
	}
	// Each step's overdue_now is in the CSV as in the JSON.
	col := map[string]int{}
	for i, c := range sla[0] {
		col[c] = i
	}
	for _, row := range sla[1:] {
		kind := rep["tiers"].(map[string]any)[row[col["tier"]]].(map[string]any)[row[col["kind"]]].(map[string]any)
		want := fmt.Sprint(kind["resolution"].(map[string]any)["overdue_now"])
		if _, ok := col["resolution_overdue_now"]; !ok || row[col["resolution_overdue_now"]] != want {
			t.Errorf("sla %s %s: resolution_overdue_now %q, want %s (columns %v)", row[1], row[2], row[col["resolution_overdue_now"]], want, sla[0])
		}
	}

	for _, bad := range [][]string{{"export", "orders"}, {"export", "accounts", "--as-of", "yesterday"}, {"export", "sla", "--format", "xml"}} {
		if code, _, errOut := runCmd(t, append(bad, "--url", url)...); code == 0 || errOut == "" {
			t.Errorf("kam %v: exit %d, want an error", bad, code)
		}
	}
}
