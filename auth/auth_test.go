package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func hashOf(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func TestParseAndAuthenticate(t *testing.T) {
	file := strings.Join([]string{
		"# kam tokens",
		"",
		"erp publish " + hashOf("secret-erp"),
		"  analyst read,audit   " + hashOf("secret-analyst"),
		"ops admin " + hashOf("secret-ops"),
	}, "\n")
	s, err := Parse(strings.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 3 {
		t.Fatalf("tokens: got %d, want 3", s.Len())
	}
	tests := []struct {
		name, token, wantName string
		ok                    bool
		has, hasNot           []string
	}{
		{name: "publisher", token: "secret-erp", wantName: "erp", ok: true, has: []string{"publish"}, hasNot: []string{"read", "audit", "admin"}},
		{name: "two scopes", token: "secret-analyst", wantName: "analyst", ok: true, has: []string{"read", "audit"}, hasNot: []string{"publish", "admin"}},
		{name: "admin holds all", token: "secret-ops", wantName: "ops", ok: true, has: []string{"publish", "read", "audit", "admin"}},
		{name: "unknown", token: "secret-nobody"},
		{name: "empty", token: ""},
		{name: "the hash is not the token", token: hashOf("secret-erp")},
		{name: "prefix of a token", token: "secret-er"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, ok := s.Authenticate(tt.token)
			if ok != tt.ok {
				t.Fatalf("ok: got %v, want %v", ok, tt.ok)
			}
			if !ok {
				return
			}
			if tok.Name != tt.wantName {
				t.Errorf("name: got %q, want %q", tok.Name, tt.wantName)
			}
			for _, sc := range tt.has {
				if !tok.Has(sc) {
					t.Errorf("Has(%q): got false, want true", sc)
				}
			}
			for _, sc := range tt.hasNot {
				if tok.Has(sc) {
					t.Errorf("Has(%q): got true, want false", sc)
				}
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	h := hashOf("x")
	tests := []struct {
		name, line, want string
	}{
		{"two fields", "erp publish", "got 2 fields"},
		{"four fields", "erp publish " + h + " extra", "got 4 fields"},
		{"unknown scope", "erp write " + h, `scope "write"`},
		{"empty scope", "erp publish,," + h[:0] + " " + h, `scope ""`},
		{"short hash", "erp publish abcd", "64 hex digits"},
		{"not hex", "erp publish " + strings.Repeat("z", 64), "64 hex digits"},
		{"plain token instead of hash", "erp publish kam_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG", "64 hex digits"},
		{"non-ASCII name", "érp publish " + h, "printable ASCII"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader("# head\n" + tt.line + "\n"))
			if err == nil {
				t.Fatalf("got no error, want one containing %q", tt.want)
			}
			var le *LineError
			if !errors.As(err, &le) || le.Line != 2 {
				t.Errorf("got %v, want a *LineError for line 2", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestParseDuplicates(t *testing.T) {
	file := "a read " + hashOf("1") + "\na publish " + hashOf("2") + "\nb read " + hashOf("1") + "\n"
	_, err := Parse(strings.NewReader(file))
	if err == nil {
		t.Fatal("got no error, want duplicate name and hash errors")
	}
	for _, want := range []string{`line 2: name "a" is already on line 1`, "line 3: the same token hash is already on line 1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("got %q, want it to contain %q", err, want)
		}
	}
}

func TestNewRoundTrip(t *testing.T) {
	tok, line, err := New("field-app", []string{ScopePublish, ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok, Prefix) || len(tok) != len(Prefix)+43 {
		t.Errorf("token %q: want %s and 43 base64url characters", tok, Prefix)
	}
	tok2, _, _ := New("field-app", []string{ScopeRead})
	if tok == tok2 {
		t.Error("two new tokens are equal")
	}
	path := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(path, []byte(line.Line()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	got, ok := s.Authenticate(tok)
	if !ok || got.Name != "field-app" || !got.Has(ScopePublish) || !got.Has(ScopeRead) || got.Has(ScopeAudit) {
		t.Errorf("authenticate the new token: got %+v %v", got, ok)
	}
	if _, ok := s.Authenticate(tok2); ok {
		t.Error("another token authenticates")
	}
	if _, _, err := New("has space", []string{ScopeRead}); err == nil {
		t.Error("a name with a space: got no error")
	}
	if _, _, err := New("x", nil); err == nil {
		t.Error("no scopes: got no error")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want os.ErrNotExist", err)
	}
}
