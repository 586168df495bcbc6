package projections

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// merge gives what sorting all accounts afresh gives, after any set of them
// changed their figures.
func TestMergeEqualsFullSort(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 200; round++ {
		n := 1 + rng.IntN(300)
		hs := make([]hot, n)
		for i := range hs {
			hs[i].id = fmt.Sprintf("A%04d", rng.IntN(10000)+i*10000) // unique
			hs[i].rev.revenue = int64(rng.IntN(20))                  // many ties
		}
		old := make([]int32, n)
		for i := range old {
			old[i] = int32(i)
		}
		slices.SortFunc(old, lessRev(hs))
		var fresh []int32
		for i := range hs {
			if rng.IntN(4) == 0 {
				hs[i].touched = true
				hs[i].rev.revenue = int64(rng.IntN(20))
				fresh = append(fresh, int32(i))
			}
		}
		slices.SortFunc(fresh, lessRev(hs))
		got := merge(nil, old, fresh, hs, lessRev(hs))
		want := slices.Clone(old)
		slices.SortFunc(want, lessRev(hs))
		if !slices.Equal(got, want) {
			t.Fatalf("round %d (%d accounts, %d changed): merge %v, full sort %v", round, n, len(fresh), got, want)
		}
	}
}
