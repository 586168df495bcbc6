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
	ns, err := natsstore.RunEmbedded(natsstore.EmbeddedConfig{Listen: "127.0.0.1:-1", StoreDir: t.TempDir()}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Shutdown()
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx := context.Background()
	store, err := natsstore.Open(ctx, nc, natsstore.Config{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
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
