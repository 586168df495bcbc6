package main

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"kam/events"
	"kam/events/natsstore"
)

// ticker appends the daily clock.tick that closes a business day when no
// business event does: shortly after each UTC midnight, and at start when a
// midnight has passed since the watermark (the greatest business time
// applied). The tick's id is the date, so several kam instances append one
// between them; it is never appended to a stream without a business event.
type ticker struct {
	store *natsstore.Store
	now   func() time.Time
	log   *slog.Logger
	delay time.Duration // after midnight
	// watermark, when set, returns the read model's watermark once it has
	// applied everything the stream held when called (ok false: none yet).
	// Without it (no projector), the time of the stream's last business
	// event stands in for it, which a late event or a message set aside
	// can make wrong.
	watermark func(ctx context.Context) (wm time.Time, ok bool, err error)
	// waitFor bounds how long a watermark is waited for (default 15 min)
	// before the last business event stands in for it.
	waitFor time.Duration
}

// TickID is the event id of the tick that closes the day before date.
func TickID(midnight time.Time) string {
	return events.TickIDPrefix + midnight.UTC().Format(time.DateOnly)
}

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

// maybeTick appends the tick of the last midnight if the watermark is
// older than it.
func (t *ticker) maybeTick(ctx context.Context) {
	last, ok, err := t.store.LastBusinessTime(ctx)
	if err != nil {
		t.log.Warn("clock tick: cannot read the last business event", "err", err)
		return
	}
	if !ok {
		return // no business event yet
	}
	if t.watermark != nil {
		wctx, cancel := context.WithTimeout(ctx, cmp.Or(t.waitFor, 15*time.Minute))
		wm, known, err := t.watermark(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			t.log.Warn("clock tick: no watermark from the read model; the last business event stands in", "err", err)
		case !known:
			t.log.Info("clock tick not needed: nothing applied yet")
			return
		default:
			last = wm
		}
	}
	// The last midnight as of now: waiting for the watermark may have
	// taken past one.
	midnight := t.now().UTC().Truncate(24 * time.Hour)
	if !last.Before(midnight) {
		t.log.Info("clock tick not needed", "watermark", last.Format(time.RFC3339Nano), "midnight", midnight.Format(time.RFC3339))
		return
	}
	e := &events.Event{SpecVersion: events.SpecVersion, ID: TickID(midnight), Source: "kam/serve",
		Type: events.TypeClockTick, Time: midnight}
	res, err := t.store.Append(ctx, []*events.Event{e}, events.AppendOptions{})
	if events.ErrorCode(err) == events.EConflict {
		// The HTTP door keeps tick ids for their ticks, but a client
		// publishing to the stream directly is not checked: its event
		// holds the id, and the day stays open until a later event's
		// time closes it.
		t.log.Error("clock tick not appended: its id is taken by another event",
			"id", e.ID, "day_closed", midnight.Add(-time.Hour).Format(time.DateOnly), "err", err)
		return
	}
	if err != nil {
		t.log.Warn("clock tick not appended", "day_closed", midnight.Add(-time.Hour).Format(time.DateOnly), "err", err)
		return
	}
	t.log.Info("clock tick appended", "time", midnight.Format(time.RFC3339), "seq", res[0].Seq, "duplicate", res[0].Duplicate)
}
