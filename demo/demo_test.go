package demo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"kam/events"
	"kam/events/natsstore"
	"kam/projections"
)

var end = time.Date(2026, 3, 31, 0, 0, 0, 0, time.UTC)

// ndjson generates o and returns the events as NDJSON, checking each one.
func ndjson(t *testing.T, o Options, check func(e *events.Event, payload any)) []byte {
	t.Helper()
	var buf bytes.Buffer
	err := Generate(o, func(e *events.Event) error {
		payload, err := events.Validate(e, events.DefaultRules)
		if err != nil {
			b, _ := e.MarshalJSON()
			t.Fatalf("invalid demo event %s: %v", b, err)
		}
		if check != nil {
			check(e, payload)
		}
		b, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(b)
		buf.WriteByte('\n')
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDeterministicBySeed(t *testing.T) {
	o := Options{Accounts: 50, Days: 120, Seed: 7, End: end}
	a := ndjson(t, o, nil)
	b := ndjson(t, o, nil)
	if !bytes.Equal(a, b) {
		t.Fatalf("same options: got %x and %x, want the same bytes", sha256.Sum256(a), sha256.Sum256(b))
	}
	o.Seed = 8
	c := ndjson(t, o, nil)
	if bytes.Equal(a, c) {
		t.Fatal("seeds 7 and 8: got the same bytes, want different")
	}
	// A time within End's day is its midnight.
	o.Seed, o.End = 7, end.Add(13*time.Hour)
	if d := ndjson(t, o, nil); !bytes.Equal(a, d) {
		t.Error("End at 13:00: got other bytes than End at midnight")
	}
}

// TestDefaultHistory checks the default demo's shape: every event valid and
// in business-time order, unique ids, the closing tick, every kind of fact
// the dashboard shows, and revenue concentrated Pareto-like.
func TestDefaultHistory(t *testing.T) {
	var (
		last      time.Time
		ids       = map[string]bool{}
		types     = map[string]int{}
		roles     = map[string]int{}
		signals   = map[string]int{}
		revenue   = map[string]int64{}
		regs      = map[string]*events.AccountRegistered{}
		discussed int
		discount  int
		newProd   int
		lastEv    *events.Event
		opened    = map[string]time.Time{}
		responded = map[string]bool{}
		resolved  = map[string]bool{}
	)
	ndjson(t, Options{Seed: 1, End: end}, func(e *events.Event, p any) {
		if e.Time.Before(last) {
			t.Fatalf("event %s at %s comes after one at %s", e.ID, e.Time, last)
		}
		last = e.Time
		if ids[e.ID] {
			t.Fatalf("id %s appears twice", e.ID)
		}
		ids[e.ID] = true
		types[e.Type]++
		lastEv = e
		switch p := p.(type) {
		case *events.AccountRegistered:
			regs[e.Subject] = p
		case *events.OrderPlaced:
			revenue[e.Subject] += p.Amount
			if p.DiscountHundredths >= 1000 {
				discount++
			}
			if p.HasNewProduct() {
				newProd++
			}
		case *events.OrderReturned:
			revenue[e.Subject] -= p.Amount
		case *events.VisitLogged:
			roles[p.Contact.Role]++
			signals[p.Competitor]++
			if p.PartnershipDiscussed {
				discussed++
			}
		case *events.ServiceRequestOpened:
			opened[e.Subject+"/"+p.RequestID] = e.Time
		case *events.ServiceRequestResponded:
			k := e.Subject + "/" + p.RequestID
			if at, ok := opened[k]; !ok || !at.Before(e.Time) {
				t.Errorf("request %s responded at %s, opened at %v", k, e.Time, at)
			}
			responded[k] = true
		case *events.ServiceRequestResolved:
			resolved[e.Subject+"/"+p.RequestID] = true
		}
	})
	if lastEv.Type != events.TypeClockTick || !lastEv.Time.Equal(end.Add(24*time.Hour)) {
		t.Errorf("last event: got %s at %s, want a clock.tick at %s", lastEv.Type, lastEv.Time, end.Add(24*time.Hour))
	}
	if types[events.TypeClockTick] != 1 {
		t.Errorf("clock ticks: got %d, want 1", types[events.TypeClockTick])
	}
	for _, typ := range events.Types {
		if types[typ] == 0 {
			t.Errorf("no %s event", typ)
		}
	}
	for _, r := range events.ContactRoles {
		if roles[r] == 0 {
			t.Errorf("no visit met a %s", r)
		}
	}
	for _, s := range events.CompetitorSignals {
		if signals[s] == 0 {
			t.Errorf("no visit reported competitor %q", s)
		}
	}
	if discussed == 0 || discount == 0 || newProd == 0 {
		t.Errorf("partnership discussed %d, discounted orders %d, new-product orders %d: want some of each", discussed, discount, newProd)
	}
	if len(regs) < 180 || len(regs) >= 200 {
		t.Errorf("registered accounts: got %d, want most but not all of 200", len(regs))
	}
	for id, r := range regs {
		if r.Name == nil || r.Industry == nil || r.Region == nil || r.Manager == nil || r.Partnership == nil || r.ServiceRequirement == nil {
			t.Errorf("account %s registered without its whole profile", id)
		}
	}
	open := 0
	for k := range opened {
		if !resolved[k] {
			open++
		}
	}
	if open == 0 || len(resolved) == 0 {
		t.Errorf("service requests: %d open, %d resolved: want some of both", open, len(resolved))
	}
	// Pareto: the top 20% of accounts hold well over half the revenue.
	var revs []int64
	var total int64
	for _, r := range revenue {
		revs = append(revs, r)
		total += r
	}
	sort.Slice(revs, func(i, j int) bool { return revs[i] > revs[j] })
	var top int64
	for _, r := range revs[:len(revs)/5] {
		top += r
	}
	if share := top * 100 / total; share < 60 || share > 95 {
		t.Errorf("top 20%% of accounts hold %d%% of revenue, want 60%% to 95%%", share)
	}
	t.Logf("%d events: %v; top 20%% hold %d%%", len(ids), types, top*100/total)
}

func TestEmitErrorStops(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := Generate(Options{Accounts: 10, Days: 30, End: end}, func(*events.Event) error {
		n++
		if n == 5 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 5 {
		t.Errorf("got %v after %d events, want stop after 5", err, n)
	}
}

func TestOptionsRefused(t *testing.T) {
	for name, o := range map[string]Options{
		"negative accounts": {Accounts: -1},
		"too many days":     {Days: MaxDays + 1},
		"before year 1":     {Days: 10, End: time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC)},
	} {
		if err := Generate(o, func(*events.Event) error { return nil }); err == nil {
			t.Errorf("%s: got no error", name)
		}
	}
}

func BenchmarkGenerate(b *testing.B) {
	for b.Loop() {
		n := 0
		if err := Generate(Options{Accounts: 2000, Days: 365, End: end}, func(e *events.Event) error {
			n++
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestLivingReadModel folds the default demo into a real read model and
// checks that a newcomer sees a living system: every tier, key accounts,
// every loyalty status, service levels both met and breached, open items,
// and decision makers both recently and long unvisited.
func TestLivingReadModel(t *testing.T) {
	db, err := projections.OpenDB(filepath.Join(t.TempDir(), "kam.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pol := projections.DefaultPolicy()
	p, err := projections.Open(context.Background(), db, pol, "KAM", nil)
	if err != nil {
		t.Fatal(err)
	}
	var msgs []events.Stored
	err = Generate(Options{Seed: 1, End: end}, func(e *events.Event) error {
		b, err := e.MarshalJSON()
		if err != nil {
			return err
		}
		msgs = append(msgs, events.Stored{Seq: uint64(len(msgs) + 1), Subject: natsstore.SubjectFor(e.Subject, e.Type), Stored: e.Time, Data: b})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Apply(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	count := func(q string) map[string]int {
		rows, err := db.Reader().Query(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		out := map[string]int{}
		for rows.Next() {
			var k sql.NullString
			var n int
			if err := rows.Scan(&k, &n); err != nil {
				t.Fatal(err)
			}
			out[k.String] = n
		}
		return out
	}
	tiers := count(`SELECT tier, count(*) FROM accounts GROUP BY tier`)
	key := count(`SELECT key_account, count(*) FROM accounts GROUP BY key_account`)
	loyalty := count(`SELECT loyalty, count(*) FROM accounts GROUP BY loyalty`)
	resp := count(`SELECT coalesce(response_met, -1), count(*) FROM sla_items WHERE kind = 'request' GROUP BY 1`)
	res := count(`SELECT coalesce(resolution_met, -1), count(*) FROM sla_items GROUP BY 1`)
	rejected := count(`SELECT 'rejected', count(*) FROM rejected_events`)
	t.Logf("tiers %v, key %v, loyalty %v, response met %v, resolution met %v", tiers, key, loyalty, resp, res)
	if rejected["rejected"] != 0 {
		t.Errorf("rejected events: got %d, want 0", rejected["rejected"])
	}
	for _, tier := range []string{"A", "B", "C"} {
		if tiers[tier] == 0 {
			t.Errorf("no account in tier %s", tier)
		}
	}
	if key["1"] == 0 || key["1"] >= tiers["A"] {
		t.Errorf("key accounts: got %d of %d in tier A, want some but not all", key["1"], tiers["A"])
	}
	for _, l := range []string{"new", "brand_switching", "no_brand_loyalty", "loyal"} {
		if loyalty[l] == 0 {
			t.Errorf("no account is %s", l)
		}
	}
	for name, m := range map[string]map[string]int{"response": resp, "resolution": res} {
		if m["1"] == 0 || m["0"] == 0 || m["-1"] == 0 {
			t.Errorf("%s targets: got %v, want some met (1), breached (0) and open (-1)", name, m)
		}
	}
}
