package projections

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"

	"kam/events"
)

// Tables are the read model's tables, in the order digests list them, and
// last SchemaTable.
var Tables = []string{
	"projector_state", "accounts", "account_movers", "account_days", "reviews", "tier_history", "key_history", "loyalty_history",
	"sla_items", "contacts", "visits", "rejected_events", "applied_ids", "chains", "schema_migrations", SchemaTable,
}

// SchemaTable stands for the file's schema in digests and row listings:
// its tables, indexes, views and triggers as SQLite keeps them, so that a
// view or a trigger changed by hand makes a file differ from its rebuild.
const SchemaTable = "schema"

// orderedSelect is the query of a table's rows in primary-key order.
func orderedSelect(ctx context.Context, db querier, table string) (string, error) {
	if table == SchemaTable {
		return `SELECT type, name, tbl_name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name`, nil
	}
	pk, err := primaryKey(ctx, db, table)
	if err != nil {
		return "", err
	}
	return "SELECT * FROM " + table + " ORDER BY " + strings.Join(pk, ", "), nil
}

// TableDigest is the content digest of one table.
type TableDigest struct {
	Table  string `json:"table"`
	Rows   int64  `json:"rows"`
	SHA256 string `json:"sha256"`
}

// Digest hashes every table's rows in primary-key order, each value tagged
// with its type, so that two read models with equal digests hold equal data.
func Digest(ctx context.Context, db *sql.DB) ([]TableDigest, error) {
	_, d, err := SnapshotDigest(ctx, db)
	return d, err
}

// SnapshotDigest hashes every table within one read transaction, so that
// the digests and the applied sequence it returns belong together even while
// the projector commits.
func SnapshotDigest(ctx context.Context, db *sql.DB) (uint64, []TableDigest, error) {
	out := make([]TableDigest, 0, len(Tables))
	applied, err := inSnapshot(ctx, db, func(tx *sql.Tx) error {
		for _, t := range Tables {
			d, err := digestTable(ctx, tx, t)
			if err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	if err != nil {
		return 0, nil, err
	}
	return applied, out, nil
}

// inSnapshot runs read within one read transaction and returns the applied
// sequence of the same snapshot.
func inSnapshot(ctx context.Context, db *sql.DB, read func(*sql.Tx) error) (uint64, error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var applied uint64
	if err := tx.QueryRowContext(ctx, `SELECT applied_seq FROM projector_state WHERE id = 1`).Scan(&applied); err != nil {
		return 0, err
	}
	return applied, read(tx)
}

// querier is a *sql.DB or a *sql.Tx.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// KeyColumns are the places of a table's primary-key columns in its rows as
// TableRows gives them (the schema's: type and name).
func KeyColumns(ctx context.Context, db *sql.DB, table string) ([]int, error) {
	if table == SchemaTable {
		return []int{0, 1}, nil
	}
	rows, err := db.QueryContext(ctx, `SELECT cid FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var cid int
		if err := rows.Scan(&cid); err != nil {
			return nil, err
		}
		out = append(out, cid)
	}
	return out, rows.Err()
}

// primaryKey returns the table's primary-key columns in key order.
func primaryKey(ctx context.Context, db querier, table string) ([]string, error) {
	rows, err := db.QueryContext(ctx, `SELECT name, pk FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk`, table)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var cols []string
	for rows.Next() {
		var name string
		var pk int
		if err := rows.Scan(&name, &pk); err != nil {
			return nil, err
		}
		cols = append(cols, name)
	}
	if len(cols) == 0 {
		return nil, fmt.Errorf("table %s has no primary key", table)
	}
	return cols, rows.Err()
}

func digestTable(ctx context.Context, db querier, table string) (TableDigest, error) {
	q, err := orderedSelect(ctx, db, table)
	if err != nil {
		return TableDigest{}, err
	}
	rows, err := db.QueryContext(ctx, q)
	if err != nil {
		return TableDigest{}, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return TableDigest{}, err
	}
	h := sha256.New()
	h.Write([]byte(strings.Join(cols, ",")))
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	var n int64
	var buf []byte
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return TableDigest{}, err
		}
		buf = appendRow(buf[:0], vals)
		h.Write(buf)
		n++
	}
	if err := rows.Err(); err != nil {
		return TableDigest{}, err
	}
	return TableDigest{Table: table, Rows: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// appendRow encodes one row: per value a type tag and its bytes, lengths
// prefixed, so that no two different rows encode alike.
func appendRow(b []byte, vals []any) []byte {
	b = append(b, 'R')
	for _, v := range vals {
		switch v := v.(type) {
		case nil:
			b = append(b, 'N')
		case int64:
			b = append(b, 'I')
			b = binary.BigEndian.AppendUint64(b, uint64(v))
		case float64:
			b = append(b, 'F')
			b = binary.BigEndian.AppendUint64(b, math.Float64bits(v))
		case []byte:
			b = append(b, 'B')
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case string:
			b = append(b, 'S')
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			b = append(b, v...)
		case bool:
			b = append(b, 'T')
			if v {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
		default:
			s := fmt.Sprint(v)
			b = append(b, 'X')
			b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
			b = append(b, s...)
		}
	}
	return b
}

// SnapshotRows is TableRows within one read transaction, with the applied
// sequence of the same snapshot: kam verify pages through the model whose
// digests it compared, and a page of another is refused by that sequence.
func SnapshotRows(ctx context.Context, db *sql.DB, table string, offset, limit int) (uint64, [][]any, error) {
	var rows [][]any
	applied, err := inSnapshot(ctx, db, func(tx *sql.Tx) (err error) {
		rows, err = TableRows(ctx, tx, table, offset, limit)
		return err
	})
	return applied, rows, err
}

// TableRows returns up to limit rows of a read-model table from offset, in
// primary-key order; BLOBs come as x'hex' text, so that rows compare as text.
func TableRows(ctx context.Context, db querier, table string, offset, limit int) ([][]any, error) {
	known := false
	for _, t := range Tables {
		known = known || t == table
	}
	if !known {
		return nil, &events.Error{Code: events.ENotFound, Message: fmt.Sprintf("no table %q (tables: %s)", table, strings.Join(Tables, ", "))}
	}
	q, err := orderedSelect(ctx, db, table)
	if err != nil {
		return nil, err
	}
	rows, err := db.QueryContext(ctx, q+" LIMIT ? OFFSET ?", limit, offset)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	out := [][]any{}
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			return nil, err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = "x'" + hex.EncodeToString(b) + "'"
			}
		}
		out = append(out, vals)
	}
	return out, rows.Err()
}
