package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"kam/events"
)

// event returns the JSON of an event of type typ about account subject with
// the given data; an empty subject or data is left out. edit, when not nil,
// changes the envelope before it is marshalled (delete a key, set another).
func event(tb testing.TB, typ, subject, data string, edit func(map[string]any)) []byte {
	tb.Helper()
	m := map[string]any{
		"specversion": "1.0",
		"id":          "0190a3b4-0000-7000-8000-000000000001",
		"source":      "erp",
		"type":        typ,
		"time":        "2026-01-31T14:00:00Z",
	}
	if subject != "" {
		m["subject"] = subject
	}
	if data != "" {
		m["data"] = json.RawMessage(data)
	}
	if edit != nil {
		edit(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		tb.Fatalf("marshal test event: %v", err)
	}
	return b
}

// mustDecode decodes b, keeping extensions, and fails the test on error.
func mustDecode(tb testing.TB, b []byte) *events.Event {
	tb.Helper()
	e, err := events.Decode(b, true)
	if err != nil {
		tb.Fatalf("Decode(%s): %v", b, err)
	}
	return e
}

func ptr[T any](v T) *T { return &v }

func TestValidateValid(t *testing.T) {
	tests := []struct {
		name    string
		typ     string
		subject string
		data    string
		want    any
	}{
		{"account.registered minimal", events.TypeAccountRegistered, "acme", `{"name":"Acme"}`,
			&events.AccountRegistered{events.Profile{Name: ptr("Acme")}}},
		{"account.registered full", events.TypeAccountRegistered, "acme",
			`{"name":"Acme Aero","industry":"aerospace","region":"EMEA","manager":"kim","partnership":"strategic","service_requirement":"critical"}`,
			&events.AccountRegistered{events.Profile{Name: ptr("Acme Aero"), Industry: ptr("aerospace"), Region: ptr("EMEA"),
				Manager: ptr("kim"), Partnership: ptr("strategic"), ServiceRequirement: ptr("critical")}}},
		{"account.updated minimal", events.TypeAccountUpdated, "acme", `{"region":"APAC"}`,
			&events.AccountUpdated{events.Profile{Region: ptr("APAC")}}},
		{"account.updated full", events.TypeAccountUpdated, "acme",
			`{"name":"Acme","industry":"rail","region":"APAC","manager":"lee","partnership":"none","service_requirement":"standard"}`,
			&events.AccountUpdated{events.Profile{Name: ptr("Acme"), Industry: ptr("rail"), Region: ptr("APAC"),
				Manager: ptr("lee"), Partnership: ptr("none"), ServiceRequirement: ptr("standard")}}},
		{"order.placed minimal, free order", events.TypeOrderPlaced, "acme", `{"order_id":"o-1","amount":"0"}`,
			&events.OrderPlaced{OrderID: "o-1"}},
		{"order.placed full", events.TypeOrderPlaced, "acme",
			`{"order_id":"o-2","amount":"1234.50","currency":"USD","quantity":3,"discount_pct":12.5,` +
				`"lines":[{"sku":"A","qty":2,"unit_price":"500.00","new_product":true},{"sku":"B","qty":1,"unit_price":"234.5"}],"channel":"web"}`,
			&events.OrderPlaced{OrderID: "o-2", Amount: 123450, Quantity: 3, DiscountHundredths: 1250, Channel: "web",
				Lines: []events.OrderLine{{SKU: "A", Qty: 2, UnitPrice: 50000, NewProduct: true}, {SKU: "B", Qty: 1, UnitPrice: 23450}}}},
		{"order.placed discount as string and bounds", events.TypeOrderPlaced, "acme", `{"order_id":"o-3","amount":"1","discount_pct":"100"}`,
			&events.OrderPlaced{OrderID: "o-3", Amount: 100, DiscountHundredths: 10000}},
		{"order.placed discount 0", events.TypeOrderPlaced, "acme", `{"order_id":"o-3","amount":"1","discount_pct":0}`,
			&events.OrderPlaced{OrderID: "o-3", Amount: 100}},
		{"order.returned minimal, credit note", events.TypeOrderReturned, "acme", `{"amount":"0.01"}`,
			&events.OrderReturned{Amount: 1}},
		{"order.returned full", events.TypeOrderReturned, "acme", `{"order_id":"o-2","amount":"100","currency":"USD"}`,
			&events.OrderReturned{OrderID: "o-2", Amount: 10000}},
		{"visit.logged minimal", events.TypeVisitLogged, "acme", `{"visit_id":"v-1","rep":"kim"}`,
			&events.VisitLogged{VisitID: "v-1", Rep: "kim"}},
		{"visit.logged full", events.TypeVisitLogged, "acme",
			`{"visit_id":"v-2","rep":"kim","contact":{"name":"Ann","role":"decision_maker"},"kind":"onsite","competitor":"evaluating","partnership_discussed":true,"notes":"went well"}`,
			&events.VisitLogged{VisitID: "v-2", Rep: "kim", Contact: events.Contact{Name: "Ann", Role: "decision_maker"},
				Kind: "onsite", Competitor: "evaluating", PartnershipDiscussed: true}},
		{"complaint.filed minimal", events.TypeComplaintFiled, "acme", `{"complaint_id":"c-1","severity":"low"}`,
			&events.ComplaintFiled{ComplaintID: "c-1", Severity: "low"}},
		{"complaint.filed full", events.TypeComplaintFiled, "acme",
			`{"complaint_id":"c-2","severity":"critical","category":"delivery","description":"late again"}`,
			&events.ComplaintFiled{ComplaintID: "c-2", Severity: "critical", Category: "delivery"}},
		{"complaint.resolved minimal", events.TypeComplaintResolved, "acme", `{"complaint_id":"c-1"}`,
			&events.ComplaintResolved{ComplaintID: "c-1"}},
		{"complaint.resolved full", events.TypeComplaintResolved, "acme", `{"complaint_id":"c-1","resolution":"refund","satisfied":false}`,
			&events.ComplaintResolved{ComplaintID: "c-1", Satisfied: ptr(false)}},
		{"service_request.opened minimal", events.TypeServiceRequestOpened, "acme", `{"request_id":"r-1","priority":"urgent"}`,
			&events.ServiceRequestOpened{RequestID: "r-1", Priority: "urgent"}},
		{"service_request.opened full", events.TypeServiceRequestOpened, "acme",
			`{"request_id":"r-2","priority":"low","kind":"repair","description":"engine"}`,
			&events.ServiceRequestOpened{RequestID: "r-2", Priority: "low", Kind: "repair"}},
		{"service_request.responded minimal", events.TypeServiceRequestResponded, "acme", `{"request_id":"r-1"}`,
			&events.ServiceRequestResponded{RequestID: "r-1"}},
		{"service_request.responded with an unknown field", events.TypeServiceRequestResponded, "acme", `{"request_id":"r-1","by":"tech-7"}`,
			&events.ServiceRequestResponded{RequestID: "r-1"}},
		{"service_request.resolved minimal", events.TypeServiceRequestResolved, "acme", `{"request_id":"r-1"}`,
			&events.ServiceRequestResolved{RequestID: "r-1"}},
		{"service_request.resolved full", events.TypeServiceRequestResolved, "acme", `{"request_id":"r-1","resolution":"part replaced"}`,
			&events.ServiceRequestResolved{RequestID: "r-1"}},
		{"clock.tick without data", events.TypeClockTick, "", "", &events.ClockTick{}},
		{"clock.tick with null data", events.TypeClockTick, "", "null", &events.ClockTick{}},
		{"clock.tick with empty data", events.TypeClockTick, "", "{}", &events.ClockTick{}},
		{"subject of 128 bytes", events.TypeOrderReturned, strings.Repeat("x", 128), `{"amount":"1"}`,
			&events.OrderReturned{Amount: 100}},
		{"subject with dots, spaces and non-ASCII", events.TypeOrderReturned, "Ünïon Aero. Ltd.*>", `{"amount":"1"}`,
			&events.OrderReturned{Amount: 100}},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			seen[tt.typ] = true
			e := mustDecode(t, event(t, tt.typ, tt.subject, tt.data, nil))
			got, err := events.Validate(e, events.DefaultRules)
			if err != nil {
				t.Fatalf("Validate: got error %v, want none", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("payload: got %#v, want %#v", got, tt.want)
			}
		})
	}
	for _, typ := range events.Types {
		if !seen[typ] {
			t.Errorf("no valid example of %s", typ)
		}
	}
}

func TestValidateInvalid(t *testing.T) {
	del := func(keys ...string) func(map[string]any) {
		return func(m map[string]any) {
			for _, k := range keys {
				delete(m, k)
			}
		}
	}
	set := func(k string, v any) func(map[string]any) {
		return func(m map[string]any) { m[k] = v }
	}
	tests := []struct {
		name    string
		typ     string
		subject string
		data    string
		edit    func(map[string]any)
		rules   *events.Rules
		want    []events.FieldError
	}{
		// Required fields of the data.
		{name: "order.placed without order_id", typ: events.TypeOrderPlaced, data: `{"amount":"1.00"}`,
			want: []events.FieldError{{Field: "data.order_id", Problem: "is required"}}},
		{name: "order.placed with a blank order_id", typ: events.TypeOrderPlaced, data: `{"order_id":"  ","amount":"1.00"}`,
			want: []events.FieldError{{Field: "data.order_id", Problem: "must not be empty"}}},
		{name: "order.placed with a null order_id", typ: events.TypeOrderPlaced, data: `{"order_id":null,"amount":"1.00"}`,
			want: []events.FieldError{{Field: "data.order_id", Problem: "is required"}}},
		{name: "order.placed with a numeric order_id", typ: events.TypeOrderPlaced, data: `{"order_id":7,"amount":"1.00"}`,
			want: []events.FieldError{{Field: "data.order_id", Problem: "must be a string"}}},
		{name: "order.placed without amount", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1"}`,
			want: []events.FieldError{{Field: "data.amount", Problem: "is required"}}},
		{name: "order.returned without amount", typ: events.TypeOrderReturned, data: `{"order_id":"o-1"}`,
			want: []events.FieldError{{Field: "data.amount", Problem: "is required"}}},
		{name: "visit.logged without visit_id", typ: events.TypeVisitLogged, data: `{"rep":"kim"}`,
			want: []events.FieldError{{Field: "data.visit_id", Problem: "is required"}}},
		{name: "visit.logged without rep", typ: events.TypeVisitLogged, data: `{"visit_id":"v-1"}`,
			want: []events.FieldError{{Field: "data.rep", Problem: "is required"}}},
		{name: "visit.logged without anything", typ: events.TypeVisitLogged, data: `{}`,
			want: []events.FieldError{{Field: "data.visit_id", Problem: "is required"}, {Field: "data.rep", Problem: "is required"}}},
		{name: "complaint.filed without complaint_id", typ: events.TypeComplaintFiled, data: `{"severity":"low"}`,
			want: []events.FieldError{{Field: "data.complaint_id", Problem: "is required"}}},
		{name: "complaint.filed without severity", typ: events.TypeComplaintFiled, data: `{"complaint_id":"c-1"}`,
			want: []events.FieldError{{Field: "data.severity", Problem: "is required"}}},
		{name: "complaint.resolved without complaint_id", typ: events.TypeComplaintResolved, data: `{"satisfied":true}`,
			want: []events.FieldError{{Field: "data.complaint_id", Problem: "is required"}}},
		{name: "service_request.opened without request_id", typ: events.TypeServiceRequestOpened, data: `{"priority":"low"}`,
			want: []events.FieldError{{Field: "data.request_id", Problem: "is required"}}},
		{name: "service_request.opened without priority", typ: events.TypeServiceRequestOpened, data: `{"request_id":"r-1"}`,
			want: []events.FieldError{{Field: "data.priority", Problem: "is required"}}},
		{name: "service_request.responded without request_id", typ: events.TypeServiceRequestResponded, data: `{}`,
			want: []events.FieldError{{Field: "data.request_id", Problem: "is required"}}},
		{name: "service_request.resolved without request_id", typ: events.TypeServiceRequestResolved, data: `{"resolution":"done"}`,
			want: []events.FieldError{{Field: "data.request_id", Problem: "is required"}}},
		{name: "account.registered without name", typ: events.TypeAccountRegistered, data: `{"region":"EMEA"}`,
			want: []events.FieldError{{Field: "data.name", Problem: "is required"}}},
		{name: "account.registered with a blank name", typ: events.TypeAccountRegistered, data: `{"name":" "}`,
			want: []events.FieldError{{Field: "data.name", Problem: "must not be empty"}}},
		{name: "account.updated with nothing to change", typ: events.TypeAccountUpdated, data: `{"notes":"x"}`,
			want: []events.FieldError{{Field: "data", Problem: "must change at least one of name, industry, region, manager, partnership, service_requirement"}}},
		{name: "account.updated with a blank name", typ: events.TypeAccountUpdated, data: `{"name":""}`,
			want: []events.FieldError{{Field: "data.name", Problem: "must not be empty"}}},

		// Required attributes of the envelope.
		{name: "no subject", typ: events.TypeOrderReturned, subject: "-", data: `{"amount":"1"}`,
			want: []events.FieldError{{Field: "subject", Problem: "is required"}}},
		{name: "no source", typ: events.TypeOrderReturned, data: `{"amount":"1"}`, edit: del("source"),
			want: []events.FieldError{{Field: "source", Problem: "is required"}}},
		{name: "no id", typ: events.TypeOrderReturned, data: `{"amount":"1"}`, edit: del("id"),
			want: []events.FieldError{{Field: "id", Problem: "is required"}}},
		{name: "no type", typ: events.TypeOrderReturned, data: `{"amount":"1"}`, edit: del("type"),
			want: []events.FieldError{{Field: "type", Problem: "is required"}}},
		{name: "no time", typ: events.TypeOrderReturned, data: `{"amount":"1"}`, edit: del("time"),
			want: []events.FieldError{{Field: "time", Problem: "is required"}}},
		{name: "no data", typ: events.TypeOrderReturned,
			want: []events.FieldError{{Field: "data", Problem: "is required"}}},
		{name: "null data", typ: events.TypeOrderReturned, data: "null",
			want: []events.FieldError{{Field: "data", Problem: "is required"}}},
		{name: "data an array", typ: events.TypeOrderReturned, data: `[{"amount":"1"}]`,
			want: []events.FieldError{{Field: "data", Problem: "must be a JSON object"}}},
		{name: "data a string", typ: events.TypeOrderReturned, data: `"amount"`,
			want: []events.FieldError{{Field: "data", Problem: "must be a JSON object"}}},
		{name: "no specversion", typ: events.TypeOrderReturned, data: `{"amount":"1"}`, edit: del("specversion"),
			want: []events.FieldError{{Field: "specversion", Problem: "is required"}}},
		{name: "wrong specversion", typ: events.TypeOrderReturned, data: `{"amount":"1"}`, edit: set("specversion", "0.3"),
			want: []events.FieldError{{Field: "specversion", Problem: `must be "1.0", got "0.3"`}}},
		{name: "wrong dataversion", typ: events.TypeOrderReturned, data: `{"amount":"1"}`, edit: set("dataversion", 2),
			want: []events.FieldError{{Field: "dataversion", Problem: "must be 1, got 2"}}},
		{name: "unknown type", typ: "order.cancelled", data: `{"order_id":"o-1"}`,
			want: []events.FieldError{{Field: "type", Problem: `unknown event type "order.cancelled" (known: ` + strings.Join(events.Types, ", ") + ")"}}},
		{name: "clock.tick with a subject", typ: events.TypeClockTick, subject: "acme",
			want: []events.FieldError{{Field: "subject", Problem: "must be empty for clock.tick"}}},
		{name: "clock.tick with array data", typ: events.TypeClockTick, subject: "-", data: `[]`,
			want: []events.FieldError{{Field: "data", Problem: "must be a JSON object"}}},
		{name: "subject with a control character", typ: events.TypeOrderReturned, subject: "ac\x07me", data: `{"amount":"1"}`,
			want: []events.FieldError{{Field: "subject", Problem: "must be printable (found U+0007)"}}},
		{name: "subject with a newline", typ: events.TypeOrderReturned, subject: "acme\n", data: `{"amount":"1"}`,
			want: []events.FieldError{{Field: "subject", Problem: "must be printable (found U+000A)"}}},
		{name: "subject of 129 bytes", typ: events.TypeOrderReturned, subject: strings.Repeat("x", 129), data: `{"amount":"1"}`,
			want: []events.FieldError{{Field: "subject", Problem: "is 129 bytes, at most 128 are allowed"}}},
		{name: "subject of 65 two-byte runes", typ: events.TypeOrderReturned, subject: strings.Repeat("é", 65), data: `{"amount":"1"}`,
			want: []events.FieldError{{Field: "subject", Problem: "is 130 bytes, at most 128 are allowed"}}},
		{name: "id over 256 bytes", typ: events.TypeOrderReturned, data: `{"amount":"1"}`, edit: set("id", strings.Repeat("i", 257)),
			want: []events.FieldError{{Field: "id", Problem: "is 257 bytes, at most 256 are allowed"}}},
		{name: "time after year 9999 in UTC", typ: events.TypeOrderReturned, data: `{"amount":"1"}`, edit: set("time", "9999-12-31T23:59:59-23:59"),
			want: []events.FieldError{{Field: "time", Problem: "must be before year 10000 in UTC"}}},
		{name: "time before year 0000 in UTC", typ: events.TypeOrderReturned, data: `{"amount":"1"}`, edit: set("time", "0000-01-01T00:00:00+23:59"),
			want: []events.FieldError{{Field: "time", Problem: "must be 1970-01-01T00:00:00Z or later, got -0001-12-31T00:01:00Z"}}},
		// One event in year 1 made a projector review 740,000 days.
		{name: "time before 1970", typ: events.TypeOrderReturned, data: `{"amount":"1"}`, edit: set("time", "1969-12-31T23:59:59.999Z"),
			want: []events.FieldError{{Field: "time", Problem: "must be 1970-01-01T00:00:00Z or later, got 1969-12-31T23:59:59.999Z"}}},
		{name: "a negative zero amount", typ: events.TypeOrderPlaced, data: `{"order_id":"o1","amount":"-0.00"}`,
			want: []events.FieldError{{Field: "data.amount", Problem: "must not be negative"}}},
		{name: "invalid UTF-8 in the subject", typ: events.TypeOrderReturned, subject: "A\xff", data: `{"amount":"1"}`,
			want: []events.FieldError{{Field: "subject", Problem: "must be valid UTF-8 (holds U+FFFD, what invalid bytes or a lone surrogate decode to)"}}},
		{name: "null attributes are missing", typ: events.TypeOrderReturned, data: `{"amount":"1"}`,
			edit: func(m map[string]any) { m["source"], m["subject"] = nil, nil },
			want: []events.FieldError{{Field: "source", Problem: "is required"}, {Field: "subject", Problem: "is required"}}},
		{name: "every envelope attribute missing", typ: events.TypeOrderReturned, subject: "-", data: `{"amount":"1"}`,
			edit: del("specversion", "id", "source", "time"),
			want: []events.FieldError{
				{Field: "specversion", Problem: "is required"}, {Field: "id", Problem: "is required"},
				{Field: "source", Problem: "is required"}, {Field: "time", Problem: "is required"},
				{Field: "subject", Problem: "is required"}}},

		// Enumerations.
		{name: "wrong severity", typ: events.TypeComplaintFiled, data: `{"complaint_id":"c-1","severity":"urgent"}`,
			want: []events.FieldError{{Field: "data.severity", Problem: `must be one of low, medium, high, critical, got "urgent"`}}},
		{name: "wrong priority", typ: events.TypeServiceRequestOpened, data: `{"request_id":"r-1","priority":"critical"}`,
			want: []events.FieldError{{Field: "data.priority", Problem: `must be one of low, normal, high, urgent, got "critical"`}}},
		{name: "enum in another case", typ: events.TypeServiceRequestOpened, data: `{"request_id":"r-1","priority":"Urgent"}`,
			want: []events.FieldError{{Field: "data.priority", Problem: `must be one of low, normal, high, urgent, got "Urgent"`}}},
		{name: "wrong partnership", typ: events.TypeAccountRegistered, data: `{"name":"Acme","partnership":"maybe"}`,
			want: []events.FieldError{{Field: "data.partnership", Problem: `must be one of none, interested, strategic, got "maybe"`}}},
		{name: "wrong service_requirement", typ: events.TypeAccountUpdated, data: `{"region":"EMEA","service_requirement":"gold"}`,
			want: []events.FieldError{{Field: "data.service_requirement", Problem: `must be one of standard, elevated, critical, got "gold"`}}},
		{name: "wrong contact role", typ: events.TypeVisitLogged, data: `{"visit_id":"v-1","rep":"kim","contact":{"name":"Ann","role":"ceo"}}`,
			want: []events.FieldError{{Field: "data.contact.role", Problem: `must be one of decision_maker, influencer, purchaser, user, got "ceo"`}}},
		{name: "wrong visit kind", typ: events.TypeVisitLogged, data: `{"visit_id":"v-1","rep":"kim","kind":"fax"}`,
			want: []events.FieldError{{Field: "data.kind", Problem: `must be one of onsite, phone, video, email, got "fax"`}}},
		{name: "wrong competitor", typ: events.TypeVisitLogged, data: `{"visit_id":"v-1","rep":"kim","competitor":"yes"}`,
			want: []events.FieldError{{Field: "data.competitor", Problem: `must be one of none, evaluating, purchased, got "yes"`}}},
		{name: "contact not an object", typ: events.TypeVisitLogged, data: `{"visit_id":"v-1","rep":"kim","contact":"Ann"}`,
			want: []events.FieldError{{Field: "data.contact", Problem: "must be an object"}}},
		{name: "partnership_discussed not a bool", typ: events.TypeVisitLogged, data: `{"visit_id":"v-1","rep":"kim","partnership_discussed":"yes"}`,
			want: []events.FieldError{{Field: "data.partnership_discussed", Problem: "must be true or false"}}},
		{name: "satisfied not a bool", typ: events.TypeComplaintResolved, data: `{"complaint_id":"c-1","satisfied":1}`,
			want: []events.FieldError{{Field: "data.satisfied", Problem: "must be true or false"}}},

		// Money.
		{name: "negative amount", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"-1.00"}`,
			want: []events.FieldError{{Field: "data.amount", Problem: "must not be negative"}}},
		{name: "negative return amount", typ: events.TypeOrderReturned, data: `{"amount":"-5"}`,
			want: []events.FieldError{{Field: "data.amount", Problem: "must not be negative"}}},
		{name: "zero return amount", typ: events.TypeOrderReturned, data: `{"amount":"0.00"}`,
			want: []events.FieldError{{Field: "data.amount", Problem: "must be greater than 0"}}},
		{name: "too many decimals", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"12.345"}`,
			want: []events.FieldError{{Field: "data.amount", Problem: "has 3 decimals, the currency has 2"}}},
		{name: "decimals of a currency without minor unit", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"12.5","currency":"JPY"}`,
			rules: &events.Rules{Currency: "JPY", Digits: 0},
			want:  []events.FieldError{{Field: "data.amount", Problem: "has 1 decimals, the currency has 0"}}},
		{name: "wrong currency", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"12.34","currency":"EUR"}`,
			want: []events.FieldError{{Field: "data.currency", Problem: `must be USD, the deployment's currency, got "EUR"`}}},
		{name: "wrong currency on a return", typ: events.TypeOrderReturned, data: `{"amount":"12.34","currency":"usd"}`,
			want: []events.FieldError{{Field: "data.currency", Problem: `must be USD, the deployment's currency, got "usd"`}}},
		{name: "amount as a JSON number", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":12.5}`,
			want: []events.FieldError{{Field: "data.amount", Problem: `must be a decimal string such as "1234.50"`}}},
		{name: "amount in exponent form", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"1e3"}`,
			want: []events.FieldError{{Field: "data.amount", Problem: `must be a decimal string such as "1234.50"`}}},
		{name: "amount too large for minor units", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"999999999999999999"}`,
			want: []events.FieldError{{Field: "data.amount", Problem: "is too large"}}},
		{name: "amount with too many digits", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"1234567890123456789"}`,
			want: []events.FieldError{{Field: "data.amount", Problem: "has too many digits (at most 18)"}}},
		{name: "line unit_price negative", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"1","lines":[{"sku":"A","qty":1,"unit_price":"-1"}]}`,
			want: []events.FieldError{{Field: "data.lines[0].unit_price", Problem: "must not be negative"}}},

		// Numbers of an order.
		{name: "discount over 100", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"1","discount_pct":100.01}`,
			want: []events.FieldError{{Field: "data.discount_pct", Problem: "must be from 0 to 100"}}},
		{name: "discount negative", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"1","discount_pct":-1}`,
			want: []events.FieldError{{Field: "data.discount_pct", Problem: "must be from 0 to 100"}}},
		{name: "discount with 3 decimals", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"1","discount_pct":12.345}`,
			want: []events.FieldError{{Field: "data.discount_pct", Problem: "must have at most 2 decimals"}}},
		{name: "discount not a number", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"1","discount_pct":"ten"}`,
			want: []events.FieldError{{Field: "data.discount_pct", Problem: "must be a number from 0 to 100"}}},
		{name: "discount in exponent form", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"1","discount_pct":1e1}`,
			want: []events.FieldError{{Field: "data.discount_pct", Problem: "must be a number from 0 to 100"}}},
		{name: "quantity 0", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"1","quantity":0}`,
			want: []events.FieldError{{Field: "data.quantity", Problem: "must be at least 1"}}},
		{name: "quantity not an integer", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"1","quantity":1.5}`,
			want: []events.FieldError{{Field: "data.quantity", Problem: "must be an integer"}}},
		{name: "bad line qty", typ: events.TypeOrderPlaced,
			data: `{"order_id":"o-1","amount":"1","lines":[{"sku":"A","qty":1},{"sku":"B","qty":0}]}`,
			want: []events.FieldError{{Field: "data.lines[1].qty", Problem: "must be at least 1"}}},
		{name: "line not an object", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"1","lines":[{"sku":"A"},7]}`,
			want: []events.FieldError{{Field: "data.lines[1]", Problem: "must be an object"}}},
		{name: "lines not an array", typ: events.TypeOrderPlaced, data: `{"order_id":"o-1","amount":"1","lines":{"sku":"A"}}`,
			want: []events.FieldError{{Field: "data.lines", Problem: "must be an array of lines"}}},
		{name: "several problems at once", typ: events.TypeOrderPlaced,
			data: `{"amount":"-1","currency":"EUR","quantity":0}`,
			want: []events.FieldError{
				{Field: "data.currency", Problem: `must be USD, the deployment's currency, got "EUR"`},
				{Field: "data.order_id", Problem: "is required"},
				{Field: "data.amount", Problem: "must not be negative"},
				{Field: "data.quantity", Problem: "must be at least 1"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			subject := tt.subject
			switch subject {
			case "":
				subject = "acme"
			case "-":
				subject = ""
			}
			rules := events.DefaultRules
			if tt.rules != nil {
				rules = *tt.rules
			}
			e := mustDecode(t, event(t, tt.typ, subject, tt.data, tt.edit))
			p, err := events.Validate(e, rules)
			if p != nil {
				t.Errorf("payload: got %#v, want nil", p)
			}
			var ke *events.Error
			if !errors.As(err, &ke) {
				t.Fatalf("error: got %v (%T), want an *events.Error", err, err)
			}
			if ke.Code != events.EInvalid {
				t.Errorf("code: got %q, want %q", ke.Code, events.EInvalid)
			}
			if !reflect.DeepEqual(ke.Details, tt.want) {
				t.Errorf("details:\ngot  %q\nwant %q", ke.Details, tt.want)
			}
		})
	}
}

func TestDecode(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want events.FieldError
	}{
		{"empty", ``, events.FieldError{Problem: "an event must be a JSON object"}},
		{"an array", `[{"type":"clock.tick"}]`, events.FieldError{Problem: "an event must be a JSON object"}},
		{"a string", `"clock.tick"`, events.FieldError{Problem: "an event must be a JSON object"}},
		{"malformed", `{"type":"clock.tick",}`, events.FieldError{Problem: `malformed JSON at byte 21: want a string key`}},
		{"trailing garbage", `{"type":"clock.tick"} {}`, events.FieldError{Problem: `malformed JSON at byte 22: unexpected '{' after the object`}},
		{"id a number", `{"id":7}`, events.FieldError{Field: "id", Problem: "must be a string"}},
		{"subject an object", `{"subject":{"id":"acme"}}`, events.FieldError{Field: "subject", Problem: "must be a string"}},
		{"dataversion a string", `{"dataversion":"1"}`, events.FieldError{Field: "dataversion", Problem: "must be an integer"}},
		{"dataversion a fraction", `{"dataversion":1.5}`, events.FieldError{Field: "dataversion", Problem: "must be an integer"}},
		{"dataversion 0", `{"dataversion":0}`, events.FieldError{Field: "dataversion", Problem: "must be 1, got 0"}},
		{"time without zone", `{"time":"2026-01-31T14:00:00"}`, events.FieldError{Field: "time", Problem: `must be an RFC 3339 time such as "2026-01-31T14:00:00Z"`}},
		{"time a date", `{"time":"2026-01-31"}`, events.FieldError{Field: "time", Problem: `must be an RFC 3339 time such as "2026-01-31T14:00:00Z"`}},
		{"time empty", `{"time":""}`, events.FieldError{Field: "time", Problem: `must be an RFC 3339 time such as "2026-01-31T14:00:00Z"`}},
		{"time a number", `{"time":1769868000}`, events.FieldError{Field: "time", Problem: "must be a string"}},
		{"time with a comma fraction", `{"time":"2026-01-31T14:00:00,5Z"}`, events.FieldError{Field: "time", Problem: `must be an RFC 3339 time such as "2026-01-31T14:00:00Z"`}},
		{"time with a 24-hour offset", `{"time":"2026-01-31T14:00:00+24:00"}`, events.FieldError{Field: "time", Problem: `must be an RFC 3339 time such as "2026-01-31T14:00:00Z"`}},
		{"time with a 60-minute offset", `{"time":"2026-01-31T14:00:00+23:60"}`, events.FieldError{Field: "time", Problem: `must be an RFC 3339 time such as "2026-01-31T14:00:00Z"`}},
		// The zero time is no missing time: it is before 1970.
		{"time in year 1", `{"time":"0001-01-01T00:00:00Z"}`, events.FieldError{Field: "time", Problem: "must be 1970-01-01T00:00:00Z or later, got 0001-01-01T00:00:00Z"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, err := events.Decode([]byte(tt.in), true)
			if e != nil {
				t.Errorf("event: got %+v, want nil", e)
			}
			var ke *events.Error
			if !errors.As(err, &ke) {
				t.Fatalf("error: got %v, want an *events.Error", err)
			}
			if ke.Code != events.EInvalid {
				t.Errorf("code: got %q, want %q", ke.Code, events.EInvalid)
			}
			if want := []events.FieldError{tt.want}; !reflect.DeepEqual(ke.Details, want) {
				t.Errorf("details: got %q, want %q", ke.Details, want)
			}
		})
	}
}

func TestDecodeTimeIsUTC(t *testing.T) {
	e := mustDecode(t, event(t, events.TypeClockTick, "", "", func(m map[string]any) { m["time"] = "2026-01-31T15:00:00.5+01:00" }))
	want := time.Date(2026, 1, 31, 14, 0, 0, 5e8, time.UTC)
	if !e.Time.Equal(want) || e.Time.Location() != time.UTC {
		t.Errorf("time: got %v, want %v", e.Time, want)
	}
}

// Attribute names are case-sensitive in CloudEvents: "Type" is not "type".
func TestDecodeAttributeNamesAreCaseSensitive(t *testing.T) {
	in := `{"specversion":"1.0","id":"x","source":"erp","TYPE":"order.placed","type":"clock.tick","time":"2026-01-31T14:00:00Z"}`
	e := mustDecode(t, []byte(in))
	if e.Type != events.TypeClockTick {
		t.Errorf("type: got %q, want %q", e.Type, events.TypeClockTick)
	}
	if got, want := string(e.Extensions["TYPE"]), `"order.placed"`; got != want {
		t.Errorf("extension TYPE: got %s, want %s", got, want)
	}
	again := mustDecode(t, mustMarshal(t, e))
	if again.Type != events.TypeClockTick {
		t.Errorf("type after a round trip: got %q, want %q", again.Type, events.TypeClockTick)
	}
}

func TestDecodeExtensions(t *testing.T) {
	in := event(t, events.TypeOrderReturned, "acme", `{"amount":"1"}`, func(m map[string]any) {
		m["traceparent"] = "00-abc-01"
		m["partitionkey"] = map[string]any{"k": 1}
		m["datacontenttype"] = "application/json"
		m["actor"] = "kim"
		m["correlationid"] = "corr-1"
		m["causationid"] = "cause-1"
		m["dataversion"] = 1
	})
	kept := mustDecode(t, in)
	want := map[string]json.RawMessage{"traceparent": json.RawMessage(`"00-abc-01"`), "partitionkey": json.RawMessage(`{"k":1}`)}
	if !reflect.DeepEqual(kept.Extensions, want) {
		t.Errorf("extensions: got %q, want %q", kept.Extensions, want)
	}
	if kept.Actor != "kim" || kept.CorrelationID != "corr-1" || kept.CausationID != "cause-1" || kept.DataVersion != 1 {
		t.Errorf("kam attributes: got actor %q correlationid %q causationid %q dataversion %d, want kim corr-1 cause-1 1",
			kept.Actor, kept.CorrelationID, kept.CausationID, kept.DataVersion)
	}
	dropped, err := events.Decode(in, false)
	if err != nil {
		t.Fatal(err)
	}
	if dropped.Extensions != nil {
		t.Errorf("extensions without keepExtensions: got %q, want nil", dropped.Extensions)
	}
}

func mustMarshal(tb testing.TB, e *events.Event) []byte {
	tb.Helper()
	b, err := e.MarshalJSON()
	if err != nil {
		tb.Fatalf("MarshalJSON: %v", err)
	}
	return b
}

func TestMarshalJSON(t *testing.T) {
	e := &events.Event{
		SpecVersion: "1.0", ID: "id-1", Source: "erp", Type: events.TypeOrderReturned, Subject: "acme",
		Time:        time.Date(2026, 1, 31, 15, 0, 0, 0, time.FixedZone("CET", 3600)),
		DataVersion: 1, Actor: "kim", CorrelationID: "c", CausationID: "d",
		Data:       json.RawMessage("{\n  \"amount\": \"1\"\n}"),
		Extensions: map[string]json.RawMessage{"zz": json.RawMessage(`1`), "aa": json.RawMessage(`[ true ]`), "ctl\x01": json.RawMessage(`"<>"`)},
	}
	got := string(mustMarshal(t, e))
	want := `{"specversion":"1.0","id":"id-1","source":"erp","type":"order.returned","subject":"acme","time":"2026-01-31T14:00:00Z",` +
		`"dataversion":1,"actor":"kim","correlationid":"c","causationid":"d","aa":[true],"ctl\u0001":"<>","zz":1,"data":{"amount":"1"}}`
	if got != want {
		t.Errorf("MarshalJSON:\ngot  %s\nwant %s", got, want)
	}
	tick := &events.Event{SpecVersion: "1.0", ID: "2026-02-01", Source: "kam", Type: events.TypeClockTick, Time: time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)}
	got = string(mustMarshal(t, tick))
	want = `{"specversion":"1.0","id":"2026-02-01","source":"kam","type":"clock.tick","time":"2026-02-01T00:00:00Z"}`
	if got != want {
		t.Errorf("MarshalJSON of a tick:\ngot  %s\nwant %s", got, want)
	}
}

// Unknown data fields are accepted and kept: the stored bytes are the bytes
// that came, whatever kam reads of them.
func TestUnknownDataFieldsAreKept(t *testing.T) {
	data := `{"order_id":"o-1","amount":"12.00","erp_ref":{"plant":"B7","lines":[1,2]},"z":null,"note":"<b>&</b>"}`
	// Built by hand: json.Marshal would escape the HTML characters of data.
	in := []byte(`{"specversion":"1.0","id":"id-1","source":"erp","type":"order.placed","subject":"acme",` +
		`"time":"2026-01-31T14:00:00Z","traceparent":"00-1","data":` + data + `}`)
	e := mustDecode(t, in)
	if _, err := events.Validate(e, events.DefaultRules); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	if string(e.Data) != data {
		t.Errorf("data after Decode: got %s, want %s", e.Data, data)
	}
	out := mustMarshal(t, e)
	again := mustDecode(t, out)
	if string(again.Data) != data {
		t.Errorf("data after a round trip: got %s, want %s", again.Data, data)
	}
	if out2 := mustMarshal(t, again); !bytes.Equal(out, out2) {
		t.Errorf("second marshal: got %s, want %s", out2, out)
	}
	p1, err := events.Validate(e, events.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := events.Validate(again, events.DefaultRules)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p1, p2) {
		t.Errorf("payload after a round trip: got %#v, want %#v", p2, p1)
	}
}

func TestNormalize(t *testing.T) {
	e := mustDecode(t, event(t, events.TypeClockTick, "", "", func(m map[string]any) { delete(m, "specversion"); delete(m, "id") }))
	e.Normalize(func() string { return "new-id" })
	if e.SpecVersion != "1.0" || e.ID != "new-id" {
		t.Errorf("normalized: got specversion %q id %q, want 1.0 new-id", e.SpecVersion, e.ID)
	}
	e.SpecVersion = "0.3"
	e.Normalize(func() string { t.Error("newID called for an event with an id"); return "" })
	if e.SpecVersion != "0.3" || e.ID != "new-id" {
		t.Errorf("normalized twice: got specversion %q id %q, want 0.3 new-id", e.SpecVersion, e.ID)
	}
}

func TestCheckNotFuture(t *testing.T) {
	ref := time.Date(2026, 1, 31, 14, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		time time.Time
		ok   bool
	}{
		{"in the past", ref.Add(-24 * time.Hour), true},
		{"at the reference", ref, true},
		{"exactly 5 minutes ahead", ref.Add(5 * time.Minute), true},
		{"5 minutes and 1ns ahead", ref.Add(5*time.Minute + time.Nanosecond), false},
		{"a day ahead", ref.Add(24 * time.Hour), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := events.CheckNotFuture(&events.Event{Time: tt.time}, ref, events.DefaultFutureTolerance)
			if tt.ok {
				if err != nil {
					t.Errorf("got %v, want nil", err)
				}
				return
			}
			var ke *events.Error
			if !errors.As(err, &ke) {
				t.Fatalf("got %v, want an *events.Error", err)
			}
			if ke.Code != events.EInvalid || len(ke.Details) != 1 || ke.Details[0].Field != "time" {
				t.Errorf("got code %q details %q, want %q on field time", ke.Code, ke.Details, events.EInvalid)
			}
		})
	}
}

func TestErrorCode(t *testing.T) {
	conflict := &events.Error{Code: events.EConflict, Message: "changed", CurrentSequence: 7}
	tests := []struct {
		name    string
		err     error
		code    string
		message string
	}{
		{"nil", nil, "", "internal error"},
		{"kam error", conflict, events.EConflict, "changed"},
		{"wrapped kam error", fmt.Errorf("append: %w", conflict), events.EConflict, "changed"},
		{"other error", errors.New("disk on fire"), events.EInternal, "internal error"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := events.ErrorCode(tt.err); got != tt.code {
				t.Errorf("ErrorCode: got %q, want %q", got, tt.code)
			}
			if tt.err == nil {
				return
			}
			if got := events.ErrorMessage(tt.err); got != tt.message {
				t.Errorf("ErrorMessage: got %q, want %q", got, tt.message)
			}
		})
	}
}

func TestErrorString(t *testing.T) {
	cause := errors.New("raft: no leader")
	tests := []struct {
		name string
		err  *events.Error
		want string
	}{
		{"details", &events.Error{Code: events.EInvalid, Message: "invalid event",
			Details: []events.FieldError{{Field: "subject", Problem: "is required"}, {Problem: "an event must be a JSON object"}}},
			"invalid event: subject: is required; an event must be a JSON object"},
		{"internal shows its cause", &events.Error{Code: events.EInternal, Message: "boom", Err: cause}, "boom: raft: no leader"},
		{"others hide their cause", &events.Error{Code: events.EUnavailable, Message: "retry", Err: cause}, "retry"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
	if err := (&events.Error{Code: events.EUnavailable, Err: cause}); !errors.Is(err, cause) {
		t.Errorf("errors.Is(err, cause): got false, want true")
	}
}

// TestValidateEarliestTime: 1970-01-01T00:00:00Z itself is a business time.
func TestValidateEarliestTime(t *testing.T) {
	e := &events.Event{SpecVersion: events.SpecVersion, ID: "e1", Source: "t", Type: events.TypeOrderReturned, Subject: "A",
		Time: events.MinTime, Data: []byte(`{"amount":"1"}`)}
	if _, err := events.Validate(e, events.DefaultRules); err != nil {
		t.Errorf("an event at %s: %v", events.MinTime, err)
	}
}
