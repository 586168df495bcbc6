package events

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Decimal is a decimal number as written on the wire ("1234.50"): Units is the
// value times 10^Scale. It is how money arrives; MinorUnits turns it into the
// integer kam computes with. There is no float anywhere on the way.
type Decimal struct {
	Units int64
	Scale int
	set   bool
}

// IsSet reports whether the field was present.
func (d Decimal) IsSet() bool { return d.set }

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int {
	switch {
	case d.Units < 0:
		return -1
	case d.Units > 0:
		return 1
	}
	return 0
}

var errDecimalSyntax = errors.New(`must be a decimal string such as "1234.50"`)

// ParseDecimal parses an optionally signed decimal with at most 18 digits.
func ParseDecimal(s string) (Decimal, error) {
	neg := false
	if strings.HasPrefix(s, "-") {
		neg, s = true, s[1:]
	} else if strings.HasPrefix(s, "+") {
		s = s[1:]
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	if intPart == "" || (hasDot && frac == "") {
		return Decimal{}, errDecimalSyntax
	}
	if len(intPart)+len(frac) > 18 {
		return Decimal{}, errors.New("has too many digits (at most 18)")
	}
	var u int64
	for _, part := range []string{intPart, frac} {
		for i := 0; i < len(part); i++ {
			c := part[i]
			if c < '0' || c > '9' {
				return Decimal{}, errDecimalSyntax
			}
			u = u*10 + int64(c-'0')
		}
	}
	if neg {
		u = -u
	}
	return Decimal{Units: u, Scale: len(frac), set: true}, nil
}

// UnmarshalJSON accepts only a JSON string: a JSON number would invite floats.
func (d *Decimal) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '"' {
		return errDecimalSyntax
	}
	s, err := unquote(b)
	if err != nil {
		return errDecimalSyntax
	}
	v, err := ParseDecimal(s)
	if err != nil {
		return err
	}
	*d = v
	return nil
}

// MarshalJSON writes the decimal as a string.
func (d Decimal) MarshalJSON() ([]byte, error) {
	return json.Marshal(FormatMinor(d.Units, d.Scale))
}

// MinorUnits converts d to an integer count of minor units of a currency with
// digits decimals. More decimals than the currency has is an error, as is a
// value that does not fit an int64.
func (d Decimal) MinorUnits(digits int) (int64, error) {
	if d.Scale > digits {
		return 0, fmt.Errorf("has %d decimals, the currency has %d", d.Scale, digits)
	}
	v := d.Units
	for i := d.Scale; i < digits; i++ {
		if v > math.MaxInt64/10 || v < math.MinInt64/10 {
			return 0, errors.New("is too large")
		}
		v *= 10
	}
	return v, nil
}

// FormatMinor writes an amount of minor units as a decimal string with
// digits decimals: FormatMinor(123450, 2) == "1234.50".
func FormatMinor(v int64, digits int) string {
	neg := v < 0
	u := uint64(v)
	if neg {
		u = uint64(-v)
	}
	s := strconv.FormatUint(u, 10)
	if digits > 0 {
		if len(s) <= digits {
			s = strings.Repeat("0", digits-len(s)+1) + s
		}
		s = s[:len(s)-digits] + "." + s[len(s)-digits:]
	}
	if neg {
		s = "-" + s
	}
	return s
}
