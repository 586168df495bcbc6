package projections

import (
	"fmt"
	"math/bits"
	"sort"
	"time"
)

// The rules of the spec, each a pure function of its inputs. The projector
// gathers the inputs; these decide.

// Tiers and loyalty statuses.
const (
	TierA = "A"
	TierB = "B"
	TierC = "C"

	LoyaltyNew            = "new"
	LoyaltyBrandSwitching = "brand_switching"
	LoyaltyNoBrandLoyalty = "no_brand_loyalty"
	LoyaltyLoyal          = "loyal"

	// Scores and their parts are kept in basis points: 0..10000 is 0..100.
	bpScale = 10000
)

// Day is a UTC calendar day counted from 1970-01-01 (day 0).
type Day int64

const dayLen = 24 * time.Hour

// DayOf is the UTC day of t.
func DayOf(t time.Time) Day {
	s := t.Unix()
	d := s / 86400
	if s%86400 < 0 {
		d--
	}
	return Day(d)
}

// Close is the end of day d (24:00 UTC), which is the start of d+1.
func (d Day) Close() time.Time { return time.Unix(int64(d+1)*86400, 0).UTC() }

// Start is 00:00 UTC of day d.
func (d Day) Start() time.Time { return time.Unix(int64(d)*86400, 0).UTC() }

// String is the day as YYYY-MM-DD.
func (d Day) String() string { return d.Start().Format(time.DateOnly) }

// ParseDay reads YYYY-MM-DD.
func ParseDay(s string) (Day, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return 0, err
	}
	return DayOf(t), nil
}

// ParseMoment reads a moment as users write one: RFC 3339, or a date
// YYYY-MM-DD meaning the close of that day (24:00 UTC). A moment after
// LastMoment (the close of 9999-12-31 is in year 10000) is LastMoment:
// after everything kam holds. A moment finer than kam's milliseconds is
// kept as it is (see tsAfter).
func ParseMoment(s string) (time.Time, error) {
	var t time.Time
	if len(s) == 10 {
		d, err := ParseDay(s)
		if err != nil {
			return time.Time{}, err
		}
		t = d.Close()
	} else {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, s); err != nil {
			return time.Time{}, err
		}
	}
	if t.After(LastMoment) {
		return LastMoment, nil
	}
	return t.UTC(), nil
}

// LastMoment is the latest moment the read model's times can name: they
// are stored as text with four-digit years, compared as text, so a later
// one (year 10000) would sort before them all.
var LastMoment = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC)

// Ranked is one account in the ranking of a review.
type Ranked struct {
	Account string
	Revenue int64 // window revenue, minor units, > 0
}

// Rank sorts accounts by revenue descending, ties by account id ascending
// (bytewise), after dropping those with revenue <= 0. It sorts in place and
// returns the ranked prefix.
func Rank(accts []Ranked) []Ranked {
	n := 0
	for _, a := range accts {
		if a.Revenue > 0 {
			accts[n] = a
			n++
		}
	}
	r := accts[:n]
	sort.Slice(r, func(i, j int) bool {
		if r[i].Revenue != r[j].Revenue {
			return r[i].Revenue > r[j].Revenue
		}
		return r[i].Account < r[j].Account
	})
	return r
}

// TierFor decides a ranked account's tier from before (the revenue of the
// accounts ranked above it) and total (the revenue of all ranked accounts):
// A if 100*before < cutA*total, else B if 100*before < cutB*total, else C.
// The products are exact (128-bit).
func TierFor(before, total int64, cutA, cutB int) string {
	switch {
	case mulLess(100, before, int64(cutA), total):
		return TierA
	case mulLess(100, before, int64(cutB), total):
		return TierB
	}
	return TierC
}

// mulLess reports a*b < c*d for non-negative operands, without overflow.
func mulLess(a, b, c, d int64) bool {
	h1, l1 := bits.Mul64(uint64(a), uint64(b))
	h2, l2 := bits.Mul64(uint64(c), uint64(d))
	return h1 < h2 || (h1 == h2 && l1 < l2)
}

// PercentileBP is the percentile rank, in basis points, of a value that
// exceeds less of the n values it is ranked among (itself included):
// 10000 * less / (n-1), rounded down; a single value is at 10000.
func PercentileBP(less, n int) int {
	if n <= 1 {
		return bpScale
	}
	return int(int64(less) * bpScale / int64(n-1))
}

// PriceInsensitivityBP is 10000 * (1 - discounted/revenue), rounded down and
// kept within 0..10000; an account without window revenue scores 0.
func PriceInsensitivityBP(revenue, discounted int64) int {
	if revenue <= 0 {
		return 0
	}
	full := revenue - discounted
	if full <= 0 {
		return 0
	}
	if full >= revenue {
		return bpScale
	}
	hi, lo := bits.Mul64(uint64(full), bpScale)
	q, _ := bits.Div64(hi, lo, uint64(revenue))
	return int(q)
}

// ScoreParts are the five criteria of a key-account score, each 0..10000.
type ScoreParts struct {
	Volume             int `json:"volume"`
	Concentration      int `json:"concentration"`
	ServiceRequirement int `json:"service_requirement"`
	PriceInsensitivity int `json:"price_insensitivity"`
	Partnership        int `json:"partnership"`
}

// ScoreInput is what a key-account score is made of, as exact figures. The
// percentiles and the price insensitivity are fractions: each part is one of
// them rounded down to basis points, but the score weighs the fractions
// themselves and is rounded down once, so that "a score of at least 60" is
// decided on the exact score. (Weighing the rounded parts lost up to 2 basis
// points: real accounts at 60.0012 and at exactly 60 came out at 59.99.)
type ScoreInput struct {
	Ranked            int   // accounts ranked at the review (window revenue > 0)
	IsRanked          bool  // this account is among them; if not, volume, concentration and price insensitivity are 0
	VolumeLess        int   // ranked accounts with a smaller window revenue
	ConcentrationLess int   // ranked accounts with a smaller average order value
	Revenue           int64 // window revenue
	Discounted        int64 // window revenue bought at the discount threshold or above
	// The policy's values, in percent, for the account's service requirement
	// and partnership.
	ServiceRequirement, Partnership int
}

// Parts are the five parts in basis points, each rounded down.
func (in ScoreInput) Parts() ScoreParts {
	pts := ScoreParts{ServiceRequirement: in.ServiceRequirement * 100, Partnership: in.Partnership * 100}
	if in.IsRanked {
		pts.Volume = PercentileBP(in.VolumeLess, in.Ranked)
		pts.Concentration = PercentileBP(in.ConcentrationLess, in.Ranked)
		pts.PriceInsensitivity = PriceInsensitivityBP(in.Revenue, in.Discounted)
	}
	return pts
}

// KeyScoreBP is the weighted sum of the exact parts (weights add up to 100),
// in basis points, rounded down once.
//
// With the parts rounded down, pts, the exact sum in hundredths of a basis
// point is A + F, where A = sum w*pts and F = sum w*frac (frac: what rounding
// took from a part, below 1; only the percentiles and the price
// insensitivity have one). F < 100, so the score is A/100, or one more when
// A%100 + F reaches 100. With the percentiles' remainders rv, rc over
// N = Ranked-1 and the price insensitivity's remainder rp over the revenue R,
// that is (wv*rv + wc*rc)*R + wp*rp*N >= (100 - A%100)*N*R, compared in 128
// bits (R goes up to 2^62).
func KeyScoreBP(in ScoreInput, pol *Policy) int {
	w := pol.KeyAccount.Weights
	p := in.Parts()
	a := w.Volume*p.Volume + w.Concentration*p.Concentration + w.ServiceRequirement*p.ServiceRequirement +
		w.PriceInsensitivity*p.PriceInsensitivity + w.Partnership*p.Partnership
	score, r := a/100, a%100
	if !in.IsRanked {
		return score // the parts with fractions are 0
	}
	n, rv, rc := uint64(1), uint64(0), uint64(0)
	if in.Ranked > 1 {
		n = uint64(in.Ranked - 1)
		rv = uint64(in.VolumeLess) * bpScale % n
		rc = uint64(in.ConcentrationLess) * bpScale % n
	}
	rev, rp := uint64(1), uint64(0)
	if full := in.Revenue - in.Discounted; in.Revenue > 0 && full > 0 && full < in.Revenue {
		rev = uint64(in.Revenue)
		hi, lo := bits.Mul64(uint64(full), bpScale)
		_, rp = bits.Div64(hi, lo, rev)
	}
	if rv == 0 && rc == 0 && rp == 0 {
		return score
	}
	h1, l1 := bits.Mul64(uint64(w.Volume)*rv+uint64(w.Concentration)*rc, rev)
	h2, l2 := bits.Mul64(uint64(w.PriceInsensitivity)*n, rp)
	lo, carry := bits.Add64(l1, l2, 0)
	hi, _ := bits.Add64(h1, h2, carry)
	needHi, needLo := bits.Mul64(uint64(100-r)*n, rev)
	if hi > needHi || hi == needHi && lo >= needLo {
		score++
	}
	return score
}

// IsKeyAccount: tier A and a score of at least the policy's minimum.
func IsKeyAccount(tier string, scoreBP int, pol *Policy) bool {
	return tier == TierA && scoreBP >= pol.KeyAccount.MinScore*100
}

// LoyaltyInput is what the loyalty rule looks at, as of a day's close.
type LoyaltyInput struct {
	Close                  time.Time
	FirstOrder             time.Time // zero: no order ever
	LastCompetitorPurchase time.Time // zero: none reported
	WindowOrders           int64
	WindowRevenue          int64
	WindowDiscounted       int64 // revenue of window orders at the discount threshold or above
	WindowNewProductOrders int64
	PriorOrders            int64 // orders in the prior_days before the window
}

// LoyaltyRule names the rule that decided a loyalty status.
type LoyaltyRule int

// The loyalty rules, in the order they are tried.
const (
	RuleNoOrder LoyaltyRule = iota
	RuleNew
	RuleCompetitorPurchase
	RuleStoppedOrdering
	RuleDiscountBuyer
	RuleFewOrders
	RuleLoyal
)

// Loyalty applies the rules in order; the first that holds decides. An
// account that never ordered has no status (""). LoyaltyReason puts the
// deciding rule in words.
func Loyalty(in LoyaltyInput, pol *Policy) (status string, rule LoyaltyRule, earlyAdopter bool) {
	if in.FirstOrder.IsZero() {
		return "", RuleNoOrder, false
	}
	l := pol.Loyalty
	earlyAdopter = in.WindowNewProductOrders > 0
	switch {
	case in.Close.Sub(in.FirstOrder) < time.Duration(l.NewDays)*dayLen:
		return LoyaltyNew, RuleNew, earlyAdopter
	case !in.LastCompetitorPurchase.IsZero() && !in.LastCompetitorPurchase.Before(in.Close.Add(-time.Duration(l.CompetitorDays)*dayLen)):
		return LoyaltyBrandSwitching, RuleCompetitorPurchase, earlyAdopter
	case in.PriorOrders >= int64(l.PriorMinOrders) && in.WindowOrders == 0:
		return LoyaltyBrandSwitching, RuleStoppedOrdering, earlyAdopter
	case !mulLess(100, in.WindowDiscounted, int64(l.DiscountedSharePct), max(in.WindowRevenue, 0)):
		return LoyaltyNoBrandLoyalty, RuleDiscountBuyer, earlyAdopter
	case in.WindowOrders < int64(l.MinWindowOrders):
		return LoyaltyNoBrandLoyalty, RuleFewOrders, earlyAdopter
	}
	return LoyaltyLoyal, RuleLoyal, earlyAdopter
}

// LoyaltyReason says in words why rule decided, for the history.
func LoyaltyReason(in LoyaltyInput, pol *Policy, rule LoyaltyRule) string {
	l := pol.Loyalty
	switch rule {
	case RuleNoOrder:
		return "no order yet"
	case RuleNew:
		return fmt.Sprintf("new: first order %s, less than %d days before the close", in.FirstOrder.Format(time.RFC3339), l.NewDays)
	case RuleCompetitorPurchase:
		return fmt.Sprintf("brand switching: a visit on %s reported a competitor purchase (within %d days)",
			in.LastCompetitorPurchase.Format(time.RFC3339), l.CompetitorDays)
	case RuleStoppedOrdering:
		return fmt.Sprintf("brand switching: %d orders in the %d days before the window, none in the window", in.PriorOrders, l.PriorDays)
	case RuleDiscountBuyer:
		if in.WindowRevenue <= 0 {
			return fmt.Sprintf("no brand loyalty: no window revenue (%d minor units net of returns, %d orders), none of it bought at full price",
				in.WindowRevenue, in.WindowOrders)
		}
		return fmt.Sprintf("no brand loyalty: %d of %d minor units of window revenue bought at a discount (at least %d%%)",
			in.WindowDiscounted, in.WindowRevenue, l.DiscountedSharePct)
	case RuleFewOrders:
		return fmt.Sprintf("no brand loyalty: %d orders in the window, fewer than %d", in.WindowOrders, l.MinWindowOrders)
	}
	return fmt.Sprintf("loyal: %d orders in the window, %d of %d minor units at a discount", in.WindowOrders, in.WindowDiscounted, in.WindowRevenue)
}

// TargetColumn is the service-level column an item opened under tier and key
// uses: the key column where the policy has one, A's for other key accounts,
// else the tier's; no tier yet counts as C.
func TargetColumn(tier string, key bool, hasKeyColumn bool) string {
	switch {
	case key && hasKeyColumn:
		return "key"
	case key:
		return TierA
	case tier == "":
		return TierC
	}
	return tier
}

// RequestTargets returns a service request's column and targets.
func RequestTargets(pol *Policy, priority, tier string, key bool) (string, RequestTarget) {
	cols := pol.ServiceLevels.Requests[priority]
	_, hasKey := cols["key"]
	col := TargetColumn(tier, key, hasKey)
	return col, cols[col]
}

// ComplaintTarget returns a complaint's column and resolution hours.
func ComplaintTarget(pol *Policy, severity, tier string, key bool) (string, int) {
	cols := pol.ServiceLevels.Complaints[severity]
	_, hasKey := cols["key"]
	col := TargetColumn(tier, key, hasKey)
	return col, cols[col]
}

// Quantile is the q-quantile (0..1) of sorted values, interpolating linearly
// between the two nearest ranks (the common "type 7" definition, as in
// spreadsheets and numpy); 0 for no values.
func Quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	pos := q * float64(len(sorted)-1)
	i := int(pos)
	if i >= len(sorted)-1 {
		return sorted[len(sorted)-1]
	}
	frac := pos - float64(i)
	return sorted[i] + frac*(sorted[i+1]-sorted[i])
}
