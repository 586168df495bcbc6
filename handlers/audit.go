package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"kam/events"
	"kam/events/natsstore"
	"kam/projections"
)

// AuditEvent is one event of an audit trail, read from the stream by its
// sequence and shown as stored.
type AuditEvent = json.RawMessage

// AuditDecision is a decision with the events behind it.
type AuditDecision struct {
	projections.Decision
	// ClosedBy is the event whose time closed the day of the review.
	ClosedBy AuditEvent `json:"closed_by"`
	// Moved are the account's events that moved this decision since the
	// previous one of its kind (the latest 20 of MovedCount).
	Moved []AuditEvent `json:"moved"`
}

// Audit is an account's full decision trail.
type Audit struct {
	Account   string             `json:"account"`
	AsOf      string             `json:"as_of,omitempty"`
	Prepared  string             `json:"prepared"`
	Policy    string             `json:"policy"`
	Stream    natsstore.Status   `json:"stream"`
	Chain     *projections.Chain `json:"chain"`
	Decisions []AuditDecision    `json:"decisions"`
}

// handleAudit answers an account's decision trail: every tier, key-account
// and loyalty change with its figures and policy, and the events behind
// each, read from the stream by sequence (not from the read model).
func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	s.answerAsOf(w, r, func(ctx context.Context, qs *projections.Queries, asOf *time.Time) (any, error) {
		return s.audit(ctx, qs, r.PathValue("id"), asOf)
	})
}

func (s *Server) audit(ctx context.Context, qs *projections.Queries, id string, asOf *time.Time) (*Audit, error) {
	decisions, chain, err := qs.AuditTrail(ctx, id, asOf)
	if err != nil {
		return nil, err
	}
	st, err := s.Log.Status(ctx)
	if err != nil {
		return nil, err
	}
	a := &Audit{Account: id, Prepared: projections.FormatTime(s.Now()), Policy: s.Reads.Status().Policy, Stream: st,
		Chain: chain, Decisions: make([]AuditDecision, 0, len(decisions))}
	if asOf != nil {
		a.AsOf = projections.FormatTime(*asOf)
	}
	seen := map[uint64]AuditEvent{}
	read := func(seq uint64) (AuditEvent, error) {
		if ev, ok := seen[seq]; ok {
			return ev, nil
		}
		stored, err := s.Log.ReadSeq(ctx, seq)
		if events.ErrorCode(err) == events.ENotFound {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		ev := StoredJSON(stored)
		seen[seq] = ev
		return ev, nil
	}
	for _, d := range decisions {
		ad := AuditDecision{Decision: d, Moved: []AuditEvent{}}
		if ad.ClosedBy, err = read(d.CloseSeq); err != nil {
			return nil, err
		}
		for _, seq := range d.MovedSeqs {
			ev, err := read(seq)
			if err != nil {
				return nil, err
			}
			if ev != nil {
				ad.Moved = append(ad.Moved, ev)
			}
		}
		a.Decisions = append(a.Decisions, ad)
	}
	return a, nil
}
