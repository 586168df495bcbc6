package handlers

import (
	"encoding/json"
	"testing"
	"time"
	"unicode/utf8"

	"kam/events"
)

// TestStoredJSONValidUTF8: an event published to the stream directly with
// bytes that are not UTF-8 is served as valid JSON, its broken bytes as
// U+FFFD, the rest as stored.
func TestStoredJSONValidUTF8(t *testing.T) {
	out := StoredJSON(events.Stored{Seq: 7, Stored: time.Unix(0, 0), Data: []byte(`{"id":"a","data":{"request_id":"R` + "\xff" + `"}}`)})
	if !utf8.Valid(out) || !json.Valid(out) {
		t.Fatalf("not valid JSON in UTF-8: %q", out)
	}
	var got struct {
		Seq  uint64
		ID   string
		Data struct {
			RequestID string `json:"request_id"`
		}
	}
	if err := json.Unmarshal(out, &got); err != nil || got.Seq != 7 || got.ID != "a" || got.Data.RequestID != "R\uFFFD" {
		t.Errorf("got %+v (%v) from %s", got, err, out)
	}
}
