package main

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"kam/events"
	"kam/events/natsstore"
)

// TestTickAfterWaitingAcrossMidnight: the start-up decision waits for the
// read model to catch up; when that wait takes past a midnight, the tick of
// that midnight is appended (it compared with the midnight before the wait,
// and the next chance came a day later).
func TestTickAfterWaitingAcrossMidnight(t *testing.T) {
	ctx := context.Background()
	store := tickStore(t)
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	ev := &events.Event{SpecVersion: events.SpecVersion, ID: "e1", Source: "t", Type: events.TypeOrderPlaced, Subject: "ACME",
		Time: day.Add(10 * time.Hour), Data: []byte(`{"order_id":"o1","amount":"1.00"}`)}
	if _, err := store.Append(ctx, []*events.Event{ev}, events.AppendOptions{}); err != nil {
		t.Fatal(err)
	}
	// The day after ev's is the "today" the ticker starts in, its tick
	// appended already; it is 23:59:50, and catching up takes 5 minutes.
	now := day.Add(48*time.Hour - 10*time.Second)
	var logs bytes.Buffer
	tk := &ticker{store: store, now: func() time.Time { return now }, log: slog.New(slog.NewTextHandler(&logs, nil)),
		watermark: func(context.Context) (time.Time, bool, error) {
			now = now.Add(5 * time.Minute)
			return day.Add(24 * time.Hour), true, nil // the tick of day+1's midnight
		}}
	tk.maybeTick(ctx)
	evs, err := store.Read(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := TickID(day.AddDate(0, 0, 2))
	for _, st := range evs {
		if e, err := events.Decode(st.Data, false); err == nil && e.ID == want {
			return
		}
	}
	t.Errorf("no %s in the stream after a wait past its midnight:\n%s", want, logs.String())
}

// TestTickIDTaken: an event published to the stream directly (the HTTP door
// refuses it) under the id of a day's tick makes kam's tick a duplicate; the
// ticker says so as an error instead of logging the tick as appended, and a
// true duplicate (the tick itself, from another kam) is still taken calmly.
func TestTickIDTaken(t *testing.T) {
	ctx := context.Background()
	store := tickStore(t)
	today := time.Now().UTC().Truncate(24 * time.Hour)
	taken := today.AddDate(0, 0, -1) // its tick's id is taken
	for _, ev := range []*events.Event{
		{SpecVersion: events.SpecVersion, ID: TickID(taken), Source: "t", Type: events.TypeVisitLogged, Subject: "ACME",
			Time: taken.Add(-15 * time.Hour), Data: []byte(`{"visit_id":"v1","rep":"r"}`)},
		{SpecVersion: events.SpecVersion, ID: TickID(today), Source: "kam/serve", Type: events.TypeClockTick, Time: today},
	} {
		if _, err := store.Append(ctx, []*events.Event{ev}, events.AppendOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		midnight time.Time
		want     string
	}{
		{taken, `level=ERROR msg="clock tick not appended: its id is taken by another event" id=clock.tick/`},
		{today, `level=INFO msg="clock tick appended" time=` + today.Format(time.RFC3339) + ` seq=2 duplicate=true`},
	} {
		var logs bytes.Buffer
		tk := &ticker{store: store, now: func() time.Time { return c.midnight.Add(time.Hour) }, log: slog.New(slog.NewTextHandler(&logs, nil)),
			watermark: func(context.Context) (time.Time, bool, error) { return c.midnight.Add(-time.Hour), true, nil }}
		tk.maybeTick(ctx)
		if !bytes.Contains(logs.Bytes(), []byte(c.want)) {
			t.Errorf("tick of %s: want a log line with %q, got:\n%s", c.midnight.Format(time.DateOnly), c.want, logs.String())
		}
	}
}

// tickStore is a store on an embedded server of its own, for the ticker.
func tickStore(t *testing.T) *natsstore.Store {
	t.Helper()
	ns, err := natsstore.RunEmbedded(natsstore.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ns.Shutdown)
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	store, err := natsstore.Open(context.Background(), nc, natsstore.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return store
}
