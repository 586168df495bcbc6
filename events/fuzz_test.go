package events_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"testing"

	"kam/events"
)

// fuzzSeeds are valid and invalid events of every type, and envelopes that
// once broke the round trip.
var fuzzSeeds = []string{
	`{"specversion":"1.0","id":"1","source":"erp","type":"account.registered","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"name":"Acme","industry":"aero","region":"EMEA","manager":"kim","partnership":"strategic","service_requirement":"critical"}}`,
	`{"specversion":"1.0","id":"1","source":"erp","type":"account.registered","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"region":"EMEA"}}`,
	`{"specversion":"1.0","id":"2","source":"crm","type":"account.updated","subject":"a.b c","time":"2026-01-31T14:00:00+01:00","data":{"partnership":"interested"}}`,
	`{"specversion":"1.0","id":"2","source":"crm","type":"account.updated","subject":"acme","time":"2026-01-31T14:00:00Z","data":{}}`,
	`{"specversion":"1.0","id":"3","source":"erp","type":"order.placed","subject":"acme","time":"2026-01-31T14:00:00.123456789Z","dataversion":1,"data":{"order_id":"o-1","amount":"1234.50","currency":"USD","quantity":3,"discount_pct":12.5,"lines":[{"sku":"A","qty":2,"unit_price":"500.00","new_product":true}],"channel":"web"}}`,
	`{"specversion":"1.0","id":"3","source":"erp","type":"order.placed","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"order_id":"o-1","amount":12.5,"discount_pct":"101","lines":[{"qty":0},5]}}`,
	`{"specversion":"1.0","id":"4","source":"erp","type":"order.returned","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"amount":"0.01","order_id":"o-1"}}`,
	`{"specversion":"1.0","id":"4","source":"erp","type":"order.returned","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"amount":"0","currency":"EUR"}}`,
	`{"specversion":"1.0","id":"5","source":"app","type":"visit.logged","subject":"ünï","time":"2026-01-31T14:00:00Z","actor":"kim","data":{"visit_id":"v-1","rep":"kim","contact":{"name":"Ann","role":"influencer"},"kind":"video","competitor":"purchased","partnership_discussed":true,"notes":"n"}}`,
	`{"specversion":"1.0","id":"5","source":"app","type":"visit.logged","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"visit_id":"","contact":[],"kind":"fax"}}`,
	`{"specversion":"1.0","id":"6","source":"desk","type":"complaint.filed","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"complaint_id":"c-1","severity":"high","category":"c","description":"d"}}`,
	`{"specversion":"1.0","id":"6","source":"desk","type":"complaint.filed","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"complaint_id":"c-1","severity":"HIGH"}}`,
	`{"specversion":"1.0","id":"7","source":"desk","type":"complaint.resolved","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"complaint_id":"c-1","resolution":"r","satisfied":true}}`,
	`{"specversion":"1.0","id":"7","source":"desk","type":"complaint.resolved","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"satisfied":"yes"}}`,
	`{"specversion":"1.0","id":"8","source":"desk","type":"service_request.opened","subject":"acme","time":"2026-01-31T14:00:00Z","correlationid":"x","causationid":"y","data":{"request_id":"r-1","priority":"urgent","kind":"k","description":"d"}}`,
	`{"specversion":"1.0","id":"8","source":"desk","type":"service_request.opened","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"request_id":"r-1","priority":"asap"}}`,
	`{"specversion":"1.0","id":"9","source":"desk","type":"service_request.responded","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"request_id":"r-1","extra":[1,{"a":null}]}}`,
	`{"specversion":"1.0","id":"9","source":"desk","type":"service_request.responded","subject":"acme","time":"2026-01-31T14:00:00Z","data":null}`,
	`{"specversion":"1.0","id":"10","source":"desk","type":"service_request.resolved","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"request_id":"r-1","resolution":"fixed"}}`,
	`{"specversion":"1.0","id":"10","source":"desk","type":"service_request.resolved","subject":"acme","time":"2026-01-31T14:00:00Z","data":{"request_id":7}}`,
	`{"specversion":"1.0","id":"2026-02-01","source":"kam","type":"clock.tick","time":"2026-02-01T00:00:00Z"}`,
	`{"specversion":"1.0","id":"2026-02-01","source":"kam","type":"clock.tick","subject":"acme","time":"2026-02-01T00:00:00Z","data":[]}`,
	`{"specversion":"0.3","type":"order.cancelled","time":"2026-02-01","data":{}}`,
	`{"specversion":"1.0","id":"1","source":"s","type":"clock.tick","time":"0000-01-01T00:00:00+23:59","data":{}}`,
	`{"specversion":"1.0","id":"1","source":"s","type":"clock.tick","time":"9999-12-31T23:59:59-23:59"}`,
	`{"specversion":"1.0","id":"1","source":"s","TYPE":"order.placed","type":"clock.tick","time":"2026-02-01T00:00:00Z"}`,
	`{"specversion":"1.0","id":"1","source":"s","type":"clock.tick","time":"2026-02-01T00:00:00Z","ext\u0001":"\u2028<&>"}`,
	`{}`,
	`[]`,
}

func FuzzDecodeValidate(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), true)
		f.Add([]byte(s), false)
	}
	f.Fuzz(func(t *testing.T, b []byte, keepExtensions bool) {
		e, err := events.Decode(b, keepExtensions)
		if err != nil {
			if e != nil {
				t.Fatalf("Decode: got an event and error %v, want only the error", err)
			}
			mustBeInvalid(t, "Decode", err)
			return
		}
		out, err := e.MarshalJSON()
		if err != nil {
			t.Fatalf("MarshalJSON: %v", err)
		}
		if !json.Valid(out) {
			t.Fatalf("MarshalJSON: got invalid JSON %s", out)
		}

		p, verr := events.Validate(e, events.DefaultRules)
		p2, verr2 := events.Validate(e, events.DefaultRules)
		if !reflect.DeepEqual(p, p2) || !reflect.DeepEqual(verr, verr2) {
			t.Fatalf("Validate is not deterministic: got %#v, %v then %#v, %v", p, verr, p2, verr2)
		}
		if verr != nil {
			if p != nil {
				t.Fatalf("Validate: got payload %#v with error %v, want only the error", p, verr)
			}
			mustBeInvalid(t, "Validate", verr)
			return
		}
		if p == nil {
			t.Fatal("Validate: got neither payload nor error")
		}

		// What Validate accepts survives being stored and read back.
		e2, err := events.Decode(out, keepExtensions)
		if err != nil {
			t.Fatalf("Decode of the marshalled event %s: %v", out, err)
		}
		p3, err := events.Validate(e2, events.DefaultRules)
		if err != nil {
			t.Fatalf("Validate of the marshalled event %s: %v", out, err)
		}
		if !reflect.DeepEqual(p, p3) {
			t.Fatalf("payload after a round trip: got %#v, want %#v", p3, p)
		}
		out2, err := e2.MarshalJSON()
		if err != nil {
			t.Fatalf("second MarshalJSON: %v", err)
		}
		if !bytes.Equal(out, out2) {
			t.Fatalf("second MarshalJSON:\ngot  %s\nwant %s", out2, out)
		}
		if e2.Type != e.Type || e2.Subject != e.Subject || e2.ID != e.ID || !e2.Time.Equal(e.Time) {
			t.Fatalf("envelope after a round trip: got %s %q %q %v, want %s %q %q %v",
				e2.Type, e2.Subject, e2.ID, e2.Time, e.Type, e.Subject, e.ID, e.Time)
		}
	})
}

func mustBeInvalid(t *testing.T, what string, err error) {
	t.Helper()
	var ke *events.Error
	if !errors.As(err, &ke) {
		t.Fatalf("%s: got %v (%T), want an *events.Error", what, err, err)
	}
	if ke.Code != events.EInvalid || len(ke.Details) == 0 {
		t.Fatalf("%s: got code %q with %d details, want %q with at least one", what, ke.Code, len(ke.Details), events.EInvalid)
	}
	for _, d := range ke.Details {
		if d.Problem == "" {
			t.Fatalf("%s: got a detail without a problem: %+v", what, d)
		}
	}
}
