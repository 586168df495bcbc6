package projections

import (
	"testing"
)

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
	for _, r := range query(t, db, "SELECT account, tier, tier_rank, revenue_window, key_score, loyalty FROM accounts ORDER BY account") {
		t.Log(r)
	}
	for _, r := range query(t, db, "SELECT * FROM tier_history ORDER BY account") {
		t.Log(r)
	}
	for _, r := range query(t, db, "SELECT * FROM reviews") {
		t.Log(r)
	}
	for _, r := range query(t, db, "SELECT * FROM projector_state") {
		t.Log(r)
	}
}
