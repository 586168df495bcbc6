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
)

// Tables are the read model's tables, in the order digests list them.
var Tables = []string{
	"projector_state", "accounts", "account_days", "reviews", "tier_history", "key_history", "loyalty_history",
	"sla_items", "contacts", "rejected_events", "applied_ids", "chains",
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
	out := make([]TableDigest, 0, len(Tables))
	for _, t := range Tables {
		d, err := digestTable(ctx, db, t)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// primaryKey returns the table's primary-key columns in key order.
func primaryKey(ctx context.Context, db *sql.DB, table string) ([]string, error) {
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

func digestTable(ctx context.Context, db *sql.DB, table string) (TableDigest, error) {
	pk, err := primaryKey(ctx, db, table)
	if err != nil {
		return TableDigest{}, err
	}
	rows, err := db.QueryContext(ctx, "SELECT * FROM "+table+" ORDER BY "+strings.Join(pk, ", "))
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
