package handlers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"kam/events"
	"kam/projections"
)

// ReadModel is what the HTTP API needs of the read model.
type ReadModel interface {
	Queries() *projections.Queries
	Status() projections.Status
	WaitApplied(ctx context.Context, seq uint64) error
}

// DefaultMinSeqWait bounds how long a query with min_seq waits.
const DefaultMinSeqWait = 5 * time.Second

// parseAsOf reads as_of: an RFC 3339 time, or a date meaning the close of
// that day (24:00 UTC).
func parseAsOf(v string) (*time.Time, error) {
	if v == "" {
		return nil, nil
	}
	t, err := projections.ParseMoment(v)
	if err != nil {
		return nil, &events.Error{Code: events.EInvalid, Message: "invalid query parameter",
			Details: []events.FieldError{{Field: "as_of", Problem: "must be an RFC 3339 time or a date YYYY-MM-DD"}}}
	}
	return &t, nil
}

// readModel waits for min_seq when given, then returns the read model's
// queries, or writes the error and returns nil.
func (s *Server) readModel(w http.ResponseWriter, r *http.Request) *projections.Queries {
	if s.Reads == nil {
		writeError(w, r, s.Logger, events.Errorf(events.EUnavailable, "this kam runs no read model"))
		return nil
	}
	if v := r.URL.Query().Get("min_seq"); v != "" {
		seq, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeError(w, r, s.Logger, &events.Error{Code: events.EInvalid, Message: "invalid query parameter",
				Details: []events.FieldError{{Field: "min_seq", Problem: "must be a non-negative integer"}}})
			return nil
		}
		if s.Reads.Status().AppliedSeq < seq {
			// A sequence the stream does not hold yet is no write of the
			// caller's: answer now rather than after MinSeqWait. (When the
			// stream does not answer, wait as usual.)
			if st, err := s.Log.Status(r.Context()); err == nil && seq > st.LastSeq {
				writeError(w, r, s.Logger, &events.Error{Code: events.EInvalid, Message: "invalid query parameter",
					Details: []events.FieldError{{Field: "min_seq", Problem: fmt.Sprintf("is beyond the stream's last sequence %d", st.LastSeq)}}})
				return nil
			}
		}
		ctx, cancel := context.WithTimeout(r.Context(), s.MinSeqWait)
		defer cancel()
		if err := s.Reads.WaitApplied(ctx, seq); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				writeError(w, r, s.Logger, events.Errorf(events.ETimeout,
					"the read model has not applied sequence %d within %s (applied: %d); retry", seq, s.MinSeqWait, s.Reads.Status().AppliedSeq))
			} else {
				writeError(w, r, s.Logger, err)
			}
			return nil
		}
	}
	return s.Reads.Queries()
}

func (s *Server) handleAccountList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := projections.AccountFilter{
		Tier: q.Get("tier"), Loyalty: q.Get("loyalty"), Manager: q.Get("manager"), Region: q.Get("region"),
		Search: q.Get("q"), Sort: q.Get("sort"), Cursor: q.Get("cursor"),
	}
	var err error
	if f.Key, err = boolParam(q.Get("key"), "key"); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	if f.Desc, err = boolParam(q.Get("desc"), "desc"); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	limit, err := rangeParam(q.Get("limit"), "limit", 50, 1, projections.MaxAccountsLimit)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	f.Limit = int(limit)
	if f.AsOf, err = parseAsOf(q.Get("as_of")); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	// Every parameter is checked before min_seq makes the request wait.
	if err := f.Check(); err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	qs := s.readModel(w, r)
	if qs == nil {
		return
	}
	accts, next, total, err := qs.Accounts(r.Context(), f)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	body := map[string]any{"accounts": accts, "next_cursor": nil, "total": total}
	if next != "" {
		body["next_cursor"] = next
	}
	if f.AsOf != nil {
		body["as_of"] = projections.FormatTime(*f.AsOf)
	}
	writeJSON(w, http.StatusOK, body)
}

func (s *Server) handleAccountGet(w http.ResponseWriter, r *http.Request) {
	s.answerAsOf(w, r, func(ctx context.Context, qs *projections.Queries, asOf *time.Time) (any, error) {
		return qs.Account(ctx, r.PathValue("id"), asOf, s.Now())
	})
}

// answerAsOf reads as_of, waits for min_seq, runs query on the read model
// and answers its result as JSON (or its error).
func (s *Server) answerAsOf(w http.ResponseWriter, r *http.Request,
	query func(ctx context.Context, qs *projections.Queries, asOf *time.Time) (any, error)) {
	asOf, err := parseAsOf(r.URL.Query().Get("as_of"))
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	qs := s.readModel(w, r)
	if qs == nil {
		return
	}
	out, err := query(r.Context(), qs, asOf)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleHistory(kind projections.HistoryKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.answerAsOf(w, r, func(ctx context.Context, qs *projections.Queries, asOf *time.Time) (any, error) {
			id := r.PathValue("id")
			rows, err := qs.History(ctx, id, kind, asOf)
			if err != nil {
				return nil, err
			}
			body := map[string]any{"account": id, "history": rows}
			if asOf != nil {
				body["as_of"] = projections.FormatTime(*asOf)
			}
			return body, nil
		})
	}
}

func (s *Server) handleReportABC(w http.ResponseWriter, r *http.Request) {
	s.answerAsOf(w, r, func(ctx context.Context, qs *projections.Queries, asOf *time.Time) (any, error) {
		return qs.ABC(ctx, asOf)
	})
}

func (s *Server) handleReportSLA(w http.ResponseWriter, r *http.Request) {
	if by := r.URL.Query().Get("by"); by != "" && by != "tier" {
		writeError(w, r, s.Logger, &events.Error{Code: events.EInvalid, Message: "invalid query parameter",
			Details: []events.FieldError{{Field: "by", Problem: "must be tier"}}})
		return
	}
	s.answerAsOf(w, r, func(ctx context.Context, qs *projections.Queries, asOf *time.Time) (any, error) {
		return qs.SLA(ctx, asOf, s.Now())
	})
}

func boolParam(v, name string) (*bool, error) {
	if v == "" {
		return nil, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return nil, &events.Error{Code: events.EInvalid, Message: "invalid query parameter",
			Details: []events.FieldError{{Field: name, Problem: "must be true or false"}}}
	}
	return &b, nil
}
