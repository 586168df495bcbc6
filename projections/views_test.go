package projections

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestViewsAndDocumentedQueries runs every view and every example query of
// docs/read-model.md against a small read model: what analysts are told to
// type must work.
func TestViewsAndDocumentedQueries(t *testing.T) {
	var s stream
	s.add("account.registered", "ACME", "2026-01-02T09:00:00Z", map[string]any{"name": "Acme", "partnership": "strategic"})
	s.order("ACME", "2026-01-02T10:00:00Z", "500.00", "lines", []map[string]any{{"sku": "x", "qty": 1, "new_product": true}})
	s.order("BETA", "2026-01-02T11:00:00Z", "50.00")
	s.add("visit.logged", "ACME", "2026-01-03T10:00:00Z", map[string]any{"visit_id": "v1", "rep": "kim",
		"contact": map[string]any{"name": "Ann", "role": "decision_maker"}})
	s.add("service_request.opened", "ACME", "2026-01-03T11:00:00Z", map[string]any{"request_id": "r1", "priority": "urgent"})
	s.add("service_request.resolved", "ACME", "2026-01-03T12:30:00Z", map[string]any{"request_id": "r1"})
	s.tick("2026-01-05T00:00:00Z")
	p, db := newProjector(t, nil)
	applyAll(t, p, s.msgs, 100)

	for _, v := range query(t, db, `SELECT name FROM sqlite_schema WHERE type = 'view' ORDER BY name`) {
		rows := query(t, db, "SELECT * FROM "+v)
		if len(rows) == 0 {
			t.Errorf("view %s: no rows on a model with accounts, reviews, items and contacts", v)
		}
	}
	// r1 opened on 01-03, after the close of 01-02 made ACME A; resolved
	// 1.5 h later without a response: the resolution counts as the response,
	// late for A's urgent 1 h, in time for its 8 h.
	if got := query(t, db, `SELECT tier, kind, opened, response_met, resolution_met FROM v_sla_by_tier`); strings.Join(got, " ") != "A|request|1|0|1" {
		t.Errorf("v_sla_by_tier: got %v, want A|request|1|0|1", got)
	}

	doc, err := os.ReadFile("../docs/read-model.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := regexp.MustCompile("(?s)```sql\n(.*?)```").FindAllSubmatch(doc, -1)
	if len(blocks) == 0 {
		t.Fatal("docs/read-model.md has no sql block")
	}
	n := 0
	for _, b := range blocks {
		for _, stmt := range strings.Split(string(b[1]), ";") {
			var lines []string
			for _, l := range strings.Split(stmt, "\n") {
				if !strings.HasPrefix(strings.TrimSpace(l), "--") {
					lines = append(lines, l)
				}
			}
			if q := strings.TrimSpace(strings.Join(lines, "\n")); q != "" {
				query(t, db, q)
				n++
			}
		}
	}
	if n < 5 {
		t.Errorf("ran %d documented queries, want at least 5", n)
	}
}
