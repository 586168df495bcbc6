package natsstore

import (
	"encoding/base64"
	"strings"
)

// Subjects of the stream: kam.acct.<token>.<type> for account events and
// kam.clock.tick for ticks.
const (
	SubjectPrefix  = "kam."
	accountPrefix  = "kam.acct."
	TickSubject    = "kam.clock.tick"
	AllAccounts    = "kam.acct.>"
	encodedMarker  = "~"
	maxPlainLength = 128
)

var b64 = base64.RawURLEncoding

// Token maps an account id to a subject token that no other id shares.
// Ids made only of ASCII letters, digits, '-' and '_' are their own token;
// any other id (with '.', '*', '>', spaces, '~' or non-ASCII) becomes '~'
// followed by the unpadded base64url of its bytes. Plain tokens never hold
// '~', so the two kinds cannot collide, and base64 is one-to-one.
func Token(account string) string {
	if plain(account) {
		return account
	}
	return encodedMarker + b64.EncodeToString([]byte(account))
}

// AccountOf inverts Token; ok is false for a string Token never returns.
func AccountOf(token string) (string, bool) {
	if rest, enc := strings.CutPrefix(token, encodedMarker); enc {
		b, err := b64.DecodeString(rest)
		// base64 decoding ignores the unused low bits of the last
		// character ("~Lh" and "~Lg" both decode to "."): only the
		// canonical form is a token.
		if err != nil || Token(string(b)) != token {
			return "", false
		}
		return string(b), true
	}
	if !plain(token) {
		return "", false
	}
	return token, true
}

func plain(s string) bool {
	if s == "" || len(s) > maxPlainLength {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// ChainLabel names the account a subject token stands for, for its hash
// chain: the account, or, for a token that is no account's canonical token
// (published by some other client), the token with a note that says so, so
// that it cannot pass for an account's own chain.
func ChainLabel(token string) string {
	if acct, ok := AccountOf(token); ok {
		return acct
	}
	return token + " (a subject token that names no account)"
}

// AccountSubject is the subject of an account's event of one type.
func AccountSubject(account, eventType string) string {
	return accountPrefix + Token(account) + "." + eventType
}

// AccountFilter matches every event of one account.
func AccountFilter(account string) string {
	return accountPrefix + Token(account) + ".>"
}

// SubjectFor returns the subject an event of eventType for account goes to.
func SubjectFor(account, eventType string) string {
	if eventType == "clock.tick" {
		return TickSubject
	}
	return AccountSubject(account, eventType)
}

// TokenOf returns the account token of a subject under kam.acct:
// kam.acct.<token>.<type>, or kam.acct.<token> alone, where the stream
// takes a message too (no event belongs there, but the hash chains must
// cover it); ok is false for any other subject.
func TokenOf(subject string) (string, bool) {
	rest, ok := strings.CutPrefix(subject, accountPrefix)
	if !ok {
		return "", false
	}
	token, _, _ := strings.Cut(rest, ".")
	if token == "" {
		return "", false
	}
	return token, true
}
