package projections

import (
	"testing"

	"kam/events"
)

// TestSmokeTiers: five accounts' first day, the 80/20 rule worked by hand.
// Total 1000.00: A1 before 0 and A2 before 500.00 are under 80% of it (A);
// A3 before 800.00 is not, but under 95% (B), as is A4 before 900.00; A5
// before 960.00 is C. All ordered first less than 90 days before: new.
func TestSmokeTiers(t *testing.T) {
	var s stream
	s.order("A1", "2026-01-01T10:00:00Z", "500.00")
	s.order("A2", "2026-01-01T11:00:00Z", "300.00")
	s.order("A3", "2026-01-01T12:00:00Z", "100.00")
	s.order("A4", "2026-01-01T13:00:00Z", "60.00")
	s.order("A5", "2026-01-01T14:00:00Z", "40.00")
	s.tick("2026-01-02T00:00:00Z")
	p, db := newProjector(t, nil)
	applyAll(t, p, s.msgs, 1000)
	expectRows(t, db, "accounts", "SELECT account, tier, tier_rank, revenue_window, loyalty FROM accounts ORDER BY account", []string{
		"A1|A|1|50000|new", "A2|A|2|30000|new", "A3|B|3|10000|new", "A4|B|4|6000|new", "A5|C|5|4000|new",
	})
	expectRows(t, db, "tier_history", "SELECT account, from_tier, to_tier, before_revenue, total_revenue FROM tier_history ORDER BY account", []string{
		"A1|NULL|A|0|100000", "A2|NULL|A|50000|100000", "A3|NULL|B|80000|100000", "A4|NULL|B|90000|100000", "A5|NULL|C|96000|100000",
	})
	expectRows(t, db, "reviews", "SELECT day, accounts, ranked, a_accounts, a_revenue, b_accounts, c_accounts FROM reviews", []string{
		"2026-01-01|5|5|2|80000|2|1",
	})
	expectRows(t, db, "projector_state", "SELECT applied_seq FROM projector_state", []string{"6"})
}

// TestPartnershipByVisitAndUpdate: a visit with partnership_discussed raises
// none to interested, never lowers strategic; an account.updated sets what it
// says, none included; in stream order, the later fact stands.
func TestPartnershipByVisitAndUpdate(t *testing.T) {
	visit := func(s *stream, account, at string) {
		s.add(events.TypeVisitLogged, account, at, map[string]any{"visit_id": "v-" + at, "rep": "r",
			"partnership_discussed": true})
	}
	var s stream
	s.add(events.TypeAccountRegistered, "P1", "2026-01-01T09:00:00Z", map[string]any{"name": "P1", "partnership": "none"})
	s.add(events.TypeAccountRegistered, "P2", "2026-01-01T09:00:00Z", map[string]any{"name": "P2", "partnership": "strategic"})
	visit(&s, "P1", "2026-01-02T10:00:00Z")
	visit(&s, "P2", "2026-01-02T10:00:00Z")
	p, db := newProjector(t, nil)
	applyAll(t, p, s.msgs, 1000)
	expectRows(t, db, "after the visits", "SELECT account, partnership FROM accounts ORDER BY account", []string{"P1|interested", "P2|strategic"})

	done := len(s.msgs)
	s.add(events.TypeAccountUpdated, "P1", "2026-01-03T10:00:00Z", map[string]any{"partnership": "none"})
	applyAll(t, p, s.msgs[done:], 1000)
	expectRows(t, db, "after the update", "SELECT account, partnership FROM accounts ORDER BY account", []string{"P1|none", "P2|strategic"})

	done = len(s.msgs)
	visit(&s, "P1", "2026-01-04T10:00:00Z")
	applyAll(t, p, s.msgs[done:], 1000)
	expectRows(t, db, "after another visit", "SELECT account, partnership FROM accounts ORDER BY account", []string{"P1|interested", "P2|strategic"})
}
