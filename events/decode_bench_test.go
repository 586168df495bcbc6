package events_test

import (
	"testing"

	"kam/events"
)

func BenchmarkDecodeValidate(b *testing.B) {
	in := []byte(`{"specversion":"1.0","id":"0190a3b4-0000-7000-8000-000000000001","source":"erp","type":"order.placed","subject":"acct-4711","time":"2026-01-31T14:00:00Z","dataversion":1,"data":{"order_id":"o-1","amount":"1234.50","currency":"USD","quantity":3,"discount_pct":12.5,"lines":[{"sku":"A","qty":2,"unit_price":"500.00","new_product":true}],"channel":"web"}}`)
	b.ReportAllocs()
	for b.Loop() {
		e, err := events.Decode(in, false)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := events.Validate(e, events.DefaultRules); err != nil {
			b.Fatal(err)
		}
	}
}
