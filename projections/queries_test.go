package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"kam/events"
)

// TestAccountAsOf: an account as of a moment has the decisions in force then
// (history), the revenue and counts of the days closed by then, and leaves
// out what kam keeps only as of now (rank, score, last order, events).
func TestAccountAsOf(t *testing.T) {
	var s stream
	s.order("ACME", "2025-03-01T10:00:00Z", "100.00")
	s.order("BOLT", "2025-03-01T11:00:00Z", "10.00")
	s.order("ACME", "2025-03-02T10:00:00Z", "20.00")
	s.order("ACME", "2025-03-03T10:00:00Z", "3.00")
	s.add(events.TypeOrderReturned, "ACME", "2025-03-03T11:00:00Z", map[string]any{"amount": "1.00"})
	s.order("CORE", "2025-03-03T12:00:00Z", "5.00")
	s.tick("2025-03-04T00:00:00Z")
	q, _ := queriesOf(t, nil, s.msgs, 100)
	ctx := context.Background()
	now := mustTime("2025-03-04T00:00:00Z")

	cur, err := q.Account(ctx, "ACME", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if cur.RevenueTotal != "122.00" || cur.Rank == nil || cur.KeyScore == nil || cur.Events != 4 || cur.LastOrderAt == "" {
		t.Fatalf("ACME now: %+v", cur)
	}
	for _, tc := range []struct {
		asOf           string
		revenue        string
		orders, ret    int64
		tier, firstOrd string
	}{
		// The close of 03-02 (a date means its close): 03-01 and 03-02.
		{"2025-03-02", "120.00", 2, 0, "A", "2025-03-01T10:00:00Z"},
		// Inside 03-03: only the days closed by then.
		{"2025-03-03T12:30:00Z", "120.00", 2, 0, "A", "2025-03-01T10:00:00Z"},
		// The close of 03-01: the first day only.
		{"2025-03-01", "100.00", 1, 0, "A", "2025-03-01T10:00:00Z"},
		{"2025-03-03", "122.00", 3, 1, "A", "2025-03-01T10:00:00Z"},
	} {
		at := mustTime(tc.asOf)
		if len(tc.asOf) == 10 {
			at = at.AddDate(0, 0, 1)
		}
		a, err := q.Account(ctx, "ACME", &at, now)
		if err != nil {
			t.Fatalf("as of %s: %v", tc.asOf, err)
		}
		if a.RevenueTotal != tc.revenue || a.OrdersTotal != tc.orders || a.ReturnsTotal != tc.ret || a.FirstOrderAt != tc.firstOrd {
			t.Errorf("as of %s: revenue_total %s, orders %d, returns %d, first order %q; want %s, %d, %d, %q",
				tc.asOf, a.RevenueTotal, a.OrdersTotal, a.ReturnsTotal, a.FirstOrderAt, tc.revenue, tc.orders, tc.ret, tc.firstOrd)
		}
		if a.Tier == nil || *a.Tier != tc.tier {
			t.Errorf("as of %s: tier %v, want %s", tc.asOf, a.Tier, tc.tier)
		}
		if a.Rank != nil || a.KeyScore != nil || a.LastOrderAt != "" || a.Events != 0 || a.LastSeq != 0 {
			t.Errorf("as of %s: rank %v, key_score %v, last order %q, events %d, last_seq %d: want them left out",
				tc.asOf, a.Rank, a.KeyScore, a.LastOrderAt, a.Events, a.LastSeq)
		}
	}
	// CORE's first event came after this moment.
	at := mustTime("2025-03-03T00:00:00Z")
	if _, err := q.Account(ctx, "CORE", &at, now); !isCode(err, events.ENotFound) {
		t.Errorf("CORE before its first event: got %v, want not found", err)
	}

	list, _, total, err := q.Accounts(ctx, AccountFilter{AsOf: &at, Sort: "revenue_total"})
	if err != nil {
		t.Fatal(err)
	}
	if total != 2 || len(list) != 2 || list[0].ID != "ACME" || list[0].RevenueTotal != "120.00" || list[0].Rank != nil ||
		list[0].KeyScore != nil || list[1].ID != "BOLT" || list[1].RevenueTotal != "10.00" {
		t.Errorf("list as of the close of 03-02: total %d, %+v", total, list)
	}
}

// TestAsOfLeavesOutLateEvents: the figures as of a moment are those the
// reviews up to it counted. An order that arrives after its day was reviewed
// counts from the next review on, so it is left out of the day it belongs to
// when asked about a moment before that review, and a restart (which reads
// the day's rows back) keeps the late rows apart.
func TestAsOfLeavesOutLateEvents(t *testing.T) {
	var s stream
	s.order("X", "2026-06-01T10:00:00Z", "100.00")
	s.tick("2026-06-03T00:00:00Z")                 // reviews 06-01 and 06-02
	s.order("X", "2026-06-02T10:00:00Z", "200.00") // late: counts from the review of 06-03
	s.order("X", "2026-06-03T10:00:00Z", "5.00")
	s.tick("2026-06-04T00:00:00Z") // reviews 06-03
	for _, batch := range []int{1, 100} {
		p, db := newProjector(t, nil)
		applyAll(t, p, s.msgs, batch)
		q := NewQueries(db, p.pol)
		ctx := context.Background()
		now := mustTime("2026-06-04T00:00:00Z")
		for _, tc := range []struct {
			asOf            string
			window, total   string
			orders, ordTotl int64
		}{
			{"2026-06-02T00:00:00Z", "100.00", "100.00", 1, 1}, // the close of 06-01
			{"2026-06-03T00:00:00Z", "100.00", "100.00", 1, 1}, // the close of 06-02: the late order was not known
			{"2026-06-03T12:00:00Z", "100.00", "100.00", 1, 1}, // still the review of 06-02
			{"2026-06-04T00:00:00Z", "305.00", "305.00", 3, 3}, // the review of 06-03 counted it
		} {
			at := mustTime(tc.asOf)
			a, err := q.Account(ctx, "X", &at, now)
			if err != nil {
				t.Fatalf("batch %d, as of %s: %v", batch, tc.asOf, err)
			}
			if a.RevenueWindow != tc.window || a.RevenueTotal != tc.total || a.OrdersWindow != tc.orders || a.OrdersTotal != tc.ordTotl {
				t.Errorf("batch %d, as of %s: window %s (%d orders), total %s (%d orders); want %s (%d), %s (%d)", batch, tc.asOf,
					a.RevenueWindow, a.OrdersWindow, a.RevenueTotal, a.OrdersTotal, tc.window, tc.orders, tc.total, tc.ordTotl)
			}
			list, _, _, err := q.Accounts(ctx, AccountFilter{AsOf: &at, Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			if len(list) != 1 || list[0].RevenueWindow != tc.window || list[0].RevenueTotal != tc.total || list[0].OrdersWindow != tc.orders {
				t.Errorf("batch %d, list as of %s: %+v; want window %s, total %s", batch, tc.asOf, list, tc.window, tc.total)
			}
		}
		// The late order's row stands apart from its day's on-time ones.
		expectRows(t, db, "account_days", "SELECT day, known_from, revenue, orders FROM account_days ORDER BY day, known_from", []string{
			"2026-06-01|2026-06-01|10000|1", "2026-06-02|2026-06-03|20000|1", "2026-06-03|2026-06-03|500|1",
		})
	}
}

// TestDecisionMakerStaleBoundary: a decision maker visited exactly
// decision_maker_days before is not stale (as a competitor purchase exactly
// competitor_days before still counts); a moment later, it is. The view
// v_coverage agrees with the API, and reads the policy's number.
func TestDecisionMakerStaleBoundary(t *testing.T) {
	for _, days := range []int{90, 30} {
		pol := DefaultPolicy()
		if days != 90 {
			b := []byte(strings.Replace(string(pol.Canonical()), `"decision_maker_days":90`, fmt.Sprintf(`"decision_maker_days":%d`, days), 1))
			var err error
			if pol, err = ParsePolicy(b); err != nil {
				t.Fatal(err)
			}
		}
		var s stream
		visitAt := mustTime("2026-03-01T10:00:00Z")
		s.add(events.TypeVisitLogged, "CV", "2026-03-01T10:00:00Z", map[string]any{"visit_id": "v1", "rep": "kim",
			"contact": map[string]any{"name": "Dee", "role": "decision_maker"}})
		edge := visitAt.AddDate(0, 0, days)
		s.tick(edge.Format(time.RFC3339)) // the watermark: exactly the days after the visit
		p, db := newProjector(t, pol)
		applyAll(t, p, s.msgs, 10)
		q := NewQueries(db, p.pol)
		ctx := context.Background()
		for _, tc := range []struct {
			at    time.Time
			stale bool
		}{{edge, false}, {edge.Add(time.Millisecond), true}} {
			a, err := q.Account(ctx, "CV", nil, tc.at)
			if err != nil {
				t.Fatal(err)
			}
			if a.DecisionMakerStale != tc.stale {
				t.Errorf("%d days: at %s, stale %v; want %v", days, ts(tc.at), a.DecisionMakerStale, tc.stale)
			}
		}
		expectRows(t, db, "v_coverage at the watermark", "SELECT decision_maker, days_since_visit, stale FROM v_coverage",
			[]string{fmt.Sprintf("Dee|%d|0", days)})
		// A day later by the watermark: stale by the view as well.
		s2 := s
		s2.msgs = slices.Clone(s.msgs)
		s2.tick(edge.Add(dayLen).Format(time.RFC3339))
		p2, db2 := newProjector(t, pol)
		applyAll(t, p2, s2.msgs, 10)
		expectRows(t, db2, "v_coverage a day later", "SELECT decision_maker, days_since_visit, stale FROM v_coverage",
			[]string{fmt.Sprintf("Dee|%d|1", days+1)})
	}
}

// TestAccountFilterCheck: each bad field is named, before anything runs.
func TestAccountFilterCheck(t *testing.T) {
	at := mustTime("2025-03-03")
	for _, tc := range []struct {
		f     AccountFilter
		field string
	}{
		{AccountFilter{Limit: MaxAccountsLimit + 1}, "limit"},
		{AccountFilter{Limit: -1}, "limit"},
		{AccountFilter{Tier: "Z"}, "tier"},
		{AccountFilter{Loyalty: "fond"}, "loyalty"},
		{AccountFilter{Sort: "bogus"}, "sort"},
		{AccountFilter{Sort: "score", AsOf: &at}, "sort"},
		{AccountFilter{Sort: "rank", AsOf: &at}, "sort"},
		{AccountFilter{Cursor: "!!!"}, "cursor"},
	} {
		err := tc.f.Check()
		var e *events.Error
		if !errors.As(err, &e) || len(e.Details) != 1 || e.Details[0].Field != tc.field {
			t.Errorf("Check(%+v): got %v, want an error about %s", tc.f, err, tc.field)
		}
	}
	if err := (AccountFilter{Limit: MaxAccountsLimit, Sort: "score", Tier: "A"}).Check(); err != nil {
		t.Errorf("a good filter: %v", err)
	}
}

func isCode(err error, code string) bool {
	var e *events.Error
	return errors.As(err, &e) && e.Code == code
}

// TestContactsAsOf: an account's contacts as of a moment count the visits up
// to it, so a decision maker stale then shows as stale.
func TestContactsAsOf(t *testing.T) {
	var s stream
	visit := func(at, name, role string) {
		s.add(events.TypeVisitLogged, "ACME", at, map[string]any{"visit_id": "v-" + at, "rep": "kim",
			"contact": map[string]any{"name": name, "role": role}})
	}
	s.order("ACME", "2025-03-01T09:00:00Z", "10.00")
	visit("2025-03-01T10:00:00Z", "Bo", "decision_maker")
	visit("2025-06-15T10:00:00Z", "Bo", "decision_maker")
	visit("2025-06-16T10:00:00Z", "Ann", "influencer")
	s.tick("2025-06-17T00:00:00Z")
	p, db := newProjector(t, nil)
	applyAll(t, p, s.msgs, 2)
	q := NewQueries(db, p.pol)
	ctx := context.Background()

	now := mustTime("2025-06-17T00:00:00Z")
	cur, err := q.Account(ctx, "ACME", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	if bo := cur.Contacts["decision_maker"]; len(bo) != 1 || bo[0].Visits != 2 || bo[0].LastVisit != "2025-06-15T10:00:00Z" ||
		bo[0].Stale || cur.DecisionMakerStale || len(cur.Contacts["influencer"]) != 1 {
		t.Errorf("now: %+v", cur.Contacts)
	}
	// The close of 2025-06-05: Bo seen once, 96 days before; Ann not yet.
	at := mustTime("2025-06-06T00:00:00Z")
	then, err := q.Account(ctx, "ACME", &at, now)
	if err != nil {
		t.Fatal(err)
	}
	bo := then.Contacts["decision_maker"]
	if len(bo) != 1 || bo[0].Visits != 1 || bo[0].LastVisit != "2025-03-01T10:00:00Z" || bo[0].NotVisitedD != 96 || !bo[0].Stale ||
		!then.DecisionMakerStale || len(then.Contacts["influencer"]) != 0 {
		t.Errorf("as of the close of 2025-06-05: %+v, decision maker stale %v", then.Contacts, then.DecisionMakerStale)
	}
	expectRows(t, db, "visits", "SELECT account, seq, at, role, name FROM visits ORDER BY account, seq", []string{
		"ACME|2|2025-03-01T10:00:00.000Z|decision_maker|Bo", "ACME|3|2025-06-15T10:00:00.000Z|decision_maker|Bo",
		"ACME|4|2025-06-16T10:00:00.000Z|influencer|Ann",
	})
}

// TestHistoryAsOf: the history rows in force by a moment; an account first
// seen later is not found, for its history and its audit trail alike.
func TestHistoryAsOf(t *testing.T) {
	var s stream
	s.order("ACME", "2025-03-01T10:00:00Z", "100.00")
	s.order("BOLT", "2025-03-02T10:00:00Z", "500.00") // ACME drops to B at the close of 03-02
	s.tick("2025-03-03T00:00:00Z")
	q, _ := queriesOf(t, nil, s.msgs, 100)
	ctx := context.Background()

	all, err := q.History(ctx, "ACME", HistoryTier, nil)
	if err != nil || len(all) != 2 {
		t.Fatalf("ACME's tier history: %v %v", all, err)
	}
	at := mustTime("2025-03-02T00:00:00Z") // the close of 03-01
	then, err := q.History(ctx, "ACME", HistoryTier, &at)
	if err != nil || len(then) != 1 || then[0]["to_tier"] != "A" {
		t.Errorf("ACME's tier history as of the close of 03-01: %v %v, want the first row (A)", then, err)
	}
	early := mustTime("2025-03-01T12:00:00Z")
	if _, err := q.History(ctx, "BOLT", HistoryTier, &early); !isCode(err, events.ENotFound) {
		t.Errorf("BOLT's history before its first event: %v, want not found", err)
	}
	if _, _, err := q.AuditTrail(ctx, "BOLT", &early); !isCode(err, events.ENotFound) {
		t.Errorf("BOLT's audit trail before its first event: %v, want not found", err)
	}
	if ds, _, err := q.AuditTrail(ctx, "ACME", &at); err != nil || len(ds) == 0 {
		t.Errorf("ACME's audit trail as of the close of 03-01: %v %v", ds, err)
	} else {
		for _, d := range ds {
			if mustTime(d.Effective).After(at) {
				t.Errorf("a decision after the moment: %+v", d)
			}
		}
	}
}

// TestAccountPagingKeyset: pages follow from the last account shown, not
// from a position, so that accounts added or moved while a client pages
// do not shift the rest: none comes twice, none that stayed put is lost.
func TestAccountPagingKeyset(t *testing.T) {
	var s stream
	for i := 1; i <= 10; i++ {
		s.order(fmt.Sprintf("b%02d", i), "2025-03-01T10:00:00Z", fmt.Sprintf("%d.00", 100*i))
	}
	s.tick("2025-03-02T00:00:00Z")
	q, p := queriesOf(t, nil, s.msgs, 100)
	ctx := context.Background()
	seen := len(s.msgs)

	// walk pages through f, 3 accounts a page; between the first page and
	// the second, more events come.
	walk := func(f AccountFilter, meanwhile func()) []string {
		t.Helper()
		f.Limit = 3
		var ids []string
		for page := 0; ; page++ {
			list, next, _, err := q.Accounts(ctx, f)
			if err != nil {
				t.Fatalf("page %d: %v", page, err)
			}
			for _, a := range list {
				ids = append(ids, a.ID)
			}
			if page == 0 {
				meanwhile()
				applyAll(t, p, s.msgs[seen:], 100)
				seen = len(s.msgs)
			}
			if next == "" {
				return ids
			}
			f.Cursor = next
		}
	}
	once := func(ids []string, want ...string) {
		t.Helper()
		for _, id := range want {
			n := 0
			for _, got := range ids {
				if got == id {
					n++
				}
			}
			if n != 1 {
				t.Errorf("%s comes %d times in %v, want once", id, n, ids)
			}
		}
	}

	// By id: an account that sorts first arrives after page one.
	ids := walk(AccountFilter{Sort: "id"}, func() { s.order("a00", "2025-03-02T09:00:00Z", "1.00") })
	once(ids, "b01", "b02", "b03", "b04", "b05", "b06", "b07", "b08", "b09", "b10")
	if slices.Contains(ids, "a00") {
		t.Errorf("a00 sorts before the cursor and came in %v", ids)
	}

	// By revenue: b02 (on page four) becomes the biggest after page one.
	s.tick("2025-03-03T00:00:00Z")
	ids = walk(AccountFilter{}, func() {
		s.order("b02", "2025-03-03T09:00:00Z", "5000.00")
		s.tick("2025-03-04T00:00:00Z")
	})
	once(ids, "b10", "b09", "b08", "b07", "b06", "b05", "b04", "b03", "b01", "a00")

	// A cursor serves only the query it was given for.
	_, next, _, err := q.Accounts(ctx, AccountFilter{Sort: "id", Limit: 2})
	if err != nil || next == "" {
		t.Fatalf("first page: %q, %v", next, err)
	}
	// Nor one whose value is of another type than the sort key's.
	forged := cursor{ID: "b01", Query: AccountFilter{Sort: "name"}.queryDigest()}.encode(int64(5))
	for _, f := range []AccountFilter{
		{Sort: "name", Cursor: next},
		{Sort: "id", Tier: "A", Cursor: next},
		{Sort: "id", Desc: new(true), Cursor: next},
		{Sort: "name", Cursor: forged},
	} {
		var e *events.Error
		if _, _, _, err := q.Accounts(ctx, f); !errors.As(err, &e) || len(e.Details) != 1 || e.Details[0].Field != "cursor" {
			t.Errorf("%+v: got %v, want an error about cursor", f, err)
		}
	}
}

// TestAsOfAfterEverything: a moment past year 9999 (the close of
// 9999-12-31 is one) answers as the latest moment, not as none at all.
func TestAsOfAfterEverything(t *testing.T) {
	for _, in := range []string{"9999-12-31", "9999-12-31T23:30:00-05:00", "9999-12-31T23:59:59.9999Z"} {
		got, err := ParseMoment(in)
		if err != nil || !got.Equal(LastMoment) {
			t.Errorf("ParseMoment(%q) = %v, %v; want %v", in, got, err, LastMoment)
		}
	}
	for in, want := range map[string]string{
		"2025-03-02":                        "2025-03-03T00:00:00Z", // a date: its close
		"2025-03-02T10:00:00.0005Z":         "2025-03-02T10:00:00.0005Z",
		"2025-03-02T11:00:00.0000001+01:00": "2025-03-02T10:00:00.0000001Z",
	} {
		if got, err := ParseMoment(in); err != nil || !got.Equal(mustTime(want)) {
			t.Errorf("ParseMoment(%s) = %v, %v; want %s", in, got, err, want)
		}
	}
	var s stream
	s.order("ACME", "2025-03-01T10:00:00Z", "100.00")
	s.tick("2025-03-02T00:00:00Z")
	q, _ := queriesOf(t, nil, s.msgs, 100)
	ctx := context.Background()
	at, _ := ParseMoment("9999-12-31")
	list, _, total, err := q.Accounts(ctx, AccountFilter{AsOf: &at})
	if err != nil || total != 1 || len(list) != 1 || list[0].Tier == nil || *list[0].Tier != TierA {
		t.Fatalf("list as of %v: %+v, total %d, %v", at, list, total, err)
	}
	if a, err := q.Account(ctx, "ACME", &at, at); err != nil || a.RevenueTotal != "100.00" {
		t.Errorf("ACME as of %v: %+v, %v", at, a, err)
	}
	if r, err := q.ABC(ctx, &at); err != nil || r.Tiers[TierA].Accounts != 1 {
		t.Errorf("ABC as of %v: %+v, %v", at, r, err)
	}
}

// TestAsOfMomentItself: as of a moment, an event at that very moment has
// not happened yet: the close of 03-01 is 03-02 00:00, which starts 03-02.
func TestAsOfMomentItself(t *testing.T) {
	var s stream
	s.order("ACME", "2025-03-01T10:00:00Z", "100.00")
	s.order("NEXT", "2025-03-02T00:00:00Z", "5.00")
	s.add(events.TypeVisitLogged, "ACME", "2025-03-02T00:00:00Z", map[string]any{"visit_id": "v1", "rep": "kim",
		"contact": map[string]any{"name": "Dee", "role": "decision_maker"}})
	s.add(events.TypeServiceRequestOpened, "ACME", "2025-03-02T00:00:00Z", map[string]any{"request_id": "r1", "priority": "low"})
	s.add(events.TypeServiceRequestOpened, "ACME", "2025-03-01T12:00:00Z", map[string]any{"request_id": "r0", "priority": "low"})
	s.add(events.TypeServiceRequestResponded, "ACME", "2025-03-02T00:00:00Z", map[string]any{"request_id": "r0"})
	s.tick("2025-03-03T00:00:00Z")
	q, _ := queriesOf(t, nil, s.msgs, 100)
	ctx := context.Background()
	at, _ := ParseMoment("2025-03-01")

	_, _, total, err := q.Accounts(ctx, AccountFilter{AsOf: &at})
	if err != nil || total != 1 {
		t.Errorf("list as of %v: total %d, %v; want ACME alone", at, total, err)
	}
	if _, err := q.Account(ctx, "NEXT", &at, at); !isCode(err, events.ENotFound) {
		t.Errorf("NEXT as of %v: %v, want not found", at, err)
	}
	a, err := q.Account(ctx, "ACME", &at, at)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Contacts) != 0 || a.SLA.Requests.Opened != 1 || a.SLA.Requests.Response.Met+a.SLA.Requests.Response.Breached != 0 {
		t.Errorf("ACME as of %v: contacts %v, requests %+v; want no contact, r0 alone, unanswered", at, a.Contacts, a.SLA.Requests)
	}
	r, err := q.SLA(ctx, &at, at)
	if err != nil || r.Tiers[TierC].Requests.Opened != 1 { // no tier yet at its opening: C
		t.Errorf("SLA as of %v: %+v, %v; want one request", at, r, err)
	}
}

// TestAsOfLoyaltySince: loyalty_since as of a moment is the last change of
// the status itself, as the live model keeps it, not a change of the
// early-adopter flag alone.
func TestAsOfLoyaltySince(t *testing.T) {
	var s stream
	s.order("ACME", "2025-03-01T10:00:00Z", "100.00") // new from the close of 03-01
	s.order("ACME", "2025-03-05T10:00:00Z", "100.00", "lines", []any{
		map[string]any{"sku": "X1", "qty": 1, "unit_price": "100.00", "new_product": true}}) // an early adopter from 03-05
	s.tick("2025-03-07T00:00:00Z")
	q, _ := queriesOf(t, nil, s.msgs, 100)
	ctx := context.Background()
	now := mustTime("2025-03-07T00:00:00Z")
	live, err := q.Account(ctx, "ACME", nil, now)
	if err != nil {
		t.Fatal(err)
	}
	at, _ := ParseMoment("2025-03-06")
	past, err := q.Account(ctx, "ACME", &at, now)
	if err != nil {
		t.Fatal(err)
	}
	if live.LoyaltySince == nil || *live.LoyaltySince != "2025-03-02T00:00:00Z" || !live.EarlyAdopter {
		t.Fatalf("live: since %v, early adopter %v; want since the close of 03-01, early adopter", *cmp.Or(live.LoyaltySince, new("null")), live.EarlyAdopter)
	}
	if past.LoyaltySince == nil || *past.LoyaltySince != *live.LoyaltySince || !past.EarlyAdopter {
		t.Errorf("as of %v: loyalty_since %v, early adopter %v; want %s as live, early adopter", at, *cmp.Or(past.LoyaltySince, new("null")), past.EarlyAdopter, *live.LoyaltySince)
	}
}

// TestAsOfFinerThanMilliseconds: kam keeps times to the millisecond; as of
// a finer moment, the events of the millisecond before it count, and a
// review at the next millisecond is not in force yet.
func TestAsOfFinerThanMilliseconds(t *testing.T) {
	var s stream
	s.order("ACME", "2025-03-01T23:59:59.999Z", "100.00")
	s.tick("2025-03-02T00:00:00Z")
	q, _ := queriesOf(t, nil, s.msgs, 100)
	ctx := context.Background()
	at := mustTime("2025-03-01T23:59:59.9995Z")
	list, _, total, err := q.Accounts(ctx, AccountFilter{AsOf: &at})
	if err != nil || total != 1 || list[0].Tier != nil {
		t.Fatalf("list as of %v: %+v, total %d, %v; want ACME, no tier yet (the review is at midnight)", at, list, total, err)
	}
	a, err := q.Account(ctx, "ACME", &at, at)
	if err != nil || a.Tier != nil {
		t.Errorf("ACME as of %v: %+v, %v; want known, no tier yet", at, a, err)
	}
	if r, err := q.ABC(ctx, &at); !isCode(err, events.ENotFound) {
		t.Errorf("ABC as of %v: %+v, %v; want no review yet", at, r, err)
	}
}
