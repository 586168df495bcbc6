package projections

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"math/rand/v2"
	"reflect"
	"testing"
	"time"
)

// The rules of rules.go, one table each. Expected values are worked out from
// the spec (SPEC.md) and the design choices documented in rules.go.

func TestRank(t *testing.T) {
	tests := []struct {
		name string
		in   []Ranked
		want []Ranked
	}{
		{"empty", nil, []Ranked{}},
		{"revenue descending", []Ranked{{"a", 1}, {"b", 3}, {"c", 2}}, []Ranked{{"b", 3}, {"c", 2}, {"a", 1}}},
		{"ties by id ascending", []Ranked{{"c", 5}, {"a", 5}, {"b", 5}}, []Ranked{{"a", 5}, {"b", 5}, {"c", 5}}},
		// Bytewise: upper case (0x41..) sorts before lower case (0x61..),
		// a prefix before its extensions, and UTF-8 multi-byte after ASCII.
		{"ties bytewise", []Ranked{{"b", 7}, {"é", 7}, {"B", 7}, {"ab", 7}, {"a", 7}, {"Z", 7}},
			[]Ranked{{"B", 7}, {"Z", 7}, {"a", 7}, {"ab", 7}, {"b", 7}, {"é", 7}}},
		{"zero and negative revenue dropped", []Ranked{{"neg", -100}, {"zero", 0}, {"pos", 1}},
			[]Ranked{{"pos", 1}}},
		{"all dropped", []Ranked{{"a", 0}, {"b", -1}}, []Ranked{}},
		{"huge values", []Ranked{{"x", math.MaxInt64}, {"y", math.MaxInt64 - 1}, {"w", math.MaxInt64}},
			[]Ranked{{"w", math.MaxInt64}, {"x", math.MaxInt64}, {"y", math.MaxInt64 - 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := append([]Ranked(nil), tc.in...)
			got := Rank(in)
			if len(got) == 0 && len(tc.want) == 0 {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Rank(%v): got %v, want %v", tc.in, got, tc.want)
			}
		})
	}
}

func TestTierFor(t *testing.T) {
	const (
		big  = int64(9_000_000_000_000_000_000) // 9e18: 80*big overflows int64
		bigA = int64(7_200_000_000_000_000_000) // 80% of big: 100*bigA == 80*big
		bigB = int64(8_550_000_000_000_000_000) // 95% of big: 100*bigB == 95*big
	)
	tests := []struct {
		name          string
		before, total int64
		cutA, cutB    int
		want          string
	}{
		{"top account", 0, 100, 80, 95, TierA},
		{"single account", 0, 1, 80, 95, TierA},
		{"just under cutA", 79, 100, 80, 95, TierA},
		// 100*80 == 80*100: not "<", so B, not A.
		{"exactly cutA is B", 80, 100, 80, 95, TierB},
		{"just under cutB", 94, 100, 80, 95, TierB},
		// 100*95 == 95*100: C.
		{"exactly cutB is C", 95, 100, 80, 95, TierC},
		{"above cutB", 99, 100, 80, 95, TierC},
		// 100*799 = 79900 < 80*1000 = 80000: A; 100*800 = 80000: B.
		{"cutA with remainder below", 799, 1000, 80, 95, TierA},
		{"cutA with remainder at", 800, 1000, 80, 95, TierB},
		// 100*3 = 300 < 80*4 = 320 → A (3/4 = 75%).
		{"three quarters", 3, 4, 80, 95, TierA},
		// 100*9 = 900 >= 80*11 = 880; < 95*11 = 1045 → B.
		{"nine of eleven", 9, 11, 80, 95, TierB},
		{"cutA equals cutB skips B", 80, 100, 80, 80, TierC},
		{"cutA equals cutB below", 79, 100, 80, 80, TierA},
		{"cutB 100 never C", 99, 100, 80, 100, TierB},
		{"cutA 100 all A", 99, 100, 100, 100, TierA},
		// Products beyond int64: 100*before and cut*total reach 7.2e20..9e20.
		{"overflow: just under cutA", bigA - 1, big, 80, 95, TierA},
		{"overflow: exactly cutA", bigA, big, 80, 95, TierB},
		{"overflow: just under cutB", bigB - 1, big, 80, 95, TierB},
		{"overflow: exactly cutB", bigB, big, 80, 95, TierC},
		{"overflow: max int64 top", 0, math.MaxInt64, 80, 95, TierA},
		// 100*(MaxInt64-1) vs 95*MaxInt64: 100x-100 > 95x → C.
		{"overflow: max int64 last", math.MaxInt64 - 1, math.MaxInt64, 80, 95, TierC},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := TierFor(tc.before, tc.total, tc.cutA, tc.cutB); got != tc.want {
				t.Errorf("TierFor(%d, %d, %d, %d): got %s, want %s", tc.before, tc.total, tc.cutA, tc.cutB, got, tc.want)
			}
		})
	}
}

func TestPercentileBP(t *testing.T) {
	tests := []struct {
		name    string
		less, n int
		want    int
	}{
		{"single value", 0, 1, 10000},
		{"no values", 0, 0, 10000},
		{"lowest of two", 0, 2, 0},
		{"highest of two", 1, 2, 10000},
		{"middle of three", 1, 3, 5000},
		{"highest of three", 2, 3, 10000},
		// 10000*1/3 = 3333.33 → 3333; 10000*2/3 = 6666.67 → 6666 (rounded down).
		{"second of four", 1, 4, 3333},
		{"third of four", 2, 4, 6666},
		{"top of four", 3, 4, 10000},
		// 10000*1/6 = 1666.67 → 1666.
		{"second of seven", 1, 7, 1666},
		{"large n top", 999_999, 1_000_000, 10000},
		// 10000*1/999999 = 0.01 → 0.
		{"large n second", 1, 1_000_000, 0},
		// 10000*500000/999999 = 5000.005 → 5000.
		{"large n middle", 500_000, 1_000_000, 5000},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PercentileBP(tc.less, tc.n); got != tc.want {
				t.Errorf("PercentileBP(%d, %d): got %d, want %d", tc.less, tc.n, got, tc.want)
			}
		})
	}
}

func TestPriceInsensitivityBP(t *testing.T) {
	tests := []struct {
		name                string
		revenue, discounted int64
		want                int
	}{
		{"no revenue", 0, 0, 0},
		{"returns larger than orders", -5000, 0, 0},
		{"returns larger than orders, some discounted", -5000, 3000, 0},
		{"nothing discounted", 10000, 0, 10000},
		{"all discounted", 10000, 10000, 0},
		{"half discounted", 10000, 5000, 5000},
		// 10000 * (1 - 1/3) = 6666.67 → 6666.
		{"a third discounted", 3, 1, 6666},
		// 10000 * 1/3 = 3333.33 → 3333.
		{"two thirds discounted", 3, 2, 3333},
		// A return of full-price goods leaves more discounted revenue than revenue.
		{"discounted more than revenue", 10000, 15000, 0},
		// 10000 * (MaxInt64-1)/MaxInt64 = 9999.99... → 9999; the product needs 128 bits.
		{"huge revenue", math.MaxInt64, 1, 9999},
		{"huge revenue, none discounted", math.MaxInt64, 0, 10000},
		// 10000 * 1/MaxInt64 → 0.
		{"huge revenue, almost all discounted", math.MaxInt64, math.MaxInt64 - 1, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := PriceInsensitivityBP(tc.revenue, tc.discounted); got != tc.want {
				t.Errorf("PriceInsensitivityBP(%d, %d): got %d, want %d", tc.revenue, tc.discounted, got, tc.want)
			}
		})
	}
}

func TestKeyScoreBPAndIsKeyAccount(t *testing.T) {
	pol := DefaultPolicy() // weights 35 / 15 / 15 / 15 / 20, min score 60
	full := ScoreInput{Ranked: 5, IsRanked: true, VolumeLess: 4, ConcentrationLess: 4, Revenue: 1000, ServiceRequirement: 100, Partnership: 100}
	tests := []struct {
		name  string
		in    ScoreInput
		tier  string
		parts ScoreParts
		score int
		key   bool
	}{
		{"all full", full, TierA, ScoreParts{10000, 10000, 10000, 10000, 10000}, 10000, true},
		{"all zero", ScoreInput{Ranked: 5, IsRanked: true, Revenue: 1000, Discounted: 1000}, TierA, ScoreParts{}, 0, false},
		// CDNOW account 19737 at 1998-06-30: 35*7497/8331 + 15*7500/8331 + 15
		// = 374895/8331 + 15 = 45 + 15, exactly 60: key. Its parts rounded
		// down (8998, 9002) weigh 59.996.
		{"exactly 60 from the exact percentiles", ScoreInput{Ranked: 8332, IsRanked: true, VolumeLess: 7497, ConcentrationLess: 7500, Revenue: 27800},
			TierA, ScoreParts{8998, 9002, 0, 10000, 0}, 6000, true},
		// CDNOW account 13212: (35*7226 + 15*8133)/8331 + 15 = 60.0012; the
		// rounded parts (8673, 9762) weigh 59.9985.
		{"60.0012 is key", ScoreInput{Ranked: 8332, IsRanked: true, VolumeLess: 7226, ConcentrationLess: 8133, Revenue: 23345},
			TierA, ScoreParts{8673, 9762, 0, 10000, 0}, 6000, true},
		// (35*7497 + 15*7499)/8331 + 15 = 374880/8331 + 15 = 59.9982.
		{"59.998 is not key", ScoreInput{Ranked: 8332, IsRanked: true, VolumeLess: 7497, ConcentrationLess: 7499, Revenue: 27800},
			TierA, ScoreParts{8998, 9001, 0, 10000, 0}, 5999, false},
		// 35 + 15*2/3 + 15 = 60 exactly; price insensitivity rounded down
		// (6666) would weigh 59.999.
		{"exactly 60 from the exact price insensitivity", ScoreInput{Ranked: 2, IsRanked: true, VolumeLess: 1, Revenue: 3, Discounted: 1, ServiceRequirement: 100},
			TierA, ScoreParts{10000, 0, 10000, 6666, 0}, 6000, true},
		// 35*2/3 + 15 + 15 + 20*50/100 = 63.33.
		{"mixed", ScoreInput{Ranked: 4, IsRanked: true, VolumeLess: 2, ConcentrationLess: 3, Revenue: 100, Partnership: 50},
			TierA, ScoreParts{6666, 10000, 0, 10000, 5000}, 6333, true},
		{"not ranked: service and partnership only", ScoreInput{Ranked: 100, VolumeLess: 50, ConcentrationLess: 50, ServiceRequirement: 100, Partnership: 100},
			TierA, ScoreParts{0, 0, 10000, 0, 10000}, 3500, false},
		{"a lone ranked account is at 100", ScoreInput{Ranked: 1, IsRanked: true, Revenue: 100}, TierA, ScoreParts{10000, 10000, 0, 10000, 0}, 6500, true},
		{"returns below the discounted revenue", ScoreInput{Ranked: 3, IsRanked: true, VolumeLess: 2, ConcentrationLess: 2, Revenue: 100, Discounted: 150},
			TierA, ScoreParts{10000, 10000, 0, 0, 0}, 5000, false},
		{"tier B with full score", full, TierB, ScoreParts{10000, 10000, 10000, 10000, 10000}, 10000, false},
		{"tier C with full score", full, TierC, ScoreParts{10000, 10000, 10000, 10000, 10000}, 10000, false},
		{"no tier with full score", full, "", ScoreParts{10000, 10000, 10000, 10000, 10000}, 10000, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.in.Parts(); got != tc.parts {
				t.Errorf("Parts(%+v): got %+v, want %+v", tc.in, got, tc.parts)
			}
			score := KeyScoreBP(tc.in, pol)
			if score != tc.score {
				t.Errorf("KeyScoreBP(%+v): got %d, want %d", tc.in, score, tc.score)
			}
			if got := IsKeyAccount(tc.tier, score, pol); got != tc.key {
				t.Errorf("IsKeyAccount(%q, %d): got %v, want %v", tc.tier, score, got, tc.key)
			}
		})
	}

	t.Run("other weights and minimum", func(t *testing.T) {
		pol := changedPolicy(t, func(m map[string]any) {
			ka := m["key_account"].(map[string]any)
			ka["min_score"] = 0
			ka["weights"] = map[string]any{"volume": 100, "concentration": 0, "service_requirement": 0, "price_insensitivity": 0, "partnership": 0}
		})
		in := ScoreInput{Ranked: 10001, IsRanked: true, VolumeLess: 1234, Revenue: 5, Discounted: 2, Partnership: 100}
		if got := KeyScoreBP(in, pol); got != 1234 {
			t.Errorf("KeyScoreBP with volume weight 100: got %d, want 1234", got)
		}
		if !IsKeyAccount(TierA, 0, pol) {
			t.Error("IsKeyAccount(A, 0) with min_score 0: got false, want true")
		}
	})

	// Against exact rational arithmetic, over random figures up to the
	// largest revenue kam can hold (2^62 minor units) and random weights.
	t.Run("exact", func(t *testing.T) {
		rng := rand.New(rand.NewPCG(3, 4))
		for i := 0; i < 20000; i++ {
			var ws [5]int
			left := 100
			for j := range 4 {
				ws[j] = rng.IntN(left + 1)
				left -= ws[j]
			}
			ws[4] = left
			pol := DefaultPolicy()
			kw := &pol.KeyAccount.Weights
			kw.Volume, kw.Concentration, kw.ServiceRequirement, kw.PriceInsensitivity, kw.Partnership = ws[0], ws[1], ws[2], ws[3], ws[4]
			ranked := 1 + rng.IntN(1<<uint(rng.IntN(21)))
			maxRev := int64(1) << uint(1+rng.IntN(62))
			in := ScoreInput{Ranked: ranked, IsRanked: rng.IntN(10) > 0, VolumeLess: rng.IntN(ranked), ConcentrationLess: rng.IntN(ranked),
				Revenue: rng.Int64N(maxRev), Discounted: rng.Int64N(maxRev), ServiceRequirement: 50 * rng.IntN(3), Partnership: 50 * rng.IntN(3)}
			if want := exactScoreBP(in, pol); KeyScoreBP(in, pol) != want {
				t.Fatalf("KeyScoreBP(%+v) with weights %v: got %d, want %d", in, ws, KeyScoreBP(in, pol), want)
			}
		}
	})
}

// exactScoreBP is the score in basis points, rounded down, computed with
// big rationals straight from the spec's definitions.
func exactScoreBP(in ScoreInput, pol *Policy) int {
	w := pol.KeyAccount.Weights
	frac := func(a, b int64) *big.Rat { return big.NewRat(a, b) }
	vol, conc, price := new(big.Rat), new(big.Rat), new(big.Rat)
	if in.IsRanked {
		if in.Ranked == 1 {
			vol, conc = frac(1, 1), frac(1, 1)
		} else {
			vol, conc = frac(int64(in.VolumeLess), int64(in.Ranked-1)), frac(int64(in.ConcentrationLess), int64(in.Ranked-1))
		}
		if in.Revenue > 0 && in.Revenue > in.Discounted {
			price = frac(in.Revenue-in.Discounted, in.Revenue)
			if price.Cmp(frac(1, 1)) > 0 {
				price = frac(1, 1)
			}
		}
	}
	// score in basis points = sum of weight * part (part a fraction of 1) * 100.
	sum := new(big.Rat)
	add := func(weight int, part *big.Rat) {
		sum.Add(sum, new(big.Rat).Mul(part, frac(int64(weight)*100, 1)))
	}
	add(w.Volume, vol)
	add(w.Concentration, conc)
	add(w.ServiceRequirement, frac(int64(in.ServiceRequirement), 100))
	add(w.PriceInsensitivity, price)
	add(w.Partnership, frac(int64(in.Partnership), 100))
	q := new(big.Int).Quo(sum.Num(), sum.Denom())
	return int(q.Int64())
}

func TestLoyalty(t *testing.T) {
	pol := DefaultPolicy()
	day := 24 * time.Hour
	closeAt := mustTime("2026-06-30") // the close of 2026-06-29
	// loyalIn is an account that is plainly loyal: an old first order, three
	// full-price orders in the window.
	loyalIn := func() LoyaltyInput {
		return LoyaltyInput{Close: closeAt, FirstOrder: closeAt.Add(-400 * day), WindowOrders: 3, WindowRevenue: 30000}
	}
	with := func(f func(*LoyaltyInput)) LoyaltyInput {
		in := loyalIn()
		f(&in)
		return in
	}
	tests := []struct {
		name   string
		in     LoyaltyInput
		status string
		rule   LoyaltyRule
		early  bool
	}{
		{"no order at all", LoyaltyInput{Close: closeAt}, "", RuleNoOrder, false},
		{"no order, competitor purchase and new products", LoyaltyInput{Close: closeAt, LastCompetitorPurchase: closeAt.Add(-day),
			WindowNewProductOrders: 1}, "", RuleNoOrder, false},
		{"plainly loyal", loyalIn(), LoyaltyLoyal, RuleLoyal, false},

		// 1. new: first order less than 90 days before the close.
		{"first order 1ms less than 90 days before", with(func(in *LoyaltyInput) { in.FirstOrder = closeAt.Add(-90*day + time.Millisecond) }),
			LoyaltyNew, RuleNew, false},
		{"first order exactly 90 days before is not new", with(func(in *LoyaltyInput) { in.FirstOrder = closeAt.Add(-90 * day) }),
			LoyaltyLoyal, RuleLoyal, false},
		{"first order the day before", with(func(in *LoyaltyInput) { in.FirstOrder = closeAt.Add(-day); in.WindowOrders = 1 }),
			LoyaltyNew, RuleNew, false},
		{"new wins over a competitor purchase", with(func(in *LoyaltyInput) {
			in.FirstOrder = closeAt.Add(-10 * day)
			in.LastCompetitorPurchase = closeAt.Add(-day)
		}), LoyaltyNew, RuleNew, false},
		{"new early adopter", with(func(in *LoyaltyInput) { in.FirstOrder = closeAt.Add(-10 * day); in.WindowNewProductOrders = 1 }),
			LoyaltyNew, RuleNew, true},

		// 2a. brand switching: a competitor purchase in the last 180 days.
		{"competitor purchase exactly 180 days before counts", with(func(in *LoyaltyInput) { in.LastCompetitorPurchase = closeAt.Add(-180 * day) }),
			LoyaltyBrandSwitching, RuleCompetitorPurchase, false},
		{"competitor purchase 1ms more than 180 days before does not", with(func(in *LoyaltyInput) {
			in.LastCompetitorPurchase = closeAt.Add(-180*day - time.Millisecond)
		}), LoyaltyLoyal, RuleLoyal, false},
		{"competitor purchase yesterday", with(func(in *LoyaltyInput) { in.LastCompetitorPurchase = closeAt.Add(-day) }),
			LoyaltyBrandSwitching, RuleCompetitorPurchase, false},
		{"competitor purchase wins over discounts", with(func(in *LoyaltyInput) {
			in.LastCompetitorPurchase = closeAt.Add(-day)
			in.WindowDiscounted = in.WindowRevenue
		}), LoyaltyBrandSwitching, RuleCompetitorPurchase, false},
		{"brand switching early adopter", with(func(in *LoyaltyInput) {
			in.LastCompetitorPurchase = closeAt.Add(-day)
			in.WindowNewProductOrders = 2
		}), LoyaltyBrandSwitching, RuleCompetitorPurchase, true},

		// 2b. brand switching: 3+ orders in the year before the window, none in it.
		{"3 prior orders, none in the window", with(func(in *LoyaltyInput) {
			in.PriorOrders, in.WindowOrders, in.WindowRevenue = 3, 0, 0
		}), LoyaltyBrandSwitching, RuleStoppedOrdering, false},
		{"3 prior orders, none in the window, a return in it", with(func(in *LoyaltyInput) {
			in.PriorOrders, in.WindowOrders, in.WindowRevenue = 3, 0, -500
		}), LoyaltyBrandSwitching, RuleStoppedOrdering, false},
		{"3 prior orders, one in the window", with(func(in *LoyaltyInput) {
			in.PriorOrders, in.WindowOrders, in.WindowRevenue = 3, 1, 10000
		}), LoyaltyNoBrandLoyalty, RuleFewOrders, false},
		{"3 prior orders, 3 in the window", with(func(in *LoyaltyInput) { in.PriorOrders = 3 }), LoyaltyLoyal, RuleLoyal, false},

		// 3a. no brand loyalty: at least half the window revenue at a discount.
		{"exactly half discounted", with(func(in *LoyaltyInput) { in.WindowRevenue, in.WindowDiscounted = 1000, 500 }),
			LoyaltyNoBrandLoyalty, RuleDiscountBuyer, false},
		{"just under half discounted", with(func(in *LoyaltyInput) { in.WindowRevenue, in.WindowDiscounted = 1000, 499 }),
			LoyaltyLoyal, RuleLoyal, false},
		// 100*500 = 50000 >= 50*1001 = 50050? No: 500 of 1001 is under half.
		{"500 of 1001 is under half", with(func(in *LoyaltyInput) { in.WindowRevenue, in.WindowDiscounted = 1001, 500 }),
			LoyaltyLoyal, RuleLoyal, false},
		{"501 of 1001 is over half", with(func(in *LoyaltyInput) { in.WindowRevenue, in.WindowDiscounted = 1001, 501 }),
			LoyaltyNoBrandLoyalty, RuleDiscountBuyer, false},
		{"all discounted", with(func(in *LoyaltyInput) { in.WindowDiscounted = in.WindowRevenue }),
			LoyaltyNoBrandLoyalty, RuleDiscountBuyer, false},
		{"discounted more than revenue after a return", with(func(in *LoyaltyInput) { in.WindowRevenue, in.WindowDiscounted = 1000, 4000 }),
			LoyaltyNoBrandLoyalty, RuleDiscountBuyer, false},
		// Online Retail II's 12346: 11 orders, none discounted, returns larger
		// than the orders in the window.
		{"returns larger than the orders", with(func(in *LoyaltyInput) { in.WindowOrders, in.WindowRevenue, in.WindowDiscounted = 11, -5918, 0 }),
			LoyaltyNoBrandLoyalty, RuleDiscountBuyer, false},
		{"free orders only", with(func(in *LoyaltyInput) { in.WindowOrders, in.WindowRevenue, in.WindowDiscounted = 5, 0, 0 }),
			LoyaltyNoBrandLoyalty, RuleDiscountBuyer, false},

		// 3b. no brand loyalty: fewer than 3 orders in the window.
		{"2 window orders", with(func(in *LoyaltyInput) { in.WindowOrders = 2 }), LoyaltyNoBrandLoyalty, RuleFewOrders, false},
		{"3 window orders", with(func(in *LoyaltyInput) { in.WindowOrders = 3 }), LoyaltyLoyal, RuleLoyal, false},
		{"2 window orders, early adopter", with(func(in *LoyaltyInput) { in.WindowOrders, in.WindowNewProductOrders = 2, 1 }),
			LoyaltyNoBrandLoyalty, RuleFewOrders, true},
		{"2 prior orders, none in the window", with(func(in *LoyaltyInput) {
			in.PriorOrders, in.WindowOrders, in.WindowRevenue = 2, 0, 0
		}), LoyaltyNoBrandLoyalty, -1, false},

		// 4. loyal.
		{"loyal early adopter", with(func(in *LoyaltyInput) { in.WindowOrders, in.WindowNewProductOrders = 10, 1 }), LoyaltyLoyal, RuleLoyal, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, rule, early := Loyalty(tc.in, pol)
			if status != tc.status {
				t.Errorf("status: got %q, want %q (reason %q)", status, tc.status, LoyaltyReason(tc.in, pol, rule))
			}
			// rule -1: the spec decides the status, not which of two
			// rules that agree on it (see the report).
			if tc.rule >= 0 && rule != tc.rule {
				t.Errorf("rule: got %d, want %d (reason %q)", rule, tc.rule, LoyaltyReason(tc.in, pol, rule))
			}
			if early != tc.early {
				t.Errorf("early adopter: got %v, want %v", early, tc.early)
			}
			if LoyaltyReason(tc.in, pol, rule) == "" {
				t.Error("empty reason")
			}
		})
	}
}

func TestTargetColumn(t *testing.T) {
	tests := []struct {
		name        string
		tier        string
		key, hasKey bool
		wantColumn  string
	}{
		{"no tier yet is C", "", false, false, TierC},
		{"no tier yet is C even with a key column", "", false, true, TierC},
		{"A", TierA, false, false, TierA},
		{"B", TierB, false, true, TierB},
		{"C", TierC, false, false, TierC},
		{"key account without key column uses A", TierA, true, false, TierA},
		{"key account with key column", TierA, true, true, "key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := TargetColumn(tc.tier, tc.key, tc.hasKey); got != tc.wantColumn {
				t.Errorf("TargetColumn(%q, %v, %v): got %q, want %q", tc.tier, tc.key, tc.hasKey, got, tc.wantColumn)
			}
		})
	}
}

func TestRequestTargets(t *testing.T) {
	def := DefaultPolicy()
	// The key column only for urgent requests: 1/2 hours.
	withKey := changedPolicy(t, func(m map[string]any) {
		req := m["service_levels"].(map[string]any)["requests"].(map[string]any)
		req["urgent"].(map[string]any)["key"] = map[string]any{"response_hours": 1, "resolution_hours": 2}
	})
	tests := []struct {
		name     string
		pol      *Policy
		priority string
		tier     string
		key      bool
		col      string
		resp     int
		res      int
	}{
		// The spec's table, calendar hours, first response / resolution.
		{"urgent A", def, "urgent", TierA, false, "A", 1, 8},
		{"urgent B", def, "urgent", TierB, false, "B", 2, 24},
		{"urgent C", def, "urgent", TierC, false, "C", 4, 48},
		{"high A", def, "high", TierA, false, "A", 4, 24},
		{"high B", def, "high", TierB, false, "B", 8, 48},
		{"high C", def, "high", TierC, false, "C", 24, 96},
		{"normal A", def, "normal", TierA, false, "A", 8, 72},
		{"normal B", def, "normal", TierB, false, "B", 24, 120},
		{"normal C", def, "normal", TierC, false, "C", 48, 168},
		{"low A", def, "low", TierA, false, "A", 24, 168},
		{"low B", def, "low", TierB, false, "B", 48, 240},
		{"low C", def, "low", TierC, false, "C", 72, 336},
		{"no tier is C", def, "normal", "", false, "C", 48, 168},
		{"key account uses A", def, "low", TierA, true, "A", 24, 168},
		{"key column", withKey, "urgent", TierA, true, "key", 1, 2},
		{"key column of another priority: A", withKey, "high", TierA, true, "A", 4, 24},
		{"key column, not a key account", withKey, "urgent", TierA, false, "A", 1, 8},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			col, tg := RequestTargets(tc.pol, tc.priority, tc.tier, tc.key)
			if col != tc.col || tg.ResponseHours != tc.resp || tg.ResolutionHours != tc.res {
				t.Errorf("RequestTargets(%s, %q, key %v): got %s %d/%d, want %s %d/%d",
					tc.priority, tc.tier, tc.key, col, tg.ResponseHours, tg.ResolutionHours, tc.col, tc.resp, tc.res)
			}
		})
	}
}

func TestComplaintTarget(t *testing.T) {
	def := DefaultPolicy()
	withKey := changedPolicy(t, func(m map[string]any) {
		c := m["service_levels"].(map[string]any)["complaints"].(map[string]any)
		c["critical"].(map[string]any)["key"] = 12
	})
	tests := []struct {
		name     string
		pol      *Policy
		severity string
		tier     string
		key      bool
		col      string
		hours    int
	}{
		{"critical A", def, "critical", TierA, false, "A", 24},
		{"critical B", def, "critical", TierB, false, "B", 48},
		{"critical C", def, "critical", TierC, false, "C", 72},
		{"high A", def, "high", TierA, false, "A", 48},
		{"high B", def, "high", TierB, false, "B", 96},
		{"high C", def, "high", TierC, false, "C", 120},
		{"medium A", def, "medium", TierA, false, "A", 96},
		{"medium B", def, "medium", TierB, false, "B", 120},
		{"medium C", def, "medium", TierC, false, "C", 240},
		{"low A", def, "low", TierA, false, "A", 120},
		{"low B", def, "low", TierB, false, "B", 240},
		{"low C", def, "low", TierC, false, "C", 336},
		{"no tier is C", def, "critical", "", false, "C", 72},
		{"key account uses A", def, "medium", TierA, true, "A", 96},
		{"key column", withKey, "critical", TierA, true, "key", 12},
		{"key column of another severity: A", withKey, "high", TierA, true, "A", 48},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			col, h := ComplaintTarget(tc.pol, tc.severity, tc.tier, tc.key)
			if col != tc.col || h != tc.hours {
				t.Errorf("ComplaintTarget(%s, %q, key %v): got %s %d, want %s %d", tc.severity, tc.tier, tc.key, col, h, tc.col, tc.hours)
			}
		})
	}
}

func TestQuantile(t *testing.T) {
	tests := []struct {
		name   string
		sorted []float64
		q      float64
		want   float64
	}{
		{"no values", nil, 0.5, 0},
		{"one value median", []float64{7}, 0.5, 7},
		{"one value p90", []float64{7}, 0.9, 7},
		// Type 7: position q*(n-1), interpolated.
		{"median of even count", []float64{1, 2, 3, 4}, 0.5, 2.5},          // pos 1.5
		{"median of odd count", []float64{1, 2, 3, 4, 5}, 0.5, 3},          // pos 2
		{"p90 of four", []float64{1, 2, 3, 4}, 0.9, 3.7},                   // pos 2.7
		{"p90 of two", []float64{10, 20}, 0.9, 19},                         // pos 0.9
		{"p90 of ten", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9, 9.1}, // pos 8.1
		{"minimum", []float64{1, 2, 3, 4}, 0, 1},
		{"maximum", []float64{1, 2, 3, 4}, 1, 4},
		{"ties", []float64{5, 5, 5, 9}, 0.5, 5},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Quantile(tc.sorted, tc.q); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Quantile(%v, %v): got %v, want %v", tc.sorted, tc.q, got, tc.want)
			}
		})
	}
}

func TestDayOfAndClose(t *testing.T) {
	tests := []struct {
		name  string
		t     time.Time
		day   Day
		close string
		str   string
	}{
		{"epoch", mustTime("1970-01-01T00:00:00Z"), 0, "1970-01-02T00:00:00Z", "1970-01-01"},
		{"last instant of day 0", mustTime("1970-01-01T23:59:59.999999999Z"), 0, "1970-01-02T00:00:00Z", "1970-01-01"},
		{"start of day 1", mustTime("1970-01-02T00:00:00Z"), 1, "1970-01-03T00:00:00Z", "1970-01-02"},
		{"one second before the epoch", mustTime("1969-12-31T23:59:59Z"), -1, "1970-01-01T00:00:00Z", "1969-12-31"},
		{"half a second before the epoch", mustTime("1969-12-31T23:59:59.5Z"), -1, "1970-01-01T00:00:00Z", "1969-12-31"},
		{"start of day -1", mustTime("1969-12-31T00:00:00Z"), -1, "1970-01-01T00:00:00Z", "1969-12-31"},
		{"last instant of day -2", mustTime("1969-12-30T23:59:59.999Z"), -2, "1969-12-31T00:00:00Z", "1969-12-30"},
		// 62135596800 s before the epoch = 719162 days exactly.
		{"year 1", mustTime("0001-01-01T00:00:00Z"), -719162, "0001-01-02T00:00:00Z", "0001-01-01"},
		{"leap day", mustTime("2024-02-29T12:00:00Z"), 19782, "2024-03-01T00:00:00Z", "2024-02-29"},
		{"UTC, not the offset's day", mustTime("2026-01-01T23:30:00-02:00"), 20455, "2026-01-03T00:00:00Z", "2026-01-02"},
		{"year 9999", mustTime("9999-12-31T23:59:59.999Z"), 2932896, "10000-01-01T00:00:00Z", "9999-12-31"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := DayOf(tc.t)
			if d != tc.day {
				t.Fatalf("DayOf(%s): got %d, want %d", tc.t, d, tc.day)
			}
			if got := d.Close(); got.Format(time.RFC3339Nano) != tc.close {
				t.Errorf("Day(%d).Close(): got %s, want %s", d, got.Format(time.RFC3339Nano), tc.close)
			}
			if d.String() != tc.str {
				t.Errorf("Day(%d).String(): got %s, want %s", d, d, tc.str)
			}
			if !d.Start().Add(24 * time.Hour).Equal(d.Close()) {
				t.Errorf("Day(%d): start %s + 24h != close %s", d, d.Start(), d.Close())
			}
			if d.Start().After(tc.t) || !tc.t.Before(d.Close()) {
				t.Errorf("Day(%d) [%s, %s) does not hold %s", d, d.Start(), d.Close(), tc.t)
			}
			if back, err := ParseDay(tc.str); err != nil || back != d {
				t.Errorf("ParseDay(%s): got %d, %v, want %d", tc.str, back, err, d)
			}
		})
	}
	// The close of day D is the start of D+1: an event at that instant
	// belongs to D+1.
	d := DayOf(mustTime("2026-03-01T10:00:00Z"))
	if got := DayOf(d.Close()); got != d+1 {
		t.Errorf("DayOf(close of %s): got %s, want %s", d, got, d+1)
	}
	if got := DayOf(d.Close().Add(-time.Nanosecond)); got != d {
		t.Errorf("DayOf(close of %s - 1ns): got %s, want %s", d, got, d)
	}
}

// defaultPolicyMap is the default policy as a generic map, to change a number.
func defaultPolicyMap(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(DefaultPolicyJSON(), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func changedPolicyJSON(t testing.TB, change func(map[string]any)) []byte {
	t.Helper()
	m := defaultPolicyMap(t)
	if change != nil {
		change(m)
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// changedPolicy parses the default policy after change.
func changedPolicy(t testing.TB, change func(map[string]any)) *Policy {
	t.Helper()
	p, err := ParsePolicy(changedPolicyJSON(t, change))
	if err != nil {
		t.Fatalf("ParsePolicy: %v", err)
	}
	return p
}

func TestParsePolicyRefuses(t *testing.T) {
	sub := func(m map[string]any, path ...string) map[string]any {
		for _, p := range path {
			m = m[p].(map[string]any)
		}
		return m
	}
	tests := []struct {
		name   string
		change func(map[string]any)
		raw    string // instead of change
	}{
		{name: "not JSON", raw: "{not json"},
		{name: "not an object", raw: "[1, 2]"},
		{name: "unknown top-level field", change: func(m map[string]any) { m["window_days"] = 365 }},
		{name: "unknown nested field", change: func(m map[string]any) { sub(m, "tiering")["cut_c"] = 99 }},
		{name: "typo in a weight", change: func(m map[string]any) {
			w := sub(m, "key_account", "weights")
			w["partner_ship"] = w["partnership"]
			delete(w, "partnership")
		}},
		{name: "weights add up to 99", change: func(m map[string]any) { sub(m, "key_account", "weights")["volume"] = 34 }},
		{name: "weights add up to 101", change: func(m map[string]any) { sub(m, "key_account", "weights")["partnership"] = 21 }},
		{name: "a negative weight", change: func(m map[string]any) {
			w := sub(m, "key_account", "weights")
			w["volume"], w["partnership"] = -5, 60
		}},
		{name: "cut_a above cut_b", change: func(m map[string]any) { sub(m, "tiering")["cut_a"] = 96 }},
		{name: "cut_b above 100", change: func(m map[string]any) { sub(m, "tiering")["cut_b"] = 101 }},
		{name: "cut_a 0", change: func(m map[string]any) { sub(m, "tiering")["cut_a"] = 0 }},
		{name: "window 0 days", change: func(m map[string]any) { sub(m, "tiering")["window_days"] = 0 }},
		{name: "min score above 100", change: func(m map[string]any) { sub(m, "key_account")["min_score"] = 101 }},
		{name: "missing priority", change: func(m map[string]any) { delete(sub(m, "service_levels", "requests"), "urgent") }},
		{name: "missing tier column", change: func(m map[string]any) { delete(sub(m, "service_levels", "complaints", "low"), "B") }},
		{name: "unknown column", change: func(m map[string]any) { sub(m, "service_levels", "complaints", "low")["D"] = 1 }},
		{name: "unknown partnership level", change: func(m map[string]any) { sub(m, "key_account", "partnership_points")["eternal"] = 100 }},
		{name: "bad currency", change: func(m map[string]any) { m["currency"] = "usd" }},
		{name: "discount threshold 0", change: func(m map[string]any) { m["discounted_order_pct"] = 0 }},
		{name: "a number as a string", change: func(m map[string]any) { sub(m, "tiering")["cut_a"] = "80" }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.raw)
			if tc.change != nil {
				b = changedPolicyJSON(t, tc.change)
			}
			if p, err := ParsePolicy(b); err == nil {
				t.Errorf("ParsePolicy accepted it (version %s), want an error", p.ShortVersion())
			} else {
				t.Logf("refused: %v", err)
			}
		})
	}
	t.Run("cut_a equal to cut_b is allowed", func(t *testing.T) {
		changedPolicy(t, func(m map[string]any) { sub(m, "tiering")["cut_a"] = 95 })
	})
}

func TestParsePolicyVersion(t *testing.T) {
	def := DefaultPolicy()
	if len(def.Version()) != 64 {
		t.Fatalf("version %q: want 64 hex digits", def.Version())
	}
	// The same content written otherwise has the same version.
	var compact bytes.Buffer
	if err := json.Compact(&compact, DefaultPolicyJSON()); err != nil {
		t.Fatal(err)
	}
	var indented bytes.Buffer
	if err := json.Indent(&indented, DefaultPolicyJSON(), "\t\t", "\t"); err != nil {
		t.Fatal(err)
	}
	same := map[string][]byte{
		"compact":           compact.Bytes(),
		"re-indented":       indented.Bytes(),
		"surrounding space": append(append([]byte("\n\n   "), DefaultPolicyJSON()...), "  \n\t"...),
		// encoding/json writes map keys sorted: another key order.
		"keys reordered": changedPolicyJSON(t, nil),
		"CRLF line ends": bytes.ReplaceAll(DefaultPolicyJSON(), []byte("\n"), []byte("\r\n")),
		// Some editors begin a UTF-8 file with a byte order mark.
		"UTF-8 BOM": append([]byte("\xEF\xBB\xBF"), DefaultPolicyJSON()...),
	}
	for name, b := range same {
		p, err := ParsePolicy(b)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if p.Version() != def.Version() {
			t.Errorf("%s: got version %s, want %s", name, p.ShortVersion(), def.ShortVersion())
		}
		if !bytes.Equal(p.Canonical(), def.Canonical()) {
			t.Errorf("%s: canonical JSON differs", name)
		}
	}
	// Any number changed gives another version.
	changes := map[string]func(map[string]any){
		"cut_a":       func(m map[string]any) { m["tiering"].(map[string]any)["cut_a"] = 81 },
		"window_days": func(m map[string]any) { m["tiering"].(map[string]any)["window_days"] = 366 },
		"min_score":   func(m map[string]any) { m["key_account"].(map[string]any)["min_score"] = 61 },
		"weights": func(m map[string]any) {
			w := m["key_account"].(map[string]any)["weights"].(map[string]any)
			w["volume"], w["partnership"] = 34, 21
		},
		"a target hour": func(m map[string]any) {
			m["service_levels"].(map[string]any)["complaints"].(map[string]any)["low"].(map[string]any)["C"] = 335
		},
		"new_days": func(m map[string]any) { m["loyalty"].(map[string]any)["new_days"] = 91 },
	}
	seen := map[string]string{def.Version(): "default"}
	for name, change := range changes {
		p := changedPolicy(t, change)
		if other, dup := seen[p.Version()]; dup {
			t.Errorf("changing %s: version %s, the same as %s", name, p.ShortVersion(), other)
		}
		seen[p.Version()] = name
	}
}
