package handlers

import (
	"net/http"

	"kam/events"
	"kam/projections"
)

// Admin is what the admin routes need of the read model.
type Admin interface {
	Rebuild() (projections.RebuildStatus, error)
	RebuildStatus() (projections.RebuildStatus, bool)
	DB() *projections.DB
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
	var applied uint64
	if s.Reads != nil {
		applied = s.Reads.Status().AppliedSeq
	}
	d, err := projections.Digest(r.Context(), s.Admin.DB().Reader())
	if err != nil {
		writeError(w, r, s.Logger, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"applied_seq": applied, "tables": d})
}
