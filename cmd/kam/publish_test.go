package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPublishOverMaxPayload: an event under kam's --max-body but over
// NATS's max_payload can never be stored: kam publish reports it refused,
// with the limit, and goes on with the rest, without sending it again.
func TestPublishOverMaxPayload(t *testing.T) {
	k := startKam(t, t.TempDir(), "--no-ticks")
	var nd strings.Builder
	for i, pad := range []int{5, 1_100_000, 5} {
		fmt.Fprintf(&nd, `{"id":"mp-%d","source":"t","type":"visit.logged","subject":"MP","time":"2026-03-01T10:00:00Z","data":{"visit_id":"v%d","rep":"r","note":%q}}`+"\n",
			i, i, strings.Repeat("x", pad))
	}
	file := filepath.Join(t.TempDir(), "events.ndjson")
	if err := os.WriteFile(file, []byte(nd.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "publish", "--url", "http://"+k.addrs.HTTP, file)
	if code != 1 || !strings.Contains(out, "lines 3, appended 2, duplicates 0, refused 1") ||
		!strings.Contains(out, "line 2: the event is") || !strings.Contains(out, "limit of 1048576 bytes (NATS max_payload)") {
		t.Errorf("publish with one event over max_payload: exit %d\n%s%s\nwant 2 appended, line 2 refused naming the limit", code, out, errOut)
	}
	code, body := k.call("GET", "/v1/events?account=MP", nil)
	if evs, _ := body["events"].([]any); code != 200 || len(evs) != 2 {
		t.Errorf("stored: got %d %v, want the 2 small events", code, body)
	}
}
