package main

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestFindHeldRoundedSampleRows: rows 0..8 and 16 are of the rounded
// kind. A first run without --round stored every other row and the tick; a
// run with --round sends the ten rounded rows alone (sampling both kinds
// together, it sent rows 9..15 again).
func TestFindHeldRoundedSampleRows(t *testing.T) {
	const n = 1000
	rounded := func(i int) bool { return i < 9 || i == 16 }
	file, evs := resumeFile(n, rounded)
	order, want := rowsWithout(evs, 0, n, rounded)
	checkResume(t, fakeStream(t, append(order, evs[n])), file, evs, want, false)
}

// TestFindHeldEarlierRunBeforeSample: three runs. Rows 0..8 are rounded.
// Run 1 without --round is killed after rows 9..15 are stored; run 2 with
// --round sends everything (9..15 deduplicated) and the tick. Run 3 (with
// --round, days later) sends nothing.
func TestFindHeldEarlierRunBeforeSample(t *testing.T) {
	const n = 1000
	file, evs := resumeFile(n, func(i int) bool { return i < 9 })
	run2, _ := rowsWithout(evs, 0, n, between(9, 16)) // 9..15 dropped by JetStream's dedup
	order := slices.Concat(evs[9:16], run2, evs[n:])  // run 1 first
	checkResume(t, fakeStream(t, order), file, evs, nil, false)
}

// TestFindHeldRoundedEraRandom: a realistic --round file: the first 3000
// rows come from a system with three-decimal prices, so about 90% of them
// are rounded; the rest are not. Run 1 without --round completed
// (non-rounded rows and tick); run 2 with --round sends the rounded rows
// alone, in each of 200 random files.
func TestFindHeldRoundedEraRandom(t *testing.T) {
	const n, era, files = 5000, 3000, 200
	bad, resent, tickAgain := 0, 0, 0
	for seed := range uint64(files) {
		rng := rand.New(rand.NewPCG(seed, 1))
		isR := make([]bool, n)
		for i := range era {
			isR[i] = rng.IntN(10) != 0
		}
		file, evs := resumeFile(n, func(i int) bool { return isR[i] })
		order, rounded := rowsWithout(evs, 0, n, func(i int) bool { return isR[i] })
		order = append(order, evs[n])
		want := map[int]bool{}
		for _, i := range rounded {
			want[i] = true
		}
		plan, err := findHeld(fakeStream(t, order), file, evs)
		if err != nil {
			t.Fatal(err)
		}
		extra := 0
		for _, i := range plan.send {
			if !want[i] {
				extra++
			}
		}
		if extra > 0 || plan.sendTick || len(plan.send)-extra != len(want) {
			bad++
			resent += extra
			if plan.sendTick {
				tickAgain++
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d files: %d held rows sent again in all, tick sent again in %d", bad, files, resent, tickAgain)
	}
}

// TestFindHeldRetriedInBatch: one run that completed: in the first batch
// rows 0..8 and 16 were answered EUnavailable once and, sent again, landed
// after the rest of the batch. A re-run sends nothing.
func TestFindHeldRetriedInBatch(t *testing.T) {
	const n = 3000
	file, evs := resumeFile(n, nil)
	first, retried := rowsWithout(evs, 0, 1000, func(i int) bool { return i < 9 || i == 16 })
	order := first
	for _, i := range retried {
		order = append(order, evs[i])
	}
	order = append(order, evs[1000:]...)
	checkResume(t, fakeStream(t, order), file, evs, nil, false)
}

// TestFindHeldPermanentlyRefused: kam refuses rows 0..8 and 16 on every
// run (over its --max-body, say): a re-run sends those again (to be refused
// again), and not rows 9..15.
func TestFindHeldPermanentlyRefused(t *testing.T) {
	const n = 1000
	file, evs := resumeFile(n, nil)
	order, want := rowsWithout(evs, 0, n, func(i int) bool { return i < 9 || i == 16 })
	checkResume(t, fakeStream(t, append(order, evs[n])), file, evs, want, false)
}
