package projections

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"kam/events"
	"kam/events/natsstore"
	"kam/internal/synth"
)

// BenchmarkReview measures one day-close review of 20,000 accounts, after a
// year of history, with a day's worth of them changed (1,400, as in the
// replay benchmark's stream): ranking, tiers, key flags, loyalty, moving the
// windows on. The issue asks for milliseconds.
func BenchmarkReview(b *testing.B) {
	const accounts, changed = 20000, 1400
	start := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := synth.Events(synth.Options{Events: 300000, Accounts: accounts, Days: 365, Seed: 3, Start: start})
	msgs := make([]events.Stored, len(evs))
	for i, e := range evs {
		data, err := e.MarshalJSON()
		if err != nil {
			b.Fatal(err)
		}
		msgs[i] = events.Stored{Seq: uint64(i + 1), Subject: natsstore.SubjectFor(e.Subject, e.Type), Stored: e.Time, Data: data}
	}
	p, _ := newProjector(b, nil)
	for i := 0; i < len(msgs); i += 50000 {
		if err := p.Apply(context.Background(), msgs[i:min(i+50000, len(msgs))]); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	seq := uint64(len(msgs))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		// A day's changes: more revenue for some accounts.
		for range changed {
			h := &p.hot[rng.IntN(len(p.hot))]
			h.live.revenue += int64(rng.IntN(100000))
			h.live.orders++
			p.touch(h)
		}
		if i%100 == 99 {
			p.out.reset()
		}
		b.StartTimer()
		p.review(p.next, seq, "bench")
	}
	b.ReportMetric(float64(len(p.hot)), "accounts")
}
