package projections

import (
	"encoding/json"
	"sort"
	"strconv"
	"time"
)

// The projector keeps what the rules need in memory and writes each touched
// row once per batch. Everything in memory can be rebuilt from the tables
// (see load.go), which is what makes a restart give the same read model as an
// uninterrupted run.

// bucket is one account's revenue and orders on one business day.
type bucket struct {
	day        Day
	revenue    int64
	discounted int64
	orders     int64
	returns    int64
	newProduct int64
}

func (b *bucket) add(o bucket) {
	b.revenue += o.revenue
	b.discounted += o.discounted
	b.orders += o.orders
	b.returns += o.returns
	b.newProduct += o.newProduct
}

// sums are window totals.
type sums struct {
	revenue, discounted, orders, newProduct int64
}

// decision is an account's tier and key flag from one close on.
type decision struct {
	effective time.Time
	tier      string
	key       bool
}

// account is the in-memory state of one account.
type account struct {
	id   string
	slot int32 // its index in Projector.hot, where the review's inputs live

	name, industry, region, manager *string
	partnership, serviceReq         string
	registeredAt                    time.Time

	firstSeen      time.Time
	firstSeq       uint64
	lastSeq        uint64
	events         int64
	firstOrder     time.Time
	lastOrder      time.Time
	lastCompetitor time.Time
	ordersTotal    int64
	returnsTotal   int64
	revenueTotal   int64
	buckets        []bucket // days of the current window and prior period, by day
	tierSince      time.Time
	keySince       time.Time
	loyalty        string
	loyaltySince   time.Time
	earlyAdopter   bool
	loyaltyDecided bool
	loyaltyGen     int64 // the review that last decided its loyalty
	movers         movers
	decisions      []decision
	// dirty: a field of its row changed; written holds the review's figures
	// as last written, so that a row is rewritten only when they change.
	dirty   bool
	written reviewFacts
}

const maxMoved = 20

// mover keeps the events that moved one kind of decision since its last
// change: their count, and the ids and stream sequences of the latest 20.
type mover struct {
	Count   int64    `json:"count"`
	IDs     []string `json:"ids"`
	Seqs    []uint64 `json:"seqs"`
	changed bool
}

func (m *mover) add(id string, seq uint64) {
	m.changed = true
	m.Count++
	m.IDs = append(m.IDs, id)
	m.Seqs = append(m.Seqs, seq)
	if len(m.IDs) > maxMoved {
		m.IDs = append(m.IDs[:0], m.IDs[len(m.IDs)-maxMoved:]...)
		m.Seqs = append(m.Seqs[:0], m.Seqs[len(m.Seqs)-maxMoved:]...)
	}
}

// take returns the mover's content and starts it afresh.
func (m *mover) take() mover {
	out := mover{Count: m.Count, IDs: append(make([]string, 0, len(m.IDs)), m.IDs...), Seqs: append(make([]uint64, 0, len(m.Seqs)), m.Seqs...)}
	*m = mover{IDs: m.IDs[:0], Seqs: m.Seqs[:0], changed: true}
	return out
}

// movers are an account's movers of its tier, key flag and loyalty.
type movers struct {
	Tier    mover `json:"tier"`
	Key     mover `json:"key"`
	Loyalty mover `json:"loyalty"`
}

// appendJSON writes the movers as encoding/json would (a hot path: a few
// hundred thousand times in a replay).
func (m *movers) appendJSON(b []byte) []byte {
	one := func(b []byte, name string, mv *mover) []byte {
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":{"count":`...)
		b = strconv.AppendInt(b, mv.Count, 10)
		b = append(b, `,"ids":`...)
		b = appendJSONStrings(b, mv.IDs)
		b = append(b, `,"seqs":`...)
		b = appendJSONUints(b, mv.Seqs)
		return append(b, '}')
	}
	b = append(b, '{')
	b = one(b, "tier", &m.Tier)
	b = append(b, ',')
	b = one(b, "key", &m.Key)
	b = append(b, ',')
	b = one(b, "loyalty", &m.Loyalty)
	return append(b, '}')
}

// moversToStore returns the movers as JSON when they changed since they
// were last asked for.
func (a *account) moversToStore() (string, bool) {
	m := &a.movers
	if !m.Tier.changed && !m.Key.changed && !m.Loyalty.changed {
		return "", false
	}
	m.Tier.changed, m.Key.changed, m.Loyalty.changed = false, false, false
	return string(m.appendJSON(make([]byte, 0, 256))), true
}

// chain is the hash chain over an account's messages (see the chains table).
type chain struct {
	token   string // the subject token it is kept by
	account string
	length  int64
	head    [32]byte
	lastSeq uint64
	queued  bool     // in the batch's chains to write
	acct    *account // the account of the token, once an event of it was applied
}

// bucketAt returns the account's bucket of day d, creating it (in day order)
// when missing; created reports whether it was.
func (a *account) bucketAt(d Day) (b *bucket, created bool) {
	i := sort.Search(len(a.buckets), func(i int) bool { return a.buckets[i].day >= d })
	if i < len(a.buckets) && a.buckets[i].day == d {
		return &a.buckets[i], false
	}
	a.buckets = append(a.buckets, bucket{})
	copy(a.buckets[i+1:], a.buckets[i:])
	a.buckets[i] = bucket{day: d}
	return &a.buckets[i], true
}

func (a *account) findBucket(d Day) *bucket {
	i := sort.Search(len(a.buckets), func(i int) bool { return a.buckets[i].day >= d })
	if i < len(a.buckets) && a.buckets[i].day == d {
		return &a.buckets[i]
	}
	return nil
}

func (a *account) dropBucketsBefore(d Day) {
	i := sort.Search(len(a.buckets), func(i int) bool { return a.buckets[i].day >= d })
	if i > 0 {
		a.buckets = append(a.buckets[:0], a.buckets[i:]...)
	}
}

// decisionAt is the tier and key flag in force at t (the last close at or
// before t); no decision yet is tier "" and not key.
func (a *account) decisionAt(t time.Time) decision {
	i := sort.Search(len(a.decisions), func(i int) bool { return a.decisions[i].effective.After(t) })
	if i == 0 {
		return decision{}
	}
	return a.decisions[i-1]
}

// partnershipOrNone and serviceReqOrStandard read the profile with the
// spec's defaults.
func (a *account) partnershipOrNone() string {
	if a.partnership == "" {
		return "none"
	}
	return a.partnership
}

func (a *account) serviceReqOrStandard() string {
	if a.serviceReq == "" {
		return "standard"
	}
	return a.serviceReq
}

// slaItem is a service request or a complaint.
type slaItem struct {
	account, kind, id string
	priority          string
	openedAt          instant
	openedSeq         uint64
	tier              string
	key               bool
	column            string
	responseDue       instant
	resolutionDue     instant
	respondedAt       instant
	resolvedAt        instant
	satisfied         int8 // -1 no, 1 yes, 0 not said
}

// instant is a time to the millisecond in 8 bytes and no pointer (a
// time.Time takes 24 and holds one): a replay keeps every service item in
// memory, and their times were a sixth of the heap the collector scanned.
// 0 is no time; events' times lie in years 0000 - 9999, all above it.
type instant int64

var year0 = time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()

func instantOf(t time.Time) instant {
	if t.IsZero() {
		return 0
	}
	return instant(t.UnixMilli() - year0 + 1)
}

func (i instant) IsZero() bool { return i == 0 }

// Time is i as a time.Time in UTC; the zero time for 0.
func (i instant) Time() time.Time {
	if i == 0 {
		return time.Time{}
	}
	return time.UnixMilli(int64(i) - 1 + year0).UTC()
}

type itemKey struct{ account, kind, id string }

// contact is one person of an account met on visits.
type contact struct {
	account, role, name string
	visits              int64
	first, last         time.Time
}

type contactKey struct{ account, role, name string }

// Item kinds.
const (
	KindRequest   = "request"
	KindComplaint = "complaint"
)

// appendJSONStrings appends ss as a JSON array, exactly as encoding/json
// writes it (which escapes <, > and & too), without its reflection for the
// plain ids that nearly all are.
func appendJSONStrings(b []byte, ss []string) []byte {
	b = append(b, '[')
	for i, s := range ss {
		if i > 0 {
			b = append(b, ',')
		}
		if plainJSON(s) {
			b = append(append(append(b, '"'), s...), '"')
		} else {
			q, _ := json.Marshal(s)
			b = append(b, q...)
		}
	}
	return append(b, ']')
}

// plainJSON reports whether encoding/json writes s as it is between quotes.
func plainJSON(s string) bool {
	for i := 0; i < len(s); i++ {
		if !plainByte[s[i]] {
			return false
		}
	}
	return true
}

// plainByte: the bytes encoding/json writes as they are in a string.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 0x7f; c++ {
		t[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return t
}()

func appendJSONUints(b []byte, vs []uint64) []byte {
	b = append(b, '[')
	for i, v := range vs {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(b, v, 10)
	}
	return append(b, ']')
}
