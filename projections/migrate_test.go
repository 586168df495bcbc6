package projections

import (
	"bytes"
	"database/sql"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
)

// A read model made before migration 3 keeps its history rows, now keyed by
// (effective, account) with the index by account, and its views work.
func TestMigrationToHistoryInTimeOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	for v, name := range map[int]string{1: "0001_init.sql", 2: "0002_views.sql"} {
		body, err := migrationFS.ReadFile("migrations/" + name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(string(body)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, err := raw.Exec(`INSERT INTO schema_migrations VALUES (?, ?)`, v, name); err != nil {
			t.Fatal(err)
		}
	}
	rows := [][]any{
		{"b", "2024-01-02T00:00:00.000Z", nil, "A"},
		{"a", "2024-01-03T00:00:00.000Z", "C", "B"},
		{"a", "2024-01-02T00:00:00.000Z", nil, "C"},
	}
	for _, r := range rows {
		if _, err := raw.Exec(`INSERT INTO tier_history VALUES (?, ?, ?, ?, 'p', 1, 1, 1, 0, 1, 365, 80, 95, 1, 'e', 0, '[]', '[]')`, r...); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := db.Reader()
	var got [][]any
	q, err := r.Query(`SELECT account, effective, from_tier, to_tier FROM tier_history`) // in key order
	if err != nil {
		t.Fatal(err)
	}
	for q.Next() {
		var a, e, to string
		var from sql.NullString
		if err := q.Scan(&a, &e, &from, &to); err != nil {
			t.Fatal(err)
		}
		var f any
		if from.Valid {
			f = from.String
		}
		got = append(got, []any{a, e, f, to})
	}
	q.Close()
	want := [][]any{rows[2], rows[0], rows[1]} // by effective, then account
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows after migration:\n got %v\nwant %v", got, want)
	}
	for _, table := range []string{"tier_history", "key_history", "loyalty_history"} {
		pk, err := primaryKey(t.Context(), r, table)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(pk, []string{"effective", "account"}) {
			t.Errorf("%s key %v, want [effective account]", table, pk)
		}
		var plan string
		var id, parent, notused int
		if err := r.QueryRow(`EXPLAIN QUERY PLAN SELECT * FROM `+table+` WHERE account = 'a' ORDER BY effective`).Scan(&id, &parent, &notused, &plan); err != nil {
			t.Fatal(err)
		}
		if want := "USING INDEX " + table + "_by_account"; !strings.Contains(plan, want) {
			t.Errorf("%s: an account's history is read by %q, want %q", table, plan, want)
		}
	}
	var n int
	if err := r.QueryRow(`SELECT count(*) FROM v_tier_changes`).Scan(&n); err != nil || n != 3 {
		t.Fatalf("v_tier_changes: %d rows, %v", n, err)
	}
}

// A statement that fails while the batch is written fails the write, with
// SQLite's reason, and the transaction leaves nothing behind.
func TestWriteReportsFailedStatement(t *testing.T) {
	db, err := OpenDB(filepath.Join(t.TempDir(), "kam.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ws := &pending{}
	m := newStatement(ws, `INSERT INTO rejected_events (seq, subject, event_id, type, stored_at, reason) VALUES (?, ?, ?, ?, ?, ?)`, 6)
	for range 2 {
		if err := m.add(7, "kam.acct.x.order.placed", nil, nil, "2024-01-01T00:00:00.000Z", "test"); err != nil {
			t.Fatal(err)
		}
	}
	err = db.withRawTx(t.Context(), func(c *sqlite3.SQLiteConn) error { return m.exec(c) })
	if err == nil || !strings.Contains(err.Error(), "UNIQUE constraint failed") {
		t.Fatalf("err = %v, want a UNIQUE constraint failure", err)
	}
	var n int
	if err := db.Reader().QueryRow(`SELECT count(*) FROM rejected_events`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d rows left (%v), want 0", n, err)
	}
}

func TestFormatTSAsFormat(t *testing.T) {
	times := []time.Time{
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC),
		time.Date(999, 12, 31, 23, 59, 59, 999999999, time.UTC),
		time.Date(2024, 2, 29, 13, 5, 9, 7000000, time.FixedZone("x", -5*3600)),
		time.Date(9999, 12, 31, 23, 59, 59, 999000000, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 6, 1, 0, 0, 0, 0, time.UTC),
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10000 {
		times = append(times, time.UnixMilli(rng.Int64N(400_000_000_000_000)-62_000_000_000_000).Add(time.Duration(rng.IntN(1e6))))
	}
	for _, tm := range times {
		if got, want := formatTS(tm), tm.UTC().Format(timeLayout); got != want {
			t.Fatalf("%v: got %s, want %s", tm, got, want)
		}
	}
}

// TestOpenDBOddNames: a file whose name holds the characters a URI gives a
// meaning to is opened as itself (a '#' once made "new.db#x" open new.db).
func TestOpenDBOddNames(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"new.db#x", "q?mode=ro.db", "pct%20.db", "plain.db"} {
		path := filepath.Join(dir, name)
		db, err := OpenDB(path)
		if err != nil {
			t.Fatalf("OpenDB(%q): %v", name, err)
		}
		if err := db.Close(); err != nil {
			t.Fatal(err)
		}
		if st, err := os.Stat(path); err != nil || st.Size() == 0 {
			t.Errorf("OpenDB(%q) did not make that file: %v", name, err)
		}
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), "-wal") && !strings.HasSuffix(e.Name(), "-shm") {
			names = append(names, e.Name())
		}
	}
	if want := []string{"new.db#x", "pct%20.db", "plain.db", "q?mode=ro.db"}; !reflect.DeepEqual(names, want) {
		t.Errorf("files made: %q, want %q", names, want)
	}
}

// TestMigrationGapRefused: a record of migrations that lacks one below the
// latest it holds was changed by hand; opening the file does not run that
// migration again over a model built past it.
func TestMigrationGapRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "kam.db")
	db, err := OpenDB(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.writer.Exec(`DELETE FROM schema_migrations WHERE version = 5`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := OpenDB(path); !errors.Is(err, ErrSchemaGap) {
		if db != nil {
			db.Close()
		}
		t.Fatalf("OpenDB with migration 5's record deleted: got %v, want ErrSchemaGap", err)
	}
}

// TestOpenReadOnlyLeavesFile: a file opened to be checked is not changed,
// not even its journal mode (a copy in rollback-journal mode was switched to
// WAL), neither by reading its policy nor by opening it to compare.
func TestOpenReadOnlyLeavesFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "copy.db")
	raw, err := sql.Open("sqlite3", path+"?_journal_mode=DELETE")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	before, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if pol, err := StoredPolicy(path); err != nil || pol != nil { // no state row: nothing, and no change
		t.Fatalf("StoredPolicy of a file without state: %v, %v", pol, err)
	}
	db, err := OpenReadOnly(path)
	if err != nil {
		t.Fatal(err)
	}
	var x int
	if err := db.QueryRow(`SELECT x FROM t`).Scan(&x); err != nil || x != 1 {
		t.Fatalf("read: %d, %v", x, err)
	}
	db.Close()
	after, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Errorf("the file changed when opened read-only (header bytes 18-19: %v before, %v after)", before[18:20], after[18:20])
	}
}
