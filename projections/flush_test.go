package projections

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// TestInKeyOrder: history rows leave sorted by (effective, account), and the
// sort compares them where they lie instead of copying them to the heap.
func TestInKeyOrder(t *testing.T) {
	day := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	rng := rand.New(rand.NewPCG(1, 2))
	rows := make([]loyaltyRow, 1000)
	for i := range rows {
		rows[i] = loyaltyRow{account: fmt.Sprintf("ACCT-%03d", rng.IntN(300)), effective: day.AddDate(0, 0, rng.IntN(5))}
	}
	shuffled := slices.Clone(rows)
	allocs := testing.AllocsPerRun(5, func() {
		copy(rows, shuffled)
		inKeyOrder(rows, func(r *loyaltyRow) (time.Time, string) { return r.effective, r.account })
	})
	for i := 1; i < len(rows); i++ {
		a, b := rows[i-1], rows[i]
		if b.effective.Before(a.effective) || b.effective.Equal(a.effective) && b.account < a.account {
			t.Fatalf("row %d (%s %s) after row %d (%s %s)", i, b.effective, b.account, i-1, a.effective, a.account)
		}
	}
	if allocs > 1 {
		t.Errorf("sorting %d rows allocated %.0f times, want at most 1", len(rows), allocs)
	}
}
