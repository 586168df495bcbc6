package projections

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"
)

// BenchmarkAccountRead measures one account's read as GET /v1/accounts/{id}
// does it (the query, then JSON), with the item and contact cache warm: its
// time and, for the latency under load, its garbage.
func BenchmarkAccountRead(b *testing.B) {
	g := genStream(3, 200)
	p, db := newProjector(b, nil)
	applyAll(b, p, g.s.msgs, 1000)
	q := NewQueries(db, p.pol)
	ids := make([]string, 0, len(g.accounts))
	for id := range g.accounts {
		ids = append(ids, id)
	}
	now := time.Now()
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		a, err := q.Account(ctx, ids[i%len(ids)], nil, now)
		if err != nil {
			b.Fatal(err)
		}
		if err := json.NewEncoder(io.Discard).Encode(a); err != nil {
			b.Fatal(err)
		}
	}
}
