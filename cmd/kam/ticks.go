package main

import (
	"context"
	"log/slog"
	"time"

	"kam/events"
	"kam/events/natsstore"
)

// ticker appends the daily clock.tick that closes a business day when no
// business event does: shortly after each UTC midnight, and at start when a
// midnight has passed since the last business event. The tick's id is the
// date, so several kam instances append one between them; it is never
// appended to a stream without a business event.
type ticker struct {
	store *natsstore.Store
	now   func() time.Time
	log   *slog.Logger
	delay time.Duration // after midnight
}

// TickID is the event id of the tick that closes the day before date.
func TickID(midnight time.Time) string { return "clock.tick/" + midnight.UTC().Format(time.DateOnly) }

func (t *ticker) run(ctx context.Context) {
	t.maybeTick(ctx)
	for {
		now := t.now().UTC()
		next := now.Truncate(24 * time.Hour).Add(24*time.Hour + t.delay)
		select {
		case <-ctx.Done():
			return
		case <-time.After(next.Sub(now)):
		}
		t.maybeTick(ctx)
	}
}

// maybeTick appends the tick of the last midnight if the last business
// event is older than it.
func (t *ticker) maybeTick(ctx context.Context) {
	midnight := t.now().UTC().Truncate(24 * time.Hour)
	last, ok, err := t.store.LastBusinessTime(ctx)
	if err != nil {
		t.log.Warn("clock tick: cannot read the last business event", "err", err)
		return
	}
	if !ok || !last.Before(midnight) {
		return
	}
	e := &events.Event{SpecVersion: events.SpecVersion, ID: TickID(midnight), Source: "kam/serve",
		Type: events.TypeClockTick, Time: midnight}
	res, err := t.store.Append(ctx, []*events.Event{e}, events.AppendOptions{})
	if err != nil {
		t.log.Warn("clock tick not appended", "day_closed", midnight.Add(-time.Hour).Format(time.DateOnly), "err", err)
		return
	}
	t.log.Info("clock tick appended", "time", midnight.Format(time.RFC3339), "seq", res[0].Seq, "duplicate", res[0].Duplicate)
}
