package events

import (
	"errors"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
)

// A small, strict JSON scanner for the hot paths: decoding an event and its
// data reads each byte about twice, with no reflection, where encoding/json
// took some 15 µs and 120 allocations per event (a projector decodes every
// event of the stream). It accepts exactly the JSON grammar of RFC 8259.

// jsonField is one member of an object: its key and its raw value.
type jsonField struct {
	key []byte // unquoted; the input's own bytes when it has no escapes
	val []byte
}

// jsonObject is an object's members in order. Lookups take the last member
// of a name, as encoding/json does.
type jsonObject []jsonField

func (o jsonObject) get(key string) ([]byte, bool) {
	for i := len(o) - 1; i >= 0; i-- {
		if string(o[i].key) == key {
			return o[i].val, true
		}
	}
	return nil, false
}

type syntaxError struct {
	msg string
	off int
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("malformed JSON at byte %d: %s", e.off, e.msg)
}

func synErr(off int, format string, a ...any) error {
	return &syntaxError{msg: fmt.Sprintf(format, a...), off: off}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func skipSpace(b []byte, i int) int {
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	return i
}

// parseObject reads the object that b holds (and nothing else but space).
func parseObject(b []byte) (jsonObject, error) {
	return parseObjectInto(nil, b)
}

// parseObjectInto is parseObject appending the members to dst.
func parseObjectInto(dst jsonObject, b []byte) (jsonObject, error) {
	i := skipSpace(b, 0)
	obj, end, err := scanObject(dst, b, i, 0)
	if err != nil {
		return nil, err
	}
	if end = skipSpace(b, end); end != len(b) {
		return nil, synErr(end, "unexpected %q after the object", b[end])
	}
	return obj, nil
}

// objects recycles member lists: an event's envelope and data objects were
// a fifth of a replay's garbage.
var objects = sync.Pool{New: func() any { return new(jsonObject) }}

// parsePooled is parseObject into a recycled list, which release returns:
// nothing may keep the list (the members' bytes are b's own) after it.
func parsePooled(b []byte) (*jsonObject, error) {
	p := objects.Get().(*jsonObject)
	o, err := parseObjectInto((*p)[:0], b)
	if err != nil {
		release(p)
		return nil, err
	}
	*p = o
	return p, nil
}

func release(p *jsonObject) {
	clear(*p) // keep no input alive
	*p = (*p)[:0]
	objects.Put(p)
}

// parseArray reads the array that b holds and returns its elements' raw bytes.
func parseArray(b []byte) ([][]byte, error) {
	i := skipSpace(b, 0)
	if i >= len(b) || b[i] != '[' {
		return nil, synErr(i, "want an array")
	}
	var out [][]byte
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == ']' {
		if end := skipSpace(b, i+1); end != len(b) {
			return nil, synErr(end, "unexpected %q after the array", b[end])
		}
		return out, nil
	}
	for {
		i = skipSpace(b, i)
		start := i
		end, err := skipValue(b, i, 1)
		if err != nil {
			return nil, err
		}
		out = append(out, b[start:end])
		i = skipSpace(b, end)
		if i >= len(b) {
			return nil, synErr(i, "unterminated array")
		}
		if b[i] == ']' {
			break
		}
		if b[i] != ',' {
			return nil, synErr(i, "want ',' or ']' in an array, got %q", b[i])
		}
		i++
	}
	if end := skipSpace(b, i+1); end != len(b) {
		return nil, synErr(end, "unexpected %q after the array", b[end])
	}
	return out, nil
}

const maxDepth = 1000

func scanObject(obj jsonObject, b []byte, i, depth int) (jsonObject, int, error) {
	if i >= len(b) || b[i] != '{' {
		return nil, i, synErr(i, "want an object")
	}
	if obj == nil {
		obj = make(jsonObject, 0, 8)
	}
	i = skipSpace(b, i+1)
	if i < len(b) && b[i] == '}' {
		return obj, i + 1, nil
	}
	for {
		i = skipSpace(b, i)
		if i >= len(b) || b[i] != '"' {
			return nil, i, synErr(i, "want a string key")
		}
		kend, err := skipString(b, i)
		if err != nil {
			return nil, i, err
		}
		key, err := unquoteBytes(b[i:kend])
		if err != nil {
			return nil, i, synErr(i, "%v", err)
		}
		i = skipSpace(b, kend)
		if i >= len(b) || b[i] != ':' {
			return nil, i, synErr(i, "want ':' after a key")
		}
		i = skipSpace(b, i+1)
		vstart := i
		vend, err := skipValue(b, i, depth+1)
		if err != nil {
			return nil, i, err
		}
		obj = append(obj, jsonField{key: key, val: b[vstart:vend]})
		i = skipSpace(b, vend)
		if i >= len(b) {
			return nil, i, synErr(i, "unterminated object")
		}
		if b[i] == '}' {
			return obj, i + 1, nil
		}
		if b[i] != ',' {
			return nil, i, synErr(i, "want ',' or '}' in an object, got %q", b[i])
		}
		i++
	}
}

// skipValue returns the end of the value starting at b[i].
func skipValue(b []byte, i, depth int) (int, error) {
	if depth > maxDepth {
		return i, synErr(i, "nested too deeply")
	}
	if i >= len(b) {
		return i, synErr(i, "unexpected end of input")
	}
	switch c := b[i]; {
	case c == '"':
		return skipString(b, i)
	case c == '{':
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == '}' {
			return i + 1, nil
		}
		for {
			i = skipSpace(b, i)
			if i >= len(b) || b[i] != '"' {
				return i, synErr(i, "want a string key")
			}
			end, err := skipString(b, i)
			if err != nil {
				return i, err
			}
			i = skipSpace(b, end)
			if i >= len(b) || b[i] != ':' {
				return i, synErr(i, "want ':' after a key")
			}
			if i, err = skipValue(b, skipSpace(b, i+1), depth+1); err != nil {
				return i, err
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, synErr(i, "unterminated object")
			}
			if b[i] == '}' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return i, synErr(i, "want ',' or '}' in an object, got %q", b[i])
			}
			i++
		}
	case c == '[':
		i = skipSpace(b, i+1)
		if i < len(b) && b[i] == ']' {
			return i + 1, nil
		}
		for {
			var err error
			if i, err = skipValue(b, skipSpace(b, i), depth+1); err != nil {
				return i, err
			}
			i = skipSpace(b, i)
			if i >= len(b) {
				return i, synErr(i, "unterminated array")
			}
			if b[i] == ']' {
				return i + 1, nil
			}
			if b[i] != ',' {
				return i, synErr(i, "want ',' or ']' in an array, got %q", b[i])
			}
			i++
		}
	case c == 't':
		return literal(b, i, "true")
	case c == 'f':
		return literal(b, i, "false")
	case c == 'n':
		return literal(b, i, "null")
	case c == '-' || (c >= '0' && c <= '9'):
		return skipNumber(b, i)
	}
	return i, synErr(i, "unexpected %q", b[i])
}

func literal(b []byte, i int, lit string) (int, error) {
	if len(b)-i < len(lit) || string(b[i:i+len(lit)]) != lit {
		return i, synErr(i, "invalid literal")
	}
	return i + len(lit), nil
}

// skipNumber follows RFC 8259: -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
func skipNumber(b []byte, i int) (int, error) {
	start := i
	if b[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
			n++
		}
		return n
	}
	switch {
	case i < len(b) && b[i] == '0':
		i++
	case digits() == 0:
		return start, synErr(start, "invalid number")
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return start, synErr(start, "invalid number")
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return start, synErr(start, "invalid number")
		}
	}
	return i, nil
}

// skipString returns the end of the string starting at b[i] (a quote).
func skipString(b []byte, i int) (int, error) {
	start := i
	i++
	for i < len(b) {
		c := b[i]
		switch {
		case c == '"':
			return i + 1, nil
		case c == '\\':
			if i+1 >= len(b) {
				return start, synErr(start, "unterminated string")
			}
			switch b[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				if i+6 > len(b) {
					return start, synErr(i, "invalid \\u escape")
				}
				for _, h := range b[i+2 : i+6] {
					if !isHex(h) {
						return start, synErr(i, "invalid \\u escape")
					}
				}
				i += 6
			default:
				return start, synErr(i, "invalid escape \\%c", b[i+1])
			}
		case c < 0x20:
			return start, synErr(i, "control character in a string")
		default:
			i++
		}
	}
	return start, synErr(start, "unterminated string")
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

var errNotString = errors.New("not a string")

// unquote decodes a JSON string literal (quotes included), as encoding/json
// does: invalid UTF-8 and lone surrogates become U+FFFD.
// unquoteBytes is unquote without a copy when s has no escapes.
func unquoteBytes(s []byte) ([]byte, error) {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		plain := true
		for _, c := range s[1 : len(s)-1] {
			if c == '\\' || c >= utf8.RuneSelf || c < 0x20 {
				plain = false
				break
			}
		}
		if plain {
			return s[1 : len(s)-1], nil
		}
	}
	u, err := unquote(s)
	return []byte(u), err
}

func unquote(s []byte) (string, error) {
	if len(s) < 2 || s[0] != '"' || s[len(s)-1] != '"' {
		return "", errNotString
	}
	s = s[1 : len(s)-1]
	plain := true
	for _, c := range s {
		if c == '\\' || c >= utf8.RuneSelf || c < 0x20 {
			plain = false
			break
		}
	}
	if plain {
		return string(s), nil
	}
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\':
			if i+1 >= len(s) {
				return "", errNotString
			}
			switch s[i+1] {
			case '"', '\\', '/':
				out = append(out, s[i+1])
				i += 2
			case 'b':
				out, i = append(out, '\b'), i+2
			case 'f':
				out, i = append(out, '\f'), i+2
			case 'n':
				out, i = append(out, '\n'), i+2
			case 'r':
				out, i = append(out, '\r'), i+2
			case 't':
				out, i = append(out, '\t'), i+2
			case 'u':
				r, ok := hex4(s, i+2)
				if !ok {
					return "", errNotString
				}
				i += 6
				if utf16.IsSurrogate(r) {
					r2, ok2 := rune(-1), false
					if i+6 <= len(s) && s[i] == '\\' && s[i+1] == 'u' {
						r2, ok2 = hex4(s, i+2)
					}
					if dec := utf16.DecodeRune(r, r2); ok2 && dec != utf8.RuneError {
						r = dec
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", errNotString
			}
		case c < 0x20:
			return "", errNotString
		case c < utf8.RuneSelf:
			out = append(out, c)
			i++
		default:
			r, size := utf8.DecodeRune(s[i:])
			out = utf8.AppendRune(out, r) // RuneError for invalid bytes
			i += size
		}
	}
	return string(out), nil
}

func hex4(s []byte, i int) (rune, bool) {
	if i+4 > len(s) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s[i:i+4]), 16, 32)
	return rune(n), err == nil
}

// appendQuoted appends s as a JSON string, escaped as encoding/json does
// (HTML characters included, so that stored events read the same either way).
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigit[c>>4], hexDigit[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigit[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

const hexDigit = "0123456789abcdef"

// SplitArray returns the raw elements of the JSON array b holds, checking
// the whole of b's syntax (a batch of events, say).
func SplitArray(b []byte) ([][]byte, error) { return parseArray(b) }
