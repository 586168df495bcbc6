package projections

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"sort"
	"time"

	"kam/events/natsstore"
)

// Decision is one change of an account's tier, key flag or loyalty, as the
// history tables keep it: what changed, when, under which policy, on which
// figures, which event's time closed the day, and which of the account's
// events moved it since the previous change of its kind.
type Decision struct {
	Kind         string         `json:"kind"` // tier, key or loyalty
	Effective    string         `json:"effective"`
	From         any            `json:"from"`
	To           any            `json:"to"`
	Policy       string         `json:"policy"`
	Figures      map[string]any `json:"figures"`
	CloseSeq     uint64         `json:"close_seq"`
	CloseEventID string         `json:"close_event_id"`
	MovedCount   int64          `json:"moved_count"`
	MovedIDs     []string       `json:"moved_ids"`
	MovedSeqs    []uint64       `json:"moved_seqs"`
}

// Chain is an account's hash chain as the read model holds it.
type Chain struct {
	Length  int64  `json:"length"`
	Head    string `json:"head"`
	LastSeq uint64 `json:"last_seq"`
}

// AuditTrail is an account's decisions in time order (up to asOf when
// given), with its hash chain.
func (q *Queries) AuditTrail(ctx context.Context, id string, asOf *time.Time) ([]Decision, *Chain, error) {
	if err := q.knownAt(ctx, id, asOf); err != nil {
		return nil, nil, err
	}
	var out []Decision
	for _, k := range []struct {
		kind, table, from, to string
	}{
		{"tier", "tier_history", "from_tier", "to_tier"},
		{"key", "key_history", "from_key", "to_key"},
		{"loyalty", "loyalty_history", "from_loyalty", "to_loyalty"},
	} {
		rows, err := q.History(ctx, id, HistoryKind(map[string]string{"tier": "tiers", "key": "key", "loyalty": "loyalty"}[k.kind]), asOf)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range rows {
			d := Decision{Kind: k.kind, From: r[k.from], To: r[k.to], Figures: map[string]any{}}
			d.Effective, _ = r["effective"].(string)
			d.Policy, _ = r["policy"].(string)
			d.CloseEventID, _ = r["close_event_id"].(string)
			if v, ok := r["close_seq"].(int64); ok {
				d.CloseSeq = uint64(v)
			}
			if v, ok := r["moved_count"].(int64); ok {
				d.MovedCount = v
			}
			if raw, ok := r["moved_ids"].(json.RawMessage); ok {
				_ = json.Unmarshal(raw, &d.MovedIDs)
			}
			if raw, ok := r["moved_seqs"].(json.RawMessage); ok {
				_ = json.Unmarshal(raw, &d.MovedSeqs)
			}
			for c, v := range r {
				switch c {
				case "account", "effective", k.from, k.to, "policy", "close_seq", "close_event_id", "moved_count", "moved_ids", "moved_seqs":
				default:
					d.Figures[c] = v
				}
			}
			out = append(out, d)
		}
	}
	order := map[string]int{"tier": 0, "key": 1, "loyalty": 2}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Effective != out[j].Effective {
			return out[i].Effective < out[j].Effective
		}
		return order[out[i].Kind] < order[out[j].Kind]
	})
	var c Chain
	err := q.db.queryRow(ctx, `SELECT length, head, last_seq FROM chains WHERE token = ?`, natsstore.Token(id)).Scan(&c.Length, &c.Head, &c.LastSeq)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return out, nil, nil
	case err != nil:
		return nil, nil, err
	}
	return out, &c, nil
}

// Chains lists every account's chain in account order.
func (q *Queries) Chains(ctx context.Context) (map[string]Chain, uint64, error) {
	tx, err := q.db.reader.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	var applied uint64
	if err := tx.QueryRowContext(ctx, `SELECT applied_seq FROM projector_state WHERE id = 1`).Scan(&applied); err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, `SELECT account, length, head, last_seq FROM chains`)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	out := map[string]Chain{}
	for rows.Next() {
		var a string
		var c Chain
		if err := rows.Scan(&a, &c.Length, &c.Head, &c.LastSeq); err != nil {
			return nil, 0, err
		}
		out[a] = c
	}
	return out, applied, rows.Err()
}
