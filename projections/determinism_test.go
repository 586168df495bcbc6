package projections

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"kam/events"
	"kam/events/natsstore"
)

// eventJSON is a CloudEvent as a client would publish it straight onto NATS.
func eventJSON(id, typ, subject string, t time.Time, data map[string]any) string {
	e := &events.Event{SpecVersion: "1.0", ID: id, Source: "nats-client", Type: typ, Subject: subject, Time: t}
	if data != nil {
		e.Data, _ = json.Marshal(data)
	}
	b, _ := e.MarshalJSON()
	return string(b)
}

// acctCount is what the generator expects of one account in the read model.
type acctCount struct {
	events, orders, returns int64
}

// generated is a seeded stream and what it must lead to, known without the
// projector: which sequences are set aside, how many events are applied, and
// per account how many events, orders and returns count.
type generated struct {
	s        *stream
	rejected map[uint64]string // seq → the kind of poison
	dupOf    map[uint64]string // seq of a duplicate → the id it repeats
	applied  int64
	accounts map[string]*acctCount
}

// genStream makes about two years of events for n accounts: every event
// type, late events, ticks, invalid events, duplicate ids and poison
// messages published as raw bytes.
func genStream(seed uint64, n int) *generated {
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	g := &generated{s: &stream{}, rejected: map[uint64]string{}, dupOf: map[uint64]string{}, accounts: map[string]*acctCount{}}
	s := g.s

	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("acct-%03d", i)
	}
	// Ids that need encoding in a subject token.
	ids[7], ids[13], ids[21] = "acme.corp", "Ünïcode GmbH", "a*b>c"
	pick := func() string {
		// Skewed, so that revenue is spread like a Pareto curve.
		i := int(rng.ExpFloat64()*float64(n)/4) % n
		return ids[i]
	}
	one := func(list ...string) string { return list[rng.IntN(len(list))] }
	ts := func(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }
	money := func(minCents, maxCents int) string {
		c := minCents + rng.IntN(maxCents-minCents)
		return fmt.Sprintf("%d.%02d", c/100, c%100)
	}

	type item struct{ account, id string }
	var requests, complaints []item
	registered := map[string]bool{}
	var valid []events.Stored // applied events, to repeat
	nextItem := 0

	count := func(account string) *acctCount {
		c := g.accounts[account]
		if c == nil {
			c = &acctCount{}
			g.accounts[account] = c
		}
		return c
	}
	ok := func(st events.Stored, account, typ string) {
		g.applied++
		valid = append(valid, st)
		if typ == events.TypeClockTick {
			return
		}
		c := count(account)
		c.events++
		switch typ {
		case events.TypeOrderPlaced:
			c.orders++
		case events.TypeOrderReturned:
			c.returns++
		}
	}
	bad := func(kind string) { g.rejected[uint64(len(s.msgs))] = kind }
	seqNow := func() uint64 { return uint64(len(s.msgs)) }

	// valid adds one valid event of account at t.
	validEvent := func(account string, t time.Time) {
		r := rng.IntN(100)
		var typ string
		var data map[string]any
		switch {
		case r < 36:
			typ = events.TypeOrderPlaced
			data = map[string]any{"order_id": fmt.Sprintf("o-%d", len(s.msgs)), "amount": money(0, 2_000_000)}
			if rng.IntN(3) == 0 {
				data["discount_pct"] = []any{5, 9.99, 10, 12.5, 30, 100}[rng.IntN(6)]
			}
			if rng.IntN(4) == 0 {
				data["lines"] = []any{map[string]any{"sku": "S1", "qty": 1 + rng.IntN(5), "unit_price": money(0, 10000), "new_product": rng.IntN(2) == 0}}
			}
			if rng.IntN(5) == 0 {
				data["currency"] = "USD"
				data["quantity"] = 1 + rng.IntN(9)
				data["channel"] = "web"
			}
			if rng.IntN(40) == 0 {
				data["amount"] = "0.00" // a free order is still an order
			}
		case r < 41:
			typ = events.TypeOrderReturned
			data = map[string]any{"amount": money(1, 3_000_000)}
			if rng.IntN(2) == 0 {
				data["amount"] = fmt.Sprintf("%d.%02d", 1+rng.IntN(5000), rng.IntN(100))
				data["order_id"] = "o-1"
			}
		case r < 54:
			typ = events.TypeVisitLogged
			data = map[string]any{"visit_id": fmt.Sprintf("v-%d", len(s.msgs)), "rep": one("kim", "lee", "sam"),
				"kind": one("onsite", "phone", "video", "email"), "competitor": one("none", "none", "evaluating", "purchased"),
				"partnership_discussed": rng.IntN(6) == 0, "notes": "met"}
			if rng.IntN(5) > 0 {
				c := map[string]any{"name": one("Ann", "Bo", "Cy", "Di")}
				if rng.IntN(8) > 0 {
					c["role"] = one("decision_maker", "influencer", "purchaser", "user")
				}
				data["contact"] = c
			}
		case r < 58:
			if registered[account] {
				typ = events.TypeAccountUpdated
				data = map[string]any{"partnership": one("none", "interested", "strategic"), "unknown_field": 1}
				if rng.IntN(2) == 0 {
					data = map[string]any{"service_requirement": one("standard", "elevated", "critical"), "manager": "kim"}
				}
			} else {
				registered[account] = true
				typ = events.TypeAccountRegistered
				data = map[string]any{"name": "Account " + account, "industry": "x", "region": one("EU", "US"),
					"partnership": one("none", "interested", "strategic"), "service_requirement": one("standard", "elevated", "critical")}
			}
		case r < 68:
			nextItem++
			it := item{account, fmt.Sprintf("r%d", nextItem)}
			requests = append(requests, it)
			typ = events.TypeServiceRequestOpened
			data = map[string]any{"request_id": it.id, "priority": one("low", "normal", "high", "urgent"), "kind": "fix"}
		case r < 80:
			typ = one(events.TypeServiceRequestResponded, events.TypeServiceRequestResolved)
			id := "never-opened"
			if len(requests) > 0 && rng.IntN(20) > 0 {
				it := requests[rng.IntN(len(requests))]
				account, id = it.account, it.id
			}
			data = map[string]any{"request_id": id}
		case r < 86:
			nextItem++
			it := item{account, fmt.Sprintf("c%d", nextItem)}
			complaints = append(complaints, it)
			typ = events.TypeComplaintFiled
			data = map[string]any{"complaint_id": it.id, "severity": one("low", "medium", "high", "critical")}
		default:
			typ = events.TypeComplaintResolved
			id := "never-filed"
			if len(complaints) > 0 && rng.IntN(20) > 0 {
				it := complaints[rng.IntN(len(complaints))]
				account, id = it.account, it.id
			}
			data = map[string]any{"complaint_id": id}
			if rng.IntN(2) == 0 {
				data["satisfied"] = rng.IntN(2) == 0
			}
		}
		st := s.add(typ, account, ts(t), data)
		ok(st, account, typ)
	}

	// invalidEvent adds an event that fails validation (or names an unknown
	// type), with a proper subject and a fresh id.
	invalidEvent := func(account string, t time.Time) {
		switch rng.IntN(12) {
		case 0:
			s.order(account, ts(t), "-5.00")
		case 1:
			s.add(events.TypeOrderPlaced, account, ts(t), map[string]any{"amount": "10.00"}) // no order_id
		case 2:
			s.order(account, ts(t), "1.234") // more decimals than USD has
		case 3:
			s.order(account, ts(t), "10.00", "currency", "EUR")
		case 4:
			s.add("order.cancelled", account, ts(t), map[string]any{"order_id": "x"})
		case 5:
			s.add(events.TypeVisitLogged, account, ts(t), map[string]any{"visit_id": "v", "rep": "kim", "contact": map[string]any{"role": "boss"}})
		case 6:
			s.add(events.TypeComplaintFiled, account, ts(t), map[string]any{"complaint_id": "cx"}) // no severity
		case 7:
			s.add(events.TypeServiceRequestOpened, account, ts(t), map[string]any{"request_id": "rx", "priority": "asap"})
		case 8:
			s.add(events.TypeAccountRegistered, account, ts(t), map[string]any{"industry": "x"}) // no name
		case 9:
			s.add(events.TypeOrderReturned, account, ts(t), map[string]any{"amount": "0.00"})
		case 10:
			s.add(events.TypeClockTick, account, ts(t), nil) // a tick with a subject
		default:
			s.order(account, ts(t), "10.00", "discount_pct", 150)
		}
		bad("invalid")
	}

	// poison adds a raw message that is not an applicable event.
	poison := func(account string, t time.Time) {
		stored := t
		switch k := rng.IntN(9); k {
		case 0:
			s.raw(natsstore.SubjectFor(account, events.TypeOrderPlaced), "not json at all", stored)
			bad("not JSON")
		case 1:
			s.raw(natsstore.SubjectFor(account, events.TypeOrderPlaced), "", stored)
			bad("empty")
		case 2:
			s.raw(natsstore.SubjectFor(account, events.TypeOrderPlaced), `[1,2,3]`, stored)
			bad("JSON array")
		case 3:
			s.raw(natsstore.SubjectFor(account, events.TypeOrderPlaced), `{"specversion":"1.0","id":"trunc`, stored)
			bad("truncated")
		case 4:
			// A valid order on another account's subject.
			body := eventJSON(fmt.Sprintf("wrong-subject-%d", len(s.msgs)), events.TypeOrderPlaced, account, t,
				map[string]any{"order_id": "w", "amount": "99.00"})
			s.raw(natsstore.SubjectFor(account+"-other", events.TypeOrderPlaced), body, stored)
			bad("wrong subject")
		case 5:
			// A valid visit on the subject of another type.
			body := eventJSON(fmt.Sprintf("wrong-type-subject-%d", len(s.msgs)), events.TypeVisitLogged, account, t,
				map[string]any{"visit_id": "w", "rep": "kim"})
			s.raw(natsstore.SubjectFor(account, events.TypeOrderPlaced), body, stored)
			bad("wrong subject")
		case 6:
			s.raw("elsewhere.entirely", eventJSON(fmt.Sprintf("elsewhere-%d", len(s.msgs)), events.TypeClockTick, "", t, nil), stored)
			bad("wrong subject")
		case 7:
			// From the future: 5 minutes and 1 ms after it was stored.
			body := eventJSON(fmt.Sprintf("future-%d", len(s.msgs)), events.TypeOrderPlaced, account, t.Add(5*time.Minute+time.Millisecond),
				map[string]any{"order_id": "f", "amount": "1000000.00"})
			s.raw(natsstore.SubjectFor(account, events.TypeOrderPlaced), body, stored)
			bad("future")
		default:
			// Exactly 5 minutes after it was stored: not from the future.
			id := fmt.Sprintf("almost-future-%d", len(s.msgs))
			body := eventJSON(id, events.TypeOrderPlaced, account, t.Add(5*time.Minute),
				map[string]any{"order_id": "f", "amount": "12.00"})
			s.raw(natsstore.SubjectFor(account, events.TypeOrderPlaced), body, stored)
			ok(s.msgs[len(s.msgs)-1], account, events.TypeOrderPlaced)
		}
	}

	// duplicate repeats an applied event's id: the same message again, or
	// another event under the same id.
	duplicate := func(t time.Time) {
		if len(valid) == 0 {
			return
		}
		orig := valid[rng.IntN(len(valid))]
		e, err := events.Decode(orig.Data, false)
		if err != nil {
			panic(err)
		}
		if rng.IntN(2) == 0 {
			s.raw(orig.Subject, string(orig.Data), t)
		} else {
			other := pick()
			body := eventJSON(e.ID, events.TypeOrderPlaced, other, t, map[string]any{"order_id": "dup", "amount": "5.00"})
			s.raw(natsstore.SubjectFor(other, events.TypeOrderPlaced), body, t)
		}
		bad("duplicate")
		g.dupOf[seqNow()] = e.ID
	}

	// conflict opens a request again under a fresh event id.
	conflict := func(t time.Time) {
		if len(requests) == 0 {
			return
		}
		it := requests[rng.IntN(len(requests))]
		s.add(events.TypeServiceRequestOpened, it.account, ts(t), map[string]any{"request_id": it.id, "priority": "low"})
		bad("second opening")
	}

	start, end := mustTime("2024-01-01"), mustTime("2026-01-01")
	// The first message fixes the first review day: 2024-01-01.
	ok(s.tick(ts(start)), "", events.TypeClockTick)
	for day := start; day.Before(end); day = day.Add(24 * time.Hour) {
		if day.After(start) && rng.IntN(10) < 3 {
			ok(s.tick(ts(day)), "", events.TypeClockTick)
		}
		k := rng.IntN(18)
		offsets := make([]int, k)
		for i := range offsets {
			offsets[i] = rng.IntN(86_400_000)
		}
		sort.Ints(offsets)
		for _, off := range offsets {
			t := day.Add(time.Duration(off) * time.Millisecond)
			account := pick()
			switch r := rng.IntN(100); {
			case r < 4:
				// Late: up to 500 days before the watermark (and once,
				// years before everything).
				late := t.Add(-time.Duration(1+rng.IntN(500)) * 24 * time.Hour)
				if rng.IntN(50) == 0 {
					late = mustTime("2001-02-03T04:05:06.789Z")
				}
				validEvent(account, late)
			case r < 7:
				invalidEvent(account, t)
			case r < 10:
				poison(account, t)
			case r < 12:
				duplicate(t)
			case r < 13:
				conflict(t)
			default:
				validEvent(account, t)
			}
		}
	}
	ok(s.tick(ts(end)), "", events.TypeClockTick)
	return g
}

// segment applies msgs[from:to] in batches of batch; the run closes and
// reopens the read model between segments. A segment may start before the
// previous one ended: the stream delivers those again after a reconnect.
// crash more messages are then applied in memory and never committed, as
// when the process dies in the middle of a batch.
type segment struct{ from, to, batch, crash int }

// build applies msgs in segments to a fresh file and returns the open DB.
func build(t *testing.T, msgs []events.Stored, segs ...segment) (*DB, *Projector) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kam.db")
	var (
		db *DB
		p  *Projector
	)
	for i, sg := range segs {
		var err error
		if db, err = OpenDB(path); err != nil {
			t.Fatal(err)
		}
		if p, err = Open(context.Background(), db, DefaultPolicy(), "KAM", nil); err != nil {
			t.Fatal(err)
		}
		applyAll(t, p, msgs[sg.from:sg.to], sg.batch)
		for _, st := range msgs[sg.to:min(sg.to+sg.crash, len(msgs))] {
			p.apply(p.Decode(st)) // never flushed
		}
		if i < len(segs)-1 {
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	t.Cleanup(func() { db.Close() })
	return db, p
}

// tableRows returns every table's rows, ordered by all their columns, each
// row ending with its values' SQLite types: equal text must not hide a
// BLOB stored as TEXT, or an integer stored as text. (dumpTables orders by
// the first three columns, which applied_ids, with two, does not have.)
func tableRows(t *testing.T, db *DB) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for _, tbl := range query(t, db, `SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`) {
		cols := query(t, db, `SELECT name FROM pragma_table_info(?) ORDER BY cid`, tbl)
		types := make([]string, len(cols))
		order := make([]string, len(cols))
		for i, c := range cols {
			types[i] = "typeof(" + c + ")"
			order[i] = fmt.Sprint(i + 1)
		}
		out[tbl] = query(t, db, "SELECT "+strings.Join(cols, ", ")+", "+strings.Join(types, " || ',' || ")+
			" FROM "+tbl+" ORDER BY "+strings.Join(order, ", "))
	}
	return out
}

// diffTables reports, for each table whose rows differ, the first rows
// that differ.
func diffTables(t *testing.T, name string, want, got map[string][]string) {
	t.Helper()
	var tables []string
	for tbl := range want {
		tables = append(tables, tbl)
	}
	for tbl := range got {
		if _, ok := want[tbl]; !ok {
			tables = append(tables, tbl)
		}
	}
	sort.Strings(tables)
	for _, tbl := range tables {
		rw, rg := want[tbl], got[tbl]
		var shown []string
		differ := 0
		for i := 0; i < max(len(rw), len(rg)); i++ {
			a, b := "(none)", "(none)"
			if i < len(rw) {
				a = rw[i]
			}
			if i < len(rg) {
				b = rg[i]
			}
			if a != b {
				differ++
				if len(shown) < 6 {
					shown = append(shown, fmt.Sprintf("  row %d: %s", i+1, firstDifference(b, a)))
				}
			}
		}
		if differ > 0 {
			t.Errorf("%s: table %s: %d rows differ (got %d rows, want %d):\n%s", name, tbl, differ, len(rg), len(rw), strings.Join(shown, "\n"))
		}
	}
}

// firstDifference shows where two rows first differ, with some context.
func firstDifference(got, want string) string {
	k := 0
	for k < len(got) && k < len(want) && got[k] == want[k] {
		k++
	}
	from := max(0, k-40)
	return fmt.Sprintf("from byte %d: got %.120q, want %.120q (row starts %.60q)", k, got[from:], want[from:], want)
}

// TestDeterminism applies one seeded stream with batch sizes 1, 7 and 1000,
// with restarts (and redeliveries) and with crashes in the middle of
// batches: every table must hold the same rows, of the same types. (A
// difference in applied_ids' types alone is the bug of
// TestAppliedIDsLedgerTypeWhateverTheBatches.)
func TestDeterminism(t *testing.T) {
	g := genStream(20260128, 300)
	msgs := g.s.msgs
	n := len(msgs)
	t.Logf("%d messages, %d applied, %d set aside, %d accounts", n, g.applied, len(g.rejected), len(g.accounts))

	ref, refP := build(t, msgs, segment{0, n, 1000, 0})
	refRows := tableRows(t, ref)
	runs := []struct {
		name string
		segs []segment
	}{
		{"batch 1", []segment{{0, n, 1, 0}}},
		{"batch 7", []segment{{0, n, 7, 0}}},
		{"restarts", []segment{
			{0, n / 3, 7, 0},
			// Redelivered from before the checkpoint: skipped, not applied twice.
			{n/3 - 40, 2 * n / 3, 50, 0},
			{2 * n / 3, 2*n/3 + 1, 1, 0},
			{2*n/3 + 1, n, 1000, 0},
		}},
		{"restart at every thousand", func() []segment {
			var segs []segment
			for from := 0; from < n; from += 1000 {
				segs = append(segs, segment{from, min(from+1000, n), 333, 0})
			}
			return segs
		}()},
		{"crashes in the middle of batches", []segment{
			{0, n / 4, 100, 77},
			{n / 4, n / 2, 1000, 1500},
			{n / 2, n - 1, 10, 1},
			{n - 1, n, 1, 0},
		}},
	}
	for _, run := range runs {
		t.Run(run.name, func(t *testing.T) {
			db, _ := build(t, msgs, run.segs...)
			diffTables(t, run.name, refRows, tableRows(t, db))
		})
	}
	// A replay's build: the accounts' rows only with the last commit.
	t.Run("account rows deferred to the last commit", func(t *testing.T) {
		p, db := newProjector(t, nil)
		opts := RunOptions{MaxBatch: 7, StopAt: uint64(n), DeferAccountRows: true}
		if err := p.Run(context.Background(), sliceSource(msgs), opts); err != nil {
			t.Fatal(err)
		}
		diffTables(t, "deferred", refRows, tableRows(t, db))
	})

	t.Run("what the stream implies", func(t *testing.T) {
		// Every poison message, invalid event, duplicate id and second
		// opening is set aside with a reason; nothing else is.
		rows := query(t, ref, `SELECT seq, subject, coalesce(event_id, ''), reason FROM rejected_events ORDER BY seq`)
		got := map[uint64]bool{}
		for _, r := range rows {
			f := strings.SplitN(r, "|", 4)
			seq, err := strconv.ParseUint(f[0], 10, 64)
			if err != nil {
				t.Fatalf("rejected_events row %q: %v", r, err)
			}
			got[seq] = true
			kind, want := g.rejected[seq]
			if !want {
				t.Errorf("seq %d set aside, want it applied: %s", seq, r)
				continue
			}
			if strings.TrimSpace(f[3]) == "" {
				t.Errorf("seq %d (%s): empty reason", seq, kind)
			}
			if f[1] != msgs[seq-1].Subject {
				t.Errorf("seq %d (%s): subject %q, want %q", seq, kind, f[1], msgs[seq-1].Subject)
			}
			if id, dup := g.dupOf[seq]; dup && f[2] != id {
				t.Errorf("seq %d (duplicate): event_id %q, want %q", seq, f[2], id)
			}
		}
		for seq, kind := range g.rejected {
			if !got[seq] {
				t.Errorf("seq %d (%s) was applied, want it set aside: %.200s", seq, kind, msgs[seq-1].Data)
			}
		}
		st := refP.Status()
		if st.AppliedSeq != uint64(n) || st.Applied != g.applied || st.Rejected != int64(len(g.rejected)) {
			t.Errorf("status: got applied_seq %d, applied %d, rejected %d; want %d, %d, %d",
				st.AppliedSeq, st.Applied, st.Rejected, n, g.applied, len(g.rejected))
		}
		// A fresh model commits its state row at open, then each batch.
		if want := int64(1 + (n+999)/1000); st.Commits != want || st.CommitSeconds <= 0 {
			t.Errorf("status: %d commits in %gs, want %d (the open, then batches of 1000) in some time", st.Commits, st.CommitSeconds, want)
		}
		// An id applied twice counts once: each account's events, orders
		// and returns are those of the events generated valid.
		var want []string
		for a, c := range g.accounts {
			want = append(want, fmt.Sprintf("%s|%d|%d|%d", a, c.events, c.orders, c.returns))
		}
		sort.Strings(want)
		expectRows(t, ref, "account counts", `SELECT account, events, orders_total, returns_total FROM accounts ORDER BY account`, want)
		expectRows(t, ref, "last review", `SELECT last_review_day, next_review_day FROM projector_state`, []string{"2025-12-31|2026-01-01"})
		expectRows(t, ref, "reviews", `SELECT count(*) FROM reviews`, []string{"731"})
	})
}

// TestDuplicateIDAcrossRestart: the ledger of applied ids survives a restart,
// so a duplicate delivered after it is still set aside; a read model is not
// continued under another policy.
func TestDuplicateIDAcrossRestart(t *testing.T) {
	var s stream
	first := s.order("D1", "2025-05-01T10:00:00Z", "100.00")              // 1: ev-000001
	s.raw(first.Subject, string(first.Data), first.Stored.Add(time.Hour)) // 2: the same message again
	s.raw(natsstore.SubjectFor("D2", events.TypeOrderPlaced),             // 3: another event, same id
		eventJSON("ev-000001", events.TypeOrderPlaced, "D2", mustTime("2025-05-01T11:00:00Z"), map[string]any{"order_id": "x", "amount": "7.00"}),
		mustTime("2025-05-01T11:00:01Z"))
	s.order("D1", "2025-05-02T10:00:00Z", "1.00")                              // 4
	s.raw(first.Subject, string(first.Data), mustTime("2025-05-02T11:00:00Z")) // 5: again, after the restart
	s.tick("2025-05-03T00:00:00Z")                                             // 6
	path := filepath.Join(t.TempDir(), "kam.db")

	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Open(context.Background(), db, DefaultPolicy(), "KAM", nil)
	if err != nil {
		t.Fatal(err)
	}
	applyAll(t, p, s.msgs[:4], 2)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err = OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	other := changedPolicy(t, func(m map[string]any) { m["tiering"].(map[string]any)["cut_a"] = 70 })
	if _, err := Open(context.Background(), db, other, "KAM", nil); !errors.Is(err, ErrPolicyMismatch) {
		t.Errorf("Open under another policy: got %v, want ErrPolicyMismatch", err)
	}
	p, err = Open(context.Background(), db, DefaultPolicy(), "KAM", nil)
	if err != nil {
		t.Fatal(err)
	}
	// Deliver everything again from the start: 1..4 are below the
	// checkpoint and skipped.
	applyAll(t, p, s.msgs, 3)

	// D1: 100.00 + 1.00, two orders; D2 never applied.
	expectRows(t, db, "accounts", `SELECT account, events, orders_total, revenue_total, revenue_window FROM accounts ORDER BY account`,
		[]string{"D1|2|2|10100|10100"})
	expectRows(t, db, "rejected", `SELECT seq, event_id, type FROM rejected_events ORDER BY seq`, []string{
		"2|ev-000001|order.placed",
		"3|ev-000001|order.placed",
		"5|ev-000001|order.placed",
	})
	expectRows(t, db, "state", `SELECT applied_seq, events_applied, rejected FROM projector_state`, []string{"6|3|3"})
}

// TestAppliedIDsLedgerTypeWhateverTheBatches: the ledger of applied ids
// holds the same value, of the same type, whether a block was written in
// one batch or appended to over several: a rebuild must be the same byte for
// byte in its tables' contents whatever the batch sizes (SPEC: Time, order
// and determinism).
func TestAppliedIDsLedgerTypeWhateverTheBatches(t *testing.T) {
	var s stream
	s.order("A", "2025-01-01T10:00:00Z", "1.00")
	s.order("B", "2025-01-01T11:00:00Z", "2.00")
	s.tick("2025-01-02T00:00:00Z")
	for _, batch := range []int{3, 1} {
		p, db := newProjector(t, nil)
		applyAll(t, p, s.msgs, batch)
		// 3 entries of 16 + 8 bytes in block 0.
		got := query(t, db, `SELECT block, typeof(entries), length(CAST(entries AS BLOB)) FROM applied_ids`)
		if want := "0|blob|72"; len(got) != 1 || got[0] != want {
			t.Errorf("batches of %d: applied_ids (block, typeof(entries), bytes): got %v, want [%s]; "+
				"an append across batches (entries || excluded.entries) stores TEXT, since SQLite's || yields TEXT, "+
				"so the table's content depends on the batch sizes", batch, got, want)
		}
	}
}

// TestRulesVersion: a model's state row says which rules built it; a model
// built by other rules is refused, saying how to rebuild, unless it is to be
// served until a rebuild replaces it, and then it stays marked as such. A
// model from before the column existed counts as built by version 1.
func TestRulesVersion(t *testing.T) {
	var s stream
	s.order("R1", "2025-05-01T10:00:00Z", "10.00")
	s.tick("2025-05-02T00:00:00Z")
	path := filepath.Join(t.TempDir(), "kam.db")
	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := Open(context.Background(), db, DefaultPolicy(), "KAM", nil)
	if err != nil {
		t.Fatal(err)
	}
	applyAll(t, p, s.msgs[:1], 1)
	expectRows(t, db, "a new model", "SELECT rules FROM projector_state", []string{fmt.Sprint(RulesVersion)})

	if _, err := db.writer.Exec(`UPDATE projector_state SET rules = 1`); err != nil {
		t.Fatal(err)
	}
	_, err = Open(context.Background(), db, DefaultPolicy(), "KAM", nil)
	if !errors.Is(err, ErrRulesChanged) || !strings.Contains(err.Error(), "version 1 of kam's rules") ||
		!strings.Contains(err.Error(), "kam serve --rebuild") {
		t.Fatalf("Open of a model built by rules 1: got %v, want ErrRulesChanged saying which rules and how to rebuild", err)
	}
	p, err = open(context.Background(), db, DefaultPolicy(), "KAM", nil, true)
	if err != nil {
		t.Fatalf("open to serve until a rebuild: %v", err)
	}
	applyAll(t, p, s.msgs, 1)
	expectRows(t, db, "continued by newer rules", "SELECT applied_seq, rules FROM projector_state", []string{"2|1"})
}
