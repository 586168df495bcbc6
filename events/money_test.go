package events_test

import (
	"encoding/json"
	"math"
	"testing"

	"kam/events"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in    string
		units int64
		scale int
		err   string
	}{
		{in: "0", units: 0, scale: 0},
		{in: "1234.50", units: 123450, scale: 2},
		{in: "1234.5", units: 12345, scale: 1},
		{in: "-0.5", units: -5, scale: 1},
		{in: "+7", units: 7, scale: 0},
		{in: "007.10", units: 710, scale: 2},
		{in: "0.00000000000000001", units: 1, scale: 17},
		{in: "0.000000000000000001", err: "has too many digits (at most 18)"},
		{in: "999999999999999999", units: 999999999999999999, scale: 0},
		{in: "-999999999.999999999", units: -999999999999999999, scale: 9},
		{in: "1234567890123456789", err: "has too many digits (at most 18)"},
		{in: "1.234567890123456789", err: "has too many digits (at most 18)"},
		{in: "", err: `must be a decimal string such as "1234.50"`},
		{in: "-", err: `must be a decimal string such as "1234.50"`},
		{in: ".5", err: `must be a decimal string such as "1234.50"`},
		{in: "-.5", err: `must be a decimal string such as "1234.50"`},
		{in: "5.", err: `must be a decimal string such as "1234.50"`},
		{in: "1e3", err: `must be a decimal string such as "1234.50"`},
		{in: "1E3", err: `must be a decimal string such as "1234.50"`},
		{in: "1,5", err: `must be a decimal string such as "1234.50"`},
		{in: "1.2.3", err: `must be a decimal string such as "1234.50"`},
		{in: " 1", err: `must be a decimal string such as "1234.50"`},
		{in: "1 ", err: `must be a decimal string such as "1234.50"`},
		{in: "--1", err: `must be a decimal string such as "1234.50"`},
		{in: "+-1", err: `must be a decimal string such as "1234.50"`},
		{in: "0x10", err: `must be a decimal string such as "1234.50"`},
		{in: "١٢", err: `must be a decimal string such as "1234.50"`},
		{in: "NaN", err: `must be a decimal string such as "1234.50"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := events.ParseDecimal(tt.in)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error: got %v, want %q", err, tt.err)
				}
				if d.IsSet() {
					t.Errorf("IsSet: got true, want false")
				}
				return
			}
			if err != nil {
				t.Fatalf("error: got %v, want nil", err)
			}
			if d.Units != tt.units || d.Scale != tt.scale || !d.IsSet() {
				t.Errorf("got %d×10^-%d (set %v), want %d×10^-%d (set true)", d.Units, d.Scale, d.IsSet(), tt.units, tt.scale)
			}
		})
	}
}

func TestDecimalSign(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{{"-0.5", -1}, {"-0", 0}, {"0.00", 0}, {"0.01", 1}}
	for _, tt := range tests {
		d, err := events.ParseDecimal(tt.in)
		if err != nil {
			t.Fatalf("ParseDecimal(%q): %v", tt.in, err)
		}
		if got := d.Sign(); got != tt.want {
			t.Errorf("Sign(%q): got %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestMinorUnits(t *testing.T) {
	tests := []struct {
		in     string
		digits int
		want   int64
		err    string
	}{
		{in: "1234.50", digits: 2, want: 123450},
		{in: "1234.5", digits: 2, want: 123450},
		{in: "1234", digits: 2, want: 123400},
		{in: "-0.5", digits: 2, want: -50},
		{in: "12", digits: 0, want: 12},
		{in: "1.5", digits: 3, want: 1500},
		{in: "12.345", digits: 2, err: "has 3 decimals, the currency has 2"},
		{in: "12.5", digits: 0, err: "has 1 decimals, the currency has 0"},
		{in: "12.00", digits: 0, err: "has 2 decimals, the currency has 0"},
		{in: "92233720368547758", digits: 2, want: 9223372036854775800},
		{in: "92233720368547758.0", digits: 2, want: 9223372036854775800},
		{in: "9223372036854775.8", digits: 3, want: 9223372036854775800},
		{in: "-92233720368547758", digits: 2, want: -9223372036854775800},
		{in: "92233720368547759", digits: 2, err: "is too large"},
		{in: "-92233720368547759", digits: 2, err: "is too large"},
		{in: "999999999999999999", digits: 2, err: "is too large"},
		{in: "1", digits: 19, err: "is too large"},
		{in: "1", digits: 18, want: 1e18},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			d, err := events.ParseDecimal(tt.in)
			if err != nil {
				t.Fatalf("ParseDecimal: %v", err)
			}
			got, err := d.MinorUnits(tt.digits)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error: got %v (value %d), want %q", err, got, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: got %v, want nil", err)
			}
			if got != tt.want {
				t.Errorf("got %d, want %d", got, tt.want)
			}
		})
	}
}

func TestFormatMinor(t *testing.T) {
	tests := []struct {
		v      int64
		digits int
		want   string
	}{
		{123450, 2, "1234.50"},
		{0, 2, "0.00"},
		{5, 2, "0.05"},
		{50, 2, "0.50"},
		{100, 2, "1.00"},
		{-5, 2, "-0.05"},
		{-123450, 2, "-1234.50"},
		{12, 0, "12"},
		{-12, 0, "-12"},
		{7, 3, "0.007"},
		{math.MaxInt64, 2, "92233720368547758.07"},
		{math.MinInt64, 2, "-92233720368547758.08"},
		{math.MinInt64, 0, "-9223372036854775808"},
	}
	for _, tt := range tests {
		if got := events.FormatMinor(tt.v, tt.digits); got != tt.want {
			t.Errorf("FormatMinor(%d, %d): got %q, want %q", tt.v, tt.digits, got, tt.want)
		}
	}
}

// FormatMinor and ParseDecimal+MinorUnits invert each other.
func TestFormatMinorRoundTrip(t *testing.T) {
	for _, v := range []int64{0, 1, -1, 99, 100, -100, 123456789, math.MaxInt64 / 10, math.MinInt64 / 10} {
		for digits := 0; digits <= 3; digits++ {
			s := events.FormatMinor(v, digits)
			d, err := events.ParseDecimal(s)
			if err != nil {
				t.Fatalf("ParseDecimal(FormatMinor(%d, %d) = %q): %v", v, digits, s, err)
			}
			got, err := d.MinorUnits(digits)
			if err != nil || got != v {
				t.Errorf("MinorUnits of %q: got %d, %v, want %d", s, got, err, v)
			}
		}
	}
}

func TestDecimalJSON(t *testing.T) {
	tests := []struct {
		in   string
		want string // the marshalled value, "" when unmarshalling fails
	}{
		{`"1234.50"`, `"1234.50"`},
		{`"-0.5"`, `"-0.5"`},
		{`"007"`, `"7"`},
		{`"1\u0032"`, `"12"`},
		{`12.5`, ""},
		{`12`, ""},
		{`null`, ""},
		{`true`, ""},
		{`"12.5`, ""},
		{`""`, ""},
		{`"1e3"`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			var d events.Decimal
			err := json.Unmarshal([]byte(tt.in), &d)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("got %+v, want an error", d)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: got %v, want nil", err)
			}
			got, err := json.Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}
