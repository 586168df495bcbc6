package projections

import (
	"cmp"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"kam/events"
)

// Queries answers the API's questions from a read model. It only reads, so
// any number of goroutines may use it.
type Queries struct {
	db  *DB
	pol *Policy
}

// NewQueries returns the query side of db, which was built under pol.
func NewQueries(db *DB, pol *Policy) *Queries { return &Queries{db: db, pol: pol} }

func (q *Queries) money(v int64) string { return events.FormatMinor(v, q.pol.CurrencyDigits) }

// bp turns basis points into a number with two decimals (7250 → 72.5).
func bp(v int64) float64 { return float64(v) / 100 }

func round(v float64, places int) float64 {
	f := math.Pow10(places)
	return math.Round(v*f) / f
}

// Score is a key-account score with its five parts, each 0..100.
type Score struct {
	Score              float64 `json:"score"`
	Volume             float64 `json:"volume"`
	Concentration      float64 `json:"concentration"`
	ServiceRequirement float64 `json:"service_requirement"`
	PriceInsensitivity float64 `json:"price_insensitivity"`
	Partnership        float64 `json:"partnership"`
}

// AccountSummary is one row of the account list.
type AccountSummary struct {
	ID            string   `json:"id"`
	Name          *string  `json:"name"`
	Industry      *string  `json:"industry"`
	Region        *string  `json:"region"`
	Manager       *string  `json:"manager"`
	RevenueWindow string   `json:"revenue_window"`
	RevenueTotal  string   `json:"revenue_total"`
	OrdersWindow  int64    `json:"orders_window"`
	Tier          *string  `json:"tier"`
	Rank          *int64   `json:"rank"`
	KeyAccount    bool     `json:"key_account"`
	KeyScore      *float64 `json:"key_score"`
	Loyalty       *string  `json:"loyalty"`
	EarlyAdopter  bool     `json:"early_adopter"`
}

// AccountFilter selects and orders the account list.
type AccountFilter struct {
	Tier    string
	Key     *bool
	Loyalty string
	Manager string
	Region  string
	Search  string // a substring of the id or the name, case-insensitive
	Sort    string // revenue (default), id, name, score, tier, revenue_total
	Desc    *bool  // default: descending for revenue and score, ascending otherwise
	Limit   int
	Cursor  string
	AsOf    *time.Time
}

// SortKeys are the accepted values of AccountFilter.Sort.
var SortKeys = []string{"revenue", "revenue_total", "id", "name", "score", "tier", "rank"}

// MaxAccountsLimit is the most accounts one page of the list holds.
const MaxAccountsLimit = 1000

// Check reports the filter's first bad field as an invalid-parameter error,
// so that a request can be refused before it waits for anything.
func (f AccountFilter) Check() error {
	if f.Limit < 0 || f.Limit > MaxAccountsLimit {
		return invalidParam("limit", fmt.Sprintf("must be 1 to %d", MaxAccountsLimit))
	}
	if _, err := f.after(); err != nil {
		return err
	}
	if f.AsOf != nil && (f.Sort == "score" || f.Sort == "rank") {
		return invalidParam("sort", "score and rank are kept as of the last review only, not with as_of")
	}
	if _, _, err := accountWhere(f); err != nil {
		return err
	}
	_, _, err := accountOrder(f)
	return err
}

// A cursor stands for the last account of a page: its value of the sort
// key and its id. The next page starts after it in the list's order
// (keyset paging), so that accounts added or changed while a client pages
// neither shift the pages nor repeat: with sort=id (ids never change) a
// walk returns every account that existed throughout exactly once. An
// account whose sort value changes between two pages may come twice or
// not at all, as it moved from one side of the cursor to the other. A
// cursor holds a digest of the query it was given for (sort, direction,
// filters, as_of) and is refused with another.
type cursor struct {
	Int   *int64  `json:"i,omitempty"`
	Text  *string `json:"s,omitempty"`
	ID    string  `json:"id"`
	Query string  `json:"q"`
}

// queryDigest identifies what a cursor pages through.
func (f AccountFilter) queryDigest() string {
	col, desc, _ := accountOrder(f)
	key := ""
	if f.Key != nil {
		key = strconv.FormatBool(*f.Key)
	}
	asOf := ""
	if f.AsOf != nil {
		asOf = FormatTime(*f.AsOf)
	}
	sum := sha256.Sum256([]byte(strings.Join([]string{col, strconv.FormatBool(desc), f.Tier, key, f.Loyalty,
		f.Manager, f.Region, f.Search, asOf}, "\x00")))
	return hex.EncodeToString(sum[:6])
}

// after decodes the cursor; nil for the first page.
func (f AccountFilter) after() (*cursor, error) {
	if f.Cursor == "" {
		return nil, nil
	}
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || (c.Int == nil) == (c.Text == nil) {
		return nil, invalidParam("cursor", "is not a cursor this API gave out")
	}
	if c.Query != f.queryDigest() {
		return nil, invalidParam("cursor", "was given for another query: keep sort, desc, the filters and as_of while paging")
	}
	if (c.Int != nil) != sortKeys[cmp.Or(f.Sort, "revenue")].numeric {
		return nil, invalidParam("cursor", "is not a cursor this API gave out")
	}
	return &c, nil
}

// encode is the cursor as the API gives it out, for a row whose sort key
// is v (as SQLite returned it).
func (c cursor) encode(v any) string {
	switch v := v.(type) {
	case int64:
		c.Int = &v
	case string:
		c.Text = &v
	case []byte:
		s := string(v)
		c.Text = &s
	}
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func invalidParam(field, problem string) error {
	return &events.Error{Code: events.EInvalid, Message: "invalid query parameter",
		Details: []events.FieldError{{Field: field, Problem: problem}}}
}

// Accounts lists accounts. With AsOf, tier, key_account and loyalty are
// those in force at that moment, from the history tables, and the window
// revenue is that of the last review at or before it.
func (q *Queries) Accounts(ctx context.Context, f AccountFilter) ([]AccountSummary, string, int, error) {
	if err := f.Check(); err != nil {
		return nil, "", 0, err
	}
	if f.Limit == 0 {
		f.Limit = 50
	}
	after, _ := f.after()
	base := `SELECT account, name, industry, region, manager, revenue_window, revenue_total, orders_window,
		tier, tier_rank AS rank, key_account, key_score, loyalty, early_adopter FROM accounts`
	var args []any
	if f.AsOf != nil {
		day, ok, err := q.reviewDayAt(ctx, *f.AsOf)
		if err != nil {
			return nil, "", 0, err
		}
		at := ts(*f.AsOf)
		from := day - Day(q.pol.Tiering.WindowDays) + 1
		known := day.String()
		if !ok {
			from, day, known = 1, 0, "" // no review yet: no window, no totals
		}
		// rank and key_score are kept as of the last review only (the
		// history rows hold them as of each change): null here. The
		// figures are those of the events the reviews up to the moment
		// counted: not those that arrived late after the last of them.
		base = `WITH t AS (SELECT account, to_tier, max(effective) FROM tier_history WHERE effective <= ? GROUP BY account),
			k AS (SELECT account, to_key, max(effective) FROM key_history WHERE effective <= ? GROUP BY account),
			l AS (SELECT account, to_loyalty, to_early_adopter, max(effective) FROM loyalty_history WHERE effective <= ? GROUP BY account),
			w AS (SELECT account, sum(revenue) AS revenue, sum(orders) AS orders FROM account_days
				WHERE day BETWEEN ? AND ? AND known_from <= ? GROUP BY account),
			r AS (SELECT account, sum(revenue) AS revenue FROM account_days WHERE known_from <= ? GROUP BY account)
			SELECT a.account, a.name, a.industry, a.region, a.manager, coalesce(w.revenue, 0) AS revenue_window,
			coalesce(r.revenue, 0) AS revenue_total, coalesce(w.orders, 0) AS orders_window, t.to_tier AS tier, NULL AS rank,
			coalesce(k.to_key, 0) AS key_account, NULL AS key_score, nullif(l.to_loyalty, '') AS loyalty,
			coalesce(l.to_early_adopter, 0) AS early_adopter
			FROM accounts a LEFT JOIN t USING (account) LEFT JOIN k USING (account) LEFT JOIN l USING (account)
			LEFT JOIN w USING (account) LEFT JOIN r USING (account)
			WHERE a.first_seen_at < ?`
		args = append(args, at, at, at, from.String(), day.String(), known, known, tsAfter(*f.AsOf))
	}
	where, wargs, err := accountWhere(f)
	if err != nil {
		return nil, "", 0, err
	}
	inner := "SELECT * FROM (" + base + ") WHERE 1=1" + where
	args = append(args, wargs...)
	col, desc, err := accountOrder(f)
	if err != nil {
		return nil, "", 0, err
	}
	var total int
	if err := q.db.queryRow(ctx, "SELECT count(*) FROM ("+inner+")", args...).Scan(&total); err != nil {
		return nil, "", 0, err
	}
	dir, beyond := "ASC", ">"
	if desc {
		dir, beyond = "DESC", "<"
	}
	page := "SELECT * FROM (SELECT *, " + col + " AS sort_key FROM (" + inner + "))"
	if after != nil {
		var v any
		if after.Int != nil {
			v = *after.Int
		} else {
			v = *after.Text
		}
		page += " WHERE sort_key " + beyond + " ? OR (sort_key = ? AND account > ?)"
		args = append(args, v, v, after.ID)
	}
	// One row more than the page tells whether there is a next one.
	rows, err := q.db.query(ctx, page+" ORDER BY sort_key "+dir+", account ASC LIMIT ?", append(args, f.Limit+1)...)
	if err != nil {
		return nil, "", 0, err
	}
	defer rows.Close()
	out := []AccountSummary{}
	next := ""
	var lastKey any // the sort key of the last row read
	for rows.Next() {
		if len(out) == f.Limit {
			next = cursor{ID: out[len(out)-1].ID, Query: f.queryDigest()}.encode(lastKey)
			break
		}
		var (
			s                   AccountSummary
			rw, rt              int64
			name, ind, reg, man sql.NullString
			tier, loyalty       sql.NullString
			rank, score         sql.NullInt64
		)
		if err := rows.Scan(&s.ID, &name, &ind, &reg, &man, &rw, &rt, &s.OrdersWindow, &tier, &rank, &s.KeyAccount, &score,
			&loyalty, &s.EarlyAdopter, &lastKey); err != nil {
			return nil, "", 0, err
		}
		s.Name, s.Industry, s.Region, s.Manager = nullStr(name), nullStr(ind), nullStr(reg), nullStr(man)
		s.RevenueWindow, s.RevenueTotal = q.money(rw), q.money(rt)
		s.Tier, s.Loyalty = nullStr(tier), nullStr(loyalty)
		if rank.Valid {
			s.Rank = &rank.Int64
		}
		if score.Valid {
			v := bp(score.Int64)
			s.KeyScore = &v
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, "", 0, err
	}
	return out, next, total, nil
}

// accountWhere builds the filter over the columns both inner selects give.
func accountWhere(f AccountFilter) (string, []any, error) {
	var b strings.Builder
	var args []any
	if f.Tier != "" {
		if f.Tier != TierA && f.Tier != TierB && f.Tier != TierC && f.Tier != "none" {
			return "", nil, invalidParam("tier", "must be A, B, C or none")
		}
		if f.Tier == "none" {
			b.WriteString(" AND tier IS NULL")
		} else {
			b.WriteString(" AND tier = ?")
			args = append(args, f.Tier)
		}
	}
	if f.Key != nil {
		b.WriteString(" AND key_account = ?")
		args = append(args, boolInt(*f.Key))
	}
	if f.Loyalty != "" {
		if !contains([]string{LoyaltyNew, LoyaltyBrandSwitching, LoyaltyNoBrandLoyalty, LoyaltyLoyal}, f.Loyalty) {
			return "", nil, invalidParam("loyalty", "must be new, brand_switching, no_brand_loyalty or loyal")
		}
		b.WriteString(" AND loyalty = ?")
		args = append(args, f.Loyalty)
	}
	if f.Manager != "" {
		b.WriteString(" AND manager = ?")
		args = append(args, f.Manager)
	}
	if f.Region != "" {
		b.WriteString(" AND region = ?")
		args = append(args, f.Region)
	}
	if f.Search != "" {
		b.WriteString(" AND (instr(lower(account), lower(?)) > 0 OR instr(lower(coalesce(name, '')), lower(?)) > 0)")
		args = append(args, f.Search, f.Search)
	}
	return b.String(), args, nil
}

// sortKeys are the list's sort keys: each an expression over the columns
// both inner selects give, never NULL, and whether its values are numbers.
var sortKeys = map[string]struct {
	col     string
	numeric bool
}{
	"revenue": {"revenue_window", true}, "revenue_total": {"revenue_total", true}, "id": {"account", false},
	"name": {"coalesce(name, '')", false}, "score": {"coalesce(key_score, -1)", true}, "tier": {"coalesce(tier, 'Z')", false},
	"rank": {"coalesce(rank, 9223372036854775807)", true},
}

// accountOrder is the list's sort key (see sortKeys) and its direction;
// ties go by id.
func accountOrder(f AccountFilter) (col string, desc bool, err error) {
	if f.Sort == "" {
		f.Sort = "revenue"
	}
	col = sortKeys[f.Sort].col
	if col == "" {
		return "", false, invalidParam("sort", "must be one of "+strings.Join(SortKeys, ", "))
	}
	desc = f.Sort == "revenue" || f.Sort == "revenue_total" || f.Sort == "score"
	if f.Desc != nil {
		desc = *f.Desc
	}
	return col, desc, nil
}

// reviewDayAt is the last day reviewed whose close is at or before t.
func (q *Queries) reviewDayAt(ctx context.Context, t time.Time) (Day, bool, error) {
	var day sql.NullString
	if err := q.db.queryRow(ctx, `SELECT max(day) FROM reviews WHERE effective <= ?`, ts(t)).Scan(&day); err != nil {
		return 0, false, err
	}
	if !day.Valid {
		return 0, false, nil
	}
	d, err := ParseDay(day.String)
	return d, err == nil, err
}

var errNoAccount = errors.New("no such account")

// notFound is the error of an unknown account.
func notFound(id string) error {
	return &events.Error{Code: events.ENotFound, Message: fmt.Sprintf("no account %q", id), Err: errNoAccount}
}

// Contact is a person met at an account.
type Contact struct {
	Name        string `json:"name"`
	Visits      int64  `json:"visits"`
	FirstVisit  string `json:"first_visit_at"`
	LastVisit   string `json:"last_visit_at"`
	NotVisitedD int    `json:"days_since_visit"`
	Stale       bool   `json:"stale"`
}

// Account is one account in full.
type Account struct {
	ID                 string               `json:"id"`
	AsOf               string               `json:"as_of,omitempty"`
	Name               *string              `json:"name"`
	Industry           *string              `json:"industry"`
	Region             *string              `json:"region"`
	Manager            *string              `json:"manager"`
	Partnership        string               `json:"partnership"`
	ServiceRequirement string               `json:"service_requirement"`
	RegisteredAt       string               `json:"registered_at,omitempty"`
	FirstSeenAt        string               `json:"first_seen_at"`
	FirstOrderAt       string               `json:"first_order_at,omitempty"`
	LastOrderAt        string               `json:"last_order_at,omitempty"`
	RevenueWindow      string               `json:"revenue_window"`
	RevenueTotal       string               `json:"revenue_total"`
	OrdersWindow       int64                `json:"orders_window"`
	OrdersTotal        int64                `json:"orders_total"`
	ReturnsTotal       int64                `json:"returns_total"`
	Tier               *string              `json:"tier"`
	TierSince          *string              `json:"tier_since"` // null until the account's first review
	Rank               *int64               `json:"rank"`
	KeyAccount         bool                 `json:"key_account"`
	KeySince           *string              `json:"key_since"`
	KeyScore           *Score               `json:"key_score"`
	Loyalty            *string              `json:"loyalty"`
	LoyaltySince       *string              `json:"loyalty_since"`
	EarlyAdopter       bool                 `json:"early_adopter"`
	SLA                AccountSLA           `json:"sla"`
	Contacts           map[string][]Contact `json:"contacts"`
	DecisionMakerStale bool                 `json:"decision_maker_stale"`
	LastSeq            uint64               `json:"last_seq,omitempty"` // left out with as_of
	Events             int64                `json:"events,omitempty"`   // left out with as_of
}

// AccountSLA is an account's service-level summary.
type AccountSLA struct {
	Requests   SLAKind `json:"requests"`
	Complaints SLAKind `json:"complaints"`
}

// Account returns one account as of now (or asOf); now decides which open
// items are overdue and which decision makers are stale.
func (q *Queries) Account(ctx context.Context, id string, asOf *time.Time, now time.Time) (*Account, error) {
	return q.account(ctx, id, asOf, now, asOf == nil)
}

// account is Account; cached says whether the account's current items and
// contacts may come from the cache.
func (q *Queries) account(ctx context.Context, id string, asOf *time.Time, now time.Time, cached bool) (*Account, error) {
	a := &Account{ID: id, Contacts: map[string][]Contact{}}
	var (
		name, ind, reg, man, registered, firstOrder, lastOrder sql.NullString
		tier, tierSince, keySince, loyalty, loyaltySince       sql.NullString
		rank, score, sv, sc, ss, sp, spa                       sql.NullInt64
		rw, rt                                                 int64
		firstSeen                                              string
	)
	err := q.db.queryRow(ctx, `SELECT name, industry, region, manager, partnership, service_requirement, registered_at,
		first_seen_at, first_order_at, last_order_at, revenue_window, revenue_total, orders_window, orders_total, returns_total,
		tier, tier_since, tier_rank, key_account, key_since, key_score, score_volume, score_concentration, score_service_requirement,
		score_price_insensitivity, score_partnership, loyalty, loyalty_since, early_adopter, last_seq, events
		FROM accounts WHERE account = ?`, id).Scan(&name, &ind, &reg, &man, &a.Partnership, &a.ServiceRequirement, &registered,
		&firstSeen, &firstOrder, &lastOrder, &rw, &rt, &a.OrdersWindow, &a.OrdersTotal, &a.ReturnsTotal, &tier, &tierSince, &rank,
		&a.KeyAccount, &keySince, &score, &sv, &sc, &ss, &sp, &spa, &loyalty, &loyaltySince, &a.EarlyAdopter, &a.LastSeq, &a.Events)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound(id)
	}
	if err != nil {
		return nil, err
	}
	a.Name, a.Industry, a.Region, a.Manager = nullStr(name), nullStr(ind), nullStr(reg), nullStr(man)
	a.RegisteredAt, a.FirstSeenAt = apiTime(registered), apiTime(sql.NullString{String: firstSeen, Valid: true})
	a.FirstOrderAt, a.LastOrderAt = apiTime(firstOrder), apiTime(lastOrder)
	a.RevenueWindow, a.RevenueTotal = q.money(rw), q.money(rt)
	a.Tier, a.TierSince, a.Loyalty, a.LoyaltySince = nullStr(tier), nullTime(tierSince), nullStr(loyalty), nullTime(loyaltySince)
	a.KeySince = nullTime(keySince)
	if rank.Valid {
		a.Rank = &rank.Int64
	}
	if score.Valid {
		a.KeyScore = &Score{bp(score.Int64), bp(sv.Int64), bp(sc.Int64), bp(ss.Int64), bp(sp.Int64), bp(spa.Int64)}
	}
	if asOf != nil {
		if err := q.accountAsOf(ctx, a, *asOf); err != nil {
			return nil, err
		}
		now = *asOf
	}
	var parts *cachedParts
	if cached {
		parts, err = q.currentParts(ctx, id)
	} else {
		parts, err = q.readParts(ctx, id, asOf)
	}
	if err != nil {
		return nil, err
	}
	sums := summarize(parts.items, now)
	a.SLA = AccountSLA{Requests: sums[""].Requests, Complaints: sums[""].Complaints}
	if a.SLA.Requests.Response == nil {
		a.SLA.Requests.Response = &SLAStep{} // the same shape without requests
	}
	q.fillContacts(a, parts.contacts, now)
	return a, nil
}

// currentParts returns the account's items and contacts as stored now,
// from the cache when it holds them (see partCache).
func (q *Queries) currentParts(ctx context.Context, id string) (*cachedParts, error) {
	parts, seq := q.db.parts.get(id)
	if parts != nil {
		return parts, nil
	}
	parts, err := q.readParts(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	q.db.parts.put(id, seq, parts)
	return parts, nil
}

// readParts reads the account's items and contacts, as known at asOf when
// given.
func (q *Queries) readParts(ctx context.Context, id string, asOf *time.Time) (*cachedParts, error) {
	items, err := q.items(ctx, id, asOf)
	if err != nil {
		return nil, err
	}
	contacts, err := q.contactRows(ctx, id, asOf)
	if err != nil {
		return nil, err
	}
	return &cachedParts{items: items, contacts: contacts}, nil
}

// knownAt returns a not-found error unless account id exists, and, with
// asOf, was first seen before then (an event at the moment itself is
// after it, as 00:00 belongs to the day that starts then).
func (q *Queries) knownAt(ctx context.Context, id string, asOf *time.Time) error {
	var firstSeen string
	err := q.db.queryRow(ctx, `SELECT first_seen_at FROM accounts WHERE account = ?`, id).Scan(&firstSeen)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(id)
	}
	if err != nil {
		return err
	}
	if asOf != nil && firstSeen >= tsAfter(*asOf) {
		return &events.Error{Code: events.ENotFound, Message: fmt.Sprintf("account %q was not known at %s", id, FormatTime(*asOf))}
	}
	return nil
}

// accountAsOf replaces the decisions and figures of a with those in force at t.
func (q *Queries) accountAsOf(ctx context.Context, a *Account, t time.Time) error {
	a.AsOf = FormatTime(t)
	at := ts(t)
	if err := q.knownAt(ctx, a.ID, &t); err != nil {
		return err
	}
	// What kam keeps only as it is now is left out: the rank and the score
	// (the history rows hold them as of each change, not each review), the
	// last order, the events' count and last sequence. The profile fields
	// are today's.
	a.Rank, a.KeyScore, a.LastOrderAt, a.Events, a.LastSeq = nil, nil, "", 0, 0
	if first, err := time.Parse(time.RFC3339Nano, a.FirstOrderAt); err == nil && !first.Before(t) {
		a.FirstOrderAt = ""
	}
	a.Tier, a.TierSince = nil, nil
	var tier, eff sql.NullString
	err := q.db.queryRow(ctx, `SELECT to_tier, effective FROM tier_history WHERE account = ? AND effective <= ?
		ORDER BY effective DESC LIMIT 1`, a.ID, at).Scan(&tier, &eff)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	a.Tier, a.TierSince = nullStr(tier), nullTime(eff)
	a.KeyAccount, a.KeySince = false, nil
	var key bool
	eff = sql.NullString{}
	err = q.db.queryRow(ctx, `SELECT to_key, effective FROM key_history WHERE account = ? AND effective <= ? ORDER BY effective DESC LIMIT 1`,
		a.ID, at).Scan(&key, &eff)
	switch {
	case err == nil:
		a.KeyAccount, a.KeySince = key, nullTime(eff)
	case !errors.Is(err, sql.ErrNoRows):
		return err
	}
	a.Loyalty, a.LoyaltySince, a.EarlyAdopter = nil, nil, false
	var loyalty sql.NullString
	eff = sql.NullString{}
	// Since when: the last change of the status itself, as the live model
	// keeps it (a row may change the early-adopter flag alone).
	err = q.db.queryRow(ctx, `SELECT to_loyalty, to_early_adopter,
		(SELECT max(effective) FROM loyalty_history WHERE account = h.account AND effective <= ?
			AND (from_loyalty IS NULL OR from_loyalty != to_loyalty))
		FROM loyalty_history h WHERE account = ? AND effective <= ?
		ORDER BY effective DESC LIMIT 1`, at, a.ID, at).Scan(&loyalty, &a.EarlyAdopter, &eff)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if loyalty.Valid && loyalty.String != "" {
		a.Loyalty = nullStr(loyalty)
		a.LoyaltySince = nullTime(eff)
	}
	day, ok, err := q.reviewDayAt(ctx, t)
	if err != nil {
		return err
	}
	// The figures are those of the events the reviews up to t counted (a
	// late event counts from the review after its arrival): the window of
	// the last review by t, and the totals of everything it counted.
	var rw, orders, rt int64
	a.OrdersTotal, a.ReturnsTotal = 0, 0
	if ok {
		from := day - Day(q.pol.Tiering.WindowDays) + 1
		if err := q.db.queryRow(ctx, `SELECT coalesce(sum(revenue), 0), coalesce(sum(orders), 0) FROM account_days
			WHERE account = ? AND day BETWEEN ? AND ? AND known_from <= ?`, a.ID, from.String(), day.String(), day.String()).Scan(&rw, &orders); err != nil {
			return err
		}
		if err := q.db.queryRow(ctx, `SELECT coalesce(sum(revenue), 0), coalesce(sum(orders), 0), coalesce(sum(returns), 0)
			FROM account_days WHERE account = ? AND known_from <= ?`, a.ID, day.String()).Scan(&rt, &a.OrdersTotal, &a.ReturnsTotal); err != nil {
			return err
		}
	}
	a.RevenueWindow, a.OrdersWindow, a.RevenueTotal = q.money(rw), orders, q.money(rt)
	return nil
}

func apiTime(s sql.NullString) string {
	t, err := parseTS(s)
	if err != nil || t.IsZero() {
		return ""
	}
	return FormatTime(t)
}

// tsAfter is the first stored time at or after t, for events before t:
// stored times are cut to the millisecond, so the events before
// 10:00:00.0005 are those stored up to 10:00:00.000, before 10:00:00.001.
// (Decisions in force at t compare their effective time with ts(t), the
// same cut: a review at midnight is not in force at 23:59:59.9995.)
func tsAfter(t time.Time) string {
	if ms := t.Truncate(time.Millisecond); !ms.Equal(t) {
		t = ms.Add(time.Millisecond)
	}
	return formatTS(t)
}

// nullTime is apiTime, or null for none.
func nullTime(s sql.NullString) *string {
	if v := apiTime(s); v != "" {
		return &v
	}
	return nil
}

// contactRow is one stored contact of an account.
type contactRow struct {
	role, name  string
	visits      int64
	first, last time.Time
}

// contactRows reads an account's contacts by role, most recently visited
// first; as of asOf when given, counted from the visits before it.
func (q *Queries) contactRows(ctx context.Context, id string, asOf *time.Time) ([]contactRow, error) {
	var (
		rows *sql.Rows
		err  error
	)
	if asOf == nil {
		rows, err = q.db.query(ctx, `SELECT role, name, visits, first_visit_at, last_visit_at FROM contacts WHERE account = ?`, id)
	} else {
		rows, err = q.db.query(ctx, `SELECT role, name, count(*), min(at), max(at) FROM visits WHERE account = ? AND at < ?
			GROUP BY role, name`, id, tsAfter(*asOf))
	}
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []contactRow
	for rows.Next() {
		var (
			c           contactRow
			first, last sql.NullString
		)
		if err := rows.Scan(&c.role, &c.name, &c.visits, &first, &last); err != nil {
			return nil, err
		}
		c.first, _ = parseTS(first)
		c.last, _ = parseTS(last)
		out = append(out, c)
	}
	// Sorted here: an ORDER BY made SQLite sort in a temporary B-tree, which
	// cost more than the rest of the query.
	slices.SortFunc(out, func(a, b contactRow) int {
		return cmp.Or(strings.Compare(a.role, b.role), b.last.Compare(a.last), strings.Compare(a.name, b.name))
	})
	return out, rows.Err()
}

// fillContacts sets a's contacts from its rows (as of now: stale or not).
func (q *Queries) fillContacts(a *Account, rows []contactRow, now time.Time) {
	staleAfter := time.Duration(q.pol.Coverage.DecisionMakerDays) * dayLen
	for _, r := range rows {
		lt := r.last
		c := Contact{Name: r.name, Visits: r.visits, FirstVisit: FormatTime(r.first), LastVisit: FormatTime(lt)}
		c.NotVisitedD = int(now.Sub(lt) / dayLen)
		// A visit exactly staleAfter ago is still within the days (as a
		// competitor purchase exactly competitor_days before a close still
		// counts for loyalty).
		c.Stale = now.Sub(lt) > staleAfter
		if r.role == "decision_maker" && c.Stale {
			a.DecisionMakerStale = true
		}
		a.Contacts[r.role] = append(a.Contacts[r.role], c)
	}
}

// HistoryKind names one of the history tables.
type HistoryKind string

// The history tables.
const (
	HistoryTier    HistoryKind = "tiers"
	HistoryKey     HistoryKind = "key"
	HistoryLoyalty HistoryKind = "loyalty"
)

// History returns an account's history rows of one kind, oldest first, each
// as a JSON object of its columns (money as decimal strings, scores 0..100);
// with asOf, the rows in force by then (an account first seen later is not
// found, as GET /v1/accounts/{id}?as_of= answers).
func (q *Queries) History(ctx context.Context, id string, kind HistoryKind, asOf *time.Time) ([]map[string]any, error) {
	if err := q.knownAt(ctx, id, asOf); err != nil {
		return nil, err
	}
	table := map[HistoryKind]string{HistoryTier: "tier_history", HistoryKey: "key_history", HistoryLoyalty: "loyalty_history"}[kind]
	if table == "" {
		return nil, events.Errorf(events.ENotFound, "no history %q", kind)
	}
	until := "9999"
	if asOf != nil {
		until = ts(*asOf).(string)
	}
	rows, err := q.db.query(ctx, "SELECT * FROM "+table+" WHERE account = ? AND effective <= ? ORDER BY effective", id, until)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	return q.jsonRows(rows)
}

// money and score columns of the history tables, for jsonRows.
var (
	moneyColumns = map[string]bool{"revenue": true, "before_revenue": true, "total_revenue": true, "discounted": true,
		"revenue_window": true, "discounted_window": true}
	scoreColumns = map[string]bool{"score": true, "min_score": true, "score_volume": true, "score_concentration": true,
		"score_service_requirement": true, "score_price_insensitivity": true, "score_partnership": true}
	timeColumns = map[string]bool{"effective": true, "first_order_at": true, "last_competitor_purchase_at": true}
	boolColumns = map[string]bool{"from_key": true, "to_key": true, "from_early_adopter": true, "to_early_adopter": true}
	jsonColumns = map[string]bool{"moved_ids": true, "moved_seqs": true}
)

func (q *Queries) jsonRows(rows *sql.Rows) ([]map[string]any, error) {
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := []map[string]any{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		m := make(map[string]any, len(cols))
		for i, c := range cols {
			v := vals[i]
			if b, ok := v.([]byte); ok {
				v = string(b)
			}
			switch n, isInt := v.(int64); {
			case v == nil:
			case moneyColumns[c] && isInt:
				v = q.money(n)
			case scoreColumns[c] && isInt:
				v = bp(n)
			case boolColumns[c] && isInt:
				v = n != 0
			case timeColumns[c]:
				if s, ok := v.(string); ok {
					v = apiTime(sql.NullString{String: s, Valid: true})
				}
			case jsonColumns[c]:
				if s, ok := v.(string); ok {
					v = json.RawMessage(s)
				}
			}
			m[c] = v
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// TierSummary is one tier of the ABC report.
type TierSummary struct {
	Accounts int64   `json:"accounts"`
	Revenue  string  `json:"revenue"`
	Share    float64 `json:"share"`
}

// ABCReport is the ABC report of one review.
type ABCReport struct {
	AsOf         string                 `json:"as_of"`
	Day          string                 `json:"day"`
	Policy       string                 `json:"policy"`
	Accounts     int64                  `json:"accounts"`
	Ranked       int64                  `json:"ranked"`
	TotalRevenue string                 `json:"total_revenue"`
	KeyAccounts  int64                  `json:"key_accounts"`
	Tiers        map[string]TierSummary `json:"tiers"`
	Top20Share   float64                `json:"top20_share"`
	Pareto       json.RawMessage        `json:"pareto"`
	CutA         int                    `json:"cut_a"`
	CutB         int                    `json:"cut_b"`
}

// ABC returns the report of the last review (at or before asOf).
func (q *Queries) ABC(ctx context.Context, asOf *time.Time) (*ABCReport, error) {
	where, args := "", []any{}
	if asOf != nil {
		where, args = "WHERE effective <= ?", append(args, ts(*asOf))
	}
	var (
		r            ABCReport
		eff          string
		total, top20 int64
		acc          [3]int64
		rev          [3]int64
		pareto       string
	)
	err := q.db.queryRow(ctx, `SELECT day, effective, policy, accounts, ranked, total_revenue, a_accounts, a_revenue,
		b_accounts, b_revenue, c_accounts, c_revenue, key_accounts, top20_revenue, pareto FROM reviews `+where+
		` ORDER BY day DESC LIMIT 1`, args...).Scan(&r.Day, &eff, &r.Policy, &r.Accounts, &r.Ranked, &total, &acc[0], &rev[0],
		&acc[1], &rev[1], &acc[2], &rev[2], &r.KeyAccounts, &top20, &pareto)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, events.Errorf(events.ENotFound, "no review yet: tiers are decided at the first day close")
	}
	if err != nil {
		return nil, err
	}
	r.AsOf = apiTime(sql.NullString{String: eff, Valid: true})
	r.TotalRevenue = q.money(total)
	r.Tiers = map[string]TierSummary{}
	for i, t := range []string{TierA, TierB, TierC} {
		s := TierSummary{Accounts: acc[i], Revenue: q.money(rev[i])}
		if total > 0 {
			s.Share = round(float64(rev[i])/float64(total), 4)
		}
		r.Tiers[t] = s
	}
	if total > 0 {
		r.Top20Share = round(float64(top20)/float64(total), 4)
	}
	r.Pareto = json.RawMessage(pareto)
	r.CutA, r.CutB = q.pol.Tiering.CutA, q.pol.Tiering.CutB
	return &r, nil
}

// SLAStep is the outcome of one target (response or resolution).
type SLAStep struct {
	Met         int      `json:"met"`
	Breached    int      `json:"breached"`
	Compliance  *float64 `json:"compliance"`
	MedianHours *float64 `json:"median_hours"`
	P90Hours    *float64 `json:"p90_hours"`
	OverdueNow  int      `json:"overdue_now"`
	hours       []float64
}

// SLAKind sums the service requests or the complaints of a group.
type SLAKind struct {
	Opened     int      `json:"opened"`
	Open       int      `json:"open"`
	OverdueNow int      `json:"overdue_now"`
	Response   *SLAStep `json:"response,omitempty"`
	Resolution SLAStep  `json:"resolution"`
}

// SLAGroup is one tier's requests and complaints.
type SLAGroup struct {
	Requests   SLAKind `json:"requests"`
	Complaints SLAKind `json:"complaints"`
}

// SLAReport groups the service levels by the tier at opening.
type SLAReport struct {
	AsOf  string              `json:"as_of"`
	Tiers map[string]SLAGroup `json:"tiers"`
}

type itemRow struct {
	tier, kind                   string
	opened, rDue, sDue, rAt, sAt time.Time
}

// items reads the opened items of one account (or all for ""), as known at
// asOf when given: items opened and steps taken at or after asOf are not
// known yet.
func (q *Queries) items(ctx context.Context, account string, asOf *time.Time) ([]itemRow, error) {
	sqlq := `SELECT tier, kind, opened_at, response_due, resolution_due, responded_at, resolved_at FROM sla_items WHERE opened_at IS NOT NULL`
	var args []any
	if account != "" {
		sqlq += " AND account = ?"
		args = append(args, account)
	}
	if asOf != nil {
		sqlq += " AND opened_at < ?"
		args = append(args, tsAfter(*asOf))
	}
	rows, err := q.db.query(ctx, sqlq, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []itemRow
	for rows.Next() {
		var (
			r                            itemRow
			opened, rDue, sDue, rAt, sAt sql.NullString
		)
		if err := rows.Scan(&r.tier, &r.kind, &opened, &rDue, &sDue, &rAt, &sAt); err != nil {
			return nil, err
		}
		r.opened, _ = parseTS(opened)
		r.rDue, _ = parseTS(rDue)
		r.sDue, _ = parseTS(sDue)
		r.rAt, _ = parseTS(rAt)
		r.sAt, _ = parseTS(sAt)
		if asOf != nil {
			if !r.rAt.Before(*asOf) {
				r.rAt = time.Time{}
			}
			if !r.sAt.Before(*asOf) {
				r.sAt = time.Time{}
			}
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// summarize groups items by tier (and in total under "") as of now.
func summarize(items []itemRow, now time.Time) map[string]*SLAGroup {
	groups := map[string]*SLAGroup{"": {}, TierA: {}, TierB: {}, TierC: {}}
	for _, it := range items {
		for _, g := range []*SLAGroup{groups[""], groups[it.tier]} {
			if g == nil {
				continue
			}
			k := &g.Complaints
			if it.kind == KindRequest {
				k = &g.Requests
				if k.Response == nil {
					k.Response = &SLAStep{}
				}
			}
			k.Opened++
			overdue := false
			if it.kind == KindRequest {
				resp := it.rAt
				if resp.IsZero() || (!it.sAt.IsZero() && it.sAt.Before(resp)) {
					resp = it.sAt
				}
				if stepDone(k.Response, it.opened, it.rDue, resp, now) {
					overdue = true
				}
			}
			if it.sAt.IsZero() {
				k.Open++
			}
			if stepDone(&k.Resolution, it.opened, it.sDue, it.sAt, now) {
				overdue = true
			}
			if overdue {
				k.OverdueNow++
			}
		}
	}
	for _, g := range groups {
		for _, k := range []*SLAKind{&g.Requests, &g.Complaints} {
			if k.Response != nil {
				finishStep(k.Response)
			}
			finishStep(&k.Resolution)
		}
	}
	return groups
}

// stepDone counts one step of an item and reports whether it is overdue now
// (still waiting past its due time).
func stepDone(s *SLAStep, opened, due, at, now time.Time) (overdue bool) {
	if at.IsZero() {
		if now.After(due) {
			s.OverdueNow++
			return true
		}
		return false
	}
	if at.After(due) {
		s.Breached++
	} else {
		s.Met++
	}
	s.hours = append(s.hours, max(at.Sub(opened), 0).Hours())
	return false
}

func finishStep(s *SLAStep) {
	if closed := s.Met + s.Breached; closed > 0 {
		c := round(float64(s.Met)/float64(closed), 4)
		s.Compliance = &c
		sort.Float64s(s.hours)
		med, p90 := round(Quantile(s.hours, 0.5), 2), round(Quantile(s.hours, 0.9), 2)
		s.MedianHours, s.P90Hours = &med, &p90
	}
	s.hours = nil
}

// SLA reports service levels by the tier at opening, as of now or asOf.
func (q *Queries) SLA(ctx context.Context, asOf *time.Time, now time.Time) (*SLAReport, error) {
	items, err := q.items(ctx, "", asOf)
	if err != nil {
		return nil, err
	}
	if asOf != nil {
		now = *asOf
	}
	groups := summarize(items, now)
	r := &SLAReport{AsOf: FormatTime(now), Tiers: map[string]SLAGroup{}}
	for _, t := range []string{TierA, TierB, TierC} {
		g := *groups[t]
		if g.Requests.Response == nil {
			g.Requests.Response = &SLAStep{}
		}
		r.Tiers[t] = g
	}
	return r, nil
}
