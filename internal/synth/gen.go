// Package synth makes synthetic event streams for kam's benchmarks and tests: a fixed
// number of events over a number of accounts and days, with a realistic mix
// of types, Pareto-distributed activity, and about 300 bytes per event.
package synth

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"

	"kam/events"
)

// Options size a stream.
type Options struct {
	Events   int
	Accounts int
	Days     int
	Seed     uint64
	Start    time.Time // first day, UTC midnight
}

// Events returns the stream's events in business-time order.
func Events(o Options) []*events.Event {
	rng := rand.New(rand.NewPCG(o.Seed, 42))
	// Pareto activity: account i gets weight (i+1)^-1.1, shuffled.
	weights := make([]float64, o.Accounts)
	var sum float64
	for i := range weights {
		weights[i] = math.Pow(float64(i+1), -0.8)
		sum += weights[i]
	}
	cdf := make([]float64, o.Accounts)
	acc := 0.0
	for i, w := range weights {
		acc += w / sum
		cdf[i] = acc
	}
	perm := rng.Perm(o.Accounts)
	pick := func() string {
		x := rng.Float64()
		lo, hi := 0, len(cdf)-1
		for lo < hi {
			mid := (lo + hi) / 2
			if cdf[mid] < x {
				lo = mid + 1
			} else {
				hi = mid
			}
		}
		return fmt.Sprintf("ACCT-%06d", perm[lo])
	}
	span := time.Duration(o.Days) * 24 * time.Hour
	step := span / time.Duration(o.Events)
	out := make([]*events.Event, 0, o.Events)
	open := map[string][]string{} // account -> open request ids
	for i := 0; i < o.Events; i++ {
		t := o.Start.Add(time.Duration(i) * step)
		a := pick()
		e := &events.Event{SpecVersion: "1.0", ID: fmt.Sprintf("bench-%d-%08d", o.Seed, i), Source: "bench/erp", Subject: a, Time: t}
		var data map[string]any
		switch r := rng.IntN(1000); {
		case r < 20:
			e.Type = events.TypeAccountRegistered
			data = map[string]any{"name": "Account " + a, "industry": "manufacturing", "region": []string{"north", "south", "east", "west"}[rng.IntN(4)],
				"manager": fmt.Sprintf("mgr-%02d", rng.IntN(40)), "partnership": events.Partnerships[rng.IntN(3)],
				"service_requirement": events.ServiceRequirements[rng.IntN(3)]}
		case r < 570:
			e.Type = events.TypeOrderPlaced
			disc := []int{0, 0, 0, 5, 10, 15, 20}[rng.IntN(7)]
			data = map[string]any{"order_id": fmt.Sprintf("o-%d", i), "amount": fmt.Sprintf("%d.%02d", 50+rng.IntN(5000), rng.IntN(100)),
				"quantity": 1 + rng.IntN(20), "discount_pct": disc, "channel": "web",
				"lines": []map[string]any{{"sku": fmt.Sprintf("SKU-%04d", rng.IntN(5000)), "qty": 1 + rng.IntN(5), "unit_price": "19.99", "new_product": rng.IntN(20) == 0}}}
		case r < 610:
			e.Type = events.TypeOrderReturned
			data = map[string]any{"order_id": fmt.Sprintf("o-%d", i-rng.IntN(1000)), "amount": fmt.Sprintf("%d.00", 10+rng.IntN(200))}
		case r < 740:
			e.Type = events.TypeVisitLogged
			data = map[string]any{"visit_id": fmt.Sprintf("v-%d", i), "rep": fmt.Sprintf("rep-%02d", rng.IntN(60)),
				"contact": map[string]any{"name": fmt.Sprintf("Contact %d", rng.IntN(5)), "role": events.ContactRoles[rng.IntN(4)]},
				"kind":    events.VisitKinds[rng.IntN(4)], "competitor": []string{"none", "none", "none", "evaluating", "purchased"}[rng.IntN(5)],
				"partnership_discussed": rng.IntN(10) == 0, "notes": "quarterly review of the account plan"}
		case r < 770:
			e.Type = events.TypeComplaintFiled
			data = map[string]any{"complaint_id": fmt.Sprintf("c-%d", i), "severity": events.ComplaintSeverities[rng.IntN(4)],
				"category": "delivery", "description": "late delivery of the last order"}
		case r < 790:
			e.Type = events.TypeComplaintResolved
			data = map[string]any{"complaint_id": fmt.Sprintf("c-%d", i-rng.IntN(500)), "resolution": "credited", "satisfied": rng.IntN(3) > 0}
		case r < 880:
			e.Type = events.TypeServiceRequestOpened
			id := fmt.Sprintf("sr-%d", i)
			open[a] = append(open[a], id)
			data = map[string]any{"request_id": id, "priority": events.RequestPriorities[rng.IntN(4)], "kind": "repair",
				"description": "machine down on line 3"}
		default:
			ids := open[a]
			if len(ids) == 0 {
				e.Type = events.TypeVisitLogged
				data = map[string]any{"visit_id": fmt.Sprintf("v-%d", i), "rep": "rep-00", "kind": "phone"}
				break
			}
			id := ids[0]
			if r < 940 {
				e.Type = events.TypeServiceRequestResponded
				data = map[string]any{"request_id": id}
			} else {
				e.Type = events.TypeServiceRequestResolved
				data = map[string]any{"request_id": id, "resolution": "fixed on site"}
				open[a] = ids[1:]
			}
		}
		b, _ := json.Marshal(data)
		e.Data = b
		out = append(out, e)
	}
	return out
}
