package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"kam/events"
	"kam/events/natsstore"
	"kam/importer"
)

// sharedData is a file of the real data next to the repository
// (../shared/data, or $KAM_TEST_DATA); the test is skipped without it.
func sharedData(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("KAM_TEST_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	path := filepath.Join(dir, name)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("real data %s not found (set KAM_TEST_DATA to its directory): %v", name, err)
	}
	return path
}

// cents reads a non-negative dollar amount with two decimals ("35.89").
func cents(t *testing.T, s string) int64 {
	t.Helper()
	whole, frac, ok := strings.Cut(s, ".")
	if !ok || len(frac) != 2 {
		t.Fatalf("amount %q: want two decimals", s)
	}
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("amount %q: not a number", s)
	}
	return w*100 + f
}

// cdnowTiers computes, from the raw CDNOW file and nothing of kam, every
// customer's tier at the close of 1998-06-30 under the default policy: the
// revenue of 1997-07-01 to 1998-06-30 (365 days), ranked descending with
// ties by id, A while 100*before < 80*total, B while < 95*total, else C;
// customers without revenue in the window are C. It also returns the total
// of all rows and their count, and the key accounts: tier A with a score of
// at least 60, where CDNOW (no discounts, no registrations) scores 35 *
// volume percentile + 15 * concentration percentile + 15 (price
// insensitivity 100%; service requirement and partnership 0), a percentile
// being less/(ranked-1) with less the ranked accounts of a strictly smaller
// window revenue (or average order value: window revenue / window orders,
// free orders included, rounded down). Score >= 60 is decided exactly, as
// 35*lessRevenue + 15*lessAverage >= 45*(ranked-1).
func cdnowTiers(t *testing.T, path string) (tiers map[string]string, keys map[string]bool, total int64, rows int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	window := map[string]int64{}
	orders := map[string]int64{}
	tiers = map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fl := strings.Fields(sc.Text())
		if len(fl) != 4 || fl[0] == "customer_id" {
			continue
		}
		rows++
		c := cents(t, fl[3])
		total += c
		tiers[fl[0]] = "C"
		if fl[1] >= "19970701" && fl[1] <= "19980630" {
			window[fl[0]] += c
			orders[fl[0]]++
		}
	}
	type acct struct {
		id       string
		rev, avg int64
	}
	var ranked []acct
	var sum int64
	for id, r := range window {
		if r > 0 {
			ranked = append(ranked, acct{id, r, r / orders[id]})
			sum += r
		}
	}
	// less counts the ranked accounts whose figure is strictly smaller.
	less := func(figure func(acct) int64) map[string]int64 {
		vs := make([]int64, len(ranked))
		for i, a := range ranked {
			vs[i] = figure(a)
		}
		slices.Sort(vs)
		out := map[string]int64{}
		for _, a := range ranked {
			n, _ := slices.BinarySearch(vs, figure(a)) // the first index of the value
			out[a.id] = int64(n)
		}
		return out
	}
	lessRev := less(func(a acct) int64 { return a.rev })
	lessAvg := less(func(a acct) int64 { return a.avg })
	sort.Slice(ranked, func(i, j int) bool {
		if ranked[i].rev != ranked[j].rev {
			return ranked[i].rev > ranked[j].rev
		}
		return ranked[i].id < ranked[j].id
	})
	var before int64
	keys = map[string]bool{}
	for _, a := range ranked {
		switch {
		case 100*before < 80*sum:
			tiers[a.id] = "A"
			keys[a.id] = 35*lessRev[a.id]+15*lessAvg[a.id] >= 45*int64(len(ranked)-1)
		case 100*before < 95*sum:
			tiers[a.id] = "B"
		}
		before += a.rev
	}
	return tiers, keys, total, rows
}

// exportAccounts runs kam export accounts and returns its rows by id.
func exportAccounts(t *testing.T, k *kam, extra ...string) map[string]map[string]string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "accounts.csv")
	args := append([]string{"export", "accounts", "--url", "http://" + k.addrs.HTTP, "-o", file}, extra...)
	if code, _, errOut := runCmd(t, args...); code != 0 {
		t.Fatalf("kam %v: exit %d: %s", args, code, errOut)
	}
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, r := range recs[1:] {
		row := map[string]string{}
		for i, c := range recs[0] {
			row[c] = r[i]
		}
		out[row["id"]] = row
	}
	return out
}

// sumMoney adds decimal strings with two decimals, exactly.
func sumMoney(t *testing.T, rows map[string]map[string]string, col string) int64 {
	t.Helper()
	var s int64
	for _, r := range rows {
		v := r[col]
		neg := strings.HasPrefix(v, "-")
		c := cents(t, strings.TrimPrefix(v, "-"))
		if neg {
			c = -c
		}
		s += c
	}
	return s
}

// TestImportCDNOW imports the real CDNOW log end to end through a real kam
// and checks the read model's tiers after the import's closing tick against
// the test's own computation from the raw file. A second import appends 0.
func TestImportCDNOW(t *testing.T) {
	path := sharedData(t, "CDNOW_master.txt")
	want, wantKeys, wantTotal, wantRows := cdnowTiers(t, path)
	if len(want) != 23570 || wantRows != 69659 || wantTotal != 250031563 {
		t.Fatalf("the raw file: %d customers, %d rows, %d cents; want 23570, 69659, 250031563", len(want), wantRows, wantTotal)
	}
	k := startKam(t, t.TempDir(), "--no-ticks")
	start := time.Now()
	code, out, errOut := runCmd(t, "import", "--format", "cdnow", "--url", "http://"+k.addrs.HTTP, path)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	for _, s := range []string{"69659 rows read: 69659 orders (2500315.63 USD), 0 returns (0.00 USD), 23570 accounts, 0 bad rows",
		"closing clock.tick at 1998-07-01T00:00:00Z", "appended 69660, duplicates 0, refused 0 of 69660 events"} {
		if !strings.Contains(out, s) {
			t.Errorf("import output %q does not contain %q", out, s)
		}
	}
	imported := time.Since(start)
	last := waitProjected(t, k, 5*time.Minute)
	t.Logf("CDNOW: import %s, read model caught up %s after the start", imported.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if last != 69660 {
		t.Errorf("stream: got %d events, want 69660", last)
	}
	_, body := k.call("GET", "/v1/status", nil)
	proj := body["projector"].(map[string]any)
	if proj["rejected"].(float64) != 0 || proj["watermark"] != "1998-07-01T00:00:00Z" || proj["last_review"] != "1998-06-30" {
		t.Errorf("projector: got %v, want no rejection, watermark 1998-07-01, last review 1998-06-30", proj)
	}

	for _, asOf := range []string{"", "1998-06-30"} {
		var extra []string
		if asOf != "" {
			extra = []string{"--as-of", asOf}
		}
		got := exportAccounts(t, k, extra...)
		if len(got) != len(want) {
			t.Errorf("as of %q: got %d accounts, want %d", asOf, len(got), len(want))
		}
		counts := map[string]int{}
		wrong := 0
		for id, tier := range want {
			counts[tier]++
			if g := got[id]["tier"]; g != tier {
				if wrong++; wrong <= 5 {
					t.Errorf("as of %q: account %s: got tier %q, want %s", asOf, id, g, tier)
				}
			}
		}
		if wrong > 0 {
			t.Errorf("as of %q: %d of %d tiers differ", asOf, wrong, len(want))
		}
		keys, wrongKeys := 0, 0
		for id := range want {
			wantKey := wantKeys[id]
			if wantKey {
				keys++
			}
			if g := got[id]["key_account"]; g != strconv.FormatBool(wantKey) {
				if wrongKeys++; wrongKeys <= 5 {
					t.Errorf("as of %q: account %s: got key_account %q (score %s), want %v", asOf, id, g, got[id]["key_score"], wantKey)
				}
			}
		}
		if wrongKeys > 0 {
			t.Errorf("as of %q: %d of %d key flags differ", asOf, wrongKeys, len(want))
		}
		counts["key"] = keys
		if s := sumMoney(t, got, "revenue_total"); s != wantTotal {
			t.Errorf("as of %q: revenue_total sums to %d cents, want %d", asOf, s, wantTotal)
		}
		t.Logf("as of %q: tiers %v", asOf, counts)
	}

	// The same file again: it is found in the stream, nothing is sent; and
	// sent anyway, every event is a duplicate.
	code, out, errOut = runCmd(t, "import", "--format", "cdnow", "--url", "http://"+k.addrs.HTTP, path)
	if code != 0 || !strings.Contains(out, "already imported: the stream holds imp-eff6889ed364c519-") || !strings.Contains(out, "nothing appended") {
		t.Errorf("second import: exit %d\n%s%s\nwant already imported, nothing appended", code, out, errOut)
	}
	code, out, errOut = runCmd(t, "import", "--format", "cdnow", "--force", "--url", "http://"+k.addrs.HTTP, path)
	if code != 0 || !strings.Contains(out, "appended 0, duplicates 69660, refused 0") {
		t.Errorf("second import with --force: exit %d\n%s%s\nwant appended 0, duplicates 69660", code, out, errOut)
	}
	_, body = k.call("GET", "/v1/status", nil)
	if n := body["stream"].(map[string]any)["last_seq"].(float64); n != 69660 {
		t.Errorf("stream after the second import: got %v events, want 69660", n)
	}
}

// gbpPolicy writes the built-in policy with GBP as the currency.
func gbpPolicy(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	if code := (&Main{Stdout: &buf}).Run(context.Background(), []string{"policy"}); code != 0 {
		t.Fatalf("kam policy: exit %d", code)
	}
	b := bytes.Replace(buf.Bytes(), []byte(`"currency": "USD"`), []byte(`"currency": "GBP"`), 1)
	if bytes.Equal(b, buf.Bytes()) {
		t.Fatal(`kam policy has no "currency": "USD" to replace`)
	}
	path := filepath.Join(t.TempDir(), "gbp.json")
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

var retailFlags = []string{"--account-col", "customer_id", "--time-col", "invoice_datetime", "--amount-col", "amount_gbp",
	"--order-col", "invoice", "--qty-col", "quantity", "--time-layout", "2006-01-02 15:04:05", "--currency", "GBP"}

// TestImportOnlineRetail imports the Online Retail II invoices through a
// kam whose currency is GBP: cancellations become returns, invoices without
// a customer and sub-penny amounts are bad rows, reported by line; with
// --round half-even the sub-penny invoices come in, and nothing else again.
func TestImportOnlineRetail(t *testing.T) {
	path := sharedData(t, "online_retail_II_2009-2010_invoices.csv")
	k := startKam(t, t.TempDir(), "--no-ticks", "--policy", gbpPolicy(t))
	url := "http://" + k.addrs.HTTP
	bad := filepath.Join(t.TempDir(), "bad.csv")
	args := append([]string{"import", "--url", url, "--bad-rows", bad}, retailFlags...)
	code, out, errOut := runCmd(t, append(args, path)...)
	if code != 0 {
		t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
	}
	// README: 28,816 invoices; 19,215 sales and 4,372 cancellations with a
	// customer, 14 of the sales with a 0.001 line; 5,229 without a customer.
	for _, s := range []string{
		"28816 rows read: 19201 orders (8817795.89 GBP), 4372 returns (483794.70 GBP), 4380 accounts, 5243 bad rows",
		"bad rows (not imported): 5229 without account, 14 finer than the minor unit",
		"line 23: customer_id is empty: a row needs an account",
		"closing clock.tick at 2010-12-10T00:00:00Z",
		"appended 23574, duplicates 0, refused 0 of 23574 events",
	} {
		if !strings.Contains(out, s) {
			t.Errorf("import output %q does not contain %q", out, s)
		}
	}
	b, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte("\n")); n != 5243+1 || !bytes.Contains(b, []byte("amount_gbp 771.641 has 3 decimals")) || !bytes.Contains(b, []byte("494914,16705,2010-01-19")) {
		t.Errorf("--bad-rows file: got %d lines, want 5244 with invoice 494914's sub-penny amount", n)
	}

	code, out, errOut = runCmd(t, append(args, path)...)
	if code != 0 || !strings.Contains(out, "already imported") {
		t.Errorf("the same import again: exit %d\n%s%s\nwant already imported", code, out, errOut)
	}
	// Rounded, the 14 sub-penny rows come in: the stream holds the rest
	// and the tick, and only the 14 are sent.
	code, out, errOut = runCmd(t, append(append(args, "--round", "half-even"), path)...)
	if code != 0 || !strings.Contains(out, "19215 orders (8832003.26 GBP), 4372 returns (483794.70 GBP), 4383 accounts, 5229 bad rows, 14 amounts rounded half-even") ||
		!strings.Contains(out, "resuming: the stream holds 23573 of 23587 rows") || !strings.Contains(out, "appended 14, duplicates 0, refused 0 of 14 events") {
		t.Errorf("rounded import: exit %d\n%s%s\nwant the 14 more orders alone sent and appended", code, out, errOut)
	}
	if last := waitProjected(t, k, 2*time.Minute); last != 23588 {
		t.Errorf("stream: got %d events, want 23588", last)
	}
	got := exportAccounts(t, k)
	// Net revenue: the README's £8,348,208.57 less the rounding of the 14
	// sub-penny invoices (their £0.001 parts make one penny).
	if len(got) != 4383 || sumMoney(t, got, "revenue_total") != 834820856 {
		t.Errorf("read model: got %d accounts, revenue %d pence; want 4383, 834820856", len(got), sumMoney(t, got, "revenue_total"))
	}
	// One account's figures against the file itself: customer 12346.
	var want12346 int64
	f, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(f), "\n") {
		if fl := strings.Split(line, ","); len(fl) == 8 && fl[1] == "12346" {
			c := cents(t, strings.TrimPrefix(fl[6], "-"))
			if strings.HasPrefix(fl[6], "-") {
				c = -c
			}
			want12346 += c
		}
	}
	if g := got["12346"]; sumMoney(t, map[string]map[string]string{"": g}, "revenue_total") != want12346 {
		t.Errorf("12346: got revenue_total %s, want %d pence", g["revenue_total"], want12346)
	}

	// Later history is late now: kam import warns.
	late := filepath.Join(t.TempDir(), "late.csv")
	os.WriteFile(late, []byte("invoice,customer_id,invoice_datetime,country,lines,quantity,amount_gbp,kind\n1,99999,2009-06-01 10:00:00,UK,1,1,5.00,sale\n"), 0o644)
	code, out, errOut = runCmd(t, append(args, late)...)
	if code != 0 || !strings.Contains(errOut, "warning: 2 of 2 events lie before the read model's watermark (2010-12-10T00:00:00Z)") {
		t.Errorf("late import: exit %d\n%s%s\nwant a warning about the watermark", code, out, errOut)
	}
}

// TestImportWrongCurrency: a kam of another currency refuses every event;
// kam import stops after the first batch, and appends no closing tick.
func TestImportWrongCurrency(t *testing.T) {
	path := sharedData(t, "online_retail_II_2009-2010_invoices.csv")
	k := startKam(t, t.TempDir(), "--no-ticks")
	code, out, errOut := runCmd(t, append(append([]string{"import", "--url", "http://" + k.addrs.HTTP}, retailFlags...), path)...)
	if code != 1 || !strings.Contains(errOut, `every event of the first batch was refused, so the rest is not sent; the first: line 2: data.currency: must be USD, the deployment's currency, got "GBP"`) {
		t.Errorf("exit %d\n%s%s\nwant a stop after the first batch", code, out, errOut)
	}
	_, body := k.call("GET", "/v1/status", nil)
	if n := body["stream"].(map[string]any)["last_seq"].(float64); n != 0 {
		t.Errorf("stream: got %v events, want none (no tick either)", n)
	}
}

// TestImportToNATS appends straight to NATS, with bad rows, a strict run
// that appends nothing, and a dry run.
func TestImportToNATS(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks")
	file := filepath.Join(t.TempDir(), "orders.csv")
	csvBody := "cust,when,total,qty\nACME,2026-01-05,100.50,2\nGLOBEX,2026-01-04,-20.00,1\n,2026-01-05,5.00,1\nACME,2026-01-06,1.005,1\n"
	if err := os.WriteFile(file, []byte(csvBody), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"import", "--nats-url", k.addrs.NATS, "--account-col", "cust", "--time-col", "when", "--amount-col", "total", "--qty-col", "qty"}
	code, out, _ := runCmd(t, append(args, "--strict", file)...)
	if code != 1 || !strings.Contains(out, "line 4: cust is empty") || !strings.Contains(out, "line 5: total 1.005 has 3 decimals, USD has 2") {
		t.Errorf("strict: exit %d\n%s\nwant exit 1 listing lines 4 and 5", code, out)
	}
	code, out, _ = runCmd(t, append(args, "--dry-run", file)...)
	if code != 0 || !strings.Contains(out, "nothing appended (dry run)") {
		t.Errorf("dry run: exit %d\n%s", code, out)
	}
	_, body2 := k.call("GET", "/v1/status", nil)
	if n := body2["stream"].(map[string]any)["last_seq"].(float64); n != 0 {
		t.Fatalf("after strict and dry runs: got %v events, want 0", n)
	}
	code, out, _ = runCmd(t, append(args, file)...)
	if code != 0 || !strings.Contains(out, "4 rows read: 1 orders (100.50 USD), 1 returns (20.00 USD), 2 accounts, 2 bad rows") ||
		!strings.Contains(out, "appended 3, duplicates 0, refused 0") {
		t.Errorf("import: exit %d\n%s", code, out)
	}
	code, out, _ = runCmd(t, append(args, file)...)
	if code != 0 || !strings.Contains(out, "already imported: the stream holds imp-") {
		t.Errorf("again: exit %d\n%s\nwant already imported", code, out)
	}
	waitProjected(t, k, 20*time.Second)
	code, acme := k.call("GET", "/v1/accounts/GLOBEX", nil)
	if code != 200 || acme["revenue_total"] != "-20.00" {
		t.Errorf("GLOBEX: got %d %v, want revenue_total -20.00 (a return)", code, acme)
	}
	code, acme = k.call("GET", "/v1/accounts/ACME", nil)
	if code != 200 || acme["revenue_total"] != "100.50" || acme["tier"] != "A" {
		t.Errorf("ACME: got %d %v, want revenue_total 100.50, tier A after the closing tick", code, acme)
	}
}

// TestImportOnlyBadRows: a file whose every row is bad appends nothing and
// says so with exit 1, before it reaches for a kam.
func TestImportOnlyBadRows(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.csv")
	if err := os.WriteFile(path, []byte("acct,t,amt\n,2024-01-01,1.00\nA,yesterday,1.00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "import", "--url", "http://127.0.0.1:1", "--account-col", "acct", "--time-col", "t",
		"--amount-col", "amt", path)
	if code != 1 || !strings.Contains(out, "line 2:") || !strings.Contains(out, "line 3:") ||
		!strings.Contains(errOut, "every row of 2 is bad: nothing appended") {
		t.Errorf("exit %d\n%s%s\nwant exit 1, both lines reported", code, out, errOut)
	}
}

// cdnowLike writes a file in the CDNOW log's format, rows purchases of 400
// customers, 50 a day from 1997-01-01, and parses it as kam import does.
func cdnowLike(t *testing.T, rows int) (string, *importer.File) {
	t.Helper()
	var b strings.Builder
	b.WriteString(" customer_id  date number_of_cds  dollar_value\r\n")
	day := time.Date(1997, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range rows {
		fmt.Fprintf(&b, " %05d %s %2d %7d.%02d\r\n", (i*7)%400+1, day.AddDate(0, 0, i/50).Format("20060102"), 1+i%3, 5+i%90, i%100)
	}
	path := filepath.Join(t.TempDir(), "cdnow.txt")
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	file, err := importer.Parse(f, importer.Options{Format: importer.FormatCDNOW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(file.Rows) != rows || len(file.Bad) != 0 {
		t.Fatalf("%s: %d rows, %d bad; want %d good rows", path, len(file.Rows), len(file.Bad), rows)
	}
	return path, file
}

// storeForgotten appends evs to k's stream, in order, as an import would but
// without their message ids: JetStream's deduplication cannot recognize
// them when they come again, as once the duplicate window (24 h, kam serve
// --duplicates) has passed since an interrupted import stored them.
func storeForgotten(t *testing.T, k *kam, evs []*events.Event) {
	t.Helper()
	js := kamJetStream(t, k)
	futures := make([]jetstream.PubAckFuture, len(evs))
	for i, e := range evs {
		m, err := natsstore.Message(e)
		if err != nil {
			t.Fatal(err)
		}
		m.Header.Del(nats.MsgIdHdr)
		if futures[i], err = js.PublishMsgAsync(m); err != nil {
			t.Fatal(err)
		}
	}
	for i, f := range futures {
		select {
		case <-f.Ok():
		case err := <-f.Err():
			t.Fatalf("store event %s: %v", evs[i].ID, err)
		}
	}
}

// projectorState waits until k's read model has applied the whole stream and
// returns the stream's last sequence, the events set aside, and the last
// day reviewed.
func projectorState(t *testing.T, k *kam) (last uint64, rejected float64, lastReview any) {
	t.Helper()
	last = waitProjected(t, k, time.Minute)
	_, body := k.call("GET", "/v1/status", nil)
	proj := body["projector"].(map[string]any)
	return last, proj["rejected"].(float64), proj["last_review"]
}

// TestImportResumes: an import that died after storing part of the file is
// run again once JetStream no longer remembers the ids it stored. It sends
// only the rows the stream does not hold, then the closing tick: nothing is
// stored twice or set aside as a duplicate, and no event the stream holds
// already is counted among those that arrive late.
func TestImportResumes(t *testing.T) {
	path, file := cdnowLike(t, 5000)
	evs := file.Events()
	rows := len(file.Rows)
	const k = 3000
	prefix := make([]int, k)
	for i := range prefix {
		prefix[i] = i
	}
	// A batch stored in part, some of its publishes unacknowledged when the
	// import died: rows missing among stored ones, some stored after them
	// (the search for the stored prefix ends at row k-4).
	var gaps []int
	for _, i := range prefix {
		if i != k-100 && i != k-4 {
			gaps = append(gaps, i)
		}
	}
	gaps = append(gaps, k+1, k+3)
	for _, tc := range []struct {
		name   string
		nats   bool
		stored []int
	}{
		{"through kam", false, prefix},
		{"straight to NATS", true, prefix},
		{"gaps in the last batch, through kam", false, gaps},
		{"gaps in the last batch, straight to NATS", true, gaps},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k := startKam(t, t.TempDir(), "--no-ticks")
			held := make([]*events.Event, len(tc.stored))
			var mark time.Time
			for j, i := range tc.stored {
				held[j] = evs[i]
				mark = evs[i].Time
			}
			storeForgotten(t, k, held)
			projectorState(t, k) // the read model's watermark is the last stored row's day
			sent := rows - len(tc.stored)
			late := 0
			for i, e := range evs[:rows] {
				if !slices.Contains(tc.stored, i) && e.Time.Before(mark) {
					late++
				}
			}

			args := []string{"import", "--format", "cdnow", "--url", "http://" + k.addrs.HTTP, path}
			if tc.nats {
				args[3], args[4] = "--nats-url", k.addrs.NATS
			}
			code, out, errOut := runCmd(t, args...)
			if code != 0 {
				t.Fatalf("import: exit %d\n%s%s", code, out, errOut)
			}
			for _, s := range []string{
				fmt.Sprintf("resuming: the stream holds %d of %d rows", len(tc.stored), rows),
				fmt.Sprintf("appended %d, duplicates 0, refused 0 of %d events", sent+1, sent+1),
			} {
				if !strings.Contains(out, s) {
					t.Errorf("import output %q does not contain %q", out, s)
				}
			}
			switch warn := fmt.Sprintf("warning: %d of %d events lie before", late, sent+1); {
			case late == 0 && strings.Contains(errOut, "warning:"):
				t.Errorf("import warns %q, want no warning: only events after the stream's last one are sent", errOut)
			case late > 0 && !strings.Contains(errOut, warn):
				t.Errorf("import warns %q, want %q (the rows missing among stored ones)", errOut, warn)
			}
			last, rejected, review := projectorState(t, k)
			if want := file.Rows[rows-1].Time.Format(time.DateOnly); last != uint64(rows+1) || rejected != 0 || review != want {
				t.Errorf("got %d events in the stream, %v set aside, last review %v; want %d, 0, %s", last, rejected, review, rows+1, want)
			}
		})
	}
}

// TestImportAppendsMissingTick: an import that died after its last row was
// stored but before its closing tick was appended gets the tick when run
// again, and the file's last day is reviewed; once it is there, a run
// appends nothing.
func TestImportAppendsMissingTick(t *testing.T) {
	path, file := cdnowLike(t, 500)
	evs := file.Events()
	rows := len(file.Rows)
	lastDay := file.Rows[rows-1].Time.Format(time.DateOnly)
	for _, viaNATS := range []bool{false, true} {
		t.Run(map[bool]string{false: "through kam", true: "straight to NATS"}[viaNATS], func(t *testing.T) {
			k := startKam(t, t.TempDir(), "--no-ticks")
			storeForgotten(t, k, evs[:rows])
			if last, rejected, review := projectorState(t, k); last != uint64(rows) || rejected != 0 || review == lastDay {
				t.Fatalf("before: got %d events, %v set aside, last review %v; want %d, 0, before %s", last, rejected, review, rows, lastDay)
			}
			args := []string{"import", "--format", "cdnow", "--url", "http://" + k.addrs.HTTP, path}
			if viaNATS {
				args[3], args[4] = "--nats-url", k.addrs.NATS
			}
			code, out, errOut := runCmd(t, args...)
			if code != 0 || !strings.Contains(out, fmt.Sprintf("the stream holds all %d rows but not the closing tick", rows)) ||
				!strings.Contains(out, "appended 1, duplicates 0, refused 0 of 1 events") || strings.Contains(errOut, "warning:") {
				t.Errorf("import: exit %d\n%s%s\nwant the closing tick appended, and no warning", code, out, errOut)
			}
			if last, rejected, review := projectorState(t, k); last != uint64(rows+1) || rejected != 0 || review != lastDay {
				t.Errorf("after: got %d events, %v set aside, last review %v; want %d, 0, %s", last, rejected, review, rows+1, lastDay)
			}
			code, out, errOut = runCmd(t, args...)
			if code != 0 || !strings.Contains(out, "already imported: the stream holds "+evs[rows-1].ID+" at sequence") ||
				!strings.Contains(out, fmt.Sprintf("and %s at sequence %d", evs[rows].ID, rows+1)) || !strings.Contains(out, "nothing appended") {
				t.Errorf("again: exit %d\n%s%s\nwant already imported with its tick, nothing appended", code, out, errOut)
			}
		})
	}
}

// TestImportTickFailureNamed: a closing tick that kam does not take (a token
// that may read but not publish) is named as the closing tick in the error.
func TestImportTickFailureNamed(t *testing.T) {
	path, file := cdnowLike(t, 50)
	tokens := filepath.Join(t.TempDir(), "tokens")
	reader := newToken(t, tokens, "reader", "read")
	k := startKam(t, t.TempDir(), "--no-ticks", "--tokens", tokens)
	storeForgotten(t, k, file.Events()[:len(file.Rows)])
	code, out, errOut := runCmd(t, "import", "--format", "cdnow", "--url", "http://"+k.addrs.HTTP, "--token", reader, path)
	if code != 1 || !strings.HasPrefix(errOut, "kam import: closing tick: ") || !strings.Contains(errOut, "403") {
		t.Errorf("exit %d\n%s%s\nwant exit 1: kam import: closing tick: ... (403 ...)", code, out, errOut)
	}
}

// TestImportLateWarningAfterAnotherImport: an import right after another
// one, through kam, counts its late events against the watermark of a read
// model that has applied the first import: it read the watermark while
// the first import's events were still on their way to a commit.
func TestImportLateWarningAfterAnotherImport(t *testing.T) {
	// Commits once caught up at most every hour (5 s at most after the
	// first event waiting): the first import's events are not committed
	// when the second one starts.
	k := startKam(t, t.TempDir(), "--no-ticks", "--commit-interval", "1h")
	write := func(name string, day time.Time, rows int) string {
		var b strings.Builder
		b.WriteString(" customer_id  date number_of_cds  dollar_value\r\n")
		for i := range rows {
			fmt.Fprintf(&b, " %05d %s %2d %7d.%02d\r\n", i+1, day.Format("20060102"), 1, 10, 0)
		}
		path := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	later := write("later.txt", time.Date(1997, 3, 1, 0, 0, 0, 0, time.UTC), 20)
	// The same day: late only once the first import's closing tick has
	// moved the watermark past it.
	earlier := write("earlier.txt", time.Date(1997, 3, 1, 0, 0, 0, 0, time.UTC), 30)
	url := "http://" + k.addrs.HTTP
	if code, out, errOut := runCmd(t, "import", "--format", "cdnow", "--url", url, later); code != 0 {
		t.Fatalf("import later.txt: exit %d\n%s%s", code, out, errOut)
	}
	code, out, errOut := runCmd(t, "import", "--format", "cdnow", "--url", url, earlier)
	// The 30 rows lie before the first import's closing tick (1997-03-02);
	// their own closing tick does not.
	if code != 0 || !strings.Contains(errOut, "warning: 30 of 31 events lie before the read model's watermark (1997-03-02T00:00:00Z)") {
		t.Errorf("import earlier.txt: exit %d\n%s%s", code, out, errOut)
	}
}

// TestImportAgainWithOtherFlags: a second run that reads the same file with
// other flags makes other events under the same ids; it says so and fails,
// where it reported the file imported.
func TestImportAgainWithOtherFlags(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks")
	file := filepath.Join(t.TempDir(), "orders.csv")
	if err := os.WriteFile(file, []byte("cust,when,total\nACME,2026-01-05,100.50\nGLOBEX,2026-01-04,20.00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, door := range [][]string{{"--url", "http://" + k.addrs.HTTP}, {"--nats-url", k.addrs.NATS}} {
		args := append([]string{"import"}, door...)
		args = append(args, "--account-col", "cust", "--time-col", "when", "--amount-col", "total")
		code, out, errOut := runCmd(t, append(args, "--time-layout", "2006-02-01", file)...)
		if door[0] == "--url" && (code != 0 || !strings.Contains(out, "appended 3, duplicates 0, refused 0")) {
			t.Fatalf("first import: exit %d\n%s%s", code, out, errOut)
		}
		code, out, errOut = runCmd(t, append(args, file)...)
		if want := "line 3: the stream holds this row's event (imp-1b1664b0b1aab36e-3, sequence 1) as another run made it: time 2026-04-01T00:00:00Z there, 2026-01-04T00:00:00Z here"; code != 1 || !strings.Contains(errOut, want) {
			t.Errorf("%s again with another layout: exit %d\n%s%s\nwant %q", door[0], code, out, errOut, want)
		}
		code, out, errOut = runCmd(t, append(args, "--time-layout", "2006-02-01", file)...)
		if code != 0 || !strings.Contains(out, "already imported") {
			t.Errorf("%s again with the same flags: exit %d\n%s%s\nwant already imported", door[0], code, out, errOut)
		}
	}
	// The last row reads the same either way (02-02), the first does not.
	same := filepath.Join(t.TempDir(), "same-last.csv")
	if err := os.WriteFile(same, []byte("cust,when,total\nINITECH,2026-01-07,10.00\nHOOLI,2026-02-02,20.00\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"import", "--url", "http://" + k.addrs.HTTP, "--account-col", "cust", "--time-col", "when", "--amount-col", "total"}
	if code, out, errOut := runCmd(t, append(args, "--time-layout", "2006-02-01", same)...); code != 0 {
		t.Fatalf("first import: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := runCmd(t, append(args, same)...); code != 1 || !strings.Contains(errOut, "time 2026-07-01T00:00:00Z there, 2026-01-07T00:00:00Z here") {
		t.Errorf("again with another layout, the last row alike: exit %d\n%s%s\nwant the first row's difference", code, out, errOut)
	}
}

// TestImportResumesPastRefusedRow: a row kam refused (over its --max-body)
// leaves a hole among the stored rows; a re-run does not take the hole for
// the end of what the stream holds, and sends none of the rows after it.
func TestImportResumesPastRefusedRow(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks", "--max-body", "550")
	file := filepath.Join(t.TempDir(), "orders.csv")
	var csv strings.Builder
	csv.WriteString("cust,when,total,order\n")
	for i := range 40 {
		cust, order := fmt.Sprintf("C%02d", i), fmt.Sprintf("o%d", i)
		if i == 19 { // the search's first probe; its event is over 550 bytes
			cust, order = strings.Repeat("L", 128), strings.Repeat("O", 256)
		}
		fmt.Fprintf(&csv, "%s,2026-01-01T10:%02d:00Z,%d.00,%s\n", cust, i, 10+i, order)
	}
	if err := os.WriteFile(file, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"import", "--url", "http://" + k.addrs.HTTP, "--account-col", "cust", "--time-col", "when",
		"--amount-col", "total", "--order-col", "order", file}
	code, out, errOut := runCmd(t, args...)
	if code != 1 || !strings.Contains(out, "appended 40, duplicates 0, refused 1") || !strings.Contains(out, "line 21: the body is over 550 bytes") {
		t.Fatalf("first run: exit %d\n%s%s\nwant 39 rows and the tick appended, line 21 refused", code, out, errOut)
	}
	code, out, errOut = runCmd(t, args...)
	if !strings.Contains(out, "the stream holds 39 of 40 rows") || !strings.Contains(out, "appending the remaining 1") {
		t.Errorf("second run: exit %d\n%s%s\nwant only the refused row sent again", code, out, errOut)
	}
}
