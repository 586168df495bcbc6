// Package auth owns kam's API tokens: the tokens file (one token a line,
// `NAME SCOPE[,SCOPE...] SHA256-HEX-OF-TOKEN`), making new tokens, and
// checking a presented token against the file in constant time. The file
// holds only hashes, so reading it does not reveal a token.
package auth

import (
	"bufio"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// Scopes a token can hold. Admin holds every other scope too.
const (
	ScopePublish = "publish"
	ScopeRead    = "read"
	ScopeAudit   = "audit"
	ScopeAdmin   = "admin"
)

// Scopes lists every scope, in the order tokens files show them.
var Scopes = []string{ScopePublish, ScopeRead, ScopeAudit, ScopeAdmin}

// Prefix starts every token kam makes, so that secret scanners and people
// can tell one when they see it.
const Prefix = "kam_"

// Token is one line of the tokens file.
type Token struct {
	Name   string
	Scopes []string
	Hash   [sha256.Size]byte
}

// Has reports whether the token grants scope. An admin token grants all.
func (t *Token) Has(scope string) bool {
	return slices.Contains(t.Scopes, scope) || slices.Contains(t.Scopes, ScopeAdmin)
}

// Line is the token's line in a tokens file.
func (t *Token) Line() string {
	return t.Name + " " + strings.Join(t.Scopes, ",") + " " + hex.EncodeToString(t.Hash[:])
}

// Set is the tokens of one file.
type Set struct {
	tokens []Token
}

// Len is how many tokens the set holds.
func (s *Set) Len() int { return len(s.tokens) }

// Authenticate returns the token whose hash is the SHA-256 of presented, or
// false. Every stored hash is compared, each in constant time, so the answer
// takes as long whichever token (if any) matches.
func (s *Set) Authenticate(presented string) (*Token, bool) {
	sum := sha256.Sum256([]byte(presented))
	found := -1
	for i := range s.tokens {
		if subtle.ConstantTimeCompare(sum[:], s.tokens[i].Hash[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return nil, false
	}
	return &s.tokens[found], true
}

// LineError names a line of a tokens file and what is wrong with it.
type LineError struct {
	Line    int
	Problem string
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Problem) }

// Load reads a tokens file. Errors name the file and the line.
func Load(path string) (*Set, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens file: %w", err)
	}
	defer f.Close()
	s, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("tokens file %s: %w", path, err)
	}
	return s, nil
}

// Parse reads tokens, one a line: `NAME SCOPE[,SCOPE...] SHA256-HEX`.
// Blank lines and lines starting with # are skipped. A name or a hash may
// appear once; every line's error is reported, each as a *LineError.
func Parse(r io.Reader) (*Set, error) {
	s := &Set{}
	names := map[string]int{}
	hashes := map[[sha256.Size]byte]int{}
	var errs []error
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		t, err := ParseLine(line)
		if err != nil {
			errs = append(errs, &LineError{Line: n, Problem: err.Error()})
			continue
		}
		if at, ok := names[t.Name]; ok {
			errs = append(errs, &LineError{Line: n, Problem: fmt.Sprintf("name %q is already on line %d", t.Name, at)})
			continue
		}
		if at, ok := hashes[t.Hash]; ok {
			errs = append(errs, &LineError{Line: n, Problem: fmt.Sprintf("the same token hash is already on line %d", at)})
			continue
		}
		names[t.Name], hashes[t.Hash] = n, n
		s.tokens = append(s.tokens, t)
	}
	if err := sc.Err(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return s, nil
}

// ParseLine reads one line of a tokens file.
func ParseLine(line string) (Token, error) {
	f := strings.Fields(line)
	if len(f) != 3 {
		return Token{}, fmt.Errorf("want NAME SCOPE[,SCOPE...] SHA256-HEX, got %d fields", len(f))
	}
	if err := CheckName(f[0]); err != nil {
		return Token{}, err
	}
	scopes, err := ParseScopes(f[1])
	if err != nil {
		return Token{}, err
	}
	t := Token{Name: f[0], Scopes: scopes}
	h, err := hex.DecodeString(f[2])
	if err != nil || len(h) != sha256.Size {
		return Token{}, fmt.Errorf("hash: want the 64 hex digits of a SHA-256 (the file holds hashes, not tokens)")
	}
	copy(t.Hash[:], h)
	return t, nil
}

// CheckName checks a token's name: it becomes the actor of every event the
// token appends, so it must be printable ASCII without spaces, at most 128
// bytes.
func CheckName(name string) error {
	if name == "" || len(name) > 128 {
		return fmt.Errorf("name: want 1 to 128 bytes, got %d", len(name))
	}
	for _, r := range name {
		if r <= ' ' || r > '~' {
			return fmt.Errorf("name %q: only printable ASCII without spaces", name)
		}
	}
	if strings.HasPrefix(name, "#") {
		return fmt.Errorf("name %q: must not start with #", name)
	}
	return nil
}

// ParseScopes reads a comma-separated list of known scopes.
func ParseScopes(list string) ([]string, error) {
	var out []string
	for sc := range strings.SplitSeq(list, ",") {
		sc = strings.TrimSpace(sc)
		if !slices.Contains(Scopes, sc) {
			return nil, fmt.Errorf("scope %q: want one of %s", sc, strings.Join(Scopes, ", "))
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// New makes a fresh random token (32 bytes from crypto/rand, 256 bits) and
// its line for a tokens file.
func New(name string, scopes []string) (token string, t Token, err error) {
	if err := CheckName(name); err != nil {
		return "", Token{}, err
	}
	if len(scopes) == 0 {
		return "", Token{}, errors.New("a token needs at least one scope")
	}
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", Token{}, err
	}
	token = Prefix + base64.RawURLEncoding.EncodeToString(b[:])
	return token, Token{Name: name, Scopes: scopes, Hash: sha256.Sum256([]byte(token))}, nil
}
