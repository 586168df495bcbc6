package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"kam/events"
	"kam/events/natsstore"
)

// stream builds a sequence of stored messages as JetStream would hold them.
type stream struct {
	msgs []events.Stored
	n    int
}

// add appends an event of typ for account at time t (RFC 3339 or
// "2006-01-02" for midnight) with data, stored at its own time.
func (s *stream) add(typ, account, t string, data map[string]any) events.Stored {
	s.n++
	e := &events.Event{
		SpecVersion: "1.0", ID: fmt.Sprintf("ev-%06d", s.n), Source: "test", Type: typ, Subject: account,
		Time: mustTime(t),
	}
	if data != nil {
		b, _ := json.Marshal(data)
		e.Data = b
	}
	b, _ := e.MarshalJSON()
	st := events.Stored{Seq: uint64(len(s.msgs) + 1), Subject: natsstore.SubjectFor(account, typ), Stored: e.Time.Add(time.Second), Data: b}
	s.msgs = append(s.msgs, st)
	return st
}

// raw appends a message with arbitrary bytes on a subject.
func (s *stream) raw(subject string, data string, stored time.Time) {
	s.msgs = append(s.msgs, events.Stored{Seq: uint64(len(s.msgs) + 1), Subject: subject, Stored: stored, Data: []byte(data)})
}

func (s *stream) order(account, t, amount string, extra ...any) events.Stored {
	d := map[string]any{"order_id": fmt.Sprintf("o%d", len(s.msgs)+1), "amount": amount}
	for i := 0; i+1 < len(extra); i += 2 {
		d[extra[i].(string)] = extra[i+1]
	}
	return s.add(events.TypeOrderPlaced, account, t, d)
}

func (s *stream) tick(t string) events.Stored { return s.add(events.TypeClockTick, "", t, nil) }

func mustTime(s string) time.Time {
	if len(s) == 10 {
		s += "T00:00:00Z"
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t
}

// newProjector opens a projector on a fresh file under t.TempDir().
func newProjector(t testing.TB, pol *Policy) (*Projector, *DB) {
	t.Helper()
	if pol == nil {
		pol = DefaultPolicy()
	}
	db, err := OpenDB(filepath.Join(t.TempDir(), "kam.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	p, err := Open(context.Background(), db, pol, "KAM", nil)
	if err != nil {
		t.Fatal(err)
	}
	return p, db
}

// applyAll applies msgs in batches of size n.
func applyAll(t testing.TB, p *Projector, msgs []events.Stored, n int) {
	t.Helper()
	for i := 0; i < len(msgs); i += n {
		if err := p.Apply(context.Background(), msgs[i:min(i+n, len(msgs))]); err != nil {
			t.Fatal(err)
		}
	}
}

// query returns the rows of q as strings, one per row, columns joined by |.
func query(t testing.TB, db *DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.Reader().Query(q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out []string
	for rows.Next() {
		vals := make([]sql.NullString, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(cols))
		for i, v := range vals {
			if v.Valid {
				parts[i] = v.String
			} else {
				parts[i] = "NULL"
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// dumpTables returns every table's digest (rows in primary-key order).
func dumpTables(t testing.TB, db *DB) map[string]string {
	t.Helper()
	ds, err := Digest(context.Background(), db.Reader())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, d := range ds {
		out[d.Table] = fmt.Sprintf("%s (%d rows)", d.SHA256[:16], d.Rows)
	}
	return out
}

// queriesOf applies msgs, n at a time, to a fresh read model under pol
// (nil: the default) and returns its queries and its projector.
func queriesOf(t testing.TB, pol *Policy, msgs []events.Stored, n int) (*Queries, *Projector) {
	t.Helper()
	p, db := newProjector(t, pol)
	applyAll(t, p, msgs, n)
	return NewQueries(db, p.pol), p
}
