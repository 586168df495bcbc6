package projections

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"kam/events"
)

// Reading a policy file strictly. encoding/json alone would take a key left
// out as 0, let the last of two equal keys win and match key names in any
// case, so the file is first read as a tree of its own and compared with the
// shape of the built-in policy: every key the built-in policy has is
// required (but the optional "key" column of the service-level tables), each
// key is written exactly as there and once, every number is a whole number.

// jnode is one value of a policy file as written.
type jnode struct {
	kind    jkind
	members []jmember // kind jObject, in the file's order, duplicates kept
	token   any       // kind jScalar: json.Number, string, bool or nil
}

type jkind int

const (
	jScalar jkind = iota
	jObject
	jList
)

type jmember struct {
	key string
	val *jnode
}

// utf8BOM is what some editors write at the start of a UTF-8 file.
var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// readPolicyTree reads b as one JSON value and nothing after it. Its error
// is a problem for the user, with the line and column where it was found.
func readPolicyTree(b []byte) (*jnode, string) {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, "the file is empty: want a JSON object such as `kam policy` prints"
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	n, err := readValue(dec)
	if err == nil {
		// Only white space may follow.
		end := int(dec.InputOffset())
		rest := bytes.TrimLeft(b[end:], " \t\r\n")
		if len(rest) > 0 {
			return nil, fmt.Sprintf("%s: more after the policy object (want the file to end there)", where(b, len(b)-len(rest)))
		}
		return n, ""
	}
	var se *json.SyntaxError
	switch {
	case errors.As(err, &se):
		return nil, fmt.Sprintf("%s: not valid JSON: %s", where(b, int(se.Offset)), se.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return nil, "the file ends before the policy object is closed (a missing } or ]?)"
	}
	return nil, "not valid JSON: " + err.Error()
}

// where names the line and column (in characters, from 1) of offset in b.
func where(b []byte, offset int) string {
	offset = min(max(offset, 0), len(b))
	line := 1 + bytes.Count(b[:offset], []byte("\n"))
	start := bytes.LastIndexByte(b[:offset], '\n') + 1
	return fmt.Sprintf("line %d, column %d", line, utf8.RuneCount(b[start:offset])+1)
}

func readValue(dec *json.Decoder) (*jnode, error) {
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t {
	case json.Delim('{'):
		n := &jnode{kind: jObject}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, err
			}
			key, _ := kt.(string) // the decoder allows only strings here
			v, err := readValue(dec)
			if err != nil {
				return nil, err
			}
			n.members = append(n.members, jmember{key, v})
		}
		if _, err := dec.Token(); err != nil { // the closing }
			return nil, err
		}
		return n, nil
	case json.Delim('['):
		for dec.More() {
			if _, err := readValue(dec); err != nil {
				return nil, err
			}
		}
		if _, err := dec.Token(); err != nil { // the closing ]
			return nil, err
		}
		return &jnode{kind: jList}, nil
	}
	return &jnode{kind: jScalar, token: t}, nil
}

// describe says what a value is, for "got ..." in a message.
func (n *jnode) describe() string {
	switch n.kind {
	case jObject:
		return "an object"
	case jList:
		return "a list"
	}
	switch v := n.token.(type) {
	case json.Number:
		return string(v)
	case string:
		if utf8.RuneCountInString(v) > 40 {
			v = string([]rune(v)[:40]) + "..."
		}
		return "the string " + strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	}
	return "null"
}

// policyShape is what a policy file must hold: an object's keys with their
// shapes, or a leaf that is a string or a whole number.
type policyShape struct {
	fields   map[string]*policyShape // nil for a leaf
	optional map[string]bool
	isString bool
}

// maxWhole is the largest whole number read exactly: larger ones are beyond
// every bound of the policy anyway.
const maxWhole = 1 << 53

// theShape is the built-in policy's shape: its keys, as the struct tags name
// them, with the optional "key" column added to each service-level table.
var theShape = sync.OnceValue(func() *policyShape {
	var p Policy
	if err := json.Unmarshal([]byte(defaultPolicyJSON), &p); err != nil {
		panic("built-in policy: " + err.Error())
	}
	b, err := json.Marshal(&p)
	if err != nil {
		panic("built-in policy: " + err.Error())
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		panic("built-in policy: " + err.Error())
	}
	s := shapeOf(v)
	for _, table := range []string{"requests", "complaints"} {
		for _, cols := range s.fields["service_levels"].fields[table].fields {
			cols.fields["key"] = cols.fields["A"]
			cols.optional = map[string]bool{"key": true}
		}
	}
	return s
})

func shapeOf(v any) *policyShape {
	switch v := v.(type) {
	case map[string]any:
		s := &policyShape{fields: map[string]*policyShape{}}
		for k, c := range v {
			s.fields[k] = shapeOf(c)
		}
		return s
	case string:
		return &policyShape{isString: true}
	}
	return &policyShape{}
}

// keyPath appends key to a JSON path, quoting a key that is not a plain name.
func keyPath(path, key string) string {
	if !plainKey(key) {
		key = strconv.Quote(key)
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

func plainKey(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// fileCheck is what comparing a file with the shape found.
type fileCheck struct {
	problems []events.FieldError
	// broken holds the paths already found wrong (missing, of the wrong
	// type): validate says nothing more of them.
	broken map[string]bool
}

func (c *fileCheck) bad(path, format string, a ...any) {
	c.problems = append(c.problems, events.FieldError{Field: path, Problem: fmt.Sprintf(format, a...)})
}

// isBroken reports whether path or an object that holds it was found wrong.
func (c *fileCheck) isBroken(path string) bool {
	for p := path; ; {
		if c.broken[p] {
			return true
		}
		i := strings.LastIndexByte(p, '.')
		if i < 0 {
			return false
		}
		p = p[:i]
	}
}

// anyBroken reports whether path or anything in it was found wrong.
func (c *fileCheck) anyBroken(path string) bool {
	if c.isBroken(path) {
		return true
	}
	for p := range c.broken {
		if strings.HasPrefix(p, path+".") {
			return true
		}
	}
	return false
}

// check compares n with s at path and returns the value to decode: objects
// as maps of their known keys (the first of two equal keys), numbers as
// int64; nil where n is wrong.
func (c *fileCheck) check(n *jnode, s *policyShape, path string) any {
	if s.fields != nil {
		if n.kind != jObject {
			c.broken[path] = true
			if path == "" {
				c.bad("", "want a JSON object such as `kam policy` prints, got %s", n.describe())
			} else {
				c.bad(path, "want an object, got %s", n.describe())
			}
			return nil
		}
		out := map[string]any{}
		seen := map[string]bool{}
		for _, m := range n.members {
			p := keyPath(path, m.key)
			if seen[m.key] {
				c.bad(p, "given more than once (each key once)")
				continue
			}
			seen[m.key] = true
			fs, ok := s.fields[m.key]
			if !ok {
				c.bad(p, "unknown key%s", c.hint(s, m.key))
				continue
			}
			if v := c.check(m.val, fs, p); v != nil {
				out[m.key] = v
			}
		}
		for k := range s.fields {
			if !seen[k] && !s.optional[k] {
				p := keyPath(path, k)
				c.broken[p] = true
				c.bad(p, "missing")
			}
		}
		return out
	}
	if s.isString {
		if v, ok := n.token.(string); ok && n.kind == jScalar {
			return v
		}
		c.broken[path] = true
		c.bad(path, "want a string, got %s", n.describe())
		return nil
	}
	num, ok := n.token.(json.Number)
	if !ok || n.kind != jScalar {
		c.broken[path] = true
		c.bad(path, "want a whole number, got %s", n.describe())
		return nil
	}
	v, err := num.Float64()
	if err != nil && !math.IsInf(v, 0) {
		c.broken[path] = true
		c.bad(path, "want a whole number, got %s", num)
		return nil
	}
	if math.Abs(v) >= maxWhole { // out of every bound, and of float64's exact integers
		c.broken[path] = true
		c.bad(path, "got %s, far out of range", num)
		return nil
	}
	// Whole exactly, not once rounded to a float (59.99999999999999999
	// is not 60). An exponent far from 0 could make the exact value huge
	// to compute; no policy number needs one.
	var r *big.Rat
	ok = exponent(string(num)) <= 40
	if ok {
		r, ok = new(big.Rat).SetString(string(num))
	}
	if !ok || !r.IsInt() {
		c.broken[path] = true
		c.bad(path, "want a whole number, got %s", num)
		return nil
	}
	return r.Num().Int64()
}

// exponent is the size of a JSON number's exponent (0 without one).
func exponent(num string) int {
	i := strings.IndexAny(num, "eE")
	if i < 0 {
		return 0
	}
	e, err := strconv.Atoi(strings.TrimPrefix(num[i+1:], "+"))
	if err != nil {
		return math.MaxInt
	}
	return max(e, -e)
}

// hint helps with a key that is not known: the right spelling when it
// differs only in case, else the keys that are.
func (c *fileCheck) hint(s *policyShape, key string) string {
	names := make([]string, 0, len(s.fields))
	for k := range s.fields {
		if strings.EqualFold(k, key) {
			return fmt.Sprintf(" (key names are case-sensitive: want %q)", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	return " (want " + strings.Join(names, ", ") + ")"
}
