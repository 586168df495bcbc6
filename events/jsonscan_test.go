package events

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzScanner holds the hand-written scanner to encoding/json: the same
// inputs are valid, strings decode to the same text, and appendQuoted
// writes what json.Marshal writes.
func FuzzScanner(f *testing.F) {
	for _, s := range []string{
		`{}`, `[]`, `{"a":1}`, `{"a":[1,2,{"b":null}],"c":"\u00e9\ud83d\ude00"}`, `"x"`, `-0.5e+3`, `01`, `1.`, `.5`,
		`{"a":1,}`, `[1,]`, `"\x01"`, `"\ud800"`, `"\ud800\u0041"`, "\"\xff\"", `{"a" 1}`, `tru`, `nul`, ` { } `,
		`{"a":"<&>\u2028"}`, `[[[[[]]]]]`, `1e`, `-`, `"\/"`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		end, err := skipValue(b, skipSpace(b, 0), 0)
		ours := err == nil && skipSpace(b, end) == len(b)
		if theirs := json.Valid(b); ours != theirs {
			t.Fatalf("%q: scanner says valid=%v, encoding/json says %v (err %v)", b, ours, theirs, err)
		}
		trimmed := bytes.TrimSpace(b)
		if ours && len(trimmed) > 0 && trimmed[0] == '"' {
			got, err := unquote(trimmed)
			var want string
			if jerr := json.Unmarshal(trimmed, &want); err != nil || jerr != nil || got != want {
				t.Fatalf("%q: unquote %q (%v), encoding/json %q (%v)", b, got, err, want, jerr)
			}
			enc, _ := json.Marshal(want)
			if q := appendQuoted(nil, want); !bytes.Equal(q, enc) {
				t.Fatalf("%q: appendQuoted %s, json.Marshal %s", want, q, enc)
			}
		}
		if ours && len(trimmed) > 0 && trimmed[0] == '{' {
			if _, err := parseObject(b); err != nil {
				t.Fatalf("%q: valid object refused: %v", b, err)
			}
		}
	})
}
