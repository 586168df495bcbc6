package events

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// TickIDPrefix begins the ids of clock ticks that kam appends itself
// ("clock.tick/2026-11-28" closes 2026-11-27). Such an id belongs to the
// tick of that midnight and no other event: an event that took it first
// would make kam's own tick a duplicate, and the day would stay open.
const TickIDPrefix = "clock.tick/"

// CheckAtDoor applies the rules that only the HTTP door can apply, to an
// event decoded from raw and validated: they guard the stream's
// deduplication and what readers get back, not the read model, so a
// projector does not apply them to what reaches the stream another way.
//
//   - The body must be valid UTF-8 throughout. JSON decoding turns invalid
//     bytes into U+FFFD, so two request ids differing only in broken bytes
//     became one, and the stored bytes were served back as invalid JSON.
//   - An id must not begin or end with white space: NATS trims the message
//     id header that deduplicates, so " x9 " was taken as a retry of "x9".
//   - Ids beginning with TickIDPrefix are kept for the tick they name.
func CheckAtDoor(raw []byte, e *Event) error {
	var errs []FieldError
	if !utf8.Valid(raw) {
		errs = append(errs, FieldError{Field: invalidUTF8Field(raw), Problem: "must be valid UTF-8"})
	}
	if strings.TrimFunc(e.ID, unicode.IsSpace) != e.ID {
		errs = append(errs, FieldError{Field: "id", Problem: "must not begin or end with white space (the log's deduplication ignores it, so it would be another event's id)"})
	}
	if day, ok := strings.CutPrefix(e.ID, TickIDPrefix); ok {
		want, err := time.Parse(time.DateOnly, day)
		if e.Type != TypeClockTick || err != nil || !e.Time.Equal(want) {
			errs = append(errs, FieldError{Field: "id", Problem: fmt.Sprintf(
				"ids beginning with %q are kept for the clock tick at 00:00Z of the date that follows (%q: type %s, time %sT00:00:00Z)",
				TickIDPrefix, TickIDPrefix+"2026-11-28", TypeClockTick, "2026-11-28")})
		}
	}
	if len(errs) > 0 {
		return invalid(errs...)
	}
	return nil
}

// invalidUTF8Field names the first attribute of an event object whose value
// holds invalid UTF-8, to a field of data when it is there.
func invalidUTF8Field(raw []byte) string {
	var attrs map[string]json.RawMessage
	if json.Unmarshal(raw, &attrs) != nil {
		return "body"
	}
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		v := attrs[k]
		if utf8.Valid(v) {
			continue
		}
		var data map[string]json.RawMessage
		if k == "data" && json.Unmarshal(v, &data) == nil {
			for _, dk := range slices.Sorted(maps.Keys(data)) {
				if !utf8.Valid(data[dk]) {
					return "data." + dk
				}
			}
		}
		return k
	}
	return "an attribute name"
}
