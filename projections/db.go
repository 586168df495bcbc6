// Package projections owns kam's read models in SQLite: the schema as
// numbered migrations, the projector that folds the event stream into it in
// batches (each batch and the checkpoint in one transaction), the rules as
// pure functions, and the queries the HTTP API answers from.
package projections

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/mattn/go-sqlite3" // the SQLite driver
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// DB is one read-model file: a single writer connection (so per-connection
// pragmas hold and writes never contend) and a pool of read-only readers,
// which WAL lets run beside the writer.
type DB struct {
	Path   string
	writer *sql.DB
	reader *sql.DB

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt // the readers' prepared statements, by text

	parts partCache // accounts' items and contacts, for account reads
}

// maxStmts bounds the prepared statements kept: queries built from filters
// come in many texts, of which the first ones are kept.
const maxStmts = 256

// stmt returns the reader statement for query, prepared once: preparing
// took about half of an account read's time.
func (db *DB) stmt(ctx context.Context, query string) (*sql.Stmt, bool, error) {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if st, ok := db.stmts[query]; ok {
		return st, true, nil
	}
	if len(db.stmts) >= maxStmts {
		return nil, false, nil
	}
	st, err := db.reader.PrepareContext(ctx, query)
	if err != nil {
		return nil, false, err
	}
	if db.stmts == nil {
		db.stmts = map[string]*sql.Stmt{}
	}
	db.stmts[query] = st
	return st, true, nil
}

// query runs a read through its prepared statement.
func (db *DB) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, ok, err := db.stmt(ctx, query)
	if err != nil {
		return nil, err
	}
	if !ok {
		return db.reader.QueryContext(ctx, query, args...)
	}
	return st.QueryContext(ctx, args...)
}

// queryRow is query for one row.
func (db *DB) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, ok, err := db.stmt(ctx, query)
	if err != nil || !ok {
		// An error comes back from the unprepared query as well.
		return db.reader.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// readerDriver is SQLite for the read-only pools, whose connections map the
// file into memory: a commit makes every reader drop its page cache (WAL
// mode), and a live projector commits several times a second, so reads
// mostly start cold; mapped pages then cost no copy and no system call.
const readerDriver = "sqlite3-kam-reader"

func init() {
	sql.Register(readerDriver, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		_, err := c.Exec("PRAGMA mmap_size = 4294967296", nil)
		return err
	}})
}

// FileURI is the SQLite URI of the file at path. The characters a URI
// gives a meaning to are escaped: a '#' or a '?' in a file's name started
// SQLite's fragment or query, so that "new.db#x" opened new.db itself.
func FileURI(path string) string {
	return "file:" + strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23").Replace(path)
}

func dsn(path string, readOnly bool) string {
	q := url.Values{}
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "NORMAL") // a read model can be rebuilt from the log
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	// 8 MiB: the file's pages stay in the OS's cache anyway, and a replay
	// of 1M events ran as fast with 8 as with 64 (which left the Go heap 56
	// MiB less room under the same peak RSS, and cost more collections).
	q.Set("_cache_size", "-8192")
	if readOnly {
		q.Set("_query_only", "1")
		q.Set("_cache_size", "-16384")
	} else {
		q.Set("_txlock", "immediate")
	}
	return FileURI(path) + "?" + q.Encode()
}

// OpenDB opens (creating if needed) the read model at path and migrates it
// to the current schema.
func OpenDB(path string) (*DB, error) {
	if err := initPageSize(path); err != nil {
		return nil, fmt.Errorf("create %s: %w", path, err)
	}
	w, err := sql.Open("sqlite3", dsn(path, false))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxLifetime(0)
	var mode string
	if err := w.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	if mode != "wal" {
		w.Close()
		return nil, fmt.Errorf("open %s: journal_mode is %q, want wal", path, mode)
	}
	if err := migrate(w); err != nil {
		w.Close()
		return nil, fmt.Errorf("migrate %s: %w", path, err)
	}
	r, err := sql.Open(readerDriver, dsn(path, true))
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	return &DB{Path: path, writer: w, reader: r}, nil
}

// pageSize of a new read model: 16 KiB pages take the projector's writes of
// wide rows at random keys about 30% faster than the default 4 KiB
// (measured: 10.9 against 15.5 µs a row of 18 columns).
const pageSize = 16384

// initPageSize gives a file that does not exist yet its page size, which
// SQLite fixes when it writes the first page (and WAL mode then keeps).
func initPageSize(path string) error {
	if st, err := os.Stat(path); err == nil && st.Size() > 0 {
		return nil
	}
	db, err := sql.Open("sqlite3", FileURI(path))
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.Exec(fmt.Sprintf("PRAGMA page_size = %d", pageSize)); err != nil {
		return err
	}
	_, err = db.Exec("PRAGMA journal_mode = WAL")
	return err
}

// Close closes both pools.
func (db *DB) Close() error {
	db.stmtMu.Lock()
	for _, st := range db.stmts {
		st.Close()
	}
	db.stmts = nil
	db.stmtMu.Unlock()
	err1 := db.reader.Close()
	err2 := db.writer.Close()
	if err2 != nil {
		return err2
	}
	return err1
}

// Reader is the read-only pool, for queries.
func (db *DB) Reader() *sql.DB { return db.reader }

// OpenReadOnly opens a read model file for reading only: no migration runs
// and nothing is written, for a verifier that must not change what it
// checks (opened with OpenDB, a file whose record of migrations had lost
// its latest ran that migration again, and the record looked whole).
func OpenReadOnly(path string) (*sql.DB, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	q := url.Values{}
	q.Set("mode", "ro") // and no journal mode set: a file in another is left in it
	q.Set("_busy_timeout", "10000")
	q.Set("_query_only", "1")
	return sql.Open(readerDriver, FileURI(path)+"?"+q.Encode())
}

// ErrSchemaGap is returned when a read model's record of its migrations
// lacks one below the latest it holds.
var ErrSchemaGap = errors.New("read model's migrations incomplete")

// migrate applies the embedded migrations not applied yet, each in its own
// transaction, in the order of their numbers.
func migrate(db *sql.DB) error {
	if _, err := db.Exec(`CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)`); err != nil {
		return err
	}
	names, err := fs.Glob(migrationFS, "migrations/*.sql")
	if err != nil {
		return err
	}
	type mig struct {
		version int
		name    string
	}
	var migs []mig
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with a number", base)
		}
		migs = append(migs, mig{v, base})
	}
	sort.Slice(migs, func(i, j int) bool { return migs[i].version < migs[j].version })
	var latest int
	if err := db.QueryRow(`SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&latest); err != nil {
		return err
	}
	for _, m := range migs {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM schema_migrations WHERE version = ?`, m.version).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		if m.version < latest {
			// Migrations run in order, so a gap below the latest is a
			// record deleted by hand; running the migration again would
			// rewrite a model built past it.
			return fmt.Errorf("%w: its schema_migrations holds version %d but not %d (%s): the file was changed by hand; build a new one with kam replay --into NEW.db and point the data dir's kam.db link at it (README, kam replay), or remove both the kam.db link and this file, and kam serve builds one from the log",
				ErrSchemaGap, latest, m.version, m.name)
		}
		body, err := migrationFS.ReadFile("migrations/" + m.name)
		if err != nil {
			return err
		}
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if _, err := tx.Exec(string(body)); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %w", m.name, err)
		}
		if _, err := tx.Exec(`INSERT INTO schema_migrations (version, name) VALUES (?, ?)`, m.version, m.name); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	return nil
}

// Times are stored at millisecond precision in a fixed-width form that sorts
// as text. kam keeps business times to the millisecond everywhere, so what is
// stored is exactly what the projector computed with.
const timeLayout = "2006-01-02T15:04:05.000Z"

// msTime truncates t to the millisecond, in UTC.
func msTime(t time.Time) time.Time { return t.Truncate(time.Millisecond).UTC() }

// ts formats a time for storage; the zero time is NULL.
func ts(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return formatTS(t)
}

// formatTS is t.UTC().Format(timeLayout), digit by digit for years 0 to
// 9999: a replay formats a few million times, and Format took 0.5 s of it.
func formatTS(t time.Time) string {
	t = t.UTC()
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(timeLayout)
	}
	hour, minute, sec := t.Clock()
	ms := t.Nanosecond() / 1e6
	var b [24]byte
	put := func(at, v, digits int) {
		for i := at + digits - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, year, 4)
	b[4] = '-'
	put(5, int(month), 2)
	b[7] = '-'
	put(8, day, 2)
	b[10] = 'T'
	put(11, hour, 2)
	b[13] = ':'
	put(14, minute, 2)
	b[16] = ':'
	put(17, sec, 2)
	b[19] = '.'
	put(20, ms, 3)
	b[23] = 'Z'
	return string(b[:])
}

// parseTS reads a stored time; NULL is the zero time.
func parseTS(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	return time.Parse(timeLayout, s.String)
}

// FormatTime is how the API shows stored times: RFC 3339, UTC.
func FormatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

// withRawTx runs fn in a write transaction on the writer's driver
// connection itself. The projector's batches go this way: database/sql
// converts and copies every argument of every statement (a third of the
// writer's time and most of its garbage, measured on 1M events), which
// statements bound by the driver do not need.
func (db *DB) withRawTx(ctx context.Context, fn func(*sqlite3.SQLiteConn) error) error {
	conn, err := db.writer.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c, ok := dc.(*sqlite3.SQLiteConn)
		if !ok {
			return fmt.Errorf("writer connection is a %T, not SQLite's", dc)
		}
		if _, err := c.Exec("BEGIN IMMEDIATE", nil); err != nil {
			return err
		}
		if err := fn(c); err != nil {
			c.Exec("ROLLBACK", nil)
			return err
		}
		if _, err := c.Exec("COMMIT", nil); err != nil {
			c.Exec("ROLLBACK", nil)
			return err
		}
		return nil
	})
}
