package projections

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"kam/events"
)

// builtInPolicyVersion is the built-in policy's version since kam has had
// one: every read model built with the defaults is stored under it, so a
// change of how a policy is read must not move it.
const builtInPolicyVersion = "ab1763b38ca2ea7355fad023f1cc7251b07f07fb3b99259747dd0b39f638dd7e"

func TestDefaultPolicyVersionUnchanged(t *testing.T) {
	def := DefaultPolicy()
	if got := def.Version(); got != builtInPolicyVersion {
		t.Errorf("built-in policy: got version %s, want %s", got, builtInPolicyVersion)
	}
	sum := sha256.Sum256(def.Canonical())
	if got := hex.EncodeToString(sum[:]); got != def.Version() {
		t.Errorf("version %s is not the SHA-256 of the canonical JSON (%s)", def.Version(), got)
	}
}

// policyProblems parses b and returns its problems as "path: problem", nil
// when the policy is accepted.
func policyProblems(t *testing.T, b []byte) []string {
	t.Helper()
	_, err := ParsePolicy(b)
	if err == nil {
		return nil
	}
	var e *events.Error
	if !errors.As(err, &e) || e.Code != events.EInvalid {
		t.Fatalf("got error %v (%T), want an *events.Error with code %s", err, err, events.EInvalid)
	}
	var got []string
	for _, d := range e.Details {
		got = append(got, d.String())
	}
	if len(got) == 0 {
		t.Fatalf("got %v without details", err)
	}
	return got
}

// editPolicy replaces old, which must be in the built-in policy file exactly
// once, with new.
func editPolicy(t *testing.T, old, new string) []byte {
	t.Helper()
	s := string(DefaultPolicyJSON())
	if n := strings.Count(s, old); n != 1 {
		t.Fatalf("%q is %d times in the built-in policy, want once", old, n)
	}
	return []byte(strings.Replace(s, old, new, 1))
}

// policyPaths lists every key of a policy map, objects and numbers, as paths.
func policyPaths(prefix string, m map[string]any) []string {
	var out []string
	for k, v := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		out = append(out, p)
		if sub, ok := v.(map[string]any); ok {
			out = append(out, policyPaths(p, sub)...)
		}
	}
	sort.Strings(out)
	return out
}

// A key left out is not 0: every key of the built-in policy is required.
func TestParsePolicyRequiresEveryKey(t *testing.T) {
	paths := policyPaths("", defaultPolicyMap(t))
	if len(paths) < 90 {
		t.Fatalf("got %d paths in the built-in policy, want over 90", len(paths))
	}
	for _, path := range paths {
		b := changedPolicyJSON(t, func(m map[string]any) {
			keys := strings.Split(path, ".")
			for _, k := range keys[:len(keys)-1] {
				m = m[k].(map[string]any)
			}
			delete(m, keys[len(keys)-1])
		})
		got := policyProblems(t, b)
		if want := []string{path + ": missing"}; !slices.Equal(got, want) {
			t.Errorf("without %s: got %q, want %q", path, got, want)
		}
	}
}

func TestParsePolicyOptionalKeyColumn(t *testing.T) {
	p := changedPolicy(t, func(m map[string]any) {
		sl := m["service_levels"].(map[string]any)
		sl["requests"].(map[string]any)["urgent"].(map[string]any)["key"] = map[string]any{"response_hours": 0, "resolution_hours": 4}
		sl["complaints"].(map[string]any)["critical"].(map[string]any)["key"] = 12
	})
	if p.Version() == builtInPolicyVersion {
		t.Error("a key column added: got the built-in policy's version")
	}
	if col, tg := RequestTargets(p, "urgent", TierA, true); col != "key" || tg.ResolutionHours != 4 {
		t.Errorf("urgent request of a key account: got column %s, %+v, want key with 4 hours", col, tg)
	}
	if col, h := ComplaintTarget(p, "critical", TierA, true); col != "key" || h != 12 {
		t.Errorf("critical complaint of a key account: got column %s, %d hours, want key with 12", col, h)
	}
	// Inside a key column every target is required as in the others.
	b := changedPolicyJSON(t, func(m map[string]any) {
		m["service_levels"].(map[string]any)["requests"].(map[string]any)["low"].(map[string]any)["key"] = map[string]any{"resolution_hours": 100}
	})
	got := policyProblems(t, b)
	if want := []string{"service_levels.requests.low.key.response_hours: missing"}; !slices.Equal(got, want) {
		t.Errorf("a key column without its response hours: got %q, want %q", got, want)
	}
}

// Each case is the built-in policy with one edit and the problems it must
// give, all of them, in the order of their paths.
func TestParsePolicyMessages(t *testing.T) {
	tests := []struct {
		name     string
		old, new string // an edit of the built-in policy's text
		raw      string // instead of an edit
		want     []string
	}{
		{name: "a key given twice", old: `"cut_a": 80`, new: `"cut_a": 80, "cut_a": 20`,
			want: []string{"tiering.cut_a: given more than once (each key once)"}},
		{name: "an object given twice", old: `"coverage": {"decision_maker_days": 90}`, new: `"coverage": {"decision_maker_days": 90}, "coverage": {"decision_maker_days": 9}`,
			want: []string{"coverage: given more than once (each key once)"}},
		{name: "a points level given twice", old: `"standard": 0`, new: `"standard": 0, "standard": 100`,
			want: []string{"key_account.service_requirement_points.standard: given more than once (each key once)"}},
		{name: "a key in upper case", old: `"cut_a": 80`, new: `"CUT_A": 80`,
			want: []string{`tiering.CUT_A: unknown key (key names are case-sensitive: want "cut_a")`, "tiering.cut_a: missing"}},
		{name: "a key in another case", old: `"window_days": 365`, new: `"Window_Days": 365`,
			want: []string{`tiering.Window_Days: unknown key (key names are case-sensitive: want "window_days")`, "tiering.window_days: missing"}},
		{name: "a top-level key in another case", old: `"currency": "USD"`, new: `"Currency": "USD"`,
			want: []string{`Currency: unknown key (key names are case-sensitive: want "currency")`, "currency: missing"}},
		{name: "a misspelt target", old: `"response_hours": 1,`, new: `"response_hour": 1,`,
			want: []string{"service_levels.requests.urgent.A.response_hour: unknown key (want resolution_hours, response_hours)",
				"service_levels.requests.urgent.A.response_hours: missing"}},
		{name: "an unknown column", old: `"low":      {"A": 120,`, new: `"low":      {"D": 1, "A": 120,`,
			want: []string{"service_levels.complaints.low.D: unknown key (want A, B, C, key)"}},
		{name: "a key that is no name", old: `"cut_a": 80`, new: `"cut_a": 80, "cut a": 80`,
			want: []string{`tiering."cut a": unknown key (want cut_a, cut_b, window_days)`}},
		{name: "a fraction", old: `"min_score": 60`, new: `"min_score": 60.5`,
			want: []string{"key_account.min_score: want a whole number, got 60.5"}},
		{name: "a number as a string", old: `"cut_a": 80`, new: `"cut_a": "80"`,
			want: []string{`tiering.cut_a: want a whole number, got the string "80"`}},
		{name: "true for a number", old: `"cut_a": 80`, new: `"cut_a": true`,
			want: []string{"tiering.cut_a: want a whole number, got true"}},
		{name: "null for a number", old: `"cut_a": 80`, new: `"cut_a": null`,
			want: []string{"tiering.cut_a: want a whole number, got null"}},
		{name: "a list for a number", old: `"cut_a": 80`, new: `"cut_a": [80]`,
			want: []string{"tiering.cut_a: want a whole number, got a list"}},
		{name: "a number beyond any", old: `"cut_a": 80`, new: `"cut_a": 1e400`,
			want: []string{"tiering.cut_a: got 1e400, far out of range"}},
		{name: "a number for an object", old: `"coverage": {"decision_maker_days": 90}`, new: `"coverage": 90`,
			want: []string{"coverage: want an object, got 90"}},
		{name: "a number for the currency", old: `"currency": "USD"`, new: `"currency": 840`,
			want: []string{"currency: want a string, got 840"}},
		{name: "prior orders 0", old: `"prior_min_orders": 3`, new: `"prior_min_orders": 0`,
			want: []string{"loyalty.prior_min_orders: want 1 to 1000000 orders, got 0"}},
		{name: "window orders negative", old: `"min_window_orders": 3`, new: `"min_window_orders": -1`,
			want: []string{"loyalty.min_window_orders: want 0 to 1000000 orders, got -1"}},
		{name: "several at once", old: `"cut_a": 80, "cut_b": 95`, new: `"cut_a": 80.5, "cut_a": 80, "cut_c": 95`,
			want: []string{"tiering.cut_a: given more than once (each key once)", "tiering.cut_a: want a whole number, got 80.5",
				"tiering.cut_b: missing", "tiering.cut_c: unknown key (want cut_a, cut_b, window_days)"}},
		{name: "not an object", raw: `[1, 2]`,
			want: []string{"want a JSON object such as `kam policy` prints, got a list"}},
		{name: "empty", raw: " \n",
			want: []string{"the file is empty: want a JSON object such as `kam policy` prints"}},
		{name: "cut short", raw: string(DefaultPolicyJSON()[:200]),
			want: []string{"the file ends before the policy object is closed (a missing } or ]?)"}},
		{name: "a syntax error", old: `"cut_a": 80,`, new: `"cut_a": 80,,`,
			want: []string{"line 6, column 47: not valid JSON: invalid character ',' looking for beginning of object key string"}},
		{name: "more after the object", raw: string(DefaultPolicyJSON()) + "\n{}\n",
			want: []string{"line 38, column 1: more after the policy object (want the file to end there)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := []byte(tc.raw)
			if tc.raw == "" {
				b = editPolicy(t, tc.old, tc.new)
			}
			if got := policyProblems(t, b); !slices.Equal(got, tc.want) {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}

// A whole number may be written as 95.0 or 9.5e1: the policy is the same.
func TestParsePolicyWholeNumbersWrittenOtherwise(t *testing.T) {
	for _, s := range []string{`"cut_b": 95.0`, `"cut_b": 9.5e1`, `"cut_b": 950e-1`} {
		p, err := ParsePolicy(editPolicy(t, `"cut_b": 95`, s))
		if err != nil {
			t.Errorf("%s: %v", s, err)
			continue
		}
		if p.Version() != builtInPolicyVersion {
			t.Errorf("%s: got version %s, want the built-in policy's", s, p.ShortVersion())
		}
	}
	// Whole exactly, not once rounded to a float; no exponent that would
	// take long to compute exactly.
	for _, s := range []string{`"cut_b": 94.99999999999999999`, `"cut_b": 95.0000000000000001`, `"cut_b": 95e-1000000000`, `"cut_b": 0.95e100000000`} {
		if _, err := ParsePolicy(editPolicy(t, `"cut_b": 95`, s)); err == nil || !strings.Contains(err.Error(), "tiering.cut_b") {
			t.Errorf("%s: got %v, want a refusal naming tiering.cut_b", s, err)
		}
	}
}

// The optional key column is checked as the A, B and C columns are.
func TestParsePolicyKeyColumnHours(t *testing.T) {
	b := changedPolicyJSON(t, func(m map[string]any) {
		sl := m["service_levels"].(map[string]any)
		sl["requests"].(map[string]any)["high"].(map[string]any)["key"] = map[string]any{"response_hours": -1, "resolution_hours": -8}
		sl["complaints"].(map[string]any)["medium"].(map[string]any)["key"] = -24
	})
	got := policyProblems(t, b)
	want := []string{
		"service_levels.complaints.medium.key: want 0 to 87600 hours (10 years), got -24",
		"service_levels.requests.high.key.resolution_hours: want 0 to 87600 hours (10 years), got -8",
		"service_levels.requests.high.key.response_hours: want 0 to 87600 hours (10 years), got -1",
	}
	if !slices.Equal(got, want) {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}

// No number may overflow a time.Duration once times its unit.
func TestParsePolicyUpperBounds(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{"tolerance of 1e10 seconds", `"future_tolerance_seconds": 300`, `"future_tolerance_seconds": 10000000000`,
			"future_tolerance_seconds: want 0 to 604800 seconds (7 days), got 10000000000"},
		{"tolerance over 7 days", `"future_tolerance_seconds": 300`, `"future_tolerance_seconds": 604801`,
			"future_tolerance_seconds: want 0 to 604800 seconds (7 days), got 604801"},
		{"a response target of 2,562,048 hours", `"response_hours": 1,`, `"response_hours": 2562048,`,
			"service_levels.requests.urgent.A.response_hours: want 0 to 87600 hours (10 years), got 2562048"},
		{"a resolution target over 10 years", `"resolution_hours": 8}`, `"resolution_hours": 87601}`,
			"service_levels.requests.urgent.A.resolution_hours: want 0 to 87600 hours (10 years), got 87601"},
		{"a complaint target over 10 years", `"critical": {"A": 24,`, `"critical": {"A": 87601,`,
			"service_levels.complaints.critical.A: want 0 to 87600 hours (10 years), got 87601"},
		{"decision makers unvisited 200000 days", `"decision_maker_days": 90`, `"decision_maker_days": 200000`,
			"coverage.decision_maker_days: want 1 to 3660 days (about 10 years), got 200000"},
		{"new for 3661 days", `"new_days": 90`, `"new_days": 3661`,
			"loyalty.new_days: want 1 to 3660 days (about 10 years), got 3661"},
		{"competitor for 1e6 days", `"competitor_days": 180`, `"competitor_days": 1000000`,
			"loyalty.competitor_days: want 1 to 3660 days (about 10 years), got 1000000"},
		{"prior window of 5000 days", `"prior_days": 365`, `"prior_days": 5000`,
			"loyalty.prior_days: want 1 to 3660 days (about 10 years), got 5000"},
		{"a tier window of 3661 days", `"window_days": 365`, `"window_days": 3661`,
			"tiering.window_days: want 1 to 3660 days (about 10 years), got 3661"},
		{"a million and one prior orders", `"prior_min_orders": 3`, `"prior_min_orders": 1000001`,
			"loyalty.prior_min_orders: want 1 to 1000000 orders, got 1000001"},
		{"a million and one window orders", `"min_window_orders": 3`, `"min_window_orders": 1000001`,
			"loyalty.min_window_orders: want 0 to 1000000 orders, got 1000001"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := policyProblems(t, editPolicy(t, tc.old, tc.new))
			if want := []string{tc.want}; !slices.Equal(got, want) {
				t.Errorf("got  %q\nwant %q", got, want)
			}
		})
	}

	// Every bound itself is accepted, and each gives the duration it says.
	p := changedPolicy(t, func(m map[string]any) {
		m["future_tolerance_seconds"] = maxToleranceSeconds
		m["tiering"].(map[string]any)["window_days"] = maxDays
		l := m["loyalty"].(map[string]any)
		for _, k := range []string{"new_days", "competitor_days", "prior_days"} {
			l[k] = maxDays
		}
		l["prior_min_orders"], l["min_window_orders"] = maxOrders, maxOrders
		m["coverage"].(map[string]any)["decision_maker_days"] = maxDays
		sl := m["service_levels"].(map[string]any)
		for _, cols := range sl["requests"].(map[string]any) {
			for _, tg := range cols.(map[string]any) {
				tg.(map[string]any)["response_hours"], tg.(map[string]any)["resolution_hours"] = maxTargetHours, maxTargetHours
			}
		}
		for _, cols := range sl["complaints"].(map[string]any) {
			for c := range cols.(map[string]any) {
				cols.(map[string]any)[c] = maxTargetHours
			}
		}
	})
	opened := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	_, tg := RequestTargets(p, "low", TierC, false)
	if due := opened.Add(time.Duration(tg.ResolutionHours) * time.Hour); due.Year() != 2036 {
		t.Errorf("a request opened %s with a target of %d hours: due %s, want in 2036", opened, tg.ResolutionHours, due)
	}
	if d := time.Duration(p.FutureToleranceSeconds) * time.Second; d != 7*24*time.Hour {
		t.Errorf("tolerance of %d seconds: got %s, want 168h", p.FutureToleranceSeconds, d)
	}
	if d := time.Duration(p.Coverage.DecisionMakerDays) * dayLen; d <= 0 || d/dayLen != maxDays {
		t.Errorf("decision makers stale after %d days: got %s", p.Coverage.DecisionMakerDays, d)
	}
}

// The currency is an ISO 4217 code (active, or withdrawn since 2007) and
// its decimals are the code's.
func TestParsePolicyCurrency(t *testing.T) {
	tests := []struct {
		currency string
		digits   int
		want     []string // nil: accepted
	}{
		{"USD", 2, nil},
		{"EUR", 2, nil},
		{"JPY", 0, nil},
		{"BHD", 3, nil},
		{"CLF", 4, nil},
		{"USD", 0, []string{"currency_digits: USD has 2 decimals in ISO 4217, got 0"}},
		{"USD", 3, []string{"currency_digits: USD has 2 decimals in ISO 4217, got 3"}},
		{"JPY", 2, []string{"currency_digits: JPY has 0 decimals in ISO 4217, got 2"}},
		{"KWD", 2, []string{"currency_digits: KWD has 3 decimals in ISO 4217, got 2"}},
		{"usd", 2, []string{`currency: want an ISO 4217 currency code with minor units, such as USD, EUR or JPY; got "usd"`}},
		{"ABC", 2, []string{`currency: want an ISO 4217 currency code with minor units, such as USD, EUR or JPY; got "ABC"`}},
		{"BGN", 2, nil}, // withdrawn in 2026: its history still replays
		{"HRK", 2, nil},
		{"HRK", 0, []string{"currency_digits: HRK has 2 decimals in ISO 4217, got 0"}},
		{"XAU", 0, []string{`currency: want an ISO 4217 currency code with minor units, such as USD, EUR or JPY; got "XAU"`}},
		{"ABC", 5, []string{`currency: want an ISO 4217 currency code with minor units, such as USD, EUR or JPY; got "ABC"`,
			"currency_digits: want 0 to 4, got 5"}},
	}
	for _, tc := range tests {
		b := changedPolicyJSON(t, func(m map[string]any) { m["currency"], m["currency_digits"] = tc.currency, tc.digits })
		if got := policyProblems(t, b); !slices.Equal(got, tc.want) {
			t.Errorf("%s with %d decimals: got %q, want %q", tc.currency, tc.digits, got, tc.want)
		}
	}
	p := changedPolicy(t, func(m map[string]any) { m["currency"], m["currency_digits"] = "JPY", 0 })
	if r := p.Rules(); r.Currency != "JPY" || r.Digits != 0 {
		t.Errorf("JPY policy: got rules %+v, want JPY with 0 decimals", r)
	}
}

// docs/policy.md documents every key, the bounds and the built-in version.
func TestPolicyDoc(t *testing.T) {
	b, err := os.ReadFile("../docs/policy.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, path := range policyPaths("", defaultPolicyMap(t)) {
		switch {
		case strings.HasPrefix(path, "service_levels."):
			continue // documented as service_levels.requests.PRIORITY.COLUMN...
		case strings.Contains(path, "_points."):
			path = path[:strings.LastIndexByte(path, '.')+1] // key_account.partnership_points.none as ...points.
		}
		if !strings.Contains(doc, "`"+path) {
			t.Errorf("docs/policy.md does not name `%s`", path)
		}
	}
	for _, s := range []string{builtInPolicyVersion, "604800", "87600", "3660", "1,000,000",
		"`service_levels.requests.PRIORITY.COLUMN.response_hours`", "`service_levels.requests.PRIORITY.COLUMN.resolution_hours`",
		"`service_levels.complaints.SEVERITY.COLUMN`", "add up to exactly 100", "optional `key` column"} {
		if !strings.Contains(doc, s) {
			t.Errorf("docs/policy.md does not say %q", s)
		}
	}
}

// TestParseStoredPolicy: the policy a read model holds is read as it was
// stored, even when the reading of policy files refuses it now (a bound
// added since): its model must still be served while a rebuild replaces it,
// and verified.
func TestParseStoredPolicy(t *testing.T) {
	b := changedPolicyJSON(t, func(m map[string]any) { m["future_tolerance_seconds"] = 700000 })
	if _, err := ParsePolicy(b); err == nil {
		t.Fatal("a tolerance over 7 days: accepted as a file, want it refused")
	}
	_, db := newProjector(t, nil)
	var out bytes.Buffer
	if err := json.Compact(&out, b); err != nil {
		t.Fatal(err)
	}
	if _, err := db.writer.Exec(`UPDATE projector_state SET policy_json = ?`, out.String()); err != nil {
		t.Fatal(err)
	}
	stored, err := StoredPolicy(db.Path)
	if err != nil {
		t.Fatalf("StoredPolicy: %v", err)
	}
	sum := sha256.Sum256(stored.Canonical())
	if stored.FutureToleranceSeconds != 700000 || stored.Version() != hex.EncodeToString(sum[:]) {
		t.Errorf("stored policy: tolerance %d, version %s", stored.FutureToleranceSeconds, stored.ShortVersion())
	}
	if _, err := ParseStoredPolicy([]byte(`{"tiering": [`)); err == nil {
		t.Error("broken JSON: accepted")
	}
}
