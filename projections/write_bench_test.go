package projections

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/mattn/go-sqlite3"
)

// BenchmarkWriteRows writes batches of 1,000 service items of 18 columns,
// through Exec (a call into C per value) and through run (one call).
func BenchmarkWriteRows(b *testing.B) {
	defer func() { execPerValue = false }()
	for _, perValue := range []bool{true, false} {
		b.Run(fmt.Sprint("exec_per_value=", perValue), func(b *testing.B) {
			execPerValue = perValue
			db, err := OpenDB(filepath.Join(b.TempDir(), "kam.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			n := 0
			for b.Loop() {
				ws := &pending{}
				m := newUpsert(ws, "sla_items", []string{"account", "kind", "item_id"},
					"account", "kind", "item_id", "priority", "opened_at", "opened_seq", "tier", "key_account", "target_column",
					"response_due", "resolution_due", "responded_at", "resolved_at", "response_met", "resolution_met",
					"response_seconds", "resolution_seconds", "satisfied")
				for i := 0; i < 1000; i++ {
					n++
					_ = m.add(fmt.Sprintf("ACCT-%06d", n%20000), "request", fmt.Sprint(n), "high", "2024-01-01T00:00:00.000Z", int64(n), "A", int64(1), "A",
						"2024-01-01T04:00:00.000Z", "2024-01-02T00:00:00.000Z", nil, nil, nil, nil, nil, nil, nil)
				}
				if err := db.withRawTx(b.Context(), func(c *sqlite3.SQLiteConn) error { return m.exec(c) }); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
