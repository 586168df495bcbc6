package projections

import (
	"cmp"
	"context"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/mattn/go-sqlite3"
)

// batchOut collects what a batch changed; flush writes it in one transaction
// with the checkpoint.
type batchOut struct {
	days     map[dayKey]*bucket
	items    map[itemKey]*slaItem
	contacts map[contactKey]*contact
	visits   []visitRow
	tiers    []tierRow
	keys     []keyRow
	loyalty  []loyaltyRow
	reviews  []reviewRow
	rejected []rejectedRow
	ids      []idEntry
	chains   []*chain // the chains the batch extended, each once (queued)
}

// dayKey is a row of account_days: an account's events of one business
// day that the review of day known first counted (known is later than day
// for events that arrived late).
type dayKey struct {
	account string
	day     Day
	known   Day
}

// visitRow is one visit to a contact.
type visitRow struct {
	account    string
	seq        uint64
	at         time.Time
	role, name string
}

type idEntry struct {
	digest idDigest
	seq    uint64
}

type tierRow struct {
	account       string
	effective     time.Time
	from, to      string
	revenue       int64
	rank, ranked  int
	before, total int64
	closeSeq      uint64
	closeID       string
	moved         mover
}

type keyRow struct {
	account                     string
	effective                   time.Time
	decided, from, to           bool
	tier                        string
	score                       int
	parts                       ScoreParts
	revenue, orders, discounted int64
	serviceReq, partnership     string
	closeSeq                    uint64
	closeID                     string
	moved                       mover
}

type loyaltyRow struct {
	account            string
	effective          time.Time
	decided            bool
	from, to           string
	fromEarly, toEarly bool
	reason             string
	in                 LoyaltyInput
	closeSeq           uint64
	closeID            string
	moved              mover
}

type rejectedRow struct {
	seq                                 uint64
	subject, eventID, eventType, reason string
	storedAt                            time.Time
}

// reset starts the next batch, its maps and lists sized as the last
// batch's were: a replay's batches are alike, and growing maps (these and
// the ledger's, see reserveIDs) took 0.4 s of CPU per million events.
func (o *batchOut) reset() {
	*o = batchOut{
		days:     make(map[dayKey]*bucket, len(o.days)),
		items:    make(map[itemKey]*slaItem, len(o.items)),
		contacts: make(map[contactKey]*contact, len(o.contacts)),
		visits:   make([]visitRow, 0, len(o.visits)),
		chains:   make([]*chain, 0, len(o.chains)),
		tiers:    make([]tierRow, 0, len(o.tiers)),
		keys:     make([]keyRow, 0, len(o.keys)),
		loyalty:  make([]loyaltyRow, 0, len(o.loyalty)),
		ids:      make([]idEntry, 0, len(o.ids)),
	}
}

// pending is one batch made ready to write: each table's rows as values,
// taken from the model when the batch ended, so that writing them needs
// nothing of the model and can run beside the next batch's applying.
type pending struct {
	sets    []*stmtRows
	status  Status   // published once the batch is committed
	touched []string // accounts whose rows the batch writes
}

// prepare takes the batch's rows out of the model and starts the next batch.
func (p *Projector) prepare() (*pending, error) {
	ws := &pending{}
	for _, step := range []func(*pending) error{
		p.writeAccounts, p.writeDays, p.writeItems, p.writeContacts, p.writeVisits, p.writeHistory,
		p.writeReviews, p.writeRejected, p.writeIDs, p.writeChains, p.writeState,
	} {
		if err := step(ws); err != nil {
			return nil, err
		}
	}
	chains := p.out.chains
	p.out.reset()
	if p.deferRows {
		p.out.chains = chains // still to write
	}
	if p.timing.batchEvents > 0 {
		p.timing.lastBatch = time.Since(p.timing.batchStart)
	}
	ws.status = p.statusNow()
	p.timing.batchEvents = 0
	return ws, nil
}

// write commits a prepared batch, its checkpoint included, in one
// transaction, then publishes its status.
func (p *Projector) write(ctx context.Context, ws *pending) error {
	start := time.Now()
	err := p.db.withRawTx(ctx, func(c *sqlite3.SQLiteConn) error {
		for _, m := range ws.sets {
			if err := m.exec(c); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("write batch up to sequence %d: %w", ws.status.AppliedSeq, err)
	}
	ws.status.Commits = p.timing.commits.Add(1)
	ws.status.CommitSeconds = time.Duration(p.timing.commitNanos.Add(int64(time.Since(start)))).Seconds()
	p.db.parts.invalidate(ws.status.AppliedSeq, ws.touched)
	p.publish(ws.status)
	return nil
}

// flush writes the batch and the checkpoint in one transaction. On error the
// in-memory model is ahead of the file: the caller must discard the
// projector and open a new one, which reloads from the file.
func (p *Projector) flush(ctx context.Context) error {
	ws, err := p.prepare()
	if err != nil {
		return err
	}
	return p.write(ctx, ws)
}

// newStatement starts rows written through one statement, each row bound
// to its placeholders in turn.
func newStatement(ws *pending, stmt string, cols int) *stmtRows {
	m := &stmtRows{sql: stmt, cols: cols}
	ws.sets = append(ws.sets, m)
	return m
}

// newInsert starts rows written through head (an INSERT up to VALUES), one
// row of placeholders, and tail (an ON CONFLICT clause, or "").
func newInsert(ws *pending, head, tail string, cols int) *stmtRows {
	row := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return newStatement(ws, head+row+" "+tail, cols)
}

// newUpsert starts a table's rows written as upserts: a row whose key exists
// is updated in place (INSERT OR REPLACE would delete and insert).
func newUpsert(ws *pending, table string, key []string, cols ...string) *stmtRows {
	keys := map[string]bool{}
	for _, k := range key {
		keys[k] = true
	}
	var set []string
	for _, c := range cols {
		if !keys[c] {
			set = append(set, c+" = excluded."+c)
		}
	}
	head := "INSERT INTO " + table + " (" + strings.Join(cols, ", ") + ") VALUES "
	tail := "ON CONFLICT (" + strings.Join(key, ", ") + ") DO UPDATE SET " + strings.Join(set, ", ")
	return newInsert(ws, head, tail, len(cols))
}

// stmtRows holds rows for one statement, run once per row.
type stmtRows struct {
	sql  string
	cols int
	// rows append their values: a row holds its typed values until the
	// writer binds them, so a prepared batch boxes nothing.
	rows []func(dst []any) []any
}

// add adds a row of values (for small tables).
func (m *stmtRows) add(vals ...any) error {
	if len(vals) != m.cols {
		return fmt.Errorf("%s: %d values for %d columns", m.name(), len(vals), m.cols)
	}
	m.rows = append(m.rows, func(dst []any) []any { return append(dst, vals...) })
	return nil
}

// addRow adds a row whose values row appends when it is written; row must
// read only what it captured.
func (m *stmtRows) addRow(row func(dst []any) []any) { m.rows = append(m.rows, row) }

// exec writes the rows through one prepared single-row statement: SQLite
// handles a multi-row VALUES list, upserts above all, more slowly than the
// same rows one by one (measured: 5.5 against 8.0 µs a row for 13 columns).
func (m *stmtRows) exec(c *sqlite3.SQLiteConn) error {
	if len(m.rows) == 0 {
		return nil
	}
	ds, err := c.Prepare(m.sql)
	if err != nil {
		return err
	}
	defer ds.Close()
	stmt := ds.(*sqlite3.SQLiteStmt)
	args := make([]any, 0, m.cols)
	named := make([]driver.NamedValue, m.cols)
	for i := range named {
		named[i].Ordinal = i + 1
	}
	for _, row := range m.rows {
		args = row(args[:0])
		if len(args) != m.cols {
			return fmt.Errorf("%s: %d values for %d columns", m.name(), len(args), m.cols)
		}
		for i, v := range args {
			if named[i].Value, err = driverValue(v); err != nil {
				return fmt.Errorf("%s: column %d: %w", m.name(), i+1, err)
			}
		}
		if err := run(stmt, named); err != nil {
			return err
		}
	}
	return nil
}

// run executes a statement that returns no rows. It goes through the
// driver's query path, which binds every value and takes the first step in
// one call into C, where Exec makes one call per value (a row of 18 columns:
// 2 calls instead of 20: 4.9 against 5.3 µs a row, BenchmarkWriteRows).
// Reading the empty result makes sure the statement ran.
func run(stmt *sqlite3.SQLiteStmt, args []driver.NamedValue) error {
	if execPerValue {
		_, err := stmt.ExecContext(context.Background(), args)
		return err
	}
	rows, err := stmt.QueryContext(context.Background(), args)
	if err != nil {
		return err
	}
	if err := rows.Next(nil); err != io.EOF {
		rows.Close()
		if err == nil {
			err = errors.New("the statement returned a row")
		}
		return err
	}
	return rows.Close()
}

// execPerValue makes run use Exec, for BenchmarkWriteRows' baseline.
var execPerValue = false

func (m *stmtRows) name() string { return strings.TrimSpace(m.sql[:min(40, len(m.sql))]) }

// driverValue is v as one of the types the driver binds: what database/sql
// would have converted it to.
func driverValue(v any) (any, error) {
	switch x := v.(type) {
	case nil, int64, string, []byte:
		return v, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case uint64:
		if x > math.MaxInt64 {
			return nil, fmt.Errorf("uint64 %d out of range", x)
		}
		return int64(x), nil
	case bool:
		return boolInt64(x), nil
	}
	return nil, fmt.Errorf("unsupported type %T", v)
}

func boolInt64(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func strOrNil(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func emptyNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// accountRow is an account's row as of the end of a batch.
type accountRow struct {
	id                                                string
	name, industry, region, manager                   *string
	partnership, serviceReq, tier, loyalty            string
	registeredAt, firstSeen, firstOrder, lastOrder    time.Time
	lastCompetitor, tierSince, keySince, loyaltySince time.Time
	firstSeq, lastSeq                                 uint64
	events, ordersTotal, returnsTotal, revenueTotal   int64
	facts                                             reviewFacts
	key, earlyAdopter                                 bool
}

// appendFacts appends the review's figures of an account's row, for the
// narrow update, then its id.
func appendFacts(dst []any, f reviewFacts, id string) []any {
	rk, score, sv, sc, ss, sp, spa := factValues(f)
	return append(dst, f.rev.revenue, f.rev.orders, f.rev.discounted, f.rev.newProduct, f.prior, rk, score, sv, sc, ss, sp, spa, id)
}

func factValues(f reviewFacts) (rk, score, sv, sc, ss, sp, spa any) {
	if f.rank > 0 {
		rk = f.rank
	}
	if f.scored {
		score, sv, sc, ss, sp, spa = f.score, f.parts.Volume, f.parts.Concentration, f.parts.ServiceRequirement,
			f.parts.PriceInsensitivity, f.parts.Partnership
	}
	return
}

func (r *accountRow) values(dst []any) []any {
	f := r.facts
	rk, score, sv, sc, ss, sp, spa := factValues(f)
	return append(dst, r.id, strOrNil(r.name), strOrNil(r.industry), strOrNil(r.region), strOrNil(r.manager),
		r.partnership, r.serviceReq, ts(r.registeredAt), ts(r.firstSeen), r.firstSeq, r.lastSeq,
		r.events, ts(r.firstOrder), ts(r.lastOrder), r.ordersTotal, r.returnsTotal, r.revenueTotal, ts(r.lastCompetitor),
		f.rev.revenue, f.rev.orders, f.rev.discounted, f.rev.newProduct, f.prior,
		emptyNil(r.tier), ts(r.tierSince), rk, boolInt(r.key), ts(r.keySince), score, sv, sc, ss, sp, spa,
		emptyNil(r.loyalty), ts(r.loyaltySince), boolInt(r.earlyAdopter))
}

// writeAccounts writes the rows of the accounts whose events or review
// figures changed since their row was last written.
func (p *Projector) writeAccounts(ws *pending) error {
	if p.deferRows {
		return nil // the dirty list and the movers keep what is to write
	}
	m := newUpsert(ws, "accounts", []string{"account"},
		"account", "name", "industry", "region", "manager", "partnership", "service_requirement", "registered_at",
		"first_seen_at", "first_seq", "last_seq", "events", "first_order_at", "last_order_at", "orders_total",
		"returns_total", "revenue_total", "last_competitor_purchase_at", "revenue_window", "orders_window",
		"discounted_window", "new_product_orders_window", "prior_orders", "tier", "tier_since", "tier_rank",
		"key_account", "key_since", "key_score", "score_volume", "score_concentration", "score_service_requirement",
		"score_price_insensitivity", "score_partnership", "loyalty", "loyalty_since", "early_adopter")
	// The movers change only with the account's own events and decisions:
	// their (larger) rows are written only then.
	mv := newUpsert(ws, "account_movers", []string{"account"}, "account", "movers")
	facts := newStatement(ws, `UPDATE accounts SET revenue_window = ?, orders_window = ?, discounted_window = ?,
		new_product_orders_window = ?, prior_orders = ?, tier_rank = ?, key_score = ?, score_volume = ?, score_concentration = ?,
		score_service_requirement = ?, score_price_insensitivity = ?, score_partnership = ? WHERE account = ?`, 13)
	// Without a review since the last write, no account's figures moved:
	// only the dirty accounts need a row (a live projector commits often,
	// and each of its commits went through every account).
	list, rank := p.dirty, []int32(nil)
	if p.refigured {
		list, rank = p.list, p.scratch.rank[:0]
		rank = append(rank, make([]int32, len(p.hot))...)
		for i, s := range p.byRev.slots {
			rank[s] = int32(i + 1)
		}
		p.scratch.rank = rank
	}
	for _, a := range list {
		f := a.written
		if rank != nil {
			f = p.facts(a, int(rank[a.slot]))
		}
		if !a.dirty && f == a.written {
			continue
		}
		if !a.dirty {
			// Only the review's figures moved (percentiles shift daily for
			// nearly every account): a narrow update, not the whole row.
			id := a.id
			facts.addRow(func(dst []any) []any { return appendFacts(dst, f, id) })
			a.written = f
			continue
		}
		h := &p.hot[a.slot]
		r := accountRow{
			id: a.id, name: a.name, industry: a.industry, region: a.region, manager: a.manager,
			partnership: a.partnershipOrNone(), serviceReq: a.serviceReqOrStandard(), registeredAt: a.registeredAt,
			firstSeen: a.firstSeen, firstSeq: a.firstSeq, lastSeq: a.lastSeq, events: a.events, firstOrder: a.firstOrder,
			lastOrder: a.lastOrder, ordersTotal: a.ordersTotal, returnsTotal: a.returnsTotal, revenueTotal: a.revenueTotal,
			lastCompetitor: a.lastCompetitor, facts: f, tier: h.tier, tierSince: a.tierSince, key: h.key, keySince: a.keySince,
			loyaltySince: a.loyaltySince, earlyAdopter: a.earlyAdopter,
		}
		ws.touched = append(ws.touched, a.id)
		if movers, changed := a.moversToStore(); changed {
			id := a.id
			mv.addRow(func(dst []any) []any { return append(dst, id, movers) })
		}
		if a.loyaltyDecided {
			r.loyalty = a.loyalty
		}
		m.addRow(r.values)
		a.dirty, a.written = false, f
	}
	clear(p.dirty)
	p.dirty, p.refigured = p.dirty[:0], false
	return nil
}

// markDirty notes that a's row must be written with the batch.
func (p *Projector) markDirty(a *account) {
	if !a.dirty {
		a.dirty = true
		p.dirty = append(p.dirty, a)
	}
}

func (p *Projector) writeDays(ws *pending) error {
	keys := make([]dayKey, 0, len(p.out.days))
	for k := range p.out.days {
		keys = append(keys, k)
	}
	// In key order: B-tree inserts in order are cheaper, and it is deterministic.
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].account != keys[j].account {
			return keys[i].account < keys[j].account
		}
		if keys[i].day != keys[j].day {
			return keys[i].day < keys[j].day
		}
		return keys[i].known < keys[j].known
	})
	m := newInsert(ws, `INSERT INTO account_days (account, day, known_from, revenue, discounted, orders, returns, new_product_orders) VALUES `,
		`ON CONFLICT (account, day, known_from) DO UPDATE SET revenue = revenue + excluded.revenue, discounted = discounted + excluded.discounted,
		orders = orders + excluded.orders, returns = returns + excluded.returns, new_product_orders = new_product_orders + excluded.new_product_orders`, 8)
	for _, k := range keys {
		b := *p.out.days[k]
		m.addRow(func(dst []any) []any {
			return append(dst, k.account, k.day.String(), k.known.String(), b.revenue, b.discounted, b.orders, b.returns, b.newProduct)
		})
	}
	return nil
}

// outcome is whether a step met its due time, and how long it took.
func outcome(opened, due, at time.Time) (met, seconds any) {
	if opened.IsZero() || at.IsZero() {
		return nil, nil
	}
	secs := int64(at.Sub(opened) / time.Second)
	if secs < 0 {
		secs = 0
	}
	return boolInt(!at.After(due)), secs
}

// responseAt is when a request got its first response: its first
// responded event, or its resolution if that came first. It is what
// sla_items.responded_at holds (read back on a restart as respondedAt:
// both are the earliest of the times seen, so a restart changes nothing).
func (it *slaItem) responseAt() instant {
	if it.kind != KindRequest {
		return 0
	}
	r := it.respondedAt
	if r.IsZero() || (!it.resolvedAt.IsZero() && it.resolvedAt < r) {
		r = it.resolvedAt
	}
	return r
}

func (p *Projector) writeItems(ws *pending) error {
	m := newUpsert(ws, "sla_items", []string{"account", "kind", "item_id"},
		"account", "kind", "item_id", "priority", "opened_at", "opened_seq", "tier", "key_account", "target_column",
		"response_due", "resolution_due", "responded_at", "resolved_at", "response_met", "resolution_met",
		"response_seconds", "resolution_seconds", "satisfied")
	for _, item := range p.out.items {
		it := *item // as of now
		m.addRow(func(dst []any) []any {
			var openedSeq, tier, key, col any
			if !it.openedAt.IsZero() {
				openedSeq, tier, key, col = it.openedSeq, it.tier, boolInt(it.key), it.column
			}
			opened := it.openedAt.Time()
			rMet, rSecs := outcome(opened, it.responseDue.Time(), it.responseAt().Time())
			sMet, sSecs := outcome(opened, it.resolutionDue.Time(), it.resolvedAt.Time())
			var sat any
			if it.satisfied != 0 {
				sat = boolInt(it.satisfied > 0)
			}
			return append(dst, it.account, it.kind, it.id, emptyNil(it.priority), ts(opened), openedSeq, tier, key, col,
				ts(it.responseDue.Time()), ts(it.resolutionDue.Time()), ts(it.responseAt().Time()), ts(it.resolvedAt.Time()),
				rMet, sMet, rSecs, sSecs, sat)
		})
	}
	return nil
}

func (p *Projector) writeContacts(ws *pending) error {
	m := newUpsert(ws, "contacts", []string{"account", "role", "name"},
		"account", "role", "name", "visits", "first_visit_at", "last_visit_at")
	for _, ct := range p.out.contacts {
		c := *ct
		m.addRow(func(dst []any) []any {
			return append(dst, c.account, c.role, c.name, c.visits, ts(c.first), ts(c.last))
		})
	}
	return nil
}

// writeVisits appends the batch's visits, by account (the table's key).
func (p *Projector) writeVisits(ws *pending) error {
	slices.SortFunc(p.out.visits, func(a, b visitRow) int {
		return cmp.Or(strings.Compare(a.account, b.account), cmp.Compare(a.seq, b.seq))
	})
	m := newInsert(ws, `INSERT INTO visits (account, seq, at, role, name) VALUES `, "", 5)
	for i := range p.out.visits {
		v := &p.out.visits[i]
		m.addRow(func(dst []any) []any { return append(dst, v.account, v.seq, ts(v.at), v.role, v.name) })
	}
	return nil
}

func (p *Projector) writeHistory(ws *pending) error {
	pol := p.pol
	inKeyOrder(p.out.tiers, func(r *tierRow) (time.Time, string) { return r.effective, r.account })
	inKeyOrder(p.out.keys, func(r *keyRow) (time.Time, string) { return r.effective, r.account })
	inKeyOrder(p.out.loyalty, func(r *loyaltyRow) (time.Time, string) { return r.effective, r.account })
	t := newInsert(ws, `INSERT INTO tier_history (account, effective, from_tier, to_tier, policy, revenue, rank, ranked,
		before_revenue, total_revenue, window_days, cut_a, cut_b, close_seq, close_event_id, moved_count, moved_ids, moved_seqs) VALUES `, "", 18)
	for i := range p.out.tiers {
		r := &p.out.tiers[i] // the closure keeps a pointer, not a copy of the row
		t.addRow(func(dst []any) []any {
			ids, seqs := movedJSON(r.moved)
			var rank any
			if r.rank > 0 {
				rank = r.rank
			}
			return append(dst, r.account, ts(r.effective), emptyNil(r.from), r.to, pol.Version(), r.revenue, rank, r.ranked, r.before,
				r.total, pol.Tiering.WindowDays, pol.Tiering.CutA, pol.Tiering.CutB, r.closeSeq, r.closeID, r.moved.Count, ids, seqs)
		})
	}
	k := newInsert(ws, `INSERT INTO key_history (account, effective, from_key, to_key, policy, tier, score, min_score,
		score_volume, score_concentration, score_service_requirement, score_price_insensitivity, score_partnership, revenue,
		orders, discounted, service_requirement, partnership, close_seq, close_event_id, moved_count, moved_ids, moved_seqs) VALUES `, "", 23)
	for i := range p.out.keys {
		r := &p.out.keys[i] // the closure keeps a pointer, not a copy of the row
		k.addRow(func(dst []any) []any {
			ids, seqs := movedJSON(r.moved)
			var from any
			if r.decided {
				from = boolInt(r.from)
			}
			return append(dst, r.account, ts(r.effective), from, boolInt(r.to), pol.Version(), r.tier, r.score, pol.KeyAccount.MinScore*100,
				r.parts.Volume, r.parts.Concentration, r.parts.ServiceRequirement, r.parts.PriceInsensitivity, r.parts.Partnership,
				r.revenue, r.orders, r.discounted, r.serviceReq, r.partnership, r.closeSeq, r.closeID, r.moved.Count, ids, seqs)
		})
	}
	l := newInsert(ws, `INSERT INTO loyalty_history (account, effective, from_loyalty, to_loyalty, from_early_adopter,
		to_early_adopter, policy, reason, orders_window, revenue_window, discounted_window, prior_orders, first_order_at,
		last_competitor_purchase_at, close_seq, close_event_id, moved_count, moved_ids, moved_seqs) VALUES `, "", 19)
	for i := range p.out.loyalty {
		r := &p.out.loyalty[i] // the closure keeps a pointer, not a copy of the row
		l.addRow(func(dst []any) []any {
			ids, seqs := movedJSON(r.moved)
			var from, fromEarly any
			if r.decided {
				from, fromEarly = emptyNil(r.from), boolInt(r.fromEarly)
			}
			return append(dst, r.account, ts(r.effective), from, r.to, fromEarly, boolInt(r.toEarly), pol.Version(), r.reason,
				r.in.WindowOrders, r.in.WindowRevenue, r.in.WindowDiscounted, r.in.PriorOrders, ts(r.in.FirstOrder),
				ts(r.in.LastCompetitorPurchase), r.closeSeq, r.closeID, r.moved.Count, ids, seqs)
		})
	}
	return nil
}

// inKeyOrder sorts history rows by the history tables' key (effective,
// account), so that they go at the tables' end. It compares the rows where
// they lie: a comparison of copies, as slices.SortFunc's is, moved two rows
// of some 300 bytes to the heap for every comparison (2 GB of garbage in a
// replay of a million events).
func inKeyOrder[R any](rows []R, key func(*R) (time.Time, string)) {
	sort.Sort(keyOrder[R]{rows, key})
}

type keyOrder[R any] struct {
	rows []R
	key  func(*R) (time.Time, string)
}

func (o keyOrder[R]) Len() int      { return len(o.rows) }
func (o keyOrder[R]) Swap(i, j int) { o.rows[i], o.rows[j] = o.rows[j], o.rows[i] }
func (o keyOrder[R]) Less(i, j int) bool {
	ei, ai := o.key(&o.rows[i])
	ej, aj := o.key(&o.rows[j])
	return cmp.Or(ei.Compare(ej), strings.Compare(ai, aj)) < 0
}

// movedJSON is a mover's ids and sequences as JSON arrays.
func movedJSON(m mover) (ids, seqs string) {
	return string(appendJSONStrings(nil, m.IDs)), string(appendJSONUints(nil, m.Seqs))
}

func (p *Projector) writeChains(ws *pending) error {
	if p.deferRows {
		return nil
	}
	m := newUpsert(ws, "chains", []string{"token"},
		"token", "account", "length", "head", "last_seq")
	for _, ch := range p.out.chains {
		c := *ch
		ch.queued = false
		m.addRow(func(dst []any) []any {
			return append(dst, c.token, c.account, c.length, hex.EncodeToString(c.head[:]), c.lastSeq)
		})
	}
	return nil
}

func (p *Projector) writeReviews(ws *pending) error {
	m := newInsert(ws, `INSERT INTO reviews (day, effective, policy, accounts, ranked, total_revenue, a_accounts, a_revenue,
		b_accounts, b_revenue, c_accounts, c_revenue, key_accounts, top20_revenue, pareto, close_seq, close_event_id) VALUES `, "", 17)
	version := p.pol.Version()
	for _, r := range p.out.reviews {
		m.addRow(func(dst []any) []any {
			return append(dst, r.day.String(), ts(r.day.Close()), version, r.accounts, r.ranked, r.total,
				r.tierAccounts[0], r.tierRevenue[0], r.tierAccounts[1], r.tierRevenue[1], r.tierAccounts[2], r.tierRevenue[2],
				r.keyAccounts, r.top20, r.pareto, r.closeSeq, r.closeID)
		})
	}
	return nil
}

func (p *Projector) writeRejected(ws *pending) error {
	m := newInsert(ws, `INSERT INTO rejected_events (seq, subject, event_id, type, stored_at, reason) VALUES `, "", 6)
	for _, r := range p.out.rejected {
		m.addRow(func(dst []any) []any {
			return append(dst, r.seq, r.subject, emptyNil(r.eventID), emptyNil(r.eventType), ts(msTime(r.storedAt)), r.reason)
		})
	}
	return nil
}

// writeIDs appends the batch's ids to the ledger's blocks. A block's content
// is the same whatever the batch sizes were, since ids are appended in
// sequence order.
func (p *Projector) writeIDs(ws *pending) error {
	ids := p.out.ids
	m := newInsert(ws, `INSERT INTO applied_ids (block, entries) VALUES `,
		`ON CONFLICT (block) DO UPDATE SET entries = CAST(entries || excluded.entries AS BLOB)`, 2)
	for len(ids) > 0 {
		block := ids[0].seq >> idBlockBits
		n := 0
		for n < len(ids) && ids[n].seq>>idBlockBits == block {
			n++
		}
		buf := make([]byte, 0, 24*n)
		for _, e := range ids[:n] {
			buf = append(buf, e.digest[:]...)
			buf = binary.BigEndian.AppendUint64(buf, e.seq)
		}
		if err := m.add(int64(block), buf); err != nil {
			return fmt.Errorf("applied_ids: %w", err)
		}
		ids = ids[n:]
	}
	return nil
}

const idBlockBits = 8

func (p *Projector) writeState(ws *pending) error {
	var next, last any
	if p.started {
		next = p.next.String()
	}
	if p.reviewed {
		last = p.lastReview.String()
	}
	// The rules are those of the model's first commit: a model continued
	// under newer ones (while a rebuild replaces it) stays marked as built
	// by its own.
	m := newInsert(ws, `INSERT INTO projector_state (id, stream, applied_seq, watermark, next_review_day, last_review_day, policy,
		policy_json, events_applied, rejected, amount_total, rules) VALUES `,
		`ON CONFLICT (id) DO UPDATE SET applied_seq = excluded.applied_seq, watermark = excluded.watermark,
		next_review_day = excluded.next_review_day, last_review_day = excluded.last_review_day,
		events_applied = excluded.events_applied, rejected = excluded.rejected, amount_total = excluded.amount_total`, 12)
	err := m.add(1, p.stream, p.appliedSeq, ts(p.watermark), next, last, p.pol.Version(), string(p.pol.Canonical()), p.applied,
		p.rejected, p.amountTotal, RulesVersion)
	if err != nil {
		return fmt.Errorf("projector_state: %w", err)
	}
	return nil
}
