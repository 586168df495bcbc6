package projections

import (
	"fmt"
	"strings"
	"testing"

	"kam/events"
)

// Scenarios: streams of events whose read model is worked out by hand from
// SPEC.md, under the default policy (window 365 days, cutA 80, cutB 95;
// weights volume 35, concentration 15, service requirement 15, price
// insensitivity 15, partnership 20; key at 60.00 and tier A; loyalty new 90
// days, competitor 180 days, prior 365 days / 3 orders, half discounted,
// 3 window orders). Money is in cents: "6000.00" is 600000.
//
// Tier arithmetic is written as 100*before vs cutA*total and cutB*total.
// Scores: vol = 10000*less/(n-1) of the window revenue among ranked accounts,
// conc = the same of the average order value (window revenue / window orders),
// score = (35 vol + 15 conc + 15 sr + 15 pi + 20 partnership) / 100, rounded
// down, all in basis points.

// expectRows compares the rows of q with want, row by row.
func expectRows(t *testing.T, db *DB, what, q string, want []string) {
	t.Helper()
	got := query(t, db, q)
	var diffs []string
	for i := 0; i < max(len(got), len(want)); i++ {
		g, w := "(none)", "(none)"
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			diffs = append(diffs, fmt.Sprintf("row %d:\n   got %s\n  want %s", i+1, g, w))
		}
	}
	if len(diffs) > 0 {
		t.Errorf("%s: %d rows differ:\n%s", what, len(diffs), strings.Join(diffs, "\n"))
	}
}

func visit(s *stream, account, t string, data map[string]any) events.Stored {
	return s.add(events.TypeVisitLogged, account, t, data)
}

func request(s *stream, typ, account, t, id string, more ...string) events.Stored {
	d := map[string]any{"request_id": id}
	for i := 0; i+1 < len(more); i += 2 {
		d[more[i]] = more[i+1]
	}
	return s.add(typ, account, t, d)
}

// twoYearStream is the scenario of TestTwoYearScenario. Event n has id
// ev-00000n and stream sequence n.
func twoYearStream() *stream {
	var s stream
	// --- 2024 ---
	s.add(events.TypeAccountRegistered, "ACME", "2024-01-10T09:00:00Z", map[string]any{ // 1
		"name": "Acme Aircraft", "industry": "aerospace", "region": "EU", "manager": "kim",
		"partnership": "strategic", "service_requirement": "critical"})
	s.add(events.TypeAccountRegistered, "DUNE", "2024-01-10T09:30:00Z", map[string]any{"name": "Dune Mining", "partnership": "none"}) // 2
	s.order("ACME", "2024-01-10T10:00:00Z", "6000.00")                                                                                // 3
	s.order("BOLT", "2024-01-10T11:00:00Z", "3000.00")                                                                                // 4
	s.order("CORE", "2024-01-10T12:00:00Z", "1000.00", "discount_pct", 15)                                                            // 5
	request(&s, events.TypeServiceRequestOpened, "ACME", "2024-01-11T08:00:00Z", "r1", "priority", "urgent", "kind", "repair")        // 6
	request(&s, events.TypeServiceRequestResponded, "ACME", "2024-01-11T08:45:00Z", "r1")                                             // 7
	request(&s, events.TypeServiceRequestResolved, "ACME", "2024-01-11T17:00:00Z", "r1", "resolution", "fixed")                       // 8
	// ECHO's first event: a request, before ECHO's first review.
	request(&s, events.TypeServiceRequestOpened, "ECHO", "2024-02-01T10:00:00Z", "r1", "priority", "normal") // 9
	s.order("ECHO", "2024-02-01T11:00:00Z", "500.00")                                                        // 10
	request(&s, events.TypeServiceRequestResponded, "ECHO", "2024-02-02T09:00:00Z", "r1")                    // 11
	request(&s, events.TypeServiceRequestResolved, "ECHO", "2024-02-12T10:00:00Z", "r1")                     // 12
	s.order("ACME", "2024-03-01T10:00:00Z", "6000.00")                                                       // 13
	s.order("BOLT", "2024-03-01T11:00:00Z", "3000.00", "lines", []any{                                       // 14
		map[string]any{"sku": "X1", "qty": 1, "unit_price": "3000.00", "new_product": true}})
	s.order("CORE", "2024-03-01T12:00:00Z", "1000.00", "discount_pct", 15) // 15
	s.order("ACME", "2024-05-01T10:00:00Z", "6000.00")                     // 16
	visit(&s, "BOLT", "2024-05-01T11:00:00Z", map[string]any{              // 17
		"visit_id": "v1", "rep": "kim", "contact": map[string]any{"name": "Bo Decider", "role": "decision_maker"},
		"kind": "onsite", "partnership_discussed": true})
	s.add(events.TypeOrderReturned, "ECHO", "2024-06-01T10:00:00Z", map[string]any{"amount": "800.00"}) // 18: a credit note larger than ECHO's orders
	s.order("FERN", "2024-06-01T11:00:00Z", "2000.00")                                                  // 19
	visit(&s, "FERN", "2024-06-01T12:00:00Z", map[string]any{                                           // 20
		"visit_id": "v2", "rep": "lee", "contact": map[string]any{"name": "Fay Buyer", "role": "purchaser"},
		"kind": "phone", "competitor": "purchased"})
	s.order("ACME", "2024-07-01T09:00:00Z", "6000.00")                                                                                                 // 21
	s.order("CORE", "2024-07-01T10:00:00Z", "1000.00", "discount_pct", 10)                                                                             // 22: exactly 10% is discounted
	s.add(events.TypeComplaintFiled, "BOLT", "2024-09-15T10:00:00Z", map[string]any{"complaint_id": "c1", "severity": "high", "category": "delivery"}) // 23
	s.add(events.TypeComplaintResolved, "BOLT", "2024-09-18T10:00:00Z", map[string]any{"complaint_id": "c1", "satisfied": false})                      // 24
	visit(&s, "ACME", "2024-10-01T09:00:00Z", map[string]any{"visit_id": "v3", "rep": "kim",                                                           // 25
		"contact": map[string]any{"name": "Ann Decider", "role": "decision_maker"}, "kind": "onsite"})
	visit(&s, "ACME", "2024-10-01T09:30:00Z", map[string]any{"visit_id": "v4", "rep": "kim", // 26
		"contact": map[string]any{"name": "Ian Fluence", "role": "influencer"}, "kind": "video"})
	visit(&s, "ACME", "2024-11-15T09:00:00Z", map[string]any{"visit_id": "v5", "rep": "kim", // 27
		"contact": map[string]any{"name": "Ann Decider", "role": "decision_maker"}, "kind": "phone", "competitor": "evaluating"})
	s.add(events.TypeComplaintFiled, "ACME", "2024-12-01T10:00:00Z", map[string]any{"complaint_id": "c2", "severity": "critical"})                   // 28
	s.add(events.TypeComplaintResolved, "ACME", "2024-12-02T08:00:00Z", map[string]any{"complaint_id": "c2", "satisfied": true, "resolution": "ok"}) // 29
	// --- 2025 ---
	s.tick("2025-01-01T00:00:00Z")                                                                                            // 30
	s.order("BOLT", "2025-01-20T10:00:00Z", "12000.00")                                                                       // 31
	request(&s, events.TypeServiceRequestOpened, "BOLT", "2025-02-01T10:00:00Z", "r2", "priority", "high")                    // 32
	request(&s, events.TypeServiceRequestResolved, "BOLT", "2025-02-01T12:00:00Z", "r2")                                      // 33: no response first
	s.add(events.TypeAccountUpdated, "DUNE", "2025-02-10T10:00:00Z", map[string]any{"service_requirement": "elevated"})       // 34
	s.add(events.TypeComplaintFiled, "DUNE", "2025-03-01T10:00:00Z", map[string]any{"complaint_id": "c3", "severity": "low"}) // 35
	s.order("CORE", "2025-03-10T10:00:00Z", "1000.00", "discount_pct", 20)                                                    // 36
	s.add(events.TypeComplaintResolved, "DUNE", "2025-03-15T10:00:00Z", map[string]any{"complaint_id": "c3"})                 // 37: exactly at due
	s.order("BOLT", "2025-04-15T10:00:00Z", "6000.00")                                                                        // 38
	s.order("BOLT", "2025-05-20T10:00:00Z", "6000.00")                                                                        // 39
	s.tick("2025-06-20T00:00:00Z")                                                                                            // 40: closes 2025-06-19
	s.order("FERN", "2025-06-05T10:00:00Z", "50000.00")                                                                       // 41: late
	request(&s, events.TypeServiceRequestOpened, "ACME", "2025-06-21T00:00:00Z", "r3", "priority", "high")                    // 42: closes 2025-06-20
	request(&s, events.TypeServiceRequestResponded, "ACME", "2025-06-21T06:00:00Z", "r3")                                     // 43
	request(&s, events.TypeServiceRequestOpened, "FERN", "2025-06-21T09:00:00Z", "r4", "priority", "urgent")                  // 44
	request(&s, events.TypeServiceRequestResponded, "FERN", "2025-06-21T11:00:00Z", "r4")                                     // 45
	request(&s, events.TypeServiceRequestResolved, "FERN", "2025-06-21T15:00:00Z", "r4")                                      // 46
	s.tick("2026-01-01T00:00:00Z")                                                                                            // 47: closes 2025-12-31
	return &s
}

// TestTwoYearScenario follows six accounts over 2024 and 2025.
//
// Window contents (cents) and where they change. An order of day X is in the
// windows of days X..X+364 and leaves at the review of X+365:
//
//	2024-01-10 → 2025-01-09, 2024-02-01 → 2025-01-31, 2024-03-01 → 2025-03-01,
//	2024-05-01 → 2025-05-01, 2024-06-01 → 2025-06-01, 2024-07-01 → 2025-07-01
//	(2024 is a leap year: 2024-01-10 + 365 days = 2025-01-09).
//
// A review of day D runs when the first event with time >= D+1 00:00 comes;
// that event is the review's close event (close_seq).
func TestTwoYearScenario(t *testing.T) {
	s := twoYearStream()
	if len(s.msgs) != 47 {
		t.Fatalf("scenario has %d events, want 47", len(s.msgs))
	}
	p, db := newProjector(t, nil)

	// The first five events all fall on 2024-01-10: no day has closed, so
	// no account has a tier yet.
	applyAll(t, p, s.msgs[:5], 2)
	expectRows(t, db, "accounts before the first review", `SELECT account, tier, tier_rank, key_score, loyalty FROM accounts ORDER BY account`, []string{
		"ACME|NULL|NULL|NULL|NULL",
		"BOLT|NULL|NULL|NULL|NULL",
		"CORE|NULL|NULL|NULL|NULL",
		"DUNE|NULL|NULL|NULL|NULL",
	})
	expectRows(t, db, "history before the first review", `SELECT (SELECT count(*) FROM tier_history), (SELECT count(*) FROM key_history),
		(SELECT count(*) FROM loyalty_history), (SELECT count(*) FROM reviews)`, []string{"0|0|0|0"})

	// Up to and including the late FERN order (event 41), applied after
	// the tick of 2025-06-20 00:00 (event 40) reviewed 2025-06-19.
	applyAll(t, p, s.msgs[5:41], 3)
	// The late order is in account_days under its business day, but no
	// review has seen it yet: FERN is still C with the window revenue of
	// the review of 2025-06-19 (0: its 2024-06-01 order left on 2025-06-01).
	expectRows(t, db, "FERN after the late order", `SELECT tier, revenue_window, orders_total, revenue_total FROM accounts WHERE account = 'FERN'`,
		[]string{"C|0|2|5200000"})
	expectRows(t, db, "state after the late order", `SELECT watermark, next_review_day, last_review_day FROM projector_state`,
		[]string{"2025-06-20T00:00:00.000Z|2025-06-20|2025-06-19"})

	applyAll(t, p, s.msgs[41:], 1000)

	// Tier history.
	//
	// 2024-01-10 (close event 6): ACME 600000, BOLT 300000, CORE 100000;
	// total 1000000, 3 ranked. ACME before 0 → A. BOLT before 600000:
	// 60,000,000 < 80,000,000 → A. CORE before 900000: 90,000,000 >=
	// 80,000,000, < 95,000,000 → B. DUNE (registered, no order) → C.
	//
	// 2024-02-01 (close event 11): + ECHO 50000, total 1050000. ECHO before
	// 1000000: 100,000,000 >= 95*1050000 = 99,750,000 → C. Others unchanged
	// (BOLT 60M < 84M; CORE 90M >= 84M, < 99.75M).
	//
	// 2024-03-01: ACME 1200000, BOLT 600000, CORE 200000, ECHO 50000; total
	// 2050000: BOLT 120M < 164M A; CORE 180M in [164M, 194.75M) B; ECHO 200M
	// >= 194.75M C. 2024-05-01: ACME 1800000; total 2650000: BOLT 180M <
	// 212M; CORE 240M in [212M, 251.75M); ECHO 260M >= 251.75M: unchanged.
	//
	// 2024-06-01 (close event 21): ECHO's credit note of 800.00 takes it to
	// -30000: unranked, C. FERN 200000 ties CORE 200000, CORE < FERN:
	// ACME 1800000, BOLT 600000, CORE 200000, FERN 200000; total 2800000.
	// CORE before 2400000: 240M in [224M, 266M) → B. FERN before 2600000:
	// 260M < 266M → B.
	//
	// 2024-07-01: ACME 2400000, BOLT 600000, CORE 300000, FERN 200000; total
	// 3500000: BOLT 240M < 280M A; CORE 300M in [280M, 332.5M) B; FERN 330M
	// < 332.5M B. Unchanged until 2025-01-09.
	//
	// 2025-01-09: the 2024-01-10 orders leave: ACME 1800000, BOLT 300000,
	// CORE 200000, FERN 200000; total 2500000: BOLT 180M < 200M A; CORE
	// 210M in [200M, 237.5M) B; FERN 230M < 237.5M B. Unchanged.
	// 2025-01-20: BOLT 1500000; total 3700000: BOLT 180M < 296M; CORE 330M
	// in [296M, 351.5M); FERN 350M < 351.5M. Unchanged.
	//
	// 2025-03-01 (close event 36, CORE's order of 2025-03-10): the
	// 2024-03-01 orders leave. ACME 1200000 (05-01, 07-01), BOLT 1200000
	// (01-20), FERN 200000, CORE 100000 (07-01); ACME < BOLT on the tie;
	// total 2700000. BOLT 120M < 216M A; FERN 240M in [216M, 256.5M) B;
	// CORE before 2600000: 260M >= 256.5M → C. CORE's revenue events since
	// its last change: events 15 and 22.
	//
	// 2025-03-10 (close event 37): CORE 200000 ties FERN 200000, CORE
	// first; total 2800000. CORE before 2400000: 240M in [224M, 266M) → B.
	// FERN 260M < 266M B.
	//
	// 2025-04-15: BOLT 1800000 first; total 3400000: ACME 180M < 272M A,
	// CORE 300M in [272M, 323M) B, FERN 320M < 323M B. 2025-05-01: ACME's
	// 2024-05-01 order leaves, ACME 600000, total 2800000: ACME 180M < 224M
	// A; CORE 240M B; FERN 260M < 266M B. 2025-05-20: BOLT 2400000, total
	// 3400000: ACME 240M < 272M A; CORE 300M B; FERN 320M < 323M B.
	//
	// 2025-06-01 (close event 40, the tick): FERN's order and ECHO's credit
	// note leave. BOLT 2400000, ACME 600000, CORE 200000; total 3200000.
	// ACME 240M < 256M A; CORE 300M in [256M, 304M) B; FERN 0 → C (no
	// revenue event since its last change).
	//
	// 2025-06-20 (close event 42): the late FERN order of 2025-06-05 counts
	// from this review on, not from 2025-06-05's. FERN 5000000, BOLT
	// 2400000, ACME 600000, CORE 200000; total 8200000. FERN → A. BOLT
	// 500M < 656M A. ACME before 7400000: 740M in [656M, 779M) → B (its
	// revenue events since 2024-01-10: 13, 16, 21). CORE before 8000000:
	// 800M >= 779M → C.
	//
	// 2025-07-01 (close event 47, the last tick): ACME's and CORE's
	// 2024-07-01 orders leave. ACME 0 → C. FERN 5000000, BOLT 2400000, CORE
	// 100000; total 7500000: BOLT 500M < 600M A; CORE 740M >= 712.5M C.
	expectRows(t, db, "tier_history", `SELECT account, effective, from_tier, to_tier, revenue, rank, ranked, before_revenue, total_revenue,
		close_seq, close_event_id, moved_count, moved_ids FROM tier_history ORDER BY account, effective`, []string{
		`ACME|2024-01-11T00:00:00.000Z|NULL|A|600000|1|3|0|1000000|6|ev-000006|1|["ev-000003"]`,
		`ACME|2025-06-21T00:00:00.000Z|A|B|600000|3|4|7400000|8200000|42|ev-000042|3|["ev-000013","ev-000016","ev-000021"]`,
		`ACME|2025-07-02T00:00:00.000Z|B|C|0|NULL|3|0|7500000|47|ev-000047|0|[]`,
		`BOLT|2024-01-11T00:00:00.000Z|NULL|A|300000|2|3|600000|1000000|6|ev-000006|1|["ev-000004"]`,
		`CORE|2024-01-11T00:00:00.000Z|NULL|B|100000|3|3|900000|1000000|6|ev-000006|1|["ev-000005"]`,
		`CORE|2025-03-02T00:00:00.000Z|B|C|100000|4|4|2600000|2700000|36|ev-000036|2|["ev-000015","ev-000022"]`,
		`CORE|2025-03-11T00:00:00.000Z|C|B|200000|3|4|2400000|2800000|37|ev-000037|1|["ev-000036"]`,
		`CORE|2025-06-21T00:00:00.000Z|B|C|200000|4|4|8000000|8200000|42|ev-000042|0|[]`,
		`DUNE|2024-01-11T00:00:00.000Z|NULL|C|0|NULL|3|0|1000000|6|ev-000006|0|[]`,
		`ECHO|2024-02-02T00:00:00.000Z|NULL|C|50000|4|4|1000000|1050000|11|ev-000011|1|["ev-000010"]`,
		`FERN|2024-06-02T00:00:00.000Z|NULL|B|200000|4|4|2600000|2800000|21|ev-000021|1|["ev-000019"]`,
		`FERN|2025-06-02T00:00:00.000Z|B|C|0|NULL|3|0|3200000|40|ev-000040|0|[]`,
		`FERN|2025-06-21T00:00:00.000Z|C|A|5000000|1|4|0|8200000|42|ev-000042|1|["ev-000041"]`,
	})
	expectRows(t, db, "tier_history policy and cutoffs", `SELECT DISTINCT policy, window_days, cut_a, cut_b FROM tier_history`,
		[]string{DefaultPolicy().Version() + "|365|80|95"})

	// Key-account history (a row at each account's first review, then at
	// each change).
	//
	// 2024-01-10, n=3: ACME vol 10000 (less 2 of 2), conc 10000 (avg 600000
	// the highest), sr critical 10000, pi 10000, strategic 10000 → 10000,
	// A → key. BOLT vol 5000, conc 5000, sr 0, pi 10000, p 0 → (175000 +
	// 75000 + 150000)/100 = 4000. CORE all 0 (pi 0: everything discounted).
	// DUNE unranked: 0.
	// 2024-02-01, n=4: ECHO vol 0, conc 0, pi 10000 → 1500, C.
	// 2024-06-01, n=4: FERN vol 0 (ties CORE, none below), conc 1/3 (avg
	// 200000 > CORE's 100000; the part 3333), pi 10000 → 15*1/3 + 15 = 20
	// exactly: 2000, B (the parts rounded down first would weigh 19.99).
	// (BOLT, interested since the visit of 2024-05-01: at most (35*6666 +
	// 15*6666 + 150000 + 100000)/100 = 5833 in 2024.)
	// 2025-01-20, n=4: BOLT 1500000 over 2 orders, avg 750000 the highest
	// (ACME 600000, FERN 200000, CORE 100000): vol 6666, conc 10000, sr 0,
	// pi 10000, p 5000 → (233310 + 150000 + 150000 + 100000)/100 = 6333, A
	// → key.
	// 2025-06-20, n=4: ACME is B → not key (score: vol 3333, conc 3333 →
	// (116655 + 49995 + 150000 + 150000 + 200000)/100 = 6666). BOLT 2400000
	// over 3 orders, avg 800000, below FERN's 5000000: vol 6666, conc 6666
	// → (233310 + 99990 + 150000 + 100000)/100 = 5833 → not key. FERN vol
	// 10000, conc 10000, pi 10000 → 6500, A → key.
	expectRows(t, db, "key_history", `SELECT account, effective, from_key, to_key, tier, score, score_volume, score_concentration,
		score_service_requirement, score_price_insensitivity, score_partnership, revenue, orders, discounted, partnership, close_seq
		FROM key_history ORDER BY account, effective`, []string{
		"ACME|2024-01-11T00:00:00.000Z|NULL|1|A|10000|10000|10000|10000|10000|10000|600000|1|0|strategic|6",
		"ACME|2025-06-21T00:00:00.000Z|1|0|B|6666|3333|3333|10000|10000|10000|600000|1|0|strategic|42",
		"BOLT|2024-01-11T00:00:00.000Z|NULL|0|A|4000|5000|5000|0|10000|0|300000|1|0|none|6",
		"BOLT|2025-01-21T00:00:00.000Z|0|1|A|6333|6666|10000|0|10000|5000|1500000|2|0|interested|32",
		"BOLT|2025-06-21T00:00:00.000Z|1|0|A|5833|6666|6666|0|10000|5000|2400000|3|0|interested|42",
		"CORE|2024-01-11T00:00:00.000Z|NULL|0|B|0|0|0|0|0|0|100000|1|100000|none|6",
		"DUNE|2024-01-11T00:00:00.000Z|NULL|0|C|0|0|0|0|0|0|0|0|0|none|6",
		"ECHO|2024-02-02T00:00:00.000Z|NULL|0|C|1500|0|0|0|10000|0|50000|1|0|none|11",
		"FERN|2024-06-02T00:00:00.000Z|NULL|0|B|2000|0|3333|0|10000|0|200000|1|0|none|21",
		"FERN|2025-06-21T00:00:00.000Z|0|1|A|6500|10000|10000|0|10000|0|5000000|1|0|none|42",
	})

	// Loyalty history.
	//
	// ACME, BOLT, CORE first ordered on 2024-01-10 (10:00, 11:00, 12:00);
	// + 90 days = 2024-04-09 at those hours: the close of 2024-04-09
	// (2024-04-10 00:00) is the first at least 90 days after: effective
	// 2024-04-10, reviewed when event 16 (2024-05-01) came.
	//   ACME: 2 window orders → no_brand_loyalty (fewer than 3); on
	//   2024-05-01 a third order → loyal; on 2025-03-01 the 2024-03-01
	//   order leaves, 2 orders → no_brand_loyalty (prior period 2023-03-03
	//   ..2024-03-01 holds 2); on 2025-07-01 none in the window and 4 in
	//   the prior period 2023-07-03..2024-07-01 → brand_switching.
	//   BOLT: early adopter from the 2024-03-01 order with a new product
	//   until it leaves on 2025-03-01; 2 orders → no_brand_loyalty; on
	//   2025-05-20 its third 2025 order → loyal (prior 2023-05-22
	//   ..2024-05-20 holds 2).
	//   CORE: everything discounted (15%, 15%, 10%, 20%) → no_brand_loyalty.
	// ECHO first ordered 2024-02-01 11:00, + 90 days = 2024-05-01 11:00:
	// effective 2024-05-02, 1 order → no_brand_loyalty. Its credit note
	// makes the window revenue negative later, with the same status.
	// FERN first ordered 2024-06-01 11:00, + 90 days = 2024-08-30 11:00:
	// effective 2024-08-31; its visit of 2024-06-01 12:00 reported a
	// competitor purchase: brand_switching. 2024-06-01 12:00 + 180 days =
	// 2024-11-28 12:00: the close of 2024-11-27 (11-28 00:00) is within
	// 180 days, that of 2024-11-28 (11-29 00:00) is not → effective
	// 2024-11-29, 1 order → no_brand_loyalty.
	// DUNE never ordered: no status.
	expectRows(t, db, "loyalty_history", `SELECT account, effective, from_loyalty, to_loyalty, from_early_adopter, to_early_adopter,
		orders_window, revenue_window, discounted_window, prior_orders, close_seq FROM loyalty_history ORDER BY account, effective`, []string{
		"ACME|2024-01-11T00:00:00.000Z|NULL|new|NULL|0|1|600000|0|0|6",
		"ACME|2024-04-10T00:00:00.000Z|new|no_brand_loyalty|0|0|2|1200000|0|0|16",
		"ACME|2024-05-02T00:00:00.000Z|no_brand_loyalty|loyal|0|0|3|1800000|0|0|18",
		"ACME|2025-03-02T00:00:00.000Z|loyal|no_brand_loyalty|0|0|2|1200000|0|2|36",
		"ACME|2025-07-02T00:00:00.000Z|no_brand_loyalty|brand_switching|0|0|0|0|0|4|47",
		"BOLT|2024-01-11T00:00:00.000Z|NULL|new|NULL|0|1|300000|0|0|6",
		"BOLT|2024-03-02T00:00:00.000Z|new|new|0|1|2|600000|0|0|16",
		"BOLT|2024-04-10T00:00:00.000Z|new|no_brand_loyalty|1|1|2|600000|0|0|16",
		"BOLT|2025-03-02T00:00:00.000Z|no_brand_loyalty|no_brand_loyalty|1|0|1|1200000|0|2|36",
		"BOLT|2025-05-21T00:00:00.000Z|no_brand_loyalty|loyal|0|0|3|2400000|0|2|40",
		"CORE|2024-01-11T00:00:00.000Z|NULL|new|NULL|0|1|100000|100000|0|6",
		"CORE|2024-04-10T00:00:00.000Z|new|no_brand_loyalty|0|0|2|200000|200000|0|16",
		"ECHO|2024-02-02T00:00:00.000Z|NULL|new|NULL|0|1|50000|0|0|11",
		"ECHO|2024-05-02T00:00:00.000Z|new|no_brand_loyalty|0|0|1|50000|0|0|18",
		"FERN|2024-06-02T00:00:00.000Z|NULL|new|NULL|0|1|200000|0|0|21",
		"FERN|2024-08-31T00:00:00.000Z|new|brand_switching|0|0|1|200000|0|0|23",
		"FERN|2024-11-29T00:00:00.000Z|brand_switching|no_brand_loyalty|0|0|1|200000|0|0|28",
	})

	// Service levels: the tier and key flag in force at opening, the
	// column, due = opened + target hours, met when at or before due.
	//   ACME r1 (2024-01-11 08:00): A, key since 2024-01-11 00:00 → column
	//   A (no key column), urgent 1h/8h: due 09:00 / 16:00; responded 08:45
	//   (2700 s) met; resolved 17:00 (9h = 32400 s) breached.
	//   ECHO r1 (2024-02-01 10:00): ECHO's first event, no tier yet → C,
	//   normal 48h/168h: due 02-03 10:00 / 02-08 10:00; responded after 23h
	//   (82800 s) met; resolved after 11 days (950400 s) breached. Same
	//   request id as ACME's, another account: another item.
	//   BOLT c1 (2024-09-15 10:00): A, not key; high → 48h: due 09-17 10:00;
	//   resolved after 72h (259200 s) breached; not satisfied.
	//   ACME c2 (2024-12-01 10:00): A, key → A; critical → 24h; resolved
	//   after 22h (79200 s) met; satisfied.
	//   BOLT r2 (2025-02-01 10:00): A, key since 2025-01-21 → A; high 4h/24h;
	//   resolved after 2h with no response: the resolution is the first
	//   response (responded_at 12:00, 7200 s), both met.
	//   DUNE c3 (2025-03-01 10:00): C; low → 336h = 14 days: due 03-15
	//   10:00; resolved exactly then (1209600 s): met.
	//   ACME r3 (2025-06-21 00:00): this event closed 2025-06-20, whose
	//   review made ACME B (not key) before the request was applied → B,
	//   high 8h/48h: due 08:00 / 06-23 00:00; responded 06:00 (21600 s) met;
	//   not resolved.
	//   FERN r4 (2025-06-21 09:00): A, key → A; urgent 1h/8h: due 10:00 /
	//   17:00; responded 11:00 (7200 s) breached; resolved 15:00 (21600 s) met.
	expectRows(t, db, "sla_items", `SELECT account, kind, item_id, priority, opened_at, opened_seq, tier, key_account, target_column,
		response_due, resolution_due, responded_at, resolved_at, response_met, resolution_met, response_seconds, resolution_seconds, satisfied
		FROM sla_items ORDER BY account, kind, item_id`, []string{
		"ACME|complaint|c2|critical|2024-12-01T10:00:00.000Z|28|A|1|A|NULL|2024-12-02T10:00:00.000Z|NULL|2024-12-02T08:00:00.000Z|NULL|1|NULL|79200|1",
		"ACME|request|r1|urgent|2024-01-11T08:00:00.000Z|6|A|1|A|2024-01-11T09:00:00.000Z|2024-01-11T16:00:00.000Z|2024-01-11T08:45:00.000Z|2024-01-11T17:00:00.000Z|1|0|2700|32400|NULL",
		"ACME|request|r3|high|2025-06-21T00:00:00.000Z|42|B|0|B|2025-06-21T08:00:00.000Z|2025-06-23T00:00:00.000Z|2025-06-21T06:00:00.000Z|NULL|1|NULL|21600|NULL|NULL",
		"BOLT|complaint|c1|high|2024-09-15T10:00:00.000Z|23|A|0|A|NULL|2024-09-17T10:00:00.000Z|NULL|2024-09-18T10:00:00.000Z|NULL|0|NULL|259200|0",
		"BOLT|request|r2|high|2025-02-01T10:00:00.000Z|32|A|1|A|2025-02-01T14:00:00.000Z|2025-02-02T10:00:00.000Z|2025-02-01T12:00:00.000Z|2025-02-01T12:00:00.000Z|1|1|7200|7200|NULL",
		"DUNE|complaint|c3|low|2025-03-01T10:00:00.000Z|35|C|0|C|NULL|2025-03-15T10:00:00.000Z|NULL|2025-03-15T10:00:00.000Z|NULL|1|NULL|1209600|NULL",
		"ECHO|request|r1|normal|2024-02-01T10:00:00.000Z|9|C|0|C|2024-02-03T10:00:00.000Z|2024-02-08T10:00:00.000Z|2024-02-02T09:00:00.000Z|2024-02-12T10:00:00.000Z|1|0|82800|950400|NULL",
		"FERN|request|r4|urgent|2025-06-21T09:00:00.000Z|44|A|1|A|2025-06-21T10:00:00.000Z|2025-06-21T17:00:00.000Z|2025-06-21T11:00:00.000Z|2025-06-21T15:00:00.000Z|0|1|7200|21600|NULL",
	})

	// Relationship coverage: who was met, how often, first and last visit.
	expectRows(t, db, "contacts", `SELECT account, role, name, visits, first_visit_at, last_visit_at FROM contacts ORDER BY account, role, name`, []string{
		"ACME|decision_maker|Ann Decider|2|2024-10-01T09:00:00.000Z|2024-11-15T09:00:00.000Z",
		"ACME|influencer|Ian Fluence|1|2024-10-01T09:30:00.000Z|2024-10-01T09:30:00.000Z",
		"BOLT|decision_maker|Bo Decider|1|2024-05-01T11:00:00.000Z|2024-05-01T11:00:00.000Z",
		"FERN|purchaser|Fay Buyer|1|2024-06-01T12:00:00.000Z|2024-06-01T12:00:00.000Z",
	})

	// Accounts as of the last review, of 2025-12-31 (window 2025-01-01
	// ..2025-12-31, prior period 2024-01-01..2024-12-31):
	//   ranked FERN 5000000 (1 order), BOLT 2400000 (3 orders), CORE 100000
	//   (1 order, discounted); total 7500000.
	//   ACME: unranked, vol 0, conc 0, pi 0, sr 10000, p 10000 → 3500.
	//   BOLT: vol 5000, conc 5000 (avg 800000 between 5000000 and 100000),
	//   pi 10000, p 5000 → (175000 + 75000 + 150000 + 100000)/100 = 5000.
	//   CORE: vol 0, conc 0, pi 0 → 0. DUNE: sr elevated 5000 → 750.
	//   FERN: 6500 as above.
	//   Prior orders: ACME 4, BOLT 2, CORE 3 (2024-01-10, 03-01, 07-01),
	//   ECHO 1, FERN 1.
	//   moved: the revenue events since the last tier change.
	expectRows(t, db, "accounts", `SELECT account, name, partnership, service_requirement, tier, tier_since, tier_rank, key_account, key_since,
		key_score, loyalty, loyalty_since, early_adopter, revenue_window, orders_window, discounted_window, prior_orders, orders_total,
		returns_total, revenue_total, first_order_at, last_order_at, last_competitor_purchase_at, registered_at, events,
		json_extract(movers, '$.tier.count'), json_extract(movers, '$.tier.ids')
		FROM accounts JOIN account_movers USING (account) ORDER BY account`, []string{
		`ACME|Acme Aircraft|strategic|critical|C|2025-07-02T00:00:00.000Z|NULL|0|2025-06-21T00:00:00.000Z|3500|brand_switching|2025-07-02T00:00:00.000Z|0|0|0|0|4|4|0|2400000|2024-01-10T10:00:00.000Z|2024-07-01T09:00:00.000Z|NULL|2024-01-10T09:00:00.000Z|15|0|[]`,
		`BOLT|NULL|interested|standard|A|2024-01-11T00:00:00.000Z|2|0|2025-06-21T00:00:00.000Z|5000|loyal|2025-05-21T00:00:00.000Z|0|2400000|3|0|2|5|0|3000000|2024-01-10T11:00:00.000Z|2025-05-20T10:00:00.000Z|NULL|NULL|10|4|["ev-000014","ev-000031","ev-000038","ev-000039"]`,
		`CORE|NULL|none|standard|C|2025-06-21T00:00:00.000Z|3|0|2024-01-11T00:00:00.000Z|0|no_brand_loyalty|2024-04-10T00:00:00.000Z|0|100000|1|100000|3|4|0|400000|2024-01-10T12:00:00.000Z|2025-03-10T10:00:00.000Z|NULL|NULL|4|0|[]`,
		`DUNE|Dune Mining|none|elevated|C|2024-01-11T00:00:00.000Z|NULL|0|2024-01-11T00:00:00.000Z|750|NULL|NULL|0|0|0|0|0|0|0|0|NULL|NULL|NULL|2024-01-10T09:30:00.000Z|4|0|[]`,
		`ECHO|NULL|none|standard|C|2024-02-02T00:00:00.000Z|NULL|0|2024-02-02T00:00:00.000Z|0|no_brand_loyalty|2024-05-02T00:00:00.000Z|0|0|0|0|1|1|1|-30000|2024-02-01T11:00:00.000Z|2024-02-01T11:00:00.000Z|NULL|NULL|5|1|["ev-000018"]`,
		`FERN|NULL|none|standard|A|2025-06-21T00:00:00.000Z|1|1|2025-06-21T00:00:00.000Z|6500|no_brand_loyalty|2024-11-29T00:00:00.000Z|0|5000000|1|0|1|2|0|5200000|2024-06-01T11:00:00.000Z|2025-06-05T10:00:00.000Z|2024-06-01T12:00:00.000Z|NULL|6|0|[]`,
	})

	// Daily figures under the business day, late or not.
	expectRows(t, db, "account_days", `SELECT account, day, revenue, discounted, orders, returns, new_product_orders FROM account_days
		WHERE (account, day) IN (VALUES ('BOLT', '2024-03-01'), ('CORE', '2024-07-01'), ('ECHO', '2024-06-01'), ('FERN', '2025-06-05'))
		ORDER BY account, day`, []string{
		"BOLT|2024-03-01|300000|0|1|0|1",
		"CORE|2024-07-01|100000|100000|1|0|0",
		"ECHO|2024-06-01|-80000|0|0|1|0",
		"FERN|2025-06-05|5000000|0|1|0|0",
	})

	// One review per day from the first event's day, 2024-01-10, to
	// 2025-12-31: 357 + 365 = 722. The late order never rewrote the
	// reviews of 2025-06-05..06-19 (ranked BOLT, ACME, CORE: 3200000).
	expectRows(t, db, "review days", `SELECT count(*), min(day), max(day) FROM reviews`, []string{"722|2024-01-10|2025-12-31"})
	expectRows(t, db, "reviews before the late order was seen", `SELECT count(*), min(total_revenue), max(total_revenue), min(ranked), max(ranked)
		FROM reviews WHERE day BETWEEN '2025-06-05' AND '2025-06-19'`, []string{"15|3200000|3200000|3|3"})
	// 2024-01-10: A = ACME + BOLT 900000, B = CORE 100000, C = DUNE; top 20%
	// = top ceil(3/5) = 1 account. 2025-06-19: A = BOLT + ACME 3000000, B =
	// CORE, C = DUNE, ECHO, FERN; keys ACME, BOLT. 2025-06-20: A = FERN +
	// BOLT 7400000, B = ACME, C = CORE (200000), DUNE, ECHO; key FERN.
	// 2025-12-31: A = FERN + BOLT, C = ACME, CORE (100000), DUNE, ECHO.
	expectRows(t, db, "reviews", `SELECT day, effective, accounts, ranked, total_revenue, a_accounts, a_revenue, b_accounts, b_revenue,
		c_accounts, c_revenue, key_accounts, top20_revenue, close_seq, close_event_id FROM reviews
		WHERE day IN ('2024-01-10', '2025-06-19', '2025-06-20', '2025-12-31') ORDER BY day`, []string{
		"2024-01-10|2024-01-11T00:00:00.000Z|4|3|1000000|2|900000|1|100000|1|0|1|600000|6|ev-000006",
		"2025-06-19|2025-06-20T00:00:00.000Z|6|3|3200000|2|3000000|1|200000|3|0|2|2400000|40|ev-000040",
		"2025-06-20|2025-06-21T00:00:00.000Z|6|4|8200000|2|7400000|1|600000|3|200000|1|5000000|42|ev-000042",
		"2025-12-31|2026-01-01T00:00:00.000Z|6|3|7500000|2|7400000|0|0|4|100000|1|5000000|47|ev-000047",
	})
	expectRows(t, db, "projector_state", `SELECT stream, applied_seq, watermark, next_review_day, last_review_day, events_applied, rejected
		FROM projector_state`, []string{"KAM|47|2026-01-01T00:00:00.000Z|2026-01-01|2025-12-31|47|0"})
	expectRows(t, db, "rejected_events", `SELECT count(*) FROM rejected_events`, []string{"0"})
}

// TestWindowEdges: the window of day D is days D-364..D; an event at exactly
// 00:00 of D+1 closes D before it is applied; no tier before a first review.
func TestWindowEdges(t *testing.T) {
	var s stream
	s.order("EDGE1", "2025-01-01T23:59:59.999Z", "100.00") // 1: last millisecond of 2025-01-01
	s.order("EDGE2", "2025-01-02T00:00:00Z", "100.00")     // 2: closes 2025-01-01, then counts on 2025-01-02
	s.tick("2025-07-01T00:00:00Z")                         // 3: closes 2025-01-02..2025-06-30
	s.tick("2026-01-02T00:00:00Z")                         // 4: closes ..2026-01-01
	s.tick("2026-01-02T23:59:59.999Z")                     // 5: closes nothing
	s.tick("2026-01-03T00:00:00Z")                         // 6: closes 2026-01-02
	p, db := newProjector(t, nil)

	applyAll(t, p, s.msgs[:1], 1)
	expectRows(t, db, "after the first event", `SELECT account, tier, revenue_window FROM accounts`, []string{"EDGE1|NULL|0"})
	expectRows(t, db, "reviews after the first event", `SELECT count(*) FROM reviews`, []string{"0"})

	// Event 2 at 2025-01-02 00:00 closes 2025-01-01 before it is applied:
	// that review ranks EDGE1 alone, and EDGE2 has no tier yet.
	applyAll(t, p, s.msgs[1:2], 1)
	expectRows(t, db, "after the event at 00:00", `SELECT account, tier, revenue_window FROM accounts ORDER BY account`,
		[]string{"EDGE1|A|10000", "EDGE2|NULL|0"})
	expectRows(t, db, "review of 2025-01-01", `SELECT day, accounts, ranked, total_revenue, close_seq FROM reviews`,
		[]string{"2025-01-01|1|1|10000|2"})

	// Day D = 2026-01-01: its window is 2025-01-02..2026-01-01. EDGE1's
	// order on 2025-01-01 (D-365, 365 days and 1 ms before D's close) is
	// out; EDGE2's at 2025-01-02 00:00 (D-364, exactly 365 days before D's
	// close) is in.
	applyAll(t, p, s.msgs[2:4], 1)
	expectRows(t, db, "at the review of 2026-01-01", `SELECT account, tier, revenue_window FROM accounts ORDER BY account`,
		[]string{"EDGE1|C|0", "EDGE2|A|10000"})
	applyAll(t, p, s.msgs[4:5], 1)
	expectRows(t, db, "a tick at 23:59:59.999 closes nothing", `SELECT last_review_day, watermark FROM projector_state`,
		[]string{"2026-01-01|2026-01-02T23:59:59.999Z"})
	applyAll(t, p, s.msgs[5:], 1)

	// 2025-01-02 (close event 3): both 10000, tie → EDGE1 first. EDGE2
	// before 10000: 1,000,000 < 80*20000 = 1,600,000 → A.
	// 2026-01-01 (close event 4): EDGE1 out, C. 2026-01-02 (close event 6):
	// EDGE2 out, C; nothing ranked.
	expectRows(t, db, "tier_history", `SELECT account, effective, from_tier, to_tier, revenue, rank, ranked, before_revenue, total_revenue,
		close_seq, close_event_id, moved_count, moved_ids FROM tier_history ORDER BY account, effective`, []string{
		`EDGE1|2025-01-02T00:00:00.000Z|NULL|A|10000|1|1|0|10000|2|ev-000002|1|["ev-000001"]`,
		`EDGE1|2026-01-02T00:00:00.000Z|A|C|0|NULL|1|0|10000|4|ev-000004|0|[]`,
		`EDGE2|2025-01-03T00:00:00.000Z|NULL|A|10000|2|2|10000|20000|3|ev-000003|1|["ev-000002"]`,
		`EDGE2|2026-01-03T00:00:00.000Z|A|C|0|NULL|0|0|0|6|ev-000006|0|[]`,
	})
	expectRows(t, db, "reviews at the edges", `SELECT day, ranked, total_revenue FROM reviews
		WHERE day IN ('2025-01-02', '2025-12-31', '2026-01-01', '2026-01-02') ORDER BY day`, []string{
		"2025-01-02|2|20000",
		"2025-12-31|2|20000",
		"2026-01-01|1|10000",
		"2026-01-02|0|0",
	})
}

// TestLateEvent: an event whose time is before the watermark counts from the
// next review on and never rewrites what was decided before.
func TestLateEvent(t *testing.T) {
	var s stream
	s.order("L1", "2025-03-01T10:00:00Z", "100.00")                                                       // 1
	s.order("L2", "2025-03-01T11:00:00Z", "900.00")                                                       // 2
	s.tick("2025-03-05T00:00:00Z")                                                                        // 3: reviews 03-01..03-04
	s.order("L1", "2025-03-02T10:00:00Z", "500.00")                                                       // 4: late
	request(&s, events.TypeServiceRequestOpened, "L1", "2025-03-02T12:00:00Z", "late", "priority", "low") // 5: late
	s.tick("2025-03-06T00:00:00Z")                                                                        // 6: reviews 03-05
	p, db := newProjector(t, nil)

	applyAll(t, p, s.msgs[:5], 1)
	// Decided at 2025-03-01 (close event 3): L2 90000 → A; L1 before 90000:
	// 9,000,000 >= 80*100000 = 8,000,000, < 9,500,000 → B. The late order
	// changes nothing yet.
	expectRows(t, db, "before the next review", `SELECT account, tier, revenue_window FROM accounts ORDER BY account`,
		[]string{"L1|B|10000", "L2|A|90000"})
	expectRows(t, db, "watermark", `SELECT watermark, last_review_day FROM projector_state`,
		[]string{"2025-03-05T00:00:00.000Z|2025-03-04"})

	applyAll(t, p, s.msgs[5:], 1)
	// 2025-03-05 (close event 6): L1 60000 with the late order,
	// L2 90000, total 150000. L1 before 90000: 9,000,000 < 80*150000 =
	// 12,000,000 → A, effective at this review's close, not 2025-03-03.
	expectRows(t, db, "tier_history", `SELECT account, effective, from_tier, to_tier, revenue, rank, ranked, before_revenue, total_revenue,
		close_seq, moved_count, moved_ids FROM tier_history ORDER BY account, effective`, []string{
		`L1|2025-03-02T00:00:00.000Z|NULL|B|10000|2|2|90000|100000|3|1|["ev-000001"]`,
		`L1|2025-03-06T00:00:00.000Z|B|A|60000|2|2|90000|150000|6|1|["ev-000004"]`,
		`L2|2025-03-02T00:00:00.000Z|NULL|A|90000|1|2|0|100000|3|1|["ev-000002"]`,
	})
	expectRows(t, db, "reviews", `SELECT day, total_revenue, a_accounts, b_accounts FROM reviews ORDER BY day`, []string{
		"2025-03-01|100000|1|1",
		"2025-03-02|100000|1|1",
		"2025-03-03|100000|1|1",
		"2025-03-04|100000|1|1",
		"2025-03-05|150000|2|0",
	})
	expectRows(t, db, "account_days", `SELECT account, day, revenue FROM account_days ORDER BY account, day`,
		[]string{"L1|2025-03-01|10000", "L1|2025-03-02|50000", "L2|2025-03-01|90000"})
	// The late request finds the tier in force at its business time
	// (2025-03-02 12:00: B since 2025-03-02 00:00): low B = 48h / 240h.
	expectRows(t, db, "late request", `SELECT item_id, tier, key_account, target_column, response_due, resolution_due FROM sla_items`,
		[]string{"late|B|0|B|2025-03-04T12:00:00.000Z|2025-03-12T12:00:00.000Z"})
	expectRows(t, db, "watermark", `SELECT watermark, last_review_day FROM projector_state`,
		[]string{"2025-03-06T00:00:00.000Z|2025-03-05"})
}

// TestRevenueBeyondInt64: amounts are valid up to 18 digits
// ("9999999999999999.99" is 999,999,999,999,999,999 cents), so ten valid
// orders of one account sum to 9,999,999,999,999,999,990 cents, beyond
// int64 (9,223,372,036,854,775,807). The spec wants the tiers compared in
// exact integers; whatever the projector does with such a sum (compute it
// exactly or set aside the order that would overflow), BIG must stay the
// top account, tier A, and SMALL (1.00 of ~1e19) must be C, never A.
func TestRevenueBeyondInt64(t *testing.T) {
	// One amount over the per-event limit is set aside at validation;
	// amounts at the limit are applied until their sum would pass 2^62
	// (4611 of them), then set aside: no sum can wrap around.
	var s stream
	s.order("BIG", "2025-01-01T09:00:00Z", "9999999999999999.99")
	const n = 4700
	for i := 0; i < n; i++ {
		s.order("BIG", fmt.Sprintf("2025-01-01T10:%02d:%02dZ", i/60%60, i%60), "10000000000000.00")
	}
	s.order("SMALL", "2025-01-01T11:00:00Z", "1.00")
	s.tick("2025-01-02T00:00:00Z")
	p, db := newProjector(t, nil)
	applyAll(t, p, s.msgs, 1000)
	got := query(t, db, `SELECT account, tier, orders_total, revenue_total > 0 FROM accounts ORDER BY account`)
	// SMALL's 1.00 still fits: 4611 * 10^15 = 4.611e18 < 2^62 = 4.6117e18.
	if want := []string{"BIG|A|4611|1", "SMALL|C|1|1"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("accounts: got %v, want %v", got, want)
	}
	rej := query(t, db, `SELECT count(*), sum(reason LIKE '%data.amount: is too large%'), sum(reason LIKE '%would exceed%') FROM rejected_events`)
	if want := fmt.Sprintf("%d|1|%d", n-4611+1, n-4611); rej[0] != want {
		t.Errorf("rejected: got %s, want %s (count, too large, would exceed)", rej[0], want)
	}
}

// TestLoyaltyBoundaries: the loyalty rules' day counts at exact midnights.
// LOY and CMP each order three times at 2023-01-01 00:00 (day X), full
// price; CMP's visit at 2023-05-01 00:00 reports a competitor purchase.
func TestLoyaltyBoundaries(t *testing.T) {
	var s stream
	for i := 0; i < 3; i++ {
		s.order("LOY", "2023-01-01T00:00:00Z", "100.00")
		s.order("CMP", "2023-01-01T00:00:00Z", "100.00")
	}
	visit(&s, "CMP", "2023-05-01T00:00:00Z", map[string]any{"visit_id": "v", "rep": "kim", "competitor": "purchased"})
	s.tick("2025-01-02T00:00:00Z") // closes 2025-01-01
	p, db := newProjector(t, nil)
	applyAll(t, p, s.msgs, 4)

	// new: X + 90 days = 2023-04-01 00:00, the close of 2023-03-31: not
	// "less than 90 days" any more → loyal (3 window orders), effective
	// 2023-04-01.
	// competitor: 2023-05-01 00:00 is before the close of 2023-05-01 →
	// brand_switching from 2023-05-02; + 180 days = 2023-10-28 00:00, the
	// close of 2023-10-27, still counts; the close of 2023-10-28 does not →
	// loyal from 2023-10-29.
	// window: X + 365 = 2024-01-01, whose window 2023-01-02..2024-01-01
	// lacks X; its prior period 2022-01-02..2023-01-01 holds the 3 orders →
	// brand_switching from 2024-01-02.
	// prior period: X + 730 = 2024-12-31, whose prior period starts
	// 2023-01-02 (that of 2024-12-30 starts 2023-01-01) → no orders at all
	// in reach, fewer than 3 in the window → no_brand_loyalty from
	// 2025-01-01.
	expectRows(t, db, "loyalty_history", `SELECT account, effective, from_loyalty, to_loyalty, orders_window, prior_orders
		FROM loyalty_history ORDER BY account, effective`, []string{
		"CMP|2023-01-02T00:00:00.000Z|NULL|new|3|0",
		"CMP|2023-04-01T00:00:00.000Z|new|loyal|3|0",
		"CMP|2023-05-02T00:00:00.000Z|loyal|brand_switching|3|0",
		"CMP|2023-10-29T00:00:00.000Z|brand_switching|loyal|3|0",
		"CMP|2024-01-02T00:00:00.000Z|loyal|brand_switching|0|3",
		"CMP|2025-01-01T00:00:00.000Z|brand_switching|no_brand_loyalty|0|0",
		"LOY|2023-01-02T00:00:00.000Z|NULL|new|3|0",
		"LOY|2023-04-01T00:00:00.000Z|new|loyal|3|0",
		"LOY|2024-01-02T00:00:00.000Z|loyal|brand_switching|0|3",
		"LOY|2025-01-01T00:00:00.000Z|brand_switching|no_brand_loyalty|0|0",
	})
}

// TestKeyColumn: a policy with a column of its own for key accounts (here
// for urgent requests and critical complaints only).
func TestKeyColumn(t *testing.T) {
	pol := changedPolicy(t, func(m map[string]any) {
		sl := m["service_levels"].(map[string]any)
		sl["requests"].(map[string]any)["urgent"].(map[string]any)["key"] = map[string]any{"response_hours": 1, "resolution_hours": 2}
		sl["complaints"].(map[string]any)["critical"].(map[string]any)["key"] = 12
	})
	var s stream
	s.add(events.TypeAccountRegistered, "K", "2025-01-01T09:00:00Z", map[string]any{"name": "K", "partnership": "strategic", "service_requirement": "critical"})
	s.order("K", "2025-01-01T10:00:00Z", "1000.00")
	request(&s, events.TypeServiceRequestOpened, "K", "2025-01-02T10:00:00Z", "r1", "priority", "urgent")
	request(&s, events.TypeServiceRequestOpened, "K", "2025-01-02T11:00:00Z", "r2", "priority", "high")
	s.add(events.TypeComplaintFiled, "K", "2025-01-02T12:00:00Z", map[string]any{"complaint_id": "c1", "severity": "critical"})
	s.add(events.TypeComplaintFiled, "K", "2025-01-02T13:00:00Z", map[string]any{"complaint_id": "c2", "severity": "low"})
	p, db := newProjector(t, pol)
	applyAll(t, p, s.msgs, 1000)

	// Review of 2025-01-01: K alone, A; every part 10000 → 10000: key.
	// urgent → key column 1h/2h; high → A's 4h/24h; critical → key 12h;
	// low → A's 120h.
	expectRows(t, db, "sla_items", `SELECT kind, item_id, tier, key_account, target_column, response_due, resolution_due
		FROM sla_items ORDER BY kind, item_id`, []string{
		"complaint|c1|A|1|key|NULL|2025-01-03T00:00:00.000Z",
		"complaint|c2|A|1|A|NULL|2025-01-07T13:00:00.000Z",
		"request|r1|A|1|key|2025-01-02T11:00:00.000Z|2025-01-02T12:00:00.000Z",
		"request|r2|A|1|A|2025-01-02T15:00:00.000Z|2025-01-03T11:00:00.000Z",
	})
	expectRows(t, db, "key_history", `SELECT account, to_key, score, policy FROM key_history`, []string{"K|1|10000|" + pol.Version()})
}

// TestFreeOrderMovesNoTier: a free order (amount 0) is an order, so it moves
// the key score (orders, average order) and loyalty (order counts), but not
// revenue: the tier history lists the events that moved revenue only.
func TestFreeOrderMovesNoTier(t *testing.T) {
	var s stream
	s.order("F", "2025-03-01T10:00:00Z", "100.00") // 1
	s.order("F", "2025-03-01T11:00:00Z", "0.00")   // 2: free
	s.tick("2025-03-02T00:00:00Z")                 // 3
	p, db := newProjector(t, nil)
	applyAll(t, p, s.msgs, 1)
	expectRows(t, db, "tier_history", `SELECT account, to_tier, revenue, moved_count, moved_ids FROM tier_history`,
		[]string{`F|A|10000|1|["ev-000001"]`})
	expectRows(t, db, "key_history", `SELECT account, to_key, orders, moved_count, moved_ids FROM key_history`,
		[]string{`F|1|2|2|["ev-000001","ev-000002"]`})
	expectRows(t, db, "loyalty_history", `SELECT account, to_loyalty, orders_window, moved_count, moved_ids FROM loyalty_history`,
		[]string{`F|new|2|2|["ev-000001","ev-000002"]`})
}

// TestRejectedKeepsIDAndType: a message that does not decode as an event
// (an attribute of the wrong JSON type) is set aside with the id and type
// it names, where they are strings an event could have, so that an auditor
// finds the event its producer meant.
func TestRejectedKeepsIDAndType(t *testing.T) {
	var s stream
	at := mustTime("2025-03-01T12:00:00Z")
	s.raw("kam.acct.A.order.placed", `{"specversion":"1.0","id":"p-1","source":"t","type":"order.placed","subject":"A","time":"2025-03-01T10:00:00Z","dataversion":"1","data":{"order_id":"o","amount":"1.00"}}`, at)
	s.raw("kam.acct.A.order.placed", `{"specversion":"1.0","id":7,"source":"t","type":"order.placed","subject":"A","time":"2025-03-01T10:00:00Z","data":{}}`, at)
	s.raw("kam.acct.A.order.placed", `{"id":"p-3","type":"no.such.type","time":false}`, at)
	s.raw("kam.acct.A.order.placed", `not json`, at)
	// Names as the decoder reads them: exact, the last of a name.
	s.raw("kam.acct.A.order.placed", `{"ID":"p-5","id":"p-5a","Id":"p-5b","id":"p-5c","type":"order.placed","time":7}`, at)
	s.raw("kam.acct.A.order.placed", "{\"id\":\"p-6\xff\",\"type\":\"order.placed\",\"time\":7}", at)
	p, db := newProjector(t, nil)
	applyAll(t, p, s.msgs, 1)
	expectRows(t, db, "rejected", `SELECT seq, event_id, type FROM rejected_events ORDER BY seq`, []string{
		"1|p-1|order.placed",
		"2|NULL|order.placed",
		"3|p-3|NULL",
		"4|NULL|NULL",
		"5|p-5c|order.placed",
		"6|NULL|order.placed",
	})
}

// TestChainsCoverEveryMessage: every message the stream can hold is in one
// chain, also one on an account's subject without a type (no event belongs
// there: it is set aside, and chained all the same) and a clock tick.
func TestChainsCoverEveryMessage(t *testing.T) {
	var s stream
	s.order("ACME", "2025-03-01T10:00:00Z", "1.00")
	s.raw("kam.acct.ACME", `{"anything":1}`, mustTime("2025-03-01T11:00:00Z"))
	s.tick("2025-03-02T00:00:00Z")
	p, db := newProjector(t, nil)
	applyAll(t, p, s.msgs, 1)
	expectRows(t, db, "chains", `SELECT token, length, last_seq FROM chains ORDER BY token`,
		[]string{"ACME|2|2", "kam.clock.tick|1|3"})
}
