package projections

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// idDigest is the ledger's key of an event id: the first 16 bytes of its
// SHA-256, so that ids chosen by clients cannot be made to collide.
type idDigest [16]byte

func digestID(id string) idDigest {
	sum := sha256.Sum256([]byte(id))
	var d idDigest
	copy(d[:], sum[:16])
	return d
}

// Projector folds the event stream into one read model. It is not safe for
// concurrent use, except Status and WaitApplied, which any goroutine may call.
type Projector struct {
	db     *DB
	pol    *Policy
	stream string
	log    *slog.Logger
	rules  int // the RulesVersion that built the model

	// The model.
	chains   map[string]*chain // by subject token
	accounts map[string]*account
	list     []*account // in order of first appearance
	// dirty: the accounts whose own events or decisions changed since their
	// row was written; refigured: a review ran since the rows were written,
	// which moves the figures of nearly every account (see writeAccounts).
	dirty      []*account
	refigured  bool
	byDay      map[Day][]*account
	items      map[itemKey]*slaItem
	contacts   map[contactKey]*contact
	ids        map[idDigest]uint64
	lastIDs    []idEntry // the ledger's entries of the greatest sequences, as loaded (checkedIDs of them)
	appliedSeq uint64
	watermark  time.Time
	started    bool // a first event fixed next
	next       Day  // the day whose close is the next review
	reviewed   bool // a review ran
	lastReview Day
	lastRow    reviewRow // the last review's figures
	applied    int64     // events applied
	rejected   int64
	// amountTotal is the sum of the amounts of all orders and returns applied.
	amountTotal int64
	changed     bool // since the last review, something the ranking depends on changed

	// What the current batch wrote, flushed in one transaction.
	out batchOut
	// deferRows holds back the rows each account has one of (accounts,
	// account_movers, chains) until it is cleared: see
	// RunOptions.DeferAccountRows.
	deferRows bool

	// The review's inputs, one slot per account (see review.go).
	hot     []hot
	byRev   ranking // ranked slots by revenue, as of the last review
	byAvg   ranking // ranked slots by average order value
	touched []int32 // slots whose inputs changed since the last review
	// touchedBits marks the touched slots, for the merges: a bit per slot
	// stays in cache where each slot's own flag is a miss.
	touchedBits []uint64
	// triggers: accounts whose time-bound loyalty rule expires at a day's close.
	triggers   map[Day][]*account
	loyaltyAll bool  // decide every account's loyalty at the next review
	reviewGen  int64 // counts reviews, to decide an account's loyalty once per review
	scratch    struct {
		fresh, spare ranking
		prefix       []int64
		rank         []int32
	}
	// timing is for metrics; nothing the model holds depends on it.
	timing struct {
		batchStart  time.Time
		batchEvents int
		lastBatch   time.Duration
		reviews     int64
		reviewTime  time.Duration
		// Set by the writer, read with the status by the applier.
		commits, commitNanos atomic.Int64
	}

	mu       sync.Mutex // guards status and waiters
	status   Status
	progress chan struct{} // closed and replaced on every commit
}

// Status is the projector's part of /v1/status.
type Status struct {
	AppliedSeq uint64 `json:"applied_seq"`
	Watermark  string `json:"watermark,omitempty"`
	Policy     string `json:"policy"`
	Rules      int    `json:"rules"` // the RulesVersion that built the model
	Rejected   int64  `json:"rejected"`
	Applied    int64  `json:"events_applied"`
	LastReview string `json:"last_review,omitempty"`
	// For metrics: the last batch's size and time from its first message
	// to its commit, and the reviews run since start with their total time.
	BatchEvents   int     `json:"batch_events"`
	BatchSeconds  float64 `json:"batch_seconds"`
	Reviews       int64   `json:"reviews"`
	ReviewSeconds float64 `json:"review_seconds"`
	// The transactions committed since start and their total time.
	Commits       int64   `json:"commits"`
	CommitSeconds float64 `json:"commit_seconds"`
}

// ErrPolicyMismatch is returned by Open when the read model was built under
// another policy.
var ErrPolicyMismatch = errors.New("policy mismatch")

// RulesVersion numbers the rules this build of kam applies. It goes up by
// one with each change that makes the same stream under the same policy give
// another read model, so that a model built by other rules, which would no
// longer equal its own rebuild, is not continued unawares (ErrRulesChanged).
//
//	1: the first rules (every model from before the number was kept).
//	2: the key score weighs the exact parts and is rounded down once; a
//	   request resolved without a response has its resolution as
//	   responded_at; the loyalty reason of an account without window
//	   revenue says so; every visit is kept (the visits table); events
//	   before 1970, with a dataversion of 0, a negative zero amount or
//	   invalid UTF-8 in an identifier are set aside.
//	3: account_days keeps the late events of a day in rows of their own
//	   (known_from: the first review that counted them), so that figures
//	   as of a past moment leave out what arrived after its reviews.
//	4: a free order (amount 0) is not among the events that moved an
//	   account's tier (it moves no revenue); key and loyalty still list it.
//	   A message set aside because it does not decode keeps the id and
//	   type it names in rejected_events. Times with a comma before the
//	   fraction or an offset of 24 hours or more (beyond RFC 3339, which
//	   Go's parser took) are set aside, as is year 1 (taken for no time).
//	   The hash chains hash each message with its sequence and subject,
//	   and the clock ticks have a chain (kam.clock.tick) of their own.
//	5: a message on an account's subject without a type (kam.acct.<token>,
//	   which no event is on, but which the stream takes) is a link of that
//	   account's chain; under 4 it was in none.
const RulesVersion = 5

// ErrRulesChanged is returned by Open when the read model was built by
// another version of kam's rules.
var ErrRulesChanged = errors.New("rules changed")

// Open loads the projector's state from db (a fresh file starts empty). A
// read model built under another policy is refused with ErrPolicyMismatch:
// kam never silently continues it under a new one; one built by other rules
// (RulesVersion) is refused with ErrRulesChanged.
func Open(ctx context.Context, db *DB, pol *Policy, stream string, log *slog.Logger) (*Projector, error) {
	return open(ctx, db, pol, stream, log, false)
}

// open is Open; with oldRules, a model built by other rules is continued
// (by these rules, and still marked as built by its own), to be served while
// a rebuild replaces it.
func open(ctx context.Context, db *DB, pol *Policy, stream string, log *slog.Logger, oldRules bool) (*Projector, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Projector{
		db: db, pol: pol, stream: stream, log: log,
		accounts: map[string]*account{},
		byDay:    map[Day][]*account{},
		items:    map[itemKey]*slaItem{},
		contacts: map[contactKey]*contact{},
		ids:      map[idDigest]uint64{},
		triggers: map[Day][]*account{},
		chains:   map[string]*chain{},
		progress: make(chan struct{}),
	}
	p.out.reset()
	start := time.Now()
	if err := p.load(ctx, oldRules); err != nil {
		return nil, err
	}
	p.publishStatus()
	log.Info("read model loaded", "path", db.Path, "applied_seq", p.appliedSeq, "accounts", len(p.list),
		"policy", pol.ShortVersion(), "took", time.Since(start).Round(time.Millisecond))
	return p, nil
}

// AppliedSeq is the last stream sequence applied (or set aside).
func (p *Projector) AppliedSeq() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status.AppliedSeq
}

// Status returns the projector's status as of its last commit.
func (p *Projector) Status() Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// WaitApplied blocks until sequence seq is applied or ctx ends.
func (p *Projector) WaitApplied(ctx context.Context, seq uint64) error {
	for {
		p.mu.Lock()
		done, ch := p.status.AppliedSeq >= seq, p.progress
		p.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// publishStatus publishes the model's status as it is now.
func (p *Projector) publishStatus() { p.publish(p.statusNow()) }

// statusNow is the model's status as it is now.
func (p *Projector) statusNow() Status {
	st := Status{
		AppliedSeq: p.appliedSeq, Policy: p.pol.Version(), Rules: p.rules, Rejected: p.rejected, Applied: p.applied,
		BatchEvents: p.timing.batchEvents, BatchSeconds: p.timing.lastBatch.Seconds(),
		Reviews: p.timing.reviews, ReviewSeconds: p.timing.reviewTime.Seconds(),
		Commits: p.timing.commits.Load(), CommitSeconds: time.Duration(p.timing.commitNanos.Load()).Seconds(),
	}
	if !p.watermark.IsZero() {
		st.Watermark = FormatTime(p.watermark)
	}
	if p.reviewed {
		st.LastReview = p.lastReview.String()
	}
	return st
}

// publish makes st the status readers see and wakes the waiters.
func (p *Projector) publish(st Status) {
	p.mu.Lock()
	p.status = st
	close(p.progress)
	p.progress = make(chan struct{})
	p.mu.Unlock()
}

// load rebuilds the in-memory model from the tables.
func (p *Projector) load(ctx context.Context, oldRules bool) error {
	p.refigured = true // the first write compares every account's figures with its row
	r := p.db.writer
	var (
		stream, policy              string
		watermark, next, lastReview sql.NullString
		rules                       int
	)
	err := r.QueryRowContext(ctx, `SELECT stream, applied_seq, watermark, next_review_day, last_review_day, policy, events_applied, rejected,
		amount_total, rules FROM projector_state WHERE id = 1`).Scan(&stream, &p.appliedSeq, &watermark, &next, &lastReview, &policy,
		&p.applied, &p.rejected, &p.amountTotal, &rules)
	if errors.Is(err, sql.ErrNoRows) {
		// A fresh read model: pin the policy and stream at once, so that
		// even an empty model is never continued under another policy.
		p.rules = RulesVersion
		return p.flush(ctx)
	}
	if err != nil {
		return fmt.Errorf("read projector state: %w", err)
	}
	if policy != p.pol.Version() {
		return fmt.Errorf("%w: %s was built under policy %s, kam runs policy %s; build a new read model under this policy "+
			"(kam replay --into NEW.db --policy FILE, or kam serve --rebuild) or start kam with the policy the file was built under",
			ErrPolicyMismatch, p.db.Path, policy[:12], p.pol.ShortVersion())
	}
	if stream != p.stream {
		return fmt.Errorf("%s was built from stream %s, not %s", p.db.Path, stream, p.stream)
	}
	p.rules = rules
	if rules != RulesVersion {
		if !oldRules {
			return fmt.Errorf("%w: %s was built by version %d of kam's rules, this kam applies version %d, under which the "+
				"same stream gives another read model; rebuild it from the stream (kam serve --rebuild, which serves this one meanwhile, "+
				"or kam replay --into NEW.db)", ErrRulesChanged, p.db.Path, rules, RulesVersion)
		}
		p.log.Warn("continuing a read model built by other rules until a rebuild replaces it", "path", p.db.Path,
			"rules", rules, "kam_rules", RulesVersion)
	}
	if p.watermark, err = parseTS(watermark); err != nil {
		return err
	}
	if next.Valid {
		p.started = true
		if p.next, err = ParseDay(next.String); err != nil {
			return err
		}
	}
	if lastReview.Valid {
		p.reviewed = true
		if p.lastReview, err = ParseDay(lastReview.String); err != nil {
			return err
		}
		if err := p.loadLastReview(ctx); err != nil {
			return err
		}
	}
	for _, step := range []func(context.Context) error{p.loadAccounts, p.loadBuckets, p.loadDecisions, p.loadItems, p.loadContacts, p.loadIDs, p.loadChains} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	p.loadRanking()
	return nil
}

// loadRanking rebuilds the last review's rankings from the figures the
// accounts table holds, then marks every account as changed: the next
// review ranks afresh, which gives what an uninterrupted run's incremental
// review gives, and decides every account's loyalty.
func (p *Projector) loadRanking() {
	hs := p.hot
	var slots []int32
	for i := range hs {
		if hs[i].tier != "" && hs[i].rev.revenue > 0 {
			slots = append(slots, int32(i))
			hs[i].ranked = true
		}
	}
	p.byRev = sortRanking(ranking{slots: slots}, hs, lessRev(hs), revKey)
	p.byAvg = sortRanking(ranking{slots: slices.Clone(slots)}, hs, lessAvg(hs), avgKey)
	p.byRev.eachGroup(func(s, less int32) { hs[s].volLess = less })
	p.byAvg.eachGroup(func(s, less int32) { hs[s].concLess = less })
	for i := range hs {
		p.touch(&hs[i])
		p.scheduleLoyalty(hs[i].acct)
	}
	p.loyaltyAll = true
}

func (p *Projector) loadLastReview(ctx context.Context) error {
	row := &p.lastRow
	return p.db.writer.QueryRowContext(ctx, `SELECT accounts, ranked, total_revenue, a_accounts, a_revenue, b_accounts, b_revenue,
		c_accounts, c_revenue, key_accounts, top20_revenue, pareto FROM reviews WHERE day = ?`, p.lastReview.String()).Scan(
		&row.accounts, &row.ranked, &row.total, &row.tierAccounts[0], &row.tierRevenue[0], &row.tierAccounts[1], &row.tierRevenue[1],
		&row.tierAccounts[2], &row.tierRevenue[2], &row.keyAccounts, &row.top20, &row.pareto)
}

func (p *Projector) loadAccounts(ctx context.Context) error {
	rows, err := p.db.writer.QueryContext(ctx, `SELECT account, name, industry, region, manager, partnership, service_requirement,
		registered_at, first_seen_at, first_seq, last_seq, events, first_order_at, last_order_at, orders_total, returns_total,
		revenue_total, last_competitor_purchase_at, revenue_window, orders_window, discounted_window, new_product_orders_window,
		prior_orders, tier, tier_since, tier_rank, key_account, key_since, key_score, score_volume, score_concentration,
		score_service_requirement, score_price_insensitivity, score_partnership, loyalty, loyalty_since, early_adopter,
		coalesce(m.movers, '')
		FROM accounts LEFT JOIN account_movers m USING (account) ORDER BY first_seq, account`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		a := &account{}
		var (
			name, industry, region, manager                          sql.NullString
			registered, firstSeen, firstOrder, lastOrder, competitor sql.NullString
			tier, tierSince, keySince, loyalty, loyaltySince         sql.NullString
			rank, score, sv, sc, ss, sp, spa                         sql.NullInt64
			key, early                                               bool
			movers                                                   string
			reviewed                                                 sums
			reviewedPrior                                            int64
		)
		if err := rows.Scan(&a.id, &name, &industry, &region, &manager, &a.partnership, &a.serviceReq,
			&registered, &firstSeen, &a.firstSeq, &a.lastSeq, &a.events, &firstOrder, &lastOrder, &a.ordersTotal, &a.returnsTotal,
			&a.revenueTotal, &competitor, &reviewed.revenue, &reviewed.orders, &reviewed.discounted, &reviewed.newProduct,
			&reviewedPrior, &tier, &tierSince, &rank, &key, &keySince, &score, &sv, &sc, &ss, &sp, &spa, &loyalty, &loyaltySince, &early,
			&movers); err != nil {
			return fmt.Errorf("load accounts: %w", err)
		}
		a.name, a.industry, a.region, a.manager = nullStr(name), nullStr(industry), nullStr(region), nullStr(manager)
		for _, f := range []struct {
			dst *time.Time
			src sql.NullString
		}{{&a.registeredAt, registered}, {&a.firstSeen, firstSeen}, {&a.firstOrder, firstOrder}, {&a.lastOrder, lastOrder},
			{&a.lastCompetitor, competitor}, {&a.tierSince, tierSince}, {&a.keySince, keySince}, {&a.loyaltySince, loyaltySince}} {
			if *f.dst, err = parseTS(f.src); err != nil {
				return err
			}
		}
		a.loyalty = loyalty.String
		a.loyaltyDecided = loyalty.Valid
		a.earlyAdopter = early
		if movers != "" {
			if err := json.Unmarshal([]byte(movers), &a.movers); err != nil {
				return fmt.Errorf("account %s: movers: %w", a.id, err)
			}
		}
		for _, m := range []*mover{&a.movers.Tier, &a.movers.Key, &a.movers.Loyalty} {
			if m.IDs == nil {
				m.IDs, m.Seqs = []string{}, []uint64{}
			}
		}
		a.slot = int32(len(p.hot))
		h := hot{acct: a, id: a.id, rev: reviewed, prior: reviewedPrior, tier: tier.String, key: key, keyDecided: tier.Valid}
		h.svc = p.pol.KeyAccount.ServiceRequirementPoints[a.serviceReqOrStandard()]
		h.part = p.pol.KeyAccount.PartnershipPoints[a.partnershipOrNone()]
		h.rSvc, h.rPart = int(ss.Int64/100), int(spa.Int64/100)
		h.avg = h.rev.revenue
		if h.rev.orders > 0 {
			h.avg = h.rev.revenue / h.rev.orders
		}
		p.hot = append(p.hot, h)
		if score.Valid {
			a.written = reviewFacts{rank: int(rank.Int64), score: int(score.Int64), rev: reviewed, prior: reviewedPrior, scored: true,
				parts: ScoreParts{int(sv.Int64), int(sc.Int64), int(ss.Int64), int(sp.Int64), int(spa.Int64)}}
		}
		p.accounts[a.id] = a
		p.list = append(p.list, a)
	}
	return rows.Err()
}

// loadBuckets reads the days the next review's window and prior period
// cover, and sums them.
func (p *Projector) loadBuckets(ctx context.Context) error {
	if !p.started {
		return nil
	}
	from := p.oldestKept()
	rows, err := p.db.writer.QueryContext(ctx, `SELECT account, day, revenue, discounted, orders, returns, new_product_orders
		FROM account_days WHERE day >= ? ORDER BY account, day, known_from`, from.String())
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			acct, day string
			b         bucket
		)
		if err := rows.Scan(&acct, &day, &b.revenue, &b.discounted, &b.orders, &b.returns, &b.newProduct); err != nil {
			return err
		}
		if b.day, err = ParseDay(day); err != nil {
			return err
		}
		a := p.accounts[acct]
		if a == nil {
			return fmt.Errorf("account_days names account %q, which accounts does not hold", acct)
		}
		p.addToWindows(&p.hot[a.slot], b)
		// A day's late events have rows of their own; the windows sum the day.
		if n := len(a.buckets); n > 0 && a.buckets[n-1].day == b.day {
			a.buckets[n-1].add(b)
			continue
		}
		a.buckets = append(a.buckets, b)
		p.byDay[b.day] = append(p.byDay[b.day], a)
	}
	return rows.Err()
}

func (p *Projector) loadDecisions(ctx context.Context) error {
	// Tier and key changes happen at closes; merge them per account in time order.
	rows, err := p.db.writer.QueryContext(ctx, `
		SELECT account, effective, to_tier, NULL FROM tier_history
		UNION ALL
		SELECT account, effective, NULL, to_key FROM key_history
		ORDER BY 1, 2`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var (
			acct, eff string
			tier      sql.NullString
			key       sql.NullBool
		)
		if err := rows.Scan(&acct, &eff, &tier, &key); err != nil {
			return err
		}
		a := p.accounts[acct]
		if a == nil {
			return fmt.Errorf("history names account %q, which accounts does not hold", acct)
		}
		t, err := time.Parse(timeLayout, eff)
		if err != nil {
			return err
		}
		var d decision
		if n := len(a.decisions); n > 0 {
			d = a.decisions[n-1]
		}
		if n := len(a.decisions); n == 0 || !d.effective.Equal(t) {
			a.decisions = append(a.decisions, decision{effective: t, tier: d.tier, key: d.key})
		}
		last := &a.decisions[len(a.decisions)-1]
		if tier.Valid {
			last.tier = tier.String
		}
		if key.Valid {
			last.key = key.Bool
		}
	}
	return rows.Err()
}

func (p *Projector) loadItems(ctx context.Context) error {
	rows, err := p.db.writer.QueryContext(ctx, `SELECT account, kind, item_id, priority, opened_at, opened_seq, tier, key_account,
		target_column, response_due, resolution_due, responded_at, resolved_at, satisfied FROM sla_items`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		it := &slaItem{}
		var (
			priority, opened, tier, column, rDue, sDue, responded, resolved sql.NullString
			openedSeq                                                       sql.NullInt64
			key, satisfied                                                  sql.NullBool
		)
		if err := rows.Scan(&it.account, &it.kind, &it.id, &priority, &opened, &openedSeq, &tier, &key, &column,
			&rDue, &sDue, &responded, &resolved, &satisfied); err != nil {
			return err
		}
		it.priority, it.tier, it.column = priority.String, tier.String, column.String
		it.openedSeq, it.key = uint64(openedSeq.Int64), key.Bool
		if satisfied.Valid {
			it.satisfied = -1
			if satisfied.Bool {
				it.satisfied = 1
			}
		}
		for _, f := range []struct {
			dst *instant
			src sql.NullString
		}{{&it.openedAt, opened}, {&it.responseDue, rDue}, {&it.resolutionDue, sDue}, {&it.respondedAt, responded}, {&it.resolvedAt, resolved}} {
			t, err := parseTS(f.src)
			if err != nil {
				return err
			}
			*f.dst = instantOf(t)
		}
		p.items[itemKey{it.account, it.kind, it.id}] = it
	}
	return rows.Err()
}

func (p *Projector) loadContacts(ctx context.Context) error {
	rows, err := p.db.writer.QueryContext(ctx, `SELECT account, role, name, visits, first_visit_at, last_visit_at FROM contacts`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		c := &contact{}
		var first, last sql.NullString
		if err := rows.Scan(&c.account, &c.role, &c.name, &c.visits, &first, &last); err != nil {
			return err
		}
		if c.first, err = parseTS(first); err != nil {
			return err
		}
		if c.last, err = parseTS(last); err != nil {
			return err
		}
		p.contacts[contactKey{c.account, c.role, c.name}] = c
	}
	return rows.Err()
}

func (p *Projector) loadIDs(ctx context.Context) error {
	rows, err := p.db.writer.QueryContext(ctx, `SELECT entries FROM applied_ids`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			return err
		}
		if len(b)%24 != 0 {
			return fmt.Errorf("applied_ids: an entry block of %d bytes is not a multiple of 24", len(b))
		}
		for i := 0; i < len(b); i += 24 {
			var d idDigest
			copy(d[:], b[i:i+16])
			seq := binary.BigEndian.Uint64(b[i+16 : i+24])
			p.ids[d] = seq
			p.keepLastID(idEntry{d, seq})
		}
	}
	return rows.Err()
}

// checkedIDs is how many of the last applied events CheckStream compares:
// a clock.tick's id is its date, the same in any stream, so one is not
// enough; business events' ids are the upstream systems' own.
const checkedIDs = 8

// keepLastID keeps e among the checkedIDs entries of the greatest
// sequences, in descending order.
func (p *Projector) keepLastID(e idEntry) {
	if len(p.lastIDs) == checkedIDs && e.seq <= p.lastIDs[checkedIDs-1].seq {
		return
	}
	i, _ := slices.BinarySearchFunc(p.lastIDs, e, func(a, b idEntry) int { return cmp.Compare(b.seq, a.seq) })
	p.lastIDs = slices.Insert(p.lastIDs, i, e)
	if len(p.lastIDs) > checkedIDs {
		p.lastIDs = p.lastIDs[:checkedIDs]
	}
}

// ErrStreamMismatch is returned by CheckStream when the stream is not the
// one the read model was built from.
var ErrStreamMismatch = errors.New("the stream is not the one the read model was built from")

// CheckStream checks, at start, that the stream is the one the model was
// built from: it holds at least the sequences the model applied, and the
// last events the model applied (checkedIDs of them) are still the ones
// stored at their sequences. A
// stream deleted and created anew (or its store wiped) would otherwise be
// followed from the model's sequence on: new events answered 201 and never
// applied. lastSeq is the stream's last sequence; idAt returns the id of the
// event stored at a sequence (ok false when the message is gone, which a
// cut stream allows: nothing to compare then).
func (p *Projector) CheckStream(ctx context.Context, lastSeq uint64, idAt func(ctx context.Context, seq uint64) (id string, ok bool, err error)) error {
	const advice = "bring back the stream it was built from, or move the read model away (kam.db and the kam-<n>.db file it links to) " +
		"and start kam again, which builds a new one from this stream (on a cluster that lost nodes, first wait until the stream has a leader " +
		"again and start kam once more: replicas without one answer with their own, older state)"
	if p.appliedSeq > lastSeq {
		return fmt.Errorf("%w: the read model has applied up to sequence %d of stream %s, which ends at %d; %s",
			ErrStreamMismatch, p.appliedSeq, p.stream, lastSeq, advice)
	}
	if idAt == nil {
		return nil
	}
	for _, e := range p.lastIDs {
		id, ok, err := idAt(ctx, e.seq)
		if err != nil {
			return err
		}
		if ok && digestID(id) != e.digest {
			return fmt.Errorf("%w: the event stored at sequence %d of stream %s (id %q) is not the one the read model applied there; %s",
				ErrStreamMismatch, e.seq, p.stream, id, advice)
		}
	}
	return nil
}

func (p *Projector) loadChains(ctx context.Context) error {
	rows, err := p.db.writer.QueryContext(ctx, `SELECT token, account, length, head, last_seq FROM chains`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		c := &chain{}
		var head string
		if err := rows.Scan(&c.token, &c.account, &c.length, &head, &c.lastSeq); err != nil {
			return err
		}
		b, err := hex.DecodeString(head)
		if err != nil || len(b) != 32 {
			return fmt.Errorf("chains: account %q: bad head %q", c.account, head)
		}
		copy(c.head[:], b)
		p.chains[c.token] = c
	}
	return rows.Err()
}

func nullStr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	v := s.String
	return &v
}
