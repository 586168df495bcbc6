// Package events owns kam's event model: the CloudEvents envelope, one payload
// struct per event type with its validation, money as integer minor units, the
// error type with its codes, and the Store interface that the JetStream store
// (package natsstore) implements. It imports no other package of kam.
package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"
	"unicode"
	"unicode/utf8"
)

// Event types, as they appear in the envelope's type attribute.
const (
	TypeAccountRegistered        = "account.registered"
	TypeAccountUpdated           = "account.updated"
	TypeOrderPlaced              = "order.placed"
	TypeOrderReturned            = "order.returned"
	TypeVisitLogged              = "visit.logged"
	TypeComplaintFiled           = "complaint.filed"
	TypeComplaintResolved        = "complaint.resolved"
	TypeServiceRequestOpened     = "service_request.opened"
	TypeServiceRequestResponded  = "service_request.responded"
	TypeServiceRequestResolved   = "service_request.resolved"
	TypeClockTick                = "clock.tick"
	SpecVersion                  = "1.0"
	MaxAccountIDBytes            = 128
	MaxIDBytes                   = 256
	DefaultFutureTolerance       = 5 * time.Minute
	currentDataVersion           = 1
	maxExtensionAttributeNameLen = 20
)

// Types lists every event type kam knows, in a fixed order.
var Types = []string{
	TypeAccountRegistered, TypeAccountUpdated, TypeOrderPlaced, TypeOrderReturned,
	TypeVisitLogged, TypeComplaintFiled, TypeComplaintResolved,
	TypeServiceRequestOpened, TypeServiceRequestResponded, TypeServiceRequestResolved,
	TypeClockTick,
}

// KnownType reports whether t is one of Types.
func KnownType(t string) bool {
	for _, k := range Types {
		if k == t {
			return true
		}
	}
	return false
}

// Event is one CloudEvents 1.0 event in structured JSON mode, with kam's
// extension attributes. Data stays raw until Validate decodes it into its
// payload struct; other extension attributes are kept as they came.
type Event struct {
	SpecVersion   string
	ID            string
	Source        string
	Type          string
	Subject       string // the account id; empty for clock.tick
	Time          time.Time
	DataVersion   int
	Actor         string
	CorrelationID string
	CausationID   string
	Data          json.RawMessage
	// Extensions holds attributes kam does not interpret, kept verbatim.
	Extensions map[string]json.RawMessage
}

var knownAttributes = map[string]bool{
	"specversion": true, "id": true, "source": true, "type": true, "subject": true,
	"time": true, "dataversion": true, "actor": true, "correlationid": true,
	"causationid": true, "data": true, "datacontenttype": true,
}

// Decode reads one event from JSON. It checks the envelope's shape (each
// attribute's JSON type, the time format) but not the rules: call Validate for
// those. With keepExtensions, unknown attributes are kept in Extensions (the
// HTTP door needs them to store the event whole; projectors do not).
// Missing id and specversion stay empty; see Normalize.
func Decode(b []byte, keepExtensions bool) (*Event, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, invalid(FieldError{Problem: "an event must be a JSON object"})
	}
	// A map, not a struct: encoding/json matches struct fields whatever
	// their case, but CloudEvents attribute names are case-sensitive, and
	// "TYPE" must stay an extension rather than override the type (or be
	// overridden by it after a round trip).
	var all map[string]json.RawMessage
	if err := json.Unmarshal(b, &all); err != nil {
		return nil, invalid(jsonFieldError("", err))
	}
	attr := func(name string, dst any) error {
		v, ok := all[name]
		if !ok {
			return nil
		}
		// Most attributes are plain strings: skip the reflection of
		// json.Unmarshal for them (projectors decode every event).
		if p, ok := dst.(*string); ok && len(v) >= 2 && v[0] == '"' &&
			bytes.IndexByte(v, '\\') < 0 && utf8.Valid(v) {
			*p = string(v[1 : len(v)-1])
			return nil
		}
		if err := json.Unmarshal(v, dst); err != nil {
			return invalid(jsonFieldError(name+".", err))
		}
		return nil
	}
	e := &Event{Data: all["data"]}
	var t *string
	for _, a := range []struct {
		name string
		dst  any
	}{
		{"specversion", &e.SpecVersion}, {"id", &e.ID}, {"source", &e.Source}, {"type", &e.Type},
		{"subject", &e.Subject}, {"time", &t}, {"dataversion", &e.DataVersion}, {"actor", &e.Actor},
		{"correlationid", &e.CorrelationID}, {"causationid", &e.CausationID},
	} {
		if err := attr(a.name, a.dst); err != nil {
			return nil, err
		}
	}
	if t != nil {
		tm, err := time.Parse(time.RFC3339Nano, *t)
		if err != nil {
			return nil, invalid(FieldError{Field: "time", Problem: `must be an RFC 3339 time such as "2026-01-31T14:00:00Z"`})
		}
		e.Time = tm.UTC()
	}
	if keepExtensions {
		for k, v := range all {
			if knownAttributes[k] {
				continue
			}
			if e.Extensions == nil {
				e.Extensions = map[string]json.RawMessage{}
			}
			e.Extensions[k] = v
		}
	}
	return e, nil
}

// Normalize fills what the HTTP door may fill: a missing specversion becomes
// "1.0" and a missing id a new UUIDv7 from newID.
func (e *Event) Normalize(newID func() string) {
	if e.SpecVersion == "" {
		e.SpecVersion = SpecVersion
	}
	if e.ID == "" {
		e.ID = newID()
	}
}

// MarshalJSON writes the event in CloudEvents structured mode, attributes in a
// fixed order and extensions sorted, so that equal events give equal bytes.
func (e *Event) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	field := func(name string, v any) {
		if !first {
			b.WriteByte(',')
		}
		first = false
		// json.Marshal, not strconv.Quote: Go's escapes (\x01) are not JSON.
		enc, _ := json.Marshal(name)
		b.Write(enc)
		b.WriteByte(':')
		switch v := v.(type) {
		case string:
			enc, _ := json.Marshal(v)
			b.Write(enc)
		case json.RawMessage:
			_ = json.Compact(&b, v)
		default:
			enc, _ := json.Marshal(v)
			b.Write(enc)
		}
	}
	field("specversion", e.SpecVersion)
	field("id", e.ID)
	field("source", e.Source)
	field("type", e.Type)
	if e.Subject != "" {
		field("subject", e.Subject)
	}
	field("time", e.Time.UTC().Format(time.RFC3339Nano))
	if e.DataVersion != 0 {
		field("dataversion", e.DataVersion)
	}
	if e.Actor != "" {
		field("actor", e.Actor)
	}
	if e.CorrelationID != "" {
		field("correlationid", e.CorrelationID)
	}
	if e.CausationID != "" {
		field("causationid", e.CausationID)
	}
	keys := make([]string, 0, len(e.Extensions))
	for k := range e.Extensions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		field(k, e.Extensions[k])
	}
	if len(e.Data) > 0 {
		field("data", e.Data)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

func invalid(details ...FieldError) *Error {
	return &Error{Code: EInvalid, Message: "invalid event", Details: details}
}

// jsonFieldError turns a decoding error into a FieldError naming the field,
// with prefix ("data.") in front of the path.
func jsonFieldError(prefix string, err error) FieldError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := prefix + te.Field
		if te.Field == "" {
			field = stringsTrimDot(prefix)
		}
		return FieldError{Field: field, Problem: "must be " + jsonKind(te.Type.Kind().String())}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return FieldError{Field: stringsTrimDot(prefix), Problem: fmt.Sprintf("malformed JSON at byte %d: %v", se.Offset, se)}
	}
	return FieldError{Field: stringsTrimDot(prefix), Problem: err.Error()}
}

func stringsTrimDot(s string) string {
	if len(s) > 0 && s[len(s)-1] == '.' {
		return s[:len(s)-1]
	}
	return s
}

func jsonKind(k string) string {
	switch k {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "int", "int64", "int32", "uint64":
		return "an integer"
	case "float64":
		return "a number"
	case "slice":
		return "an array"
	case "map", "struct":
		return "an object"
	case "ptr":
		return "a value of another type"
	}
	return "of another JSON type"
}

// validText reports the problem with a free-text identifier, or "".
func validText(s string, maxBytes int) string {
	if s == "" {
		return "is required"
	}
	if len(s) > maxBytes {
		return fmt.Sprintf("is %d bytes, at most %d are allowed", len(s), maxBytes)
	}
	if !utf8.ValidString(s) {
		return "must be valid UTF-8"
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return fmt.Sprintf("must be printable (found %U)", r)
		}
	}
	return ""
}
