package projections

import (
	"context"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"kam/events"
)

func TestPartCacheKeepsOnlyWhatNoCommitTouched(t *testing.T) {
	var c partCache
	parts := &cachedParts{items: []itemRow{{kind: KindRequest}}}
	got, seq := c.get("a")
	if got != nil || seq != 0 {
		t.Fatalf("empty cache: %v, %d", got, seq)
	}
	c.invalidate(5, []string{"a"}) // a commit touched a after the reader looked
	c.put("a", seq, parts)
	if got, _ := c.get("a"); got != nil {
		t.Fatal("kept rows read before a commit that touched the account")
	}
	_, seq = c.get("a")
	c.put("a", seq, parts)
	c.put("b", seq, parts)
	if got, _ := c.get("a"); got != parts {
		t.Fatal("did not keep rows read after the last commit")
	}
	c.invalidate(6, []string{"a"})
	if got, _ := c.get("a"); got != nil {
		t.Fatal("a commit that touched the account left its rows")
	}
	if got, _ := c.get("b"); got != parts {
		t.Fatal("a commit dropped the rows of an account it did not touch")
	}
}

// Account reads served from the cache equal those read from the tables, as
// the projector goes on; and a read racing the projector's commits never
// returns rows older than the last commit that touched the account before
// the read began.
func TestAccountReadsFollowCommits(t *testing.T) {
	p, db := newProjector(t, nil)
	q := NewQueries(db, p.pol)
	ctx := context.Background()
	now := mustTime("2024-06-01")
	var s stream
	s.order("ACME", "2024-01-02T10:00:00Z", "100.00")
	s.order("BOLT", "2024-01-02T11:00:00Z", "50.00")
	applyAll(t, p, s.msgs, 100)
	fresh := func(id string) *Account {
		t.Helper()
		a, err := q.account(ctx, id, nil, now, false) // from the tables, not the cache
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	cached := func(id string) *Account {
		t.Helper()
		a, err := q.Account(ctx, id, nil, now)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	for _, id := range []string{"ACME", "BOLT"} {
		cached(id) // fills the cache
	}
	if c, _ := db.parts.get("BOLT"); c == nil {
		t.Fatal("an account read left nothing in the cache")
	}
	// The steps fall on the orders' day: no review, which may change other
	// accounts' decisions and so their rows, runs between them.
	steps := []func(){
		func() {
			request(&s, events.TypeServiceRequestOpened, "ACME", "2024-01-02T12:00:00Z", "r1", "priority", "high")
		},
		func() {
			visit(&s, "ACME", "2024-01-02T13:00:00Z", map[string]any{"visit_id": "v1", "rep": "kim",
				"contact": map[string]any{"name": "Bo", "role": "decision_maker"}})
		},
		func() { request(&s, events.TypeServiceRequestResponded, "ACME", "2024-01-02T14:00:00Z", "r1") },
		func() {
			s.add(events.TypeComplaintFiled, "ACME", "2024-01-02T15:00:00Z", map[string]any{"complaint_id": "c1", "severity": "low"})
		},
	}
	for i, step := range steps {
		before := len(s.msgs)
		step()
		applyAll(t, p, s.msgs[before:], 100)
		if got, want := cached("ACME"), fresh("ACME"); !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: the cached read differs from the tables:\n got %+v\nwant %+v", i, got, want)
		}
		if c, _ := db.parts.get("BOLT"); c == nil {
			t.Fatalf("step %d: a commit that did not touch BOLT dropped its rows", i)
		}
	}
	if a := cached("ACME"); a.SLA.Requests.Opened != 1 || a.SLA.Complaints.Opened != 1 || len(a.Contacts["decision_maker"]) != 1 {
		t.Fatalf("ACME after all steps: %+v", a)
	}

	// Readers racing commits: each read sees at least every item opened
	// before it began.
	var wg sync.WaitGroup
	var opened atomic.Int64 // how many items had been applied when the read began
	stop := make(chan struct{})
	var failure error
	var mu sync.Mutex
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := opened.Load()
				a, err := q.Account(ctx, "BOLT", nil, now)
				if err == nil && int64(a.SLA.Requests.Opened) < n {
					err = fmt.Errorf("a read that began after %d items were applied saw %d", n, a.SLA.Requests.Opened)
				}
				if err != nil {
					mu.Lock()
					failure = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	for i := 1; i <= 200; i++ {
		before := len(s.msgs)
		request(&s, events.TypeServiceRequestOpened, "BOLT", time.Date(2024, 2, 1, 0, i, 0, 0, time.UTC).Format(time.RFC3339), "q"+strconv.Itoa(i), "priority", "normal")
		applyAll(t, p, s.msgs[before:], 100)
		opened.Store(int64(i))
	}
	close(stop)
	wg.Wait()
	if failure != nil {
		t.Fatal(failure)
	}
	if a := cached("BOLT"); a.SLA.Requests.Opened != 200 {
		t.Fatalf("BOLT: %d requests opened, want 200", a.SLA.Requests.Opened)
	}
}
