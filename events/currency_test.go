package events

import "testing"

func TestCurrencyDigits(t *testing.T) {
	tests := []struct {
		code   string
		digits int
		ok     bool
	}{
		{"USD", 2, true},
		{"EUR", 2, true},
		{"GBP", 2, true},
		{"HUF", 2, true},
		{"JPY", 0, true},
		{"KRW", 0, true},
		{"XOF", 0, true},
		{"BHD", 3, true},
		{"KWD", 3, true},
		{"TND", 3, true},
		{"CLF", 4, true},
		{"UYW", 4, true},
		{"XCG", 2, true}, // replaced ANG in 2025
		{"ZWG", 2, true}, // replaced ZWL in 2024
		// Withdrawn since 2007: history in them still replays.
		{"ANG", 2, true},
		{"BGN", 2, true},
		{"HRK", 2, true},
		{"ZWL", 2, true},
		{"BYR", 0, true},
		{"SIT", 2, true}, // the euro in Slovenia, 2007
		{"ZWR", 2, true},
		// Withdrawn before 2007: not in the table.
		{"DEM", 0, false},
		{"FRF", 0, false},
		// No minor unit: not a currency an amount can be kept in.
		{"XAU", 0, false},
		{"XDR", 0, false},
		{"XTS", 0, false},
		{"XXX", 0, false},
		// Not codes at all.
		{"usd", 0, false},
		{"US", 0, false},
		{"", 0, false},
		{"ABC", 0, false},
	}
	for _, tc := range tests {
		d, ok := CurrencyDigits(tc.code)
		if d != tc.digits || ok != tc.ok {
			t.Errorf("CurrencyDigits(%q): got %d, %v, want %d, %v", tc.code, d, ok, tc.digits, tc.ok)
		}
	}
}

func TestCurrencyTable(t *testing.T) {
	// ISO 4217 List One of 2026-01-01 has 178 entries, funds and N.A.
	// included; 25 codes withdrawn since 2007 are kept for history.
	if len(iso4217) != 178+25 {
		t.Errorf("got %d codes, want %d", len(iso4217), 178+25)
	}
	for code, d := range iso4217 {
		if len(code) != 3 || code[0] < 'A' || code[0] > 'Z' || code[1] < 'A' || code[1] > 'Z' || code[2] < 'A' || code[2] > 'Z' {
			t.Errorf("%q: want three upper-case letters", code)
		}
		if d < -1 || d > 4 {
			t.Errorf("%s: got %d minor units, want 0 to 4 (or -1 for N.A.)", code, d)
		}
	}
}
