// Package analytics compares read models: which accounts' decisions (tier,
// key-account flag, loyalty status) differ between two of them, say one
// built under today's policy and one under a proposed policy, with a summary
// of the transitions. It reads read-model files; it never writes them.
package analytics

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"

	_ "github.com/mattn/go-sqlite3" // the SQLite driver

	"kam/projections"
)

// Decision is what a read model decided about one account. Empty Tier or
// Loyalty means none yet (an account not reviewed, or without orders).
type Decision struct {
	Tier         string `json:"tier"`
	Key          bool   `json:"key_account"`
	Loyalty      string `json:"loyalty"`
	EarlyAdopter bool   `json:"early_adopter"` // decided with loyalty, kept in its history
}

// Model is a read model's decisions and where it stands.
type Model struct {
	Path       string              `json:"path"`
	Policy     string              `json:"policy"`
	AppliedSeq uint64              `json:"applied_seq"`
	Watermark  string              `json:"watermark"`
	Accounts   map[string]Decision `json:"-"`
}

// Open reads a read-model file, read-only (a running kam may be writing
// it: WAL lets this read a consistent snapshot beside it). A missing file,
// or one that is not a kam read model, is an error saying so.
func Open(ctx context.Context, path string) (*Model, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("read model %s: %w", path, err)
	}
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_query_only", "1")
	q.Set("_busy_timeout", "10000")
	db, err := sql.Open("sqlite3", projections.FileURI(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("read model %s: %w", path, err)
	}
	defer db.Close()
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read model %s: %w", path, err)
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ('accounts', 'projector_state')`).Scan(&n); err != nil {
		return nil, fmt.Errorf("read model %s: %w", path, err)
	}
	if n != 2 {
		return nil, fmt.Errorf("read model %s: not a kam read model (no accounts and projector_state tables)", path)
	}
	m := &Model{Path: path, Accounts: map[string]Decision{}}
	var wm sql.NullString
	err = tx.QueryRowContext(ctx, `SELECT policy, applied_seq, watermark FROM projector_state WHERE id = 1`).Scan(&m.Policy, &m.AppliedSeq, &wm)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("read model %s: projector state: %w", path, err)
	}
	m.Watermark = wm.String
	rows, err := tx.QueryContext(ctx, `SELECT account, tier, key_account, loyalty, early_adopter FROM accounts`)
	if err != nil {
		return nil, fmt.Errorf("read model %s: accounts: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			id            string
			tier, loyalty sql.NullString
			d             Decision
		)
		if err := rows.Scan(&id, &tier, &d.Key, &loyalty, &d.EarlyAdopter); err != nil {
			return nil, fmt.Errorf("read model %s: accounts: %w", path, err)
		}
		d.Tier, d.Loyalty = tier.String, loyalty.String
		m.Accounts[id] = d
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read model %s: accounts: %w", path, err)
	}
	return m, nil
}

// Change is one account whose decisions differ. InA and InB say whether
// the account is known to each model at all.
type Change struct {
	Account string   `json:"account"`
	InA     bool     `json:"in_a"`
	InB     bool     `json:"in_b"`
	A       Decision `json:"a"`
	B       Decision `json:"b"`
}

// Transition counts the accounts that went from one value to another.
type Transition struct {
	From  string `json:"from"`
	To    string `json:"to"`
	Count int    `json:"count"`
}

// Diff is the comparison of two models' decisions.
type Diff struct {
	Compared int          `json:"compared"` // accounts in either model
	Differ   int          `json:"differ"`
	Changes  []Change     `json:"changes"` // by account id, bytewise
	Tier     []Transition `json:"tier"`    // by from, then to
	Key      []Transition `json:"key"`
	Loyalty  []Transition `json:"loyalty"`
	Early    []Transition `json:"early_adopter"`
}

// Labels of the transitions for values that are no value.
const (
	Absent = "absent" // the account is not in that model
	None   = "none"   // no tier or loyalty status yet
)

// Compare lists the accounts whose tier, key flag or loyalty (status or
// early-adopter flag) differ between
// a and b (an account in only one model differs), and counts transitions.
func Compare(a, b map[string]Decision) *Diff {
	d := &Diff{Changes: []Change{}}
	tier, key, loyalty, early := map[[2]string]int{}, map[[2]string]int{}, map[[2]string]int{}, map[[2]string]int{}
	check := func(id string) {
		da, inA := a[id]
		db, inB := b[id]
		if inA && inB && da == db {
			return
		}
		d.Changes = append(d.Changes, Change{Account: id, InA: inA, InB: inB, A: da, B: db})
		count := func(m map[[2]string]int, x, y string) {
			if !inA {
				x = Absent
			}
			if !inB {
				y = Absent
			}
			if x != y {
				m[[2]string{x, y}]++
			}
		}
		count(tier, orNone(da.Tier), orNone(db.Tier))
		count(key, yesNo(da.Key), yesNo(db.Key))
		count(loyalty, orNone(da.Loyalty), orNone(db.Loyalty))
		count(early, yesNo(da.EarlyAdopter), yesNo(db.EarlyAdopter))
	}
	for id := range a {
		d.Compared++
		check(id)
	}
	for id := range b {
		if _, ok := a[id]; !ok {
			d.Compared++
			check(id)
		}
	}
	slices.SortFunc(d.Changes, func(x, y Change) int { return cmp.Compare(x.Account, y.Account) })
	d.Differ = len(d.Changes)
	d.Tier, d.Key, d.Loyalty, d.Early = transitions(tier), transitions(key), transitions(loyalty), transitions(early)
	return d
}

func orNone(s string) string {
	if s == "" {
		return None
	}
	return s
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func transitions(m map[[2]string]int) []Transition {
	out := make([]Transition, 0, len(m))
	for k, n := range m {
		out = append(out, Transition{From: k[0], To: k[1], Count: n})
	}
	slices.SortFunc(out, func(x, y Transition) int {
		return cmp.Or(cmp.Compare(x.From, y.From), cmp.Compare(x.To, y.To))
	})
	return out
}
