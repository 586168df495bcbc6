package events

import (
	"context"
	"time"
)

// Stored is an event as the stream holds it: its sequence, subject, the time
// the stream stored it, and the event's JSON bytes exactly as stored.
type Stored struct {
	Seq     uint64
	Subject string
	Stored  time.Time
	Data    []byte
}

// AppendResult reports where one event landed. Duplicate is true when an event
// with the same id was stored before; Seq is then that first sequence.
type AppendResult struct {
	ID        string `json:"id"`
	Seq       uint64 `json:"seq"`
	Duplicate bool   `json:"duplicate"`
}

// AppendOptions tune one append.
type AppendOptions struct {
	// ExpectedSeq, when not nil, is the sequence of the account's last event
	// as the writer last saw it (0: the account has no event yet). All events
	// of the append must then be of that one account; if another event of the
	// account was stored in between, the append fails with EConflict.
	ExpectedSeq *uint64
}

// Store is the append-only event log.
type Store interface {
	// Append stores events in order, all or nothing (an *Error with code
	// EUnavailable when the log does not acknowledge, EConflict when
	// ExpectedSeq does not hold or an event's id is stored with other
	// content, ETooLarge for an event the log cannot take, its Details
	// naming the event's index). The events must be valid.
	Append(ctx context.Context, evs []*Event, opts AppendOptions) ([]AppendResult, error)
	// AppendEach stores each event on its own and reports each: the results
	// and errors (those of Append, for one event) have one entry per event.
	AppendEach(ctx context.Context, evs []*Event) ([]AppendResult, []error)
	// ReadAccount returns up to limit events of one account with a sequence
	// greater than after, in stream order.
	ReadAccount(ctx context.Context, account string, after uint64, limit int) ([]Stored, error)
	// ReadSeq returns the message at one sequence (ENotFound if none).
	ReadSeq(ctx context.Context, seq uint64) (Stored, error)
}
