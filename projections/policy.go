package projections

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"kam/events"
)

// Policy holds every number of the rules. Its version is the SHA-256 of its
// canonical JSON, so two files that say the same thing have one version.
type Policy struct {
	Currency       string `json:"currency"`
	CurrencyDigits int    `json:"currency_digits"`
	// FutureToleranceSeconds: an event more than this after the moment the
	// stream stored it is refused as from the future.
	FutureToleranceSeconds int `json:"future_tolerance_seconds"`
	// DiscountedOrderPct: an order with discount_pct at or above this is
	// "bought at a discount" (key-account price insensitivity, loyalty).
	DiscountedOrderPct int `json:"discounted_order_pct"`

	Tiering struct {
		WindowDays int `json:"window_days"`
		CutA       int `json:"cut_a"`
		CutB       int `json:"cut_b"`
	} `json:"tiering"`

	KeyAccount struct {
		// MinScore: a tier-A account with at least this score is a key account.
		MinScore int `json:"min_score"`
		Weights  struct {
			Volume             int `json:"volume"`
			Concentration      int `json:"concentration"`
			ServiceRequirement int `json:"service_requirement"`
			PriceInsensitivity int `json:"price_insensitivity"`
			Partnership        int `json:"partnership"`
		} `json:"weights"`
		ServiceRequirementPoints map[string]int `json:"service_requirement_points"`
		PartnershipPoints        map[string]int `json:"partnership_points"`
	} `json:"key_account"`

	Loyalty struct {
		NewDays            int `json:"new_days"`
		CompetitorDays     int `json:"competitor_days"`
		PriorDays          int `json:"prior_days"`
		PriorMinOrders     int `json:"prior_min_orders"`
		DiscountedSharePct int `json:"discounted_share_pct"`
		MinWindowOrders    int `json:"min_window_orders"`
	} `json:"loyalty"`

	ServiceLevels struct {
		// Requests: priority → column (A, B, C, optionally key) → targets.
		Requests map[string]map[string]RequestTarget `json:"requests"`
		// Complaints: severity → column → resolution hours.
		Complaints map[string]map[string]int `json:"complaints"`
	} `json:"service_levels"`

	Coverage struct {
		DecisionMakerDays int `json:"decision_maker_days"`
	} `json:"coverage"`

	version string
	raw     []byte
}

// RequestTarget is a service request's first-response and resolution target.
type RequestTarget struct {
	ResponseHours   int `json:"response_hours"`
	ResolutionHours int `json:"resolution_hours"`
}

// defaultPolicyJSON is the spec's defaults, the file `kam policy` prints.
const defaultPolicyJSON = `{
  "currency": "USD",
  "currency_digits": 2,
  "future_tolerance_seconds": 300,
  "discounted_order_pct": 10,
  "tiering": {"window_days": 365, "cut_a": 80, "cut_b": 95},
  "key_account": {
    "min_score": 60,
    "weights": {"volume": 35, "concentration": 15, "service_requirement": 15, "price_insensitivity": 15, "partnership": 20},
    "service_requirement_points": {"standard": 0, "elevated": 50, "critical": 100},
    "partnership_points": {"none": 0, "interested": 50, "strategic": 100}
  },
  "loyalty": {
    "new_days": 90,
    "competitor_days": 180,
    "prior_days": 365,
    "prior_min_orders": 3,
    "discounted_share_pct": 50,
    "min_window_orders": 3
  },
  "service_levels": {
    "requests": {
      "urgent": {"A": {"response_hours": 1, "resolution_hours": 8},   "B": {"response_hours": 2, "resolution_hours": 24},  "C": {"response_hours": 4, "resolution_hours": 48}},
      "high":   {"A": {"response_hours": 4, "resolution_hours": 24},  "B": {"response_hours": 8, "resolution_hours": 48},  "C": {"response_hours": 24, "resolution_hours": 96}},
      "normal": {"A": {"response_hours": 8, "resolution_hours": 72},  "B": {"response_hours": 24, "resolution_hours": 120}, "C": {"response_hours": 48, "resolution_hours": 168}},
      "low":    {"A": {"response_hours": 24, "resolution_hours": 168}, "B": {"response_hours": 48, "resolution_hours": 240}, "C": {"response_hours": 72, "resolution_hours": 336}}
    },
    "complaints": {
      "critical": {"A": 24, "B": 48, "C": 72},
      "high":     {"A": 48, "B": 96, "C": 120},
      "medium":   {"A": 96, "B": 120, "C": 240},
      "low":      {"A": 120, "B": 240, "C": 336}
    }
  },
  "coverage": {"decision_maker_days": 90}
}
`

// DefaultPolicyJSON returns the built-in policy as an editable JSON file.
func DefaultPolicyJSON() []byte { return []byte(defaultPolicyJSON) }

// DefaultPolicy returns the spec's defaults.
func DefaultPolicy() *Policy {
	p, err := ParsePolicy([]byte(defaultPolicyJSON))
	if err != nil {
		panic("built-in policy: " + err.Error())
	}
	return p
}

// LoadPolicy reads a policy file; an empty path means the built-in policy.
func LoadPolicy(path string) (*Policy, error) {
	if path == "" {
		return DefaultPolicy(), nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	p, err := ParsePolicy(b)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// ParsePolicy reads a policy (start from `kam policy`). Every key of the
// built-in policy is required, written exactly as there (names are
// case-sensitive) and once; the only optional part is the "key" column of
// the service-level tables. A key not known, a number that is not whole and
// a value out of its range are refused; a UTF-8 byte order mark at the start
// is skipped. The error is an *events.Error with code EInvalid whose Details
// name each problem by its JSON path, all problems at once.
func ParsePolicy(b []byte) (*Policy, error) {
	b = bytes.TrimPrefix(b, utf8BOM)
	tree, problem := readPolicyTree(b)
	if problem != "" {
		return nil, policyError([]events.FieldError{{Problem: problem}})
	}
	c := &fileCheck{broken: map[string]bool{}}
	var p Policy
	if clean := c.check(tree, theShape(), ""); clean != nil {
		js, err := json.Marshal(clean)
		if err == nil {
			// Keys and types were checked against the struct's own shape.
			err = json.Unmarshal(js, &p)
		}
		if err != nil {
			return nil, fmt.Errorf("policy: %w", err)
		}
		p.validate(c)
	}
	if len(c.problems) > 0 {
		return nil, policyError(c.problems)
	}
	if err := p.seal(); err != nil {
		return nil, err
	}
	return &p, nil
}

// seal keeps the policy's canonical JSON, and its hash as its version.
func (p *Policy) seal() error {
	canon, err := json.Marshal(p)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(canon)
	p.version = hex.EncodeToString(sum[:])
	p.raw = canon
	return nil
}

// ParseStoredPolicy reads the policy a read model holds (the canonical JSON
// that the kam which built the model wrote, or that a running kam reports).
// It is not checked again as a file is: a policy an older kam took, which
// this one's reading of files refuses (a bound added since), must still be
// read, to serve its model while a rebuild replaces it and to verify it.
func ParseStoredPolicy(b []byte) (*Policy, error) {
	var p Policy
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, fmt.Errorf("the read model's policy: %w", err)
	}
	if err := p.seal(); err != nil {
		return nil, err
	}
	return &p, nil
}

// policyError lists a policy's problems in the order of their paths.
func policyError(problems []events.FieldError) error {
	sort.SliceStable(problems, func(i, j int) bool {
		if problems[i].Field != problems[j].Field {
			return problems[i].Field < problems[j].Field
		}
		return problems[i].Problem < problems[j].Problem
	})
	return &events.Error{Code: events.EInvalid, Message: "invalid policy", Details: problems}
}

// Version is the policy's content hash (hex SHA-256 of its canonical JSON).
func (p *Policy) Version() string { return p.version }

// ShortVersion is the first 12 hex digits of Version, for display.
func (p *Policy) ShortVersion() string { return p.version[:12] }

// Canonical returns the canonical JSON the version hashes.
func (p *Policy) Canonical() []byte { return p.raw }

// Rules returns what event validation needs of the policy.
func (p *Policy) Rules() events.Rules {
	return events.Rules{Currency: p.Currency, Digits: p.CurrencyDigits}
}

// Columns of the service-level tables.
var tierColumns = []string{"A", "B", "C"}

// The policy's upper bounds. Each is far beyond a sensible rule and keeps
// the number, times its unit, well inside a time.Duration (about 292 years):
// 1e10 seconds of tolerance or 2,562,048 hours of target used to wrap round
// to a negative duration.
const (
	maxToleranceSeconds = 7 * 24 * 3600 // 7 days
	maxTargetHours      = 87600         // 10 years
	maxDays             = 3660          // about 10 years
	maxOrders           = 1_000_000
)

// validate adds to c what is wrong with the values; of a field c already
// found missing or of the wrong type it says nothing more.
func (p *Policy) validate(c *fileCheck) {
	bad := func(path, f string, a ...any) {
		if !c.isBroken(path) {
			c.bad(path, f, a...)
		}
	}
	// in checks lo <= v <= hi; unit follows hi in the message.
	in := func(path string, v, lo, hi int, unit string) {
		if v < lo || v > hi {
			bad(path, "want %d to %d%s, got %d", lo, hi, unit, v)
		}
	}
	const (
		days  = " days (about 10 years)"
		hours = " hours (10 years)"
	)
	// The currency and its decimals, from kam's one ISO 4217 table.
	if digits, ok := events.CurrencyDigits(p.Currency); !ok {
		bad("currency", "want an ISO 4217 currency code with minor units, such as USD, EUR or JPY; got %q", p.Currency)
		in("currency_digits", p.CurrencyDigits, 0, 4, "")
	} else if p.CurrencyDigits != digits {
		bad("currency_digits", "%s has %d decimals in ISO 4217, got %d", p.Currency, digits, p.CurrencyDigits)
	}
	in("future_tolerance_seconds", p.FutureToleranceSeconds, 0, maxToleranceSeconds, " seconds (7 days)")
	in("discounted_order_pct", p.DiscountedOrderPct, 1, 100, "")
	t := p.Tiering
	in("tiering.window_days", t.WindowDays, 1, maxDays, days)
	in("tiering.cut_a", t.CutA, 1, 100, "")
	in("tiering.cut_b", t.CutB, 1, 100, "")
	if !c.anyBroken("tiering") && t.CutA >= 1 && t.CutB <= 100 && t.CutA > t.CutB {
		bad("tiering.cut_b", "want at least cut_a (%d), got %d", t.CutA, t.CutB)
	}
	k := p.KeyAccount
	w := k.Weights
	weights := []struct {
		name string
		v    int
	}{{"volume", w.Volume}, {"concentration", w.Concentration}, {"service_requirement", w.ServiceRequirement},
		{"price_insensitivity", w.PriceInsensitivity}, {"partnership", w.Partnership}}
	sum := 0
	for _, x := range weights {
		in("key_account.weights."+x.name, x.v, 0, 100, "")
		sum += x.v
	}
	if !c.anyBroken("key_account.weights") && sum != 100 {
		bad("key_account.weights", "want them to add up to 100, they add up to %d", sum)
	}
	in("key_account.min_score", k.MinScore, 0, 100, "")
	checkPoints := func(name string, m map[string]int, keys []string) {
		for _, key := range keys {
			path := "key_account." + name + "." + key
			if v, ok := m[key]; !ok {
				bad(path, "missing")
			} else {
				in(path, v, 0, 100, "")
			}
		}
	}
	checkPoints("service_requirement_points", k.ServiceRequirementPoints, events.ServiceRequirements)
	checkPoints("partnership_points", k.PartnershipPoints, events.Partnerships)
	l := p.Loyalty
	in("loyalty.new_days", l.NewDays, 1, maxDays, days)
	in("loyalty.competitor_days", l.CompetitorDays, 1, maxDays, days)
	in("loyalty.prior_days", l.PriorDays, 1, maxDays, days)
	in("loyalty.prior_min_orders", l.PriorMinOrders, 1, maxOrders, " orders")
	in("loyalty.min_window_orders", l.MinWindowOrders, 0, maxOrders, " orders")
	in("loyalty.discounted_share_pct", l.DiscountedSharePct, 0, 100, "")
	for _, prio := range events.RequestPriorities {
		path := "service_levels.requests." + prio
		cols, ok := p.ServiceLevels.Requests[prio]
		if !ok {
			bad(path, "missing")
			continue
		}
		for _, col := range columnsOf(cols) {
			tg, ok := cols[col]
			if !ok {
				bad(path+"."+col, "missing")
				continue
			}
			in(path+"."+col+".response_hours", tg.ResponseHours, 0, maxTargetHours, hours)
			in(path+"."+col+".resolution_hours", tg.ResolutionHours, 0, maxTargetHours, hours)
		}
	}
	for _, sev := range events.ComplaintSeverities {
		path := "service_levels.complaints." + sev
		cols, ok := p.ServiceLevels.Complaints[sev]
		if !ok {
			bad(path, "missing")
			continue
		}
		for _, col := range columnsOf(cols) {
			if h, ok := cols[col]; !ok {
				bad(path+"."+col, "missing")
			} else {
				in(path+"."+col, h, 0, maxTargetHours, hours)
			}
		}
	}
	in("coverage.decision_maker_days", p.Coverage.DecisionMakerDays, 1, maxDays, days)
}

// columnsOf returns the columns a service-level row must have, and its
// optional "key" column when it has one.
func columnsOf[T any](cols map[string]T) []string {
	if _, ok := cols["key"]; ok {
		return append(tierColumns[:len(tierColumns):len(tierColumns)], "key")
	}
	return tierColumns
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
