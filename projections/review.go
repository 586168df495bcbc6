package projections

import (
	"sort"
	"strconv"
	"strings"
	"time"
)

// rankEntry is one ranked account during a review.
type rankEntry struct {
	a             *account
	revenue       int64
	avg           int64 // average order value in the window, rounded down
	before        int64
	rank          int
	volume        int // percentile bp
	concentration int
}

// reviewRow is one row of the reviews table.
type reviewRow struct {
	day          Day
	accounts     int64
	ranked       int64
	total        int64
	tierAccounts [3]int64 // A, B, C
	tierRevenue  [3]int64
	keyAccounts  int64
	top20        int64
	pareto       string
	closeSeq     uint64
	closeID      string
}

func tierIndex(t string) int {
	switch t {
	case TierA:
		return 0
	case TierB:
		return 1
	}
	return 2
}

// review decides tiers, key accounts and loyalty at the close of day d, then
// moves the windows on to the next day. closeSeq and closeID name the event
// whose time closed the day.
//
// When nothing the ranking depends on changed since the last review (no
// revenue entered or left a window, no account or profile changed), tiers
// and scores cannot change and the ranking is skipped; loyalty, which also
// depends on the passing of time, is decided at every review.
func (p *Projector) review(d Day, closeSeq uint64, closeID string) {
	start := time.Now() // for metrics only; no decision reads the clock
	defer func() { p.timing.reviews++; p.timing.reviewTime += time.Since(start) }()
	closeAt := d.Close()
	var row reviewRow
	if p.changed || !p.reviewed {
		row = p.rankAll(closeAt, closeSeq, closeID)
	} else {
		row = p.lastRow
	}
	row.day, row.closeSeq, row.closeID = d, closeSeq, closeID
	p.decideLoyalty(closeAt, closeSeq, closeID)
	p.out.reviews = append(p.out.reviews, row)
	p.lastRow, p.reviewed, p.lastReview, p.changed = row, true, d, false
	p.advance()
}

func (p *Projector) rankAll(closeAt time.Time, closeSeq uint64, closeID string) reviewRow {
	entries := p.rankScratch[:0]
	for _, a := range p.list {
		if a.window.revenue > 0 {
			e := rankEntry{a: a, revenue: a.window.revenue, avg: a.window.revenue}
			if a.window.orders > 0 {
				e.avg = a.window.revenue / a.window.orders
			}
			entries = append(entries, e)
		}
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].revenue != entries[j].revenue {
			return entries[i].revenue > entries[j].revenue
		}
		return entries[i].a.id < entries[j].a.id
	})
	n := len(entries)
	var total int64
	for _, e := range entries {
		total += e.revenue
	}
	// Rank, before, and the volume percentile (ties share the count of
	// strictly smaller values, which follow their group in this order).
	var before int64
	for i := 0; i < n; {
		j := i
		for j < n && entries[j].revenue == entries[i].revenue {
			j++
		}
		for k := i; k < j; k++ {
			entries[k].rank = k + 1
			entries[k].before = before
			before += entries[k].revenue
			entries[k].volume = PercentileBP(n-j, n)
		}
		i = j
	}
	// Concentration: the percentile of the average order value.
	byAvg := make([]*rankEntry, n)
	for i := range entries {
		byAvg[i] = &entries[i]
	}
	sort.Slice(byAvg, func(i, j int) bool { return byAvg[i].avg > byAvg[j].avg })
	for i := 0; i < n; {
		j := i
		for j < n && byAvg[j].avg == byAvg[i].avg {
			j++
		}
		for k := i; k < j; k++ {
			byAvg[k].concentration = PercentileBP(n-j, n)
		}
		i = j
	}

	row := reviewRow{accounts: int64(len(p.list)), ranked: int64(n), total: total}
	prefix := make([]int64, n+1)
	for i, e := range entries {
		prefix[i+1] = prefix[i] + e.revenue
		tier := TierFor(e.before, total, p.pol.Tiering.CutA, p.pol.Tiering.CutB)
		p.decide(e.a, tier, &e, n, total, closeAt, closeSeq, closeID)
		row.tierRevenue[tierIndex(tier)] += e.revenue
	}
	for _, a := range p.list {
		if a.window.revenue <= 0 {
			p.decide(a, TierC, nil, n, total, closeAt, closeSeq, closeID)
		}
	}
	for _, a := range p.list {
		row.tierAccounts[tierIndex(a.tier)]++
		if a.key {
			row.keyAccounts++
		}
	}
	if n > 0 {
		row.top20 = prefix[(n+4)/5]
	}
	row.pareto = paretoJSON(prefix, total)
	p.rankScratch = entries[:0]
	return row
}

// paretoJSON is the Pareto curve at 1% steps of accounts: the share of
// revenue held by the top ceil(k% of n) accounts, rounded to 4 decimals.
func paretoJSON(prefix []int64, total int64) string {
	n := len(prefix) - 1
	if n == 0 || total <= 0 {
		return "[]"
	}
	var b strings.Builder
	b.WriteByte('[')
	for k := 1; k <= 100; k++ {
		m := (k*n + 99) / 100
		if k > 1 {
			b.WriteByte(',')
		}
		b.WriteByte('[')
		b.WriteString(strconv.FormatFloat(float64(k)/100, 'f', 2, 64))
		b.WriteByte(',')
		b.WriteString(strconv.FormatFloat(float64(prefix[m])/float64(total), 'f', 4, 64))
		b.WriteByte(']')
	}
	b.WriteByte(']')
	return b.String()
}

// decide records one account's tier and key-account decision of a review.
// e is nil for an account that is not ranked.
func (p *Projector) decide(a *account, tier string, e *rankEntry, ranked int, total int64, closeAt time.Time, closeSeq uint64, closeID string) {
	pol := p.pol
	parts := ScoreParts{
		ServiceRequirement: pol.KeyAccount.ServiceRequirementPoints[a.serviceReqOrStandard()] * 100,
		Partnership:        pol.KeyAccount.PartnershipPoints[a.partnershipOrNone()] * 100,
	}
	rank := 0
	var before int64
	if e != nil {
		rank, before = e.rank, e.before
		parts.Volume, parts.Concentration = e.volume, e.concentration
		parts.PriceInsensitivity = PriceInsensitivityBP(a.window.revenue, a.window.discounted)
	}
	score := KeyScoreBP(parts, pol)
	key := IsKeyAccount(tier, score, pol)

	tierChanged := tier != a.tier
	keyChanged := !a.keyDecided || key != a.key
	if tierChanged {
		p.out.tiers = append(p.out.tiers, tierRow{
			account: a.id, effective: closeAt, from: a.tier, to: tier, revenue: a.window.revenue, rank: rank,
			ranked: ranked, before: before, total: total, closeSeq: closeSeq, closeID: closeID,
			movedCount: a.movedCount, movedIDs: append(make([]string, 0, len(a.movedIDs)), a.movedIDs...),
		})
		a.tier, a.tierSince = tier, closeAt
		a.movedCount, a.movedIDs = 0, a.movedIDs[:0]
	}
	if keyChanged {
		r := keyRow{account: a.id, effective: closeAt, decided: a.keyDecided, from: a.key, to: key, tier: tier,
			score: score, parts: parts, revenue: a.window.revenue, orders: a.window.orders, discounted: a.window.discounted,
			serviceReq: a.serviceReqOrStandard(), partnership: a.partnershipOrNone(), closeSeq: closeSeq, closeID: closeID}
		p.out.keys = append(p.out.keys, r)
		a.key, a.keySince, a.keyDecided = key, closeAt, true
	}
	if tierChanged || keyChanged {
		a.decisions = append(a.decisions, decision{effective: closeAt, tier: a.tier, key: a.key})
	}
	if tierChanged || keyChanged || !a.scored || a.rank != rank || a.score != score || a.parts != parts ||
		a.reviewed != a.window || a.reviewedPrior != a.priorOrders {
		a.dirty = true
	}
	a.rank, a.score, a.parts, a.scored = rank, score, parts, true
	a.reviewed, a.reviewedPrior = a.window, a.priorOrders
}

// decideLoyalty decides every ordering account's loyalty at a close.
func (p *Projector) decideLoyalty(closeAt time.Time, closeSeq uint64, closeID string) {
	for _, a := range p.list {
		if a.firstOrder.IsZero() {
			continue
		}
		in := LoyaltyInput{
			Close: closeAt, FirstOrder: a.firstOrder, LastCompetitorPurchase: a.lastCompetitor,
			WindowOrders: a.window.orders, WindowRevenue: a.window.revenue, WindowDiscounted: a.window.discounted,
			WindowNewProductOrders: a.window.newProduct, PriorOrders: a.priorOrders,
		}
		status, rule, early := Loyalty(in, p.pol)
		if a.loyaltyDecided && status == a.loyalty && early == a.earlyAdopter {
			continue
		}
		p.out.loyalty = append(p.out.loyalty, loyaltyRow{
			account: a.id, effective: closeAt, decided: a.loyaltyDecided, from: a.loyalty, to: status,
			fromEarly: a.earlyAdopter, toEarly: early, reason: LoyaltyReason(in, p.pol, rule), in: in,
			closeSeq: closeSeq, closeID: closeID,
		})
		if status != a.loyalty || !a.loyaltyDecided {
			a.loyaltySince = closeAt
		}
		a.loyalty, a.earlyAdopter, a.loyaltyDecided = status, early, true
		a.dirty = true
	}
}

// advance moves the windows from the review of day next to that of next+1:
// the oldest prior day drops out, the oldest window day becomes a prior day.
func (p *Projector) advance() {
	n := p.next
	ps, ws := p.priorStart(n), p.windowStart(n)
	for _, a := range p.byDay[ps] {
		if b := a.findBucket(ps); b != nil {
			a.priorOrders -= b.orders
		}
		a.dropBucketsBefore(ps + 1)
		p.changed = true
	}
	delete(p.byDay, ps)
	for _, a := range p.byDay[ws] {
		if b := a.findBucket(ws); b != nil {
			a.window.revenue -= b.revenue
			a.window.discounted -= b.discounted
			a.window.orders -= b.orders
			a.window.newProduct -= b.newProduct
			a.priorOrders += b.orders
			p.changed = true
		}
	}
	p.next = n + 1
}
