package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"kam/demo"
	"kam/events"
)

// The dashboard's tests run in a real browser: Debian's chromium, driven over
// the DevTools protocol by chromedp. A machine without chromium fails them.

// chromiumFlags are the flags Chromium needs on these machines: headless,
// no sandbox (tests run as root), and no background traffic (the network is
// closed; without them Chromium keeps trying to reach Google's hosts).
var chromiumFlags = []string{"headless", "no-sandbox", "disable-gpu", "no-first-run",
	"disable-background-networking", "disable-component-update", "disable-sync"}

// loadBudget bounds a page's load in the test: the demo data loads in well
// under a second, but CI runs this with the race detector on two cores.
const loadBudget = 3 * time.Second

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KAM_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	p, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("no chromium: the dashboard tests need a real browser (apt-get install -y chromium, or set KAM_CHROMIUM): %v", err)
	}
	return p
}

// uiArtifactDir is where screenshots go: $KAM_ARTIFACTS, or a temporary
// directory of the test.
func uiArtifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KAM_ARTIFACTS")
	if dir == "" {
		return t.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// postDemo posts the demo history (200 accounts, a year, ending yesterday)
// in batches of 1000 and returns the last sequence.
func postDemo(t *testing.T, base string) uint64 {
	t.Helper()
	var (
		batch []*events.Event
		last  uint64
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		body, err := json.Marshal(batch)
		if err != nil {
			return err
		}
		resp, err := http.Post(base+"/v1/events", "application/json", bytes.NewReader(body))
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var out struct {
			Results []struct{ Seq uint64 } `json:"results"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("POST /v1/events: status %d (%v)", resp.StatusCode, err)
		}
		last = out.Results[len(out.Results)-1].Seq
		batch = batch[:0]
		return nil
	}
	yesterday := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)
	err := demo.Generate(demo.Options{Accounts: 200, Days: 365, Seed: 1, End: yesterday}, func(e *events.Event) error {
		batch = append(batch, e)
		if len(batch) == 1000 {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		t.Fatalf("loading the demo data: %v", err)
	}
	return last
}

// uiGet decodes the JSON answer of a GET; min_seq waits are retried.
func uiGet(t *testing.T, base, path string, v any) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		if resp.StatusCode == http.StatusGatewayTimeout && time.Now().Before(deadline) {
			resp.Body.Close()
			continue
		}
		err = json.NewDecoder(resp.Body).Decode(v)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil {
			t.Fatalf("GET %s: status %d, decode: %v", path, resp.StatusCode, err)
		}
		return
	}
}

// Shapes of the API answers the test compares the screen with.
type (
	uiABC struct {
		Day          string `json:"day"`
		Accounts     int64  `json:"accounts"`
		KeyAccounts  int64  `json:"key_accounts"`
		TotalRevenue string `json:"total_revenue"`
		Tiers        map[string]struct {
			Accounts int64  `json:"accounts"`
			Revenue  string `json:"revenue"`
		} `json:"tiers"`
	}
	uiSLAKind struct {
		Opened     int `json:"opened"`
		Open       int `json:"open"`
		OverdueNow int `json:"overdue_now"`
	}
	uiSLA struct {
		Tiers map[string]struct {
			Requests   uiSLAKind `json:"requests"`
			Complaints uiSLAKind `json:"complaints"`
		} `json:"tiers"`
	}
	uiAccountRow struct {
		ID         string  `json:"id"`
		Name       *string `json:"name"`
		Tier       *string `json:"tier"`
		KeyAccount bool    `json:"key_account"`
	}
	uiAccountList struct {
		Accounts   []uiAccountRow `json:"accounts"`
		NextCursor *string        `json:"next_cursor"`
		Total      int            `json:"total"`
	}
	uiAccount struct {
		ID                 string  `json:"id"`
		Tier               *string `json:"tier"`
		RevenueWindow      string  `json:"revenue_window"`
		RevenueTotal       string  `json:"revenue_total"`
		DecisionMakerStale bool    `json:"decision_maker_stale"`
		Contacts           map[string][]struct {
			Stale bool `json:"stale"`
		} `json:"contacts"`
		SLA struct {
			Requests   uiSLAKind `json:"requests"`
			Complaints uiSLAKind `json:"complaints"`
		} `json:"sla"`
	}
	uiHistory struct {
		History []map[string]any `json:"history"`
	}
	// uiStatus is what the tests read of /v1/status.
	uiStatus struct {
		Stream struct {
			LastSeq uint64 `json:"last_seq"`
		} `json:"stream"`
		Projector struct {
			AppliedSeq uint64 `json:"applied_seq"`
		} `json:"projector"`
	}
)

// uiBrowser is one headless Chromium tab with what it logged and fetched.
type uiBrowser struct {
	ctx  context.Context
	base string
	dir  string

	vw, vh int64 // the screen, in CSS pixels
	mobile bool

	mu       sync.Mutex
	problems []string // console errors, uncaught exceptions, failed loads
	requests []string // every URL the page asked for
}

func newUIBrowser(t *testing.T, base string) *uiBrowser {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{chromedp.ExecPath(chromiumPath(t)), chromedp.UserDataDir(t.TempDir())}
	for _, f := range chromiumFlags {
		opts = append(opts, chromedp.Flag(f, true))
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 5*time.Minute)
	t.Cleanup(func() { cancelTimeout(); cancelCtx(); cancelAlloc() })
	b := &uiBrowser{ctx: ctx, base: base, dir: uiArtifactDir(t)}

	messages := chromedp.Console(ctx)
	if err := chromedp.Listen(ctx, func(ev any) {
		if e, ok := ev.(*network.EventRequestWillBeSent); ok {
			b.mu.Lock()
			b.requests = append(b.requests, string(e.Type)+" "+e.Request.URL)
			b.mu.Unlock()
		}
	}); err != nil {
		t.Fatalf("starting chromium: %v", err)
	}
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.problems = append(b.problems, fmt.Sprintf("%s (%s:%d)", m, m.URL, m.Line))
				b.mu.Unlock()
			}
		}
	}()
	return b
}

func (b *uiBrowser) do(t *testing.T, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		t.Fatalf("browser: %v", err)
	}
}

func uiEval[T any](t *testing.T, b *uiBrowser, js string) T {
	t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		t.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// readyCount counts the times a page of the dashboard finished loading.
func (b *uiBrowser) readyCount(t *testing.T) int {
	t.Helper()
	return uiEval[int](t, b, `+(document.documentElement.dataset.readyCount || 0)`)
}

// waitReady waits until page has finished loading after the count n.
func (b *uiBrowser) waitReady(t *testing.T, page string, n int) {
	t.Helper()
	js := fmt.Sprintf(`document.documentElement.dataset.ready === %q && +document.documentElement.dataset.readyCount > %d`, page, n)
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](js, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		got := uiEval[string](t, b, `location.pathname + " ready=" + document.documentElement.dataset.ready + " count=" + document.documentElement.dataset.readyCount`)
		t.Fatalf("page %s did not finish loading (%s): %v; console: %v", page, got, err, b.console())
	}
}

// open loads path in the tab as a new document and waits for page.
func (b *uiBrowser) open(t *testing.T, path, page string) {
	t.Helper()
	b.do(t, chromedp.Navigate(b.base+path))
	b.waitReady(t, page, 0)
}

// act runs actions (a click, keys) and waits until page is ready again.
func (b *uiBrowser) act(t *testing.T, page string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	n := b.readyCount(t)
	b.do(t, actions...)
	b.waitReady(t, page, n)
}

// text is the text content of the first element sel matches.
func (b *uiBrowser) text(t *testing.T, sel string) string {
	t.Helper()
	s := uiEval[*string](t, b, fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.textContent : null })()`, sel))
	if s == nil {
		t.Fatalf("no element %s on %s", sel, uiEval[string](t, b, `location.pathname`))
	}
	return strings.TrimSpace(*s)
}

func (b *uiBrowser) count(t *testing.T, sel string) int {
	t.Helper()
	return uiEval[int](t, b, fmt.Sprintf(`document.querySelectorAll(%q).length`, sel))
}

// viewport sets the size of the tab's screen, as a phone when mobile.
func (b *uiBrowser) viewport(t *testing.T, w, h int64, mobile bool) {
	t.Helper()
	b.vw, b.vh, b.mobile = w, h, mobile
	b.do(t, b.emulate(w, h))
}

func (b *uiBrowser) emulate(w, h int64) chromedp.Action[chromedp.Void] {
	if b.mobile {
		return chromedp.EmulateViewport(w, h, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	return chromedp.EmulateViewport(w, h)
}

// shot saves a PNG of the whole page: the screen is made as tall as the
// page for the picture (sticky bars then stay where they belong), then
// restored.
func (b *uiBrowser) shot(t *testing.T, name string) {
	t.Helper()
	b.do(t, chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	height := uiEval[int64](t, b, `Math.ceil(document.documentElement.scrollHeight)`)
	b.do(t, b.emulate(b.vw, max(height, b.vh)),
		chromedp.Evaluate[chromedp.Void](`new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))`, chromedp.EvalAwaitPromise))
	png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	b.do(t, b.emulate(b.vw, b.vh))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(b.dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot %s", path)
}

func (b *uiBrowser) console() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.problems)
}

// noProblems fails when the page logged an error or threw since the last
// call, but for messages that contain one of the expected strings.
func (b *uiBrowser) noProblems(t *testing.T, where string, expected ...string) {
	t.Helper()
	b.mu.Lock()
	problems := b.problems
	b.problems = nil
	b.mu.Unlock()
	for _, p := range problems {
		if !slices.ContainsFunc(expected, func(e string) bool { return strings.Contains(p, e) }) {
			t.Errorf("%s: console: %s", where, p)
		}
	}
}

// uiPlain drops the grouping commas of a number on screen.
func uiPlain(s string) string { return strings.ReplaceAll(strings.TrimSpace(s), ",", "") }

func uiItoa[T int | int64](v T) string { return strconv.FormatInt(int64(v), 10) }

// TestDashboard loads the demo data into a real kam, opens the dashboard in
// headless Chromium and checks, page by page: no console error or uncaught
// exception, the numbers on screen equal the API's, the account list filters,
// searches, sorts and pages, a click leads to an account and its history,
// nothing is fetched from another origin and the page reads only /v1/, the
// phone layout does not overflow, and each page loads within loadBudget.
// Screenshots are written under $KAM_ARTIFACTS (default: a temporary
// directory) and their paths logged.
func TestDashboard(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks")
	base := "http://" + k.addrs.HTTP
	last := postDemo(t, base)

	var abc uiABC
	uiGet(t, base, fmt.Sprintf("/v1/reports/abc?min_seq=%d", last), &abc)
	var sla uiSLA
	uiGet(t, base, "/v1/reports/sla", &sla)
	var all uiAccountList
	uiGet(t, base, "/v1/accounts?limit=1000", &all)
	if abc.Accounts != 200 || all.Total != 200 {
		t.Fatalf("demo data: got %d accounts in the ABC report and %d in the list, want 200", abc.Accounts, all.Total)
	}

	b := newUIBrowser(t, base)
	b.viewport(t, 1280, 900, false)

	t.Run("overview", func(t *testing.T) {
		b.open(t, "/", "overview")
		for _, tier := range []string{"A", "B", "C"} {
			if got, want := uiPlain(b.text(t, "[data-test=tier-count-"+tier+"]")), uiItoa(abc.Tiers[tier].Accounts); got != want {
				t.Errorf("tier %s accounts: got %s on screen, want %s", tier, got, want)
			}
			if got, want := uiPlain(b.text(t, "[data-test=tier-revenue-"+tier+"]")), abc.Tiers[tier].Revenue; got != want {
				t.Errorf("tier %s revenue: got %s on screen, want %s", tier, got, want)
			}
			g := sla.Tiers[tier]
			if got, want := b.text(t, "[data-test=sla-overdue-"+tier+"]"), uiItoa(g.Requests.OverdueNow+g.Complaints.OverdueNow); got != want {
				t.Errorf("tier %s overdue: got %s on screen, want %s", tier, got, want)
			}
		}
		if got := uiPlain(b.text(t, "[data-test=total-revenue]")); got != abc.TotalRevenue {
			t.Errorf("total revenue: got %s on screen, want %s", got, abc.TotalRevenue)
		}
		if got := uiPlain(b.text(t, "[data-test=accounts]")); got != uiItoa(abc.Accounts) {
			t.Errorf("accounts: got %s on screen, want %d", got, abc.Accounts)
		}
		if got := b.text(t, "[data-test=key-count]"); got != uiItoa(abc.KeyAccounts) {
			t.Errorf("key accounts: got %s on screen, want %d", got, abc.KeyAccounts)
		}
		for _, sel := range []string{"[data-test=pareto-curve]", "[data-test=pareto-cut]", "[data-test=pareto-a-end]"} {
			if b.count(t, sel) != 1 {
				t.Errorf("the Pareto chart has no %s", sel)
			}
		}
		// Tier movements: the same comparison of two account lists, made here.
		var then uiAccountList
		uiGet(t, base, "/v1/accounts?limit=1000&as_of="+uiDayBefore(abc.Day, 30), &then)
		up, down, entered := uiTierMoves(all.Accounts, then.Accounts)
		for sel, want := range map[string]int{"moves-up": up, "moves-down": down, "moves-new": entered} {
			if got := b.text(t, "[data-test="+sel+"]"); got != uiItoa(want) {
				t.Errorf("%s over 30 days: got %s on screen, want %d", sel, got, want)
			}
		}
		keyRows := b.count(t, "[data-test=key-accounts] tbody tr")
		if want := min(int(abc.KeyAccounts), 25); keyRows != want {
			t.Errorf("key accounts table: got %d rows, want %d", keyRows, want)
		}
		b.shot(t, "overview")
		b.act(t, "overview", chromedp.Click(chromedp.CSS(`button[data-days="90"]`)))
		if b.count(t, `.moves[data-days="90"]`) != 1 {
			t.Errorf("the 90-day button did not switch the movements")
		}
		b.noProblems(t, "overview")
	})

	var accountID string
	t.Run("accounts", func(t *testing.T) {
		n := b.readyCount(t)
		b.do(t, chromedp.Click(chromedp.CSS(`a[data-nav=accounts]`)))
		b.waitReady(t, "accounts", n)
		if got := uiPlain(b.text(t, "[data-test=accounts-total]")); got != uiItoa(all.Total) {
			t.Errorf("accounts total: got %s, want %d", got, all.Total)
		}
		if rows := b.count(t, "[data-test=accounts-table] tbody tr[data-id]"); rows != 50 {
			t.Errorf("first page: got %d rows, want 50", rows)
		}
		// Paging with the cursor.
		var page1 uiAccountList
		uiGet(t, base, "/v1/accounts?limit=50", &page1)
		var page2 uiAccountList
		uiGet(t, base, "/v1/accounts?limit=50&cursor="+url.QueryEscape(*page1.NextCursor), &page2)
		b.act(t, "accounts", chromedp.Click(chromedp.CSS(`[data-test=next]`)))
		if got := b.text(t, "[data-test=accounts-table] tbody tr[data-id] .acct-id"); got != page2.Accounts[0].ID {
			t.Errorf("second page starts with %s, want %s", got, page2.Accounts[0].ID)
		}
		b.act(t, "accounts", chromedp.Click(chromedp.CSS(`[data-test=prev]`)))
		if got := b.text(t, "[data-test=accounts-table] tbody tr[data-id] .acct-id"); got != page1.Accounts[0].ID {
			t.Errorf("back to the first page: starts with %s, want %s", got, page1.Accounts[0].ID)
		}

		// Filter: tier A.
		b.act(t, "accounts", chromedp.Evaluate[chromedp.Void](
			`(() => { const s = document.querySelector('select[data-filter=tier]'); s.value = 'A'; s.dispatchEvent(new Event('change')); })()`))
		var tierA uiAccountList
		uiGet(t, base, "/v1/accounts?tier=A&limit=50", &tierA)
		if got := uiPlain(b.text(t, "[data-test=accounts-total]")); got != uiItoa(tierA.Total) {
			t.Errorf("tier A total: got %s, want %d", got, tierA.Total)
		}
		tiers := uiEval[[]string](t, b, `[...document.querySelectorAll('[data-test=accounts-table] tbody tr[data-id] [data-tier]')].map(e => e.dataset.tier)`)
		if len(tiers) != len(tierA.Accounts) {
			t.Errorf("tier A rows: got %d, want %d", len(tiers), len(tierA.Accounts))
		}
		for i, tier := range tiers {
			if tier != "A" {
				t.Errorf("row %d under the tier A filter has tier %q", i, tier)
			}
		}
		if !strings.Contains(uiEval[string](t, b, `location.search`), "tier=A") {
			t.Errorf("the URL does not hold the filter")
		}
		// The back button undoes the filter, forward brings it back.
		b.act(t, "accounts", chromedp.Evaluate[chromedp.Void](`history.back()`))
		if got := uiPlain(b.text(t, "[data-test=accounts-total]")); got != uiItoa(all.Total) {
			t.Errorf("back from the tier A filter: got %s accounts, want %d", got, all.Total)
		}
		b.act(t, "accounts", chromedp.Evaluate[chromedp.Void](`history.forward()`))
		if got := uiPlain(b.text(t, "[data-test=accounts-total]")); got != uiItoa(tierA.Total) {
			t.Errorf("forward to the tier A filter: got %s accounts, want %d", got, tierA.Total)
		}

		// Search by name, typed into the box.
		name := *tierA.Accounts[0].Name
		term := strings.Fields(name)[0]
		b.act(t, "accounts", chromedp.SendKeys(chromedp.CSS(`input[data-filter=q]`), term))
		var found uiAccountList
		uiGet(t, base, "/v1/accounts?tier=A&limit=50&q="+url.QueryEscape(term), &found)
		ids := uiEval[[]string](t, b, `[...document.querySelectorAll('[data-test=accounts-table] tbody tr[data-id]')].map(e => e.dataset.id)`)
		want := make([]string, len(found.Accounts))
		for i, a := range found.Accounts {
			want[i] = a.ID
		}
		if !slices.Equal(ids, want) {
			t.Errorf("search %q under tier A: got rows %v, want %v", term, ids, want)
		}

		// Sort by name.
		b.act(t, "accounts", chromedp.Click(chromedp.CSS(`th[data-sort=name]`)))
		var byName uiAccountList
		uiGet(t, base, "/v1/accounts?tier=A&limit=50&sort=name&q="+url.QueryEscape(term), &byName)
		ids = uiEval[[]string](t, b, `[...document.querySelectorAll('[data-test=accounts-table] tbody tr[data-id]')].map(e => e.dataset.id)`)
		if len(ids) == 0 || ids[0] != byName.Accounts[0].ID {
			t.Errorf("sorted by name: got %v, want %s first", ids, byName.Accounts[0].ID)
		}
		b.shot(t, "accounts")
		accountID = ids[0]
		n = b.readyCount(t)
		b.do(t, chromedp.Click(chromedp.CSS(`[data-test=accounts-table] tbody tr[data-id] a.acct-name`)))
		b.waitReady(t, "account", n)
		b.noProblems(t, "accounts")
	})

	t.Run("account", func(t *testing.T) {
		if accountID == "" {
			t.Skip("no account was clicked")
		}
		if got, want := uiEval[string](t, b, `decodeURIComponent(location.pathname)`), "/accounts/"+accountID; got != want {
			t.Fatalf("after the click: at %s, want %s", got, want)
		}
		uiCheckAccount(t, b, base, accountID)
		b.shot(t, "account")
		b.noProblems(t, "account")
	})

	t.Run("account that moved tier", func(t *testing.T) {
		// An account whose tier changed in the last 30 days, opened by its address.
		var then uiAccountList
		uiGet(t, base, "/v1/accounts?limit=1000&as_of="+uiDayBefore(abc.Day, 30), &then)
		moved := uiMovedIDs(all.Accounts, then.Accounts)
		if len(moved) == 0 {
			t.Skip("no account changed tier in 30 days")
		}
		id := moved[0]
		b.open(t, "/accounts/"+url.PathEscape(id), "account")
		uiCheckAccount(t, b, base, id)
		b.shot(t, "account-top")
		// A tier change names the revenue events that moved it: the button
		// opens that event in the history.
		if b.count(t, "[data-test=changes] button") > 0 {
			b.do(t, chromedp.Click(chromedp.CSS(`[data-test=changes] button`)))
			if _, err := chromedp.Run(b.ctx, chromedp.Poll[bool](`!!document.querySelector('.ev.hl[open]')`, chromedp.WithPollingTimeout(5*time.Second))); err != nil {
				t.Errorf("the event a tier change names was not opened in the history: %v", err)
			}
		}
		b.noProblems(t, "account that moved tier")
	})

	t.Run("service levels", func(t *testing.T) {
		n := b.readyCount(t)
		b.do(t, chromedp.Click(chromedp.CSS(`a[data-nav=service]`)))
		b.waitReady(t, "service", n)
		for _, tier := range []string{"A", "B", "C"} {
			g := sla.Tiers[tier]
			checks := map[string]int{
				"req-opened-" + tier: g.Requests.Opened, "req-open-" + tier: g.Requests.Open, "req-overdue-" + tier: g.Requests.OverdueNow,
				"cmp-opened-" + tier: g.Complaints.Opened, "cmp-overdue-" + tier: g.Complaints.OverdueNow,
				"overdue-" + tier: g.Requests.OverdueNow + g.Complaints.OverdueNow,
			}
			for sel, want := range checks {
				if got := uiPlain(b.text(t, "[data-test="+sel+"]")); got != uiItoa(want) {
					t.Errorf("%s: got %s on screen, want %d", sel, got, want)
				}
			}
		}
		b.shot(t, "service")
		b.noProblems(t, "service levels")
	})

	t.Run("audit", func(t *testing.T) {
		n := b.readyCount(t)
		b.do(t, chromedp.Click(chromedp.CSS(`a[data-nav=audit]`)))
		b.waitReady(t, "audit", n)
		var st uiStatus
		uiGet(t, base, "/v1/status", &st)
		if got := uiPlain(b.text(t, "[data-test=applied-seq]")); got != strconv.FormatUint(st.Projector.AppliedSeq, 10) {
			t.Errorf("applied seq: got %s, want %d", got, st.Projector.AppliedSeq)
		}
		if got := uiPlain(b.text(t, "[data-test=last-seq]")); got != strconv.FormatUint(st.Stream.LastSeq, 10) {
			t.Errorf("last seq: got %s, want %d", got, st.Stream.LastSeq)
		}
		if rows := b.count(t, "[data-test=log-table] tbody tr"); rows != 50 {
			t.Errorf("event log: got %d rows, want 50", rows)
		}
		b.act(t, "audit", chromedp.Click(chromedp.CSS(`[data-test=log-older]`)))
		if got := b.text(t, "[data-test=log-table] tbody tr td"); got != strconv.FormatUint(st.Stream.LastSeq-50, 10) {
			t.Errorf("older page of the log starts at #%s, want #%d", got, st.Stream.LastSeq-50)
		}
		if b.count(t, `[data-test=audit-decisions] a[href$="/tiers"]`) == 0 {
			t.Errorf("the tier decisions link to no tier history")
		}
		// A recent decision's trail: /v1/accounts/{id}/audit on screen.
		n = b.readyCount(t)
		b.do(t, chromedp.Click(chromedp.CSS(`[data-test=audit-decisions] a[data-test=trail-link]`)))
		b.waitReady(t, "audit", n)
		id := uiEval[string](t, b, `new URLSearchParams(location.search).get("account")`)
		var trail struct {
			Decisions []struct {
				CloseSeq uint64 `json:"close_seq"`
			} `json:"decisions"`
		}
		uiGet(t, base, "/v1/accounts/"+url.PathEscape(id)+"/audit", &trail)
		if got := b.count(t, "[data-test=trail] > li"); got != len(trail.Decisions) || got == 0 {
			t.Errorf("trail of %s: got %d decisions on screen, want %d", id, got, len(trail.Decisions))
		}
		if got, want := b.text(t, "[data-test=trail] > li [data-test=closed-by]"), fmt.Sprintf("#%d ", trail.Decisions[len(trail.Decisions)-1].CloseSeq); !strings.Contains(got, want) {
			t.Errorf("trail of %s: the newest decision is closed by %q, want the event %s", id, got, want)
		}
		b.shot(t, "audit")
		// Trace: from a decision to the account's timeline.
		n = b.readyCount(t)
		b.do(t, chromedp.Click(chromedp.CSS(`[data-test=audit-decisions] tbody a.acct-name`)))
		b.waitReady(t, "account", n)
		if b.count(t, "[data-test=changes] li") == 0 {
			t.Errorf("the traced account shows no change")
		}
		b.noProblems(t, "audit")
	})

	t.Run("unknown pages", func(t *testing.T) {
		b.open(t, "/no/such/page", "notfound")
		b.open(t, "/accounts/no-such-account", "account")
		if !strings.Contains(b.text(t, "main"), "No such account") {
			t.Errorf("an unknown account does not say so")
		}
		// Chromium logs the API's 404 for the unknown account; nothing else may show.
		b.noProblems(t, "unknown pages", "status of 404 (Not Found) ("+base+"/v1/accounts/no-such-account:")
	})

	t.Run("phone", func(t *testing.T) {
		b.viewport(t, 390, 844, true)
		defer b.viewport(t, 1280, 900, false)
		for _, p := range []struct{ path, page, name string }{
			{"/", "overview", "overview-phone"},
			{"/accounts?tier=A", "accounts", "accounts-phone"},
			{"/accounts/" + url.PathEscape(all.Accounts[0].ID), "account", "account-phone"},
			{"/service", "service", "service-phone"},
			{"/audit", "audit", "audit-phone"},
		} {
			b.open(t, p.path, p.page)
			if w := uiEval[[]int](t, b, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
				t.Errorf("%s on a phone: the page is %d px wide in a %d px screen", p.path, w[0], w[1])
			}
			b.shot(t, p.name)
		}
		b.noProblems(t, "phone")
	})

	t.Run("requests and load times", func(t *testing.T) {
		b.mu.Lock()
		reqs := slices.Clone(b.requests)
		b.mu.Unlock()
		for _, r := range reqs {
			kind, raw, _ := strings.Cut(r, " ")
			u, err := url.Parse(raw)
			if err != nil || u.Host != k.addrs.HTTP {
				if !strings.HasPrefix(raw, "data:") && raw != "about:blank" {
					t.Errorf("the page fetched %s from another origin", raw)
				}
				continue
			}
			if (kind == string(network.ResourceTypeFetch) || kind == string(network.ResourceTypeXHR)) && !strings.HasPrefix(u.Path, "/v1/") {
				t.Errorf("the page read %s: the dashboard reads only the public API under /v1/", u.Path)
			}
		}
		type timing struct {
			Page  string  `json:"page"`
			Path  string  `json:"path"`
			Kind  string  `json:"kind"`
			Ms    float64 `json:"ms"`
			Shown float64 `json:"shown"`
		}
		for _, p := range []struct{ path, page string }{{"/", "overview"}, {"/accounts", "accounts"}, {"/accounts/" + url.PathEscape(all.Accounts[0].ID), "account"}, {"/service", "service"}, {"/audit", "audit"}} {
			b.open(t, p.path, p.page)
			ts := uiEval[[]timing](t, b, `window.kamTimings`)
			if len(ts) == 0 {
				t.Fatalf("%s: no timing", p.path)
			}
			first := ts[0]
			t.Logf("load %-10s %-22s drawn %4.0f ms, complete %4.0f ms (from navigation start)", first.Page, first.Path, first.Shown, first.Ms)
			if time.Duration(first.Ms)*time.Millisecond > loadBudget {
				t.Errorf("%s took %.0f ms to load, over %s", p.path, first.Ms, loadBudget)
			}
		}
		b.noProblems(t, "load times")
	})
}

// uiCheckAccount compares the account page on screen with the API.
func uiCheckAccount(t *testing.T, b *uiBrowser, base, id string) {
	t.Helper()
	esc := url.PathEscape(id)
	var a uiAccount
	uiGet(t, base, "/v1/accounts/"+esc, &a)
	tier := "–"
	if a.Tier != nil {
		tier = *a.Tier
	}
	if got := b.text(t, "[data-test=acct-tier]"); got != tier {
		t.Errorf("%s tier: got %s on screen, want %s", id, got, tier)
	}
	if got := uiPlain(b.text(t, "[data-test=acct-revenue-window]")); got != a.RevenueWindow {
		t.Errorf("%s revenue in window: got %s on screen, want %s", id, got, a.RevenueWindow)
	}
	if got := uiPlain(b.text(t, "[data-test=acct-revenue-total]")); got != a.RevenueTotal {
		t.Errorf("%s revenue all time: got %s on screen, want %s", id, got, a.RevenueTotal)
	}
	// Revenue by month is summed from the events: it must add up to the API's.
	if got := uiPlain(b.text(t, "[data-test=revenue-sum]")); got != a.RevenueTotal {
		t.Errorf("%s sum of the monthly revenue: got %s, want %s", id, got, a.RevenueTotal)
	}
	changes := 0
	for _, h := range []string{"tiers", "key", "loyalty"} {
		var hist uiHistory
		uiGet(t, base, "/v1/accounts/"+esc+"/"+h, &hist)
		changes += len(hist.History)
	}
	if got := b.count(t, "[data-test=changes] li"); got != changes {
		t.Errorf("%s timeline: got %d changes, want %d (tiers + key + loyalty)", id, got, changes)
	}
	if got, want := b.text(t, "[data-test=acct-req-overdue]"), uiItoa(a.SLA.Requests.OverdueNow); got != want {
		t.Errorf("%s requests overdue: got %s, want %s", id, got, want)
	}
	stale := 0
	for _, c := range a.Contacts["decision_maker"] {
		if c.Stale {
			stale++
		}
	}
	if got := b.count(t, `[data-test=contacts] [data-stale=true]`); got != stale {
		t.Errorf("%s stale decision makers: got %d marked, want %d", id, got, stale)
	}
	if got := b.count(t, "[data-test=alert-stale]"); (got == 1) != a.DecisionMakerStale {
		t.Errorf("%s: stale decision maker alert shown %d times, decision_maker_stale is %v", id, got, a.DecisionMakerStale)
	}
	// The event history: the first page of the log, then more.
	var evs struct {
		Events []map[string]any `json:"events"`
	}
	uiGet(t, base, "/v1/events?limit=1000&account="+url.QueryEscape(id), &evs)
	if got, want := b.count(t, "[data-test=events] details.ev"), min(len(evs.Events), 50); got != want {
		t.Errorf("%s history: got %d events, want %d", id, got, want)
	}
	if len(evs.Events) > 50 {
		b.do(t, chromedp.Click(chromedp.CSS(`[data-test=more-events]`)))
		if got, want := b.count(t, "[data-test=events] details.ev"), min(len(evs.Events), 100); got != want {
			t.Errorf("%s history after 'show more': got %d events, want %d", id, got, want)
		}
	}
	newest := evs.Events[len(evs.Events)-1]
	if got := b.text(t, "[data-test=events] details.ev summary .evtype"); got != newest["type"] {
		t.Errorf("%s history: newest event on screen is %s, want %v", id, got, newest["type"])
	}
	b.do(t, chromedp.Click(chromedp.CSS(`[data-test=events] details.ev summary`)))
	if !uiEval[bool](t, b, `document.querySelector('[data-test=events] details.ev').open`) {
		t.Errorf("%s: clicking an event does not open it", id)
	}
}

// uiMovedIDs lists the accounts whose tier differs between two lists.
func uiMovedIDs(now, then []uiAccountRow) []string {
	before := map[string]string{}
	for _, a := range then {
		if a.Tier != nil {
			before[a.ID] = *a.Tier
		}
	}
	var ids []string
	for _, a := range now {
		if a.Tier != nil && before[a.ID] != "" && before[a.ID] != *a.Tier {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

// uiTierMoves counts upgrades, downgrades and first tiers between two lists.
func uiTierMoves(now, then []uiAccountRow) (up, down, entered int) {
	before := map[string]string{}
	for _, a := range then {
		if a.Tier != nil {
			before[a.ID] = *a.Tier
		}
	}
	for _, a := range now {
		if a.Tier == nil {
			continue
		}
		switch from := before[a.ID]; {
		case from == "":
			entered++
		case *a.Tier < from:
			up++
		case *a.Tier > from:
			down++
		}
	}
	return up, down, entered
}

func uiDayBefore(day string, n int) string {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		panic(err)
	}
	return d.AddDate(0, 0, -n).Format(time.DateOnly)
}
