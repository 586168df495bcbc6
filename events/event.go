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
	"strconv"
	"strings"
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
	// Members by exact name: CloudEvents attribute names are case-sensitive,
	// and "TYPE" must stay an extension rather than override the type.
	list, err := parsePooled(b)
	if err != nil {
		return nil, invalid(FieldError{Problem: err.Error()})
	}
	defer release(list)
	all := *list
	e := &Event{}
	if v, ok := all.get("data"); ok {
		e.Data = json.RawMessage(v)
	}
	for _, a := range []struct {
		name string
		dst  *string
	}{
		{"specversion", &e.SpecVersion}, {"id", &e.ID}, {"source", &e.Source}, {"type", &e.Type},
		{"subject", &e.Subject}, {"actor", &e.Actor}, {"correlationid", &e.CorrelationID}, {"causationid", &e.CausationID},
	} {
		v, ok := all.get(a.name)
		if !ok || isNull(v) {
			continue
		}
		s, err := unquote(v)
		if err != nil {
			return nil, invalid(FieldError{Field: a.name, Problem: "must be a string"})
		}
		*a.dst = s
	}
	if v, ok := all.get("dataversion"); ok && !isNull(v) {
		n, err := strconv.Atoi(string(v))
		if err != nil {
			return nil, invalid(FieldError{Field: "dataversion", Problem: "must be an integer"})
		}
		if n == 0 { // 0 stands for "not given" in Event
			return nil, invalid(FieldError{Field: "dataversion", Problem: fmt.Sprintf("must be %d, got 0", currentDataVersion)})
		}
		e.DataVersion = n
	}
	if v, ok := all.get("time"); ok && !isNull(v) {
		s, err := unquote(v)
		if err != nil {
			return nil, invalid(FieldError{Field: "time", Problem: "must be a string"})
		}
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil || !strictRFC3339(s) {
			return nil, invalid(FieldError{Field: "time", Problem: `must be an RFC 3339 time such as "2026-01-31T14:00:00Z"`})
		}
		if tm.IsZero() {
			// Validate would take the zero time for a missing one.
			return nil, invalid(FieldError{Field: "time", Problem: fmt.Sprintf("must be %s or later, got %s", MinTime.Format(time.RFC3339), s)})
		}
		e.Time = tm.UTC()
	}
	if keepExtensions {
		for _, f := range all {
			if knownAttributes[string(f.key)] {
				continue
			}
			if e.Extensions == nil {
				e.Extensions = map[string]json.RawMessage{}
			}
			e.Extensions[string(f.key)] = json.RawMessage(f.val)
		}
	}
	return e, nil
}

func isNull(v []byte) bool { return string(v) == "null" }

// strictRFC3339 refuses what Go's parser takes beyond RFC 3339: a comma
// before the fraction of a second, and an offset of 24 hours or more (or
// of 60 minutes).
func strictRFC3339(s string) bool {
	if strings.ContainsRune(s, ',') {
		return false
	}
	if n := len(s); n >= 6 && (s[n-6] == '+' || s[n-6] == '-') {
		return s[n-5:n-3] <= "23" && s[n-2:] <= "59"
	}
	return true
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
	b := make([]byte, 0, 256+len(e.Data))
	b = append(b, '{')
	first := true
	name := func(n string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendQuoted(b, n)
		b = append(b, ':')
	}
	str := func(n, v string) {
		name(n)
		b = appendQuoted(b, v)
	}
	raw := func(n string, v []byte) error {
		name(n)
		return appendCompact(&b, v)
	}
	str("specversion", e.SpecVersion)
	str("id", e.ID)
	str("source", e.Source)
	str("type", e.Type)
	if e.Subject != "" {
		str("subject", e.Subject)
	}
	str("time", e.Time.UTC().Format(time.RFC3339Nano))
	if e.DataVersion != 0 {
		name("dataversion")
		b = strconv.AppendInt(b, int64(e.DataVersion), 10)
	}
	if e.Actor != "" {
		str("actor", e.Actor)
	}
	if e.CorrelationID != "" {
		str("correlationid", e.CorrelationID)
	}
	if e.CausationID != "" {
		str("causationid", e.CausationID)
	}
	keys := make([]string, 0, len(e.Extensions))
	for k := range e.Extensions {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := raw(k, e.Extensions[k]); err != nil {
			return nil, fmt.Errorf("extension %q: %w", k, err)
		}
	}
	if len(e.Data) > 0 {
		if err := raw("data", e.Data); err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
	}
	b = append(b, '}')
	return b, nil
}

// appendCompact appends a JSON value without insignificant space; a value
// without any space byte (the common case) is copied as it is.
func appendCompact(b *[]byte, v []byte) error {
	if bytes.IndexAny(v, " \t\r\n") < 0 {
		end, err := skipValue(v, 0, 0)
		if err != nil {
			return err
		}
		if end != len(v) {
			return synErr(end, "unexpected %q after the value", v[end])
		}
		*b = append(*b, v...)
		return nil
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, v); err != nil {
		return err
	}
	*b = append(*b, buf.Bytes()...)
	return nil
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
		if r == utf8.RuneError {
			// What JSON decoding makes of invalid UTF-8 or a lone surrogate:
			// two different broken identifiers would become the same one.
			return "must be valid UTF-8 (holds U+FFFD, what invalid bytes or a lone surrogate decode to)"
		}
		if !unicode.IsPrint(r) {
			return fmt.Sprintf("must be printable (found %U)", r)
		}
	}
	return ""
}

// Peek reads the id and type of a message that does not decode as an event
// (an attribute of the wrong JSON type, say), as Decode reads attributes:
// exact names, the last of a name; each only when it is a string an event
// could have (an id of valid UTF-8 within MaxIDBytes, a known type).
func Peek(b []byte) (id, typ string) {
	obj, err := parseObject(bytes.TrimSpace(b))
	if err != nil {
		return "", ""
	}
	if v, ok := obj.get("id"); ok {
		if s, err := unquote(v); err == nil && validText(s, MaxIDBytes) == "" {
			id = s
		}
	}
	if v, ok := obj.get("type"); ok {
		if s, err := unquote(v); err == nil && KnownType(s) {
			typ = s
		}
	}
	return id, typ
}
