package handlers

import (
	"fmt"
	"math"
	"net/http"

	"kam/events"
	"kam/projections"
)

// Admin is what the admin routes need of the read model.
type Admin interface {
	Rebuild() (projections.RebuildStatus, error)
	RebuildStatus() (projections.RebuildStatus, bool)
	DB() *projections.DB
	CurrentPolicy() *projections.Policy
}

// handleRebuildPost starts a background rebuild of the read model; the old
// model answers until the new one has caught up and is swapped in.
func (s *Server) handleRebuildPost(w http.ResponseWriter, r *http.Request) {
	if s.Admin == nil {
		writeError(w, r, s.Logger, events.Errorf(events.EUnavailable, "this kam runs no read model"))
		return
	}
	st, err := s.Admin.Rebuild()
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]any{"rebuild": st})
}

func (s *Server) handleRebuildGet(w http.ResponseWriter, r *http.Request) {
	if s.Admin == nil {
		writeError(w, r, s.Logger, events.Errorf(events.EUnavailable, "this kam runs no read model"))
		return
	}
	st, ok := s.Admin.RebuildStatus()
	if !ok {
		writeError(w, r, s.Logger, events.Errorf(events.ENotFound, "no rebuild has run since kam started"))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"rebuild": st})
}

// handleDigest answers the serving read model's table digests.
func (s *Server) handleDigest(w http.ResponseWriter, r *http.Request) {
	if s.Admin == nil {
		writeError(w, r, s.Logger, events.Errorf(events.EUnavailable, "this kam runs no read model"))
		return
	}
	applied, d, err := projections.SnapshotDigest(r.Context(), s.Admin.DB().Reader())
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"applied_seq": applied, "tables": d})
}

// handlePolicy answers the serving read model's policy, canonical JSON.
func (s *Server) handlePolicy(w http.ResponseWriter, r *http.Request) {
	if s.Admin == nil {
		writeError(w, r, s.Logger, events.Errorf(events.EUnavailable, "this kam runs no read model"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Kam-Policy-Version", s.Admin.CurrentPolicy().Version())
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(s.Admin.CurrentPolicy().Canonical())
}

// handleRows answers a read-model table's rows in primary-key order, for
// kam verify to name the rows that differ.
func (s *Server) handleRows(w http.ResponseWriter, r *http.Request) {
	if s.Admin == nil {
		writeError(w, r, s.Logger, events.Errorf(events.EUnavailable, "this kam runs no read model"))
		return
	}
	q := r.URL.Query()
	// SQLite's OFFSET is an int64: a larger one would wrap around to the
	// first rows.
	offset, err := rangeParam(q.Get("offset"), "offset", 0, 0, math.MaxInt)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	limit, err := uintParam(q.Get("limit"), "limit", 1000)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	// kam verify pages through the rows of the model whose digests it
	// compared: applied_seq says which, and a page of a model that has
	// applied more is refused, by the sequence of the snapshot the page
	// was read from.
	want, err := uintParam(q.Get("applied_seq"), "applied_seq", 0)
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	applied, rows, err := projections.SnapshotRows(r.Context(), s.Admin.DB().Reader(), q.Get("table"), int(offset), int(min(limit, 10000)))
	if err == nil && want != 0 && applied != want {
		why := "it moved on since its digests were read"
		if applied < want {
			why = "it has not reached it"
		}
		err = &events.Error{Code: events.EConflict, CurrentSequence: applied,
			Message: fmt.Sprintf("the read model has applied sequence %d, not %d: %s", applied, want, why)}
	}
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"table": q.Get("table"), "offset": offset, "rows": rows})
}
