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
		slots := make([]int32, n)
		for i := range slots {
			slots[i] = int32(i)
		}
		old := sortRanking(ranking{slots: slots}, hs, lessRev(hs), revKey)
		var fresh ranking
		touched := make([]uint64, (n+63)/64)
		for i := range hs {
			if rng.IntN(4) == 0 {
				touched[i/64] |= 1 << (i % 64)
				hs[i].rev.revenue = int64(rng.IntN(20))
				fresh.slots = append(fresh.slots, int32(i))
			}
		}
		fresh = sortRanking(fresh, hs, lessRev(hs), revKey)
		got := merge(ranking{}, old, fresh, touched, hs)
		want := sortRanking(ranking{slots: slices.Clone(old.slots)}, hs, lessRev(hs), revKey)
		if !slices.Equal(got.slots, want.slots) || !slices.Equal(got.keys, want.keys) {
			t.Fatalf("round %d (%d accounts, %d changed): merge %v, full sort %v", round, n, len(fresh.slots), got, want)
		}
	}
}
