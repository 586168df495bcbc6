package natsstore_test

import (
	"encoding/base64"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"

	"kam/events"
	"kam/events/natsstore"
)

// trickyIDs are account ids that a naive subject mapping would confuse.
var trickyIDs = []string{
	"acme", "ACME", "a", "-", "_", "a-b_c", "0",
	".", "..", "a.b", "a..b", ".a", "a.", "*", ">", "a.*", "a.>", "a*b", "a>b",
	"a b", " ", "a\tb", "a\nb", "ünï", "Ünïon Aero. Ltd.", "日本", "~", "~abc", "a~b",
	"~" + base64.RawURLEncoding.EncodeToString([]byte("a.b")), // the token of "a.b", as an id
	base64.RawURLEncoding.EncodeToString([]byte("a.b")),       // the same without its marker
	"~" + base64.RawURLEncoding.EncodeToString([]byte("acme")),
	strings.Repeat("a", 127), strings.Repeat("a", 128), strings.Repeat("a", 129),
	strings.Repeat("a", 127) + ".", strings.Repeat("é", 64), strings.Repeat(".", 128),
	"\x00", "\xff", "a\x00b",
}

// validToken reports whether tok can be one token of a NATS subject and
// means nothing special there.
func validToken(tok string) bool {
	return tok != "" && !strings.ContainsAny(tok, ".*> \t\r\n\f\x00")
}

func TestTokenIsInjective(t *testing.T) {
	byToken := map[string]string{}
	for _, id := range trickyIDs {
		tok := natsstore.Token(id)
		if other, ok := byToken[tok]; ok {
			t.Errorf("Token(%q) = Token(%q) = %q, want different tokens", id, other, tok)
		}
		byToken[tok] = id
	}
}

func TestTokenIsASubjectToken(t *testing.T) {
	for _, id := range trickyIDs {
		tok := natsstore.Token(id)
		if !validToken(tok) {
			t.Errorf("Token(%q): got %q, want a single subject token", id, tok)
		}
		for _, typ := range events.Types[:len(events.Types)-1] {
			subj := natsstore.SubjectFor(id, typ)
			if !server.IsValidPublishSubject(subj) {
				t.Errorf("SubjectFor(%q, %s): got %q, want a valid literal subject", id, typ, subj)
			}
			if !server.SubjectMatchesFilter(subj, natsstore.AccountFilter(id)) {
				t.Errorf("subject %q does not match its account's filter %q", subj, natsstore.AccountFilter(id))
			}
			if !server.SubjectMatchesFilter(subj, natsstore.AllAccounts) {
				t.Errorf("subject %q does not match %q", subj, natsstore.AllAccounts)
			}
		}
	}
}

// No account's filter matches another account's events.
func TestAccountFiltersAreDisjoint(t *testing.T) {
	for _, a := range trickyIDs {
		for _, b := range trickyIDs {
			if a == b {
				continue
			}
			subj := natsstore.SubjectFor(b, events.TypeOrderPlaced)
			if server.SubjectMatchesFilter(subj, natsstore.AccountFilter(a)) {
				t.Errorf("filter of %q matches %q, an event of %q", a, subj, b)
			}
		}
	}
}

func TestTokenPlainIDs(t *testing.T) {
	tests := []struct {
		id, want string
	}{
		{"acme", "acme"},
		{"ACME-42_x", "ACME-42_x"},
		{strings.Repeat("a", 128), strings.Repeat("a", 128)},
		{strings.Repeat("a", 129), "~" + base64.RawURLEncoding.EncodeToString([]byte(strings.Repeat("a", 129)))},
		{"a.b", "~YS5i"},
		{"~abc", "~fmFiYw"},
		{"", "~"},
	}
	for _, tt := range tests {
		if got := natsstore.Token(tt.id); got != tt.want {
			t.Errorf("Token(%q): got %q, want %q", tt.id, got, tt.want)
		}
	}
}

func TestAccountOf(t *testing.T) {
	for _, id := range trickyIDs {
		got, ok := natsstore.AccountOf(natsstore.Token(id))
		if !ok || got != id {
			t.Errorf("AccountOf(Token(%q)): got %q, %v, want %q, true", id, got, ok, id)
		}
	}
	// Strings Token never returns.
	for _, tok := range []string{
		"", "a.b", "a b", "ünï", "*", ">",
		"~YWNtZQ",               // "acme", which is its own token
		"~YS5i=",                // padded
		"~YR",                   // "a" with non-zero trailing bits (canonical: ~YQ, and "a" is plain anyway)
		"~Lh",                   // "." with non-zero trailing bits (canonical: ~Lg)
		"~YS+i", "~YS/i", "~!!", // not base64url
		strings.Repeat("a", 129), // too long to be plain
	} {
		if id, ok := natsstore.AccountOf(tok); ok {
			t.Errorf("AccountOf(%q): got %q, true, want false", tok, id)
		}
	}
}

func TestTickSubject(t *testing.T) {
	if got := natsstore.SubjectFor("", events.TypeClockTick); got != natsstore.TickSubject {
		t.Errorf("SubjectFor(clock.tick): got %q, want %q", got, natsstore.TickSubject)
	}
	if server.SubjectMatchesFilter(natsstore.TickSubject, natsstore.AllAccounts) {
		t.Errorf("%q matches %q, want ticks apart from accounts", natsstore.TickSubject, natsstore.AllAccounts)
	}
}

func FuzzToken(f *testing.F) {
	for _, id := range trickyIDs {
		f.Add(id)
		f.Add(natsstore.Token(id))
	}
	f.Add("~YR")
	f.Fuzz(func(t *testing.T, s string) {
		tok := natsstore.Token(s)
		if !validToken(tok) {
			t.Fatalf("Token(%q): got %q, want a single subject token", s, tok)
		}
		if id, ok := natsstore.AccountOf(tok); !ok || id != s {
			t.Fatalf("AccountOf(Token(%q)): got %q, %v, want %q, true", s, id, ok, s)
		}
		// AccountOf accepts only what Token returns, so that one account
		// has one token.
		if id, ok := natsstore.AccountOf(s); ok {
			if back := natsstore.Token(id); back != s {
				t.Fatalf("AccountOf(%q) = %q, whose token is %q, want %q", s, id, back, s)
			}
		}
	})
}
