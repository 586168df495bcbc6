package projections

import (
	"slices"
	"strconv"
	"strings"
	"time"
)

// A review ranks every account once a day. With 20,000 accounts and years
// of days, that is the projector's hottest loop, so its inputs live in one
// dense array (hot, one slot per account) instead of behind pointers, the
// rankings are kept sorted from one review to the next (only the accounts
// whose figures changed are re-sorted and merged in), scores are computed
// only where they decide something (tier-A accounts), and loyalty is decided
// only for accounts whose inputs changed or whose time-bound rule expires.
// The outcome is the same as ranking everything afresh every day; the
// determinism tests (restarts rank afresh) hold it to that.

// hot is one account's review inputs and outcomes.
type hot struct {
	acct *account
	id   string
	// The window and prior period of the next review, kept live.
	live sums
	// livePrior: orders in the prior period of the next review.
	livePrior int64
	// The figures as of the last review.
	rev         sums
	prior       int64
	avg         int64 // average order value of the window, rounded down
	svc, part   int   // profile points (0..100), live
	rSvc, rPart int   // and as of the last review
	// Outcomes of the last review.
	volLess, concLess int32 // ranked accounts with a smaller revenue / average order value
	tier              string
	key, keyDecided   bool
	ranked            bool
	touched           bool // inputs changed since the last review
}

// reviewFacts are the review-dependent figures of an account's row.
type reviewFacts struct {
	rank   int
	score  int
	parts  ScoreParts
	rev    sums
	prior  int64
	scored bool
}

// rankEntry is one ranked account during a review, for the history rows.
type rankEntry struct {
	before int64
	rank   int
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

// touch marks an account's review inputs as changed.
func (p *Projector) touch(h *hot) {
	if !h.touched {
		h.touched = true
		s := h.acct.slot
		p.touched = append(p.touched, s)
		for int(s/64) >= len(p.touchedBits) {
			p.touchedBits = append(p.touchedBits, 0)
		}
		p.touchedBits[s/64] |= 1 << (s % 64)
	}
	p.changed = true
}

// review decides tiers, key accounts and loyalty at the close of day d, then
// moves the windows on to the next day. closeSeq and closeID name the event
// whose time closed the day. When nothing the ranking depends on changed
// since the last review, tiers and scores cannot change and the ranking is
// skipped; loyalty, which also depends on the passing of time, is decided at
// every review for the accounts whose inputs changed or whose time-bound
// rule expired.
func (p *Projector) review(d Day, closeSeq uint64, closeID string) {
	start := time.Now() // for metrics only; no decision reads the clock
	defer func() { p.timing.reviews++; p.timing.reviewTime += time.Since(start) }()
	closeAt := d.Close()
	p.reviewGen++
	p.refigured = true
	var row reviewRow
	if p.changed || !p.reviewed {
		row = p.rankAll(closeAt, closeSeq, closeID)
	} else {
		row = p.lastRow
	}
	row.day, row.closeSeq, row.closeID = d, closeSeq, closeID
	p.decideLoyalty(d, closeAt, closeSeq, closeID)
	for _, s := range p.touched {
		p.hot[s].touched = false
		p.touchedBits[s/64] = 0
	}
	p.touched = p.touched[:0]
	p.out.reviews = append(p.out.reviews, row)
	p.lastRow, p.reviewed, p.lastReview, p.changed = row, true, d, false
	p.advance()
}

func lessRev(hs []hot) func(a, b int32) int {
	return func(a, b int32) int {
		x, y := &hs[a], &hs[b]
		if x.rev.revenue != y.rev.revenue {
			if x.rev.revenue > y.rev.revenue {
				return -1
			}
			return 1
		}
		return strings.Compare(x.id, y.id)
	}
}

func lessAvg(hs []hot) func(a, b int32) int {
	return func(a, b int32) int {
		x, y := &hs[a], &hs[b]
		if x.avg != y.avg {
			if x.avg > y.avg {
				return -1
			}
			return 1
		}
		return strings.Compare(x.id, y.id)
	}
}

// ranking is ranked slots in order, each with its sort key (revenue, or
// average order value) beside it: a review's passes read the keys in order,
// where reading them from each account's slot went all over memory.
type ranking struct {
	slots []int32
	keys  []int64
}

func revKey(h *hot) int64 { return h.rev.revenue }
func avgKey(h *hot) int64 { return h.avg }

// eachGroup calls set for every slot with the count of ranked slots whose
// key is strictly smaller (ties share the count, and follow their group).
func (r ranking) eachGroup(set func(s, less int32)) {
	n := len(r.slots)
	for i := 0; i < n; {
		j := i
		for j < n && r.keys[j] == r.keys[i] {
			j++
		}
		for _, s := range r.slots[i:j] {
			set(s, int32(n-j))
		}
		i = j
	}
}

// merge keeps old's untouched slots and merges in the fresh ones, sorted the
// same way (keys descending, ties by id), into dst's storage.
func merge(dst, old, fresh ranking, touched []uint64, hs []hot) ranking {
	dst.slots, dst.keys = dst.slots[:0], dst.keys[:0]
	i := 0
	for j, s := range old.slots {
		if touched[s/64]&(1<<(s%64)) != 0 {
			continue
		}
		k := old.keys[j]
		for i < len(fresh.slots) && (fresh.keys[i] > k || fresh.keys[i] == k && hs[fresh.slots[i]].id < hs[s].id) {
			dst.slots, dst.keys = append(dst.slots, fresh.slots[i]), append(dst.keys, fresh.keys[i])
			i++
		}
		dst.slots, dst.keys = append(dst.slots, s), append(dst.keys, k)
	}
	dst.slots, dst.keys = append(dst.slots, fresh.slots[i:]...), append(dst.keys, fresh.keys[i:]...)
	return dst
}

// sortRanking sorts r's slots by cmp and fills in their keys (in r's
// storage for them, when it has one).
func sortRanking(r ranking, hs []hot, cmp func(a, b int32) int, key func(*hot) int64) ranking {
	slices.SortFunc(r.slots, cmp)
	r.keys = r.keys[:0]
	for _, s := range r.slots {
		r.keys = append(r.keys, key(&hs[s]))
	}
	return r
}

func (p *Projector) rankAll(closeAt time.Time, closeSeq uint64, closeID string) reviewRow {
	hs := p.hot
	// Take in the touched accounts' figures.
	fresh := p.scratch.fresh
	fresh.slots = fresh.slots[:0]
	for _, s := range p.touched {
		h := &hs[s]
		h.rev, h.prior, h.rSvc, h.rPart = h.live, h.livePrior, h.svc, h.part
		h.avg = h.rev.revenue
		if h.rev.orders > 0 {
			h.avg = h.rev.revenue / h.rev.orders
		}
		if h.rev.revenue > 0 {
			fresh.slots = append(fresh.slots, s)
		}
	}
	fresh = sortRanking(fresh, hs, lessRev(hs), revKey)
	p.byRev, p.scratch.spare = merge(p.scratch.spare, p.byRev, fresh, p.touchedBits, hs), p.byRev
	fresh = sortRanking(fresh, hs, lessAvg(hs), avgKey)
	p.byAvg, p.scratch.spare = merge(p.scratch.spare, p.byAvg, fresh, p.touchedBits, hs), p.byAvg
	p.scratch.fresh = fresh

	n := len(p.byRev.slots)
	var total int64
	for _, v := range p.byRev.keys {
		total += v
	}
	row := reviewRow{accounts: int64(len(p.list)), ranked: int64(n), total: total}
	// The concentration percentile first (ties share the count of strictly
	// smaller values), since the key flag, decided in the pass by revenue,
	// needs it.
	p.byAvg.eachGroup(func(s, less int32) { hs[s].concLess = less })
	prefix := append(p.scratch.prefix[:0], 0)
	cutA, cutB := p.pol.Tiering.CutA, p.pol.Tiering.CutB
	// Tiers, the volume percentile and the key flag of each ranked account,
	// in one pass.
	var before int64
	keys := p.byRev.keys
	for i := 0; i < n; {
		j := i
		for j < n && keys[j] == keys[i] {
			j++
		}
		for k := i; k < j; k++ {
			h := &hs[p.byRev.slots[k]]
			h.volLess = int32(n - j)
			h.ranked = true
			tier := TierFor(before, total, cutA, cutB)
			if tier != h.tier {
				p.tierChange(h, tier, rankEntry{before: before, rank: k + 1}, n, total, closeAt, closeSeq, closeID)
			}
			// Key accounts: a score decides only in tier A; elsewhere the
			// flag is false.
			p.decideKey(h, n, closeAt, closeSeq, closeID)
			row.tierRevenue[tierIndex(tier)] += keys[k]
			before += keys[k]
			prefix = append(prefix, before)
		}
		i = j
	}
	// Accounts that left the ranking, and new ones without revenue, are C.
	for _, s := range p.touched {
		h := &hs[s]
		if h.rev.revenue > 0 {
			continue
		}
		h.ranked, h.volLess, h.concLess = false, 0, 0
		if h.tier != TierC {
			p.tierChange(h, TierC, rankEntry{}, n, total, closeAt, closeSeq, closeID)
		}
		p.decideKey(h, n, closeAt, closeSeq, closeID)
	}
	for i := range hs {
		h := &hs[i]
		row.tierAccounts[tierIndex(h.tier)]++
		if h.key {
			row.keyAccounts++
		}
	}
	if n > 0 {
		row.top20 = prefix[(n+4)/5]
	}
	row.pareto = paretoJSON(prefix, total)
	p.scratch.prefix = prefix
	return row
}

// paretoJSON is the Pareto curve at 1% steps of accounts: the share of
// revenue held by the top ceil(k% of n) accounts, rounded to 4 decimals.
func paretoJSON(prefix []int64, total int64) string {
	n := len(prefix) - 1
	if n == 0 || total <= 0 {
		return "[]"
	}
	b := make([]byte, 0, 1600)
	b = append(b, '[')
	for k := 1; k <= 100; k++ {
		m := (k*n + 99) / 100
		if k > 1 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = strconv.AppendFloat(b, float64(k)/100, 'f', 2, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, float64(prefix[m])/float64(total), 'f', 4, 64)
		b = append(b, ']')
	}
	return string(append(b, ']'))
}

// scoreInput is what an account's score is made of as of its last review.
func (p *Projector) scoreInput(h *hot, ranked int) ScoreInput {
	return ScoreInput{Ranked: ranked, IsRanked: h.ranked, VolumeLess: int(h.volLess), ConcentrationLess: int(h.concLess),
		Revenue: h.rev.revenue, Discounted: h.rev.discounted, ServiceRequirement: h.rSvc, Partnership: h.rPart}
}

func (p *Projector) tierChange(h *hot, tier string, e rankEntry, ranked int, total int64, closeAt time.Time, closeSeq uint64, closeID string) {
	a := h.acct
	p.out.tiers = append(p.out.tiers, tierRow{
		account: a.id, effective: closeAt, from: h.tier, to: tier, revenue: h.rev.revenue, rank: e.rank,
		ranked: ranked, before: e.before, total: total, closeSeq: closeSeq, closeID: closeID, moved: a.movers.Tier.take(),
	})
	h.tier, a.tierSince = tier, closeAt
	p.markDirty(a)
	p.decided(h, closeAt)
}

// decideKey decides one account's key flag; only tier-A accounts need a score.
func (p *Projector) decideKey(h *hot, ranked int, closeAt time.Time, closeSeq uint64, closeID string) {
	if h.tier != TierA {
		if h.keyDecided && !h.key {
			return
		}
		p.keyChange(h, false, ranked, closeAt, closeSeq, closeID)
		return
	}
	key := IsKeyAccount(h.tier, KeyScoreBP(p.scoreInput(h, ranked), p.pol), p.pol)
	if !h.keyDecided || key != h.key {
		p.keyChange(h, key, ranked, closeAt, closeSeq, closeID)
	}
}

func (p *Projector) keyChange(h *hot, key bool, ranked int, closeAt time.Time, closeSeq uint64, closeID string) {
	a := h.acct
	in := p.scoreInput(h, ranked)
	p.out.keys = append(p.out.keys, keyRow{account: a.id, effective: closeAt, decided: h.keyDecided, from: h.key, to: key,
		tier: h.tier, score: KeyScoreBP(in, p.pol), parts: in.Parts(), revenue: h.rev.revenue, orders: h.rev.orders,
		discounted: h.rev.discounted, serviceReq: a.serviceReqOrStandard(), partnership: a.partnershipOrNone(),
		closeSeq: closeSeq, closeID: closeID, moved: a.movers.Key.take()})
	h.key, h.keyDecided, a.keySince = key, true, closeAt
	p.markDirty(a)
	p.decided(h, closeAt)
}

// decided records the account's tier and key flag from closeAt on, for the
// service levels of items opened later (or late).
func (p *Projector) decided(h *hot, closeAt time.Time) {
	a := h.acct
	if n := len(a.decisions); n > 0 && a.decisions[n-1].effective.Equal(closeAt) {
		a.decisions[n-1].tier, a.decisions[n-1].key = h.tier, h.key
		return
	}
	a.decisions = append(a.decisions, decision{effective: closeAt, tier: h.tier, key: h.key})
}

// decideLoyalty decides loyalty at the close of day d for the accounts whose
// inputs changed and those whose time-bound rule expires at this close (on
// the first review after a start: all).
func (p *Projector) decideLoyalty(d Day, closeAt time.Time, closeSeq uint64, closeID string) {
	if p.loyaltyAll {
		p.loyaltyAll = false
		for _, a := range p.list {
			p.loyaltyOf(a, closeAt, closeSeq, closeID)
		}
		delete(p.triggers, d)
		return
	}
	for _, s := range p.touched {
		p.loyaltyOf(p.hot[s].acct, closeAt, closeSeq, closeID)
	}
	for _, a := range p.triggers[d] {
		p.loyaltyOf(a, closeAt, closeSeq, closeID)
	}
	delete(p.triggers, d)
}

func (p *Projector) loyaltyOf(a *account, closeAt time.Time, closeSeq uint64, closeID string) {
	if a.firstOrder.IsZero() || a.loyaltyGen == p.reviewGen {
		return
	}
	a.loyaltyGen = p.reviewGen
	h := &p.hot[a.slot]
	in := LoyaltyInput{
		Close: closeAt, FirstOrder: a.firstOrder, LastCompetitorPurchase: a.lastCompetitor,
		WindowOrders: h.live.orders, WindowRevenue: h.live.revenue, WindowDiscounted: h.live.discounted,
		WindowNewProductOrders: h.live.newProduct, PriorOrders: h.livePrior,
	}
	status, rule, early := Loyalty(in, p.pol)
	if a.loyaltyDecided && status == a.loyalty && early == a.earlyAdopter {
		return
	}
	p.out.loyalty = append(p.out.loyalty, loyaltyRow{
		account: a.id, effective: closeAt, decided: a.loyaltyDecided, from: a.loyalty, to: status,
		fromEarly: a.earlyAdopter, toEarly: early, reason: LoyaltyReason(in, p.pol, rule), in: in,
		closeSeq: closeSeq, closeID: closeID, moved: a.movers.Loyalty.take(),
	})
	if status != a.loyalty || !a.loyaltyDecided {
		a.loyaltySince = closeAt
	}
	a.loyalty, a.earlyAdopter, a.loyaltyDecided = status, early, true
	p.markDirty(a)
}

// scheduleLoyalty notes the closes at which the account's time-bound
// loyalty rules stop holding: "new" ends new_days after the first order,
// a competitor purchase counts for competitor_days. Everything else the
// rule reads changes only through the account's figures, which touch it.
func (p *Projector) scheduleLoyalty(a *account) {
	at := func(d Day) {
		if d >= p.next {
			p.triggers[d] = append(p.triggers[d], a)
		}
	}
	if !a.firstOrder.IsZero() {
		// The first close at or after first order + new_days.
		t := a.firstOrder.Add(time.Duration(p.pol.Loyalty.NewDays) * dayLen)
		at(DayOf(t.Add(-time.Nanosecond)))
	}
	if !a.lastCompetitor.IsZero() {
		// The first close after last competitor purchase + competitor_days.
		t := a.lastCompetitor.Add(time.Duration(p.pol.Loyalty.CompetitorDays) * dayLen)
		at(DayOf(t))
	}
}

// facts computes the review-dependent figures of an account's row as of the
// last review.
func (p *Projector) facts(a *account, rank int) reviewFacts {
	h := &p.hot[a.slot]
	if h.tier == "" {
		return reviewFacts{}
	}
	in := p.scoreInput(h, len(p.byRev.slots))
	return reviewFacts{rank: rank, score: KeyScoreBP(in, p.pol), parts: in.Parts(), rev: h.rev, prior: h.prior, scored: true}
}

// advance moves the windows from the review of day next to that of next+1:
// the oldest prior day drops out, the oldest window day becomes a prior day.
func (p *Projector) advance() {
	n := p.next
	ps, ws := p.priorStart(n), p.windowStart(n)
	for _, a := range p.byDay[ps] {
		h := &p.hot[a.slot]
		if b := a.findBucket(ps); b != nil && b.orders != 0 {
			h.livePrior -= b.orders
			p.touch(h)
		}
		a.dropBucketsBefore(ps + 1)
	}
	delete(p.byDay, ps)
	for _, a := range p.byDay[ws] {
		h := &p.hot[a.slot]
		if b := a.findBucket(ws); b != nil {
			h.live.revenue -= b.revenue
			h.live.discounted -= b.discounted
			h.live.orders -= b.orders
			h.live.newProduct -= b.newProduct
			h.livePrior += b.orders
			p.touch(h)
		}
	}
	p.next = n + 1
}
