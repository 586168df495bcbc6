package main

import (
	"encoding/json"
	"fmt"
	"slices"
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

// rowsWithout is rows from..to-1 of evs in order, as a run stores them,
// without those that missing says, which it returns apart.
func rowsWithout(evs []*events.Event, from, to int, missing func(i int) bool) (stored []*events.Event, gone []int) {
	for i := from; i < to; i++ {
		if missing(i) {
			gone = append(gone, i)
			continue
		}
		stored = append(stored, evs[i])
	}
	return stored, gone
}

// between reports whether a row lies in lo..hi-1.
func between(lo, hi int) func(int) bool { return func(i int) bool { return i >= lo && i < hi } }

// fakeStream is a streamReader over evs stored in this order, from
// sequence 1.
func fakeStream(t *testing.T, evs []*events.Event) streamReader {
	t.Helper()
	var seqs []seqID
	first := map[string]uint64{}
	for i, e := range evs {
		b, err := e.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		seq := uint64(i + 1)
		seqs = append(seqs, seqID{Seq: seq, ID: e.ID, Raw: b})
		if _, ok := first[e.ID]; !ok {
			first[e.ID] = seq
		}
	}
	page := func(after uint64) ([]seqID, error) {
		return seqs[min(after, uint64(len(seqs))):min(after+1000, uint64(len(seqs)))], nil
	}
	return streamReader{
		has:    func(_, id string) (uint64, error) { return first[id], nil },
		events: page,
		at: func(seq uint64) (seqID, error) {
			if seq == 0 || seq > uint64(len(seqs)) {
				return seqID{}, nil
			}
			return seqs[seq-1], nil
		},
	}
}

// TestFindHeldPastHole: a row kam refused in the middle of what a run
// stored does not end the search there, and is the one row sent again
// (before, the rows more than 4,000 sequences after the hole were too).
func TestFindHeldPastHole(t *testing.T) {
	const n = 10000
	// The old search's first probe, and a row it never probed.
	for _, hole := range []int{n/2 - 1, 10} {
		file, evs := resumeFile(n, nil)
		order, want := rowsWithout(evs, 0, n, func(i int) bool { return i == hole })
		checkResume(t, fakeStream(t, order), file, evs, want, true) // the run died before its tick
	}
}

// TestFindHeldResentLater: rows and the tick that a later run sent again,
// after the rest (once refused, then taken by a kam with a larger limit),
// count as held, and nothing is sent again.
func TestFindHeldResentLater(t *testing.T) {
	const n = 10000
	for _, tc := range []struct {
		name    string
		late    int // the row stored after the tick
		foreign int // other clients' events between the tick and it
	}{
		{"the first row", 0, 0},
		{"a row the search probes, 5,000 events later", n/2 - 1, 5000},
		{"a row it does not probe, 4,500 events later", 10, 4500},
		{"the last row", n - 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file, evs := resumeFile(n, nil)
			order, _ := rowsWithout(evs, 0, n, func(i int) bool { return i == tc.late })
			order = append(order, evs[n])
			for k := range tc.foreign {
				order = append(order, otherEvent(k))
			}
			order = append(order, evs[tc.late])
			checkResume(t, fakeStream(t, order), file, evs, nil, false)
		})
	}
}

// TestFindHeldRefusedRuns: rows given up on (EUnavailable after
// maxSendAttempts, each refused on its own) in the middle of a file, a run
// of 20 or a whole batch through kam during a JetStream outage, the run
// going on after them: those alone are sent again (a binary search of the
// stored prefix, before, ended at them and sent rows far after them again).
func TestFindHeldRefusedRuns(t *testing.T) {
	const n = 10000
	for _, refused := range [][2]int{{4990, 5010}, {4990, 5990}} {
		file, evs := resumeFile(n, nil)
		order, want := rowsWithout(evs, 0, n, between(refused[0], refused[1]))
		checkResume(t, fakeStream(t, append(order, evs[n])), file, evs, want, false)
	}
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
	order, want := rowsWithout(evs, 0, n, between(9000, 9018))
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
	order, want := rowsWithout(evs, 0, 7511, between(7499, 7511))
	for k := range 5000 {
		order = append(order, otherEvent(k))
	}
	order = append(order, evs[7511:8000]...)
	for i := 8000; i < n; i++ {
		want = append(want, i)
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
	order := slices.Concat(evs[9:n-1], evs[n:], evs[:9], evs[n-1:n])
	checkResume(t, fakeStream(t, order), file, evs, nil, false)
}

// TestFindHeldFirstRowsBetweenSamples: the first run had rows 0..9 and the
// sampled row 16 refused, and stored the rest; a later one sent those again
// after everything. The rows 10..15, stored first of all, are held.
func TestFindHeldFirstRowsBetweenSamples(t *testing.T) {
	const n = 1000
	file, evs := resumeFile(n, nil)
	order, late := rowsWithout(evs, 0, n, func(i int) bool { return i <= 9 || i == 16 })
	order = append(order, evs[n])
	for _, i := range late {
		order = append(order, evs[i])
	}
	checkResume(t, fakeStream(t, order), file, evs, nil, false)
}
