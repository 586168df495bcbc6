package projections

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestMoversJSON holds the hand-written JSON of the movers to encoding/json's.
func TestMoversJSON(t *testing.T) {
	m := movers{}
	for _, mv := range []*mover{&m.Tier, &m.Key, &m.Loyalty} {
		mv.IDs, mv.Seqs = []string{}, []uint64{}
	}
	check := func() {
		t.Helper()
		want, _ := json.Marshal(&m)
		if got := m.appendJSON(nil); string(got) != string(want) {
			t.Fatalf("got %s, want %s", got, want)
		}
	}
	check()
	for i, id := range []string{"a", `quo"te`, "<&>", "ünï", "\u2028", "ev-000001"} {
		m.Tier.add(id, uint64(i+1))
		m.Loyalty.add(id, uint64(1<<40+i))
		check()
	}
	m.Tier.take()
	check()
}

func TestAppendJSONStringsAsEncodingJSON(t *testing.T) {
	ss := []string{"", "plain-id-1", `quo"te`, `back\slash`, "<b>&amp;", "tab\there", "ünï", "\u2028", "del\x7f", "bad\xffutf8"}
	for i := range ss {
		want, _ := json.Marshal(ss[i:])
		if got := appendJSONStrings(nil, ss[i:]); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", ss[i:], got, want)
		}
	}
	if got := appendJSONStrings(nil, nil); string(got) != "[]" {
		t.Errorf("nil: got %s, want []", got)
	}
	if got := appendJSONUints(nil, []uint64{1, 18446744073709551615}); string(got) != "[1,18446744073709551615]" {
		t.Errorf("uints: got %s", got)
	}
}

func BenchmarkMoversJSON(b *testing.B) {
	var m movers
	for i := range maxMoved {
		m.Tier.add(fmt.Sprintf("0b9a6c3e-4d1f-4f7a-9e2b-%012d", i), uint64(i))
	}
	m.Key, m.Loyalty = m.Tier, m.Tier
	var buf []byte
	for b.Loop() {
		buf = m.appendJSON(buf[:0])
	}
}
