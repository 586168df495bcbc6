package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"kam/events"
	"kam/importer"
)

// resumeFile makes n rows of account A (rounded[i]: row i is of the
// rounded kind) and the closing tick.
func resumeFile(n int, rounded func(i int) bool) (*importer.File, []*events.Event) {
	file := &importer.File{}
	evs := make([]*events.Event, n+1)
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		file.Rows = append(file.Rows, importer.Row{Line: i + 2, Account: "A", Rounded: rounded != nil && rounded(i)})
		evs[i] = &events.Event{SpecVersion: "1.0", ID: fmt.Sprintf("imp-x-%d", i+2), Source: "test", Type: events.TypeOrderPlaced,
			Subject: "A", Time: t0.Add(time.Duration(i) * time.Minute), Data: json.RawMessage(`{"order_id":"o","amount":"1.00"}`)}
	}
	evs[n] = &events.Event{SpecVersion: "1.0", ID: "imp-x-tick", Source: "test", Type: events.TypeClockTick, Time: t0.AddDate(0, 0, 8)}
	return file, evs
}

func otherEvent(k int) *events.Event {
	return &events.Event{SpecVersion: "1.0", ID: fmt.Sprintf("other-%d", k), Source: "other", Type: events.TypeOrderPlaced,
		Subject: "B", Time: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Data: json.RawMessage(`{"order_id":"x","amount":"1.00"}`)}
}

// checkResume: the plan sends exactly want (rows), and the tick iff wantTick.
func checkResume(t *testing.T, r streamReader, file *importer.File, evs []*events.Event, want []int, wantTick bool) {
	t.Helper()
	plan, err := findHeld(r, file, evs)
	if err != nil {
		t.Fatal(err)
	}
	wantSet := map[int]bool{}
	for _, i := range want {
		wantSet[i] = true
	}
	var extra, missing []int
	got := map[int]bool{}
	for _, i := range plan.send {
		got[i] = true
		if !wantSet[i] {
			extra = append(extra, i)
		}
	}
	for _, i := range want {
		if !got[i] {
			missing = append(missing, i)
		}
	}
	if len(extra) > 0 || len(missing) > 0 || plan.sendTick != wantTick {
		t.Errorf("sends %d rows, tick %v; want %d rows, tick %v: %d held rows sent again (first %v), %d unheld rows not sent (first %v)",
			len(plan.send), plan.sendTick, len(want), wantTick, len(extra), extra[:min(5, len(extra))], len(missing), missing[:min(5, len(missing))])
	}
}

// TestFindHeldLongRefusedRun: a run of 20 rows given up on (EUnavailable
// after maxSendAttempts, each refused on its own) in the middle of a file:
// those alone are sent again (a binary search of the stored prefix, before,
// ended at them and sent the rows far after them again).
func TestFindHeldLongRefusedRun(t *testing.T) {
	const n = 10000
	file, evs := resumeFile(n, nil)
	var order []*events.Event
	var want []int
	for i := range n {
		if i >= 4990 && i < 5010 {
			want = append(want, i)
			continue
		}
		order = append(order, evs[i])
	}
	order = append(order, evs[n])
	checkResume(t, fakeStream(t, order), file, evs, want, false)
}

// TestFindHeldSparseKindInFlight: the rounded rows are row 100 and a
// cluster 9000..9019. A run with --round dies in its last batch
// (8000..9999 in flight) with rows 9000..9017 unacknowledged and the rest
// of the batch stored: those 18 alone are sent again (before, a search of
// the rounded kind alone also sent 9018 and 9019).
func TestFindHeldSparseKindInFlight(t *testing.T) {
	const n = 10000
	rounded := func(i int) bool { return i == 100 || (i >= 9000 && i < 9020) }
	file, evs := resumeFile(n, rounded)
	var order []*events.Event
	var want []int
	for i := range n {
		if i >= 9000 && i < 9018 {
			want = append(want, i)
			continue
		}
		order = append(order, evs[i])
	}
	// The run died: no tick.
	checkResume(t, fakeStream(t, order), file, evs, want, true)
}

// TestFindHeldForeignInFlight: straight to NATS, the last chunk (rows
// 6000..7999) in flight, rows 7499..7510 unacknowledged, and a busy
// stream: other clients append 5,000 events while the rest of the chunk is
// stored. Those 12 alone are sent again (before, a window of 4,000
// sequences past the prefix's end missed the rows stored after them).
func TestFindHeldForeignInFlight(t *testing.T) {
	const n = 10000
	file, evs := resumeFile(n, nil)
	var order []*events.Event
	var want []int
	for i := range n {
		if i >= 8000 || (i >= 7499 && i < 7511) {
			want = append(want, i)
			continue
		}
		if i == 7511 {
			for k := range 5000 {
				order = append(order, otherEvent(k))
			}
		}
		order = append(order, evs[i])
	}
	checkResume(t, fakeStream(t, order), file, evs, want, true)
}

// TestFindHeldTickBeforeFirstRows: the first 9 rows and the last row
// refused by the first run (which stored the rest and the tick), then taken
// by a later run: the stream holds every row and the tick, and nothing is
// sent again.
func TestFindHeldTickBeforeFirstRows(t *testing.T) {
	const n = 1000
	file, evs := resumeFile(n, nil)
	var order []*events.Event
	for i := 9; i < n-1; i++ {
		order = append(order, evs[i])
	}
	order = append(order, evs[n])
	for i := 0; i < 9; i++ {
		order = append(order, evs[i])
	}
	order = append(order, evs[n-1])
	checkResume(t, fakeStream(t, order), file, evs, nil, false)
}

// TestFindHeldRefusedBatch: a whole batch through kam (1,000 rows,
// 4990..5989) given up on after maxSendAttempts during a JetStream outage,
// the run going on after it: that batch alone is sent again.
func TestFindHeldRefusedBatch(t *testing.T) {
	const n = 10000
	file, evs := resumeFile(n, nil)
	var order []*events.Event
	var want []int
	for i := range n {
		if i >= 4990 && i < 5990 {
			want = append(want, i)
			continue
		}
		order = append(order, evs[i])
	}
	order = append(order, evs[n])
	checkResume(t, fakeStream(t, order), file, evs, want, false)
}

// TestFindHeldFirstRowsBetweenSamples: the first run had rows 0..9 and the
// sampled row 16 refused, and stored the rest; a later one sent those again
// after everything. The rows 10..15, stored first of all, are held.
func TestFindHeldFirstRowsBetweenSamples(t *testing.T) {
	const n = 1000
	file, evs := resumeFile(n, nil)
	late := func(i int) bool { return i <= 9 || i == 16 }
	var order []*events.Event
	for i := range n {
		if !late(i) {
			order = append(order, evs[i])
		}
	}
	order = append(order, evs[n])
	for i := range n {
		if late(i) {
			order = append(order, evs[i])
		}
	}
	checkResume(t, fakeStream(t, order), file, evs, nil, false)
}
