package projections

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

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

// ParsePolicy reads a policy (start from `kam policy`). Unknown fields are
// refused, so that a typo cannot silently leave a number unset; a missing
// number is 0, which validation refuses wherever 0 makes no sense.
func ParsePolicy(b []byte) (*Policy, error) {
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("invalid policy JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid policy JSON: more after the policy object")
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	canon, err := json.Marshal(&p)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(canon)
	p.version = hex.EncodeToString(sum[:])
	p.raw = canon
	return &p, nil
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

func (p *Policy) validate() error {
	var errs []string
	bad := func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) }
	if len(p.Currency) != 3 || strings.ToUpper(p.Currency) != p.Currency {
		bad("currency: want an ISO 4217 code such as USD, got %q", p.Currency)
	}
	if p.CurrencyDigits < 0 || p.CurrencyDigits > 4 {
		bad("currency_digits: want 0 to 4, got %d", p.CurrencyDigits)
	}
	if p.FutureToleranceSeconds < 0 {
		bad("future_tolerance_seconds: must not be negative")
	}
	if p.DiscountedOrderPct < 1 || p.DiscountedOrderPct > 100 {
		bad("discounted_order_pct: want 1 to 100, got %d", p.DiscountedOrderPct)
	}
	t := p.Tiering
	if t.WindowDays < 1 || t.WindowDays > 3660 {
		bad("tiering.window_days: want 1 to 3660, got %d", t.WindowDays)
	}
	if !(0 < t.CutA && t.CutA <= t.CutB && t.CutB <= 100) {
		bad("tiering: want 0 < cut_a <= cut_b <= 100, got cut_a %d, cut_b %d", t.CutA, t.CutB)
	}
	k := p.KeyAccount
	w := k.Weights
	for name, v := range map[string]int{"volume": w.Volume, "concentration": w.Concentration,
		"service_requirement": w.ServiceRequirement, "price_insensitivity": w.PriceInsensitivity, "partnership": w.Partnership} {
		if v < 0 {
			bad("key_account.weights.%s: must not be negative", name)
		}
	}
	if sum := w.Volume + w.Concentration + w.ServiceRequirement + w.PriceInsensitivity + w.Partnership; sum != 100 {
		bad("key_account.weights: must add up to 100, add up to %d", sum)
	}
	if k.MinScore < 0 || k.MinScore > 100 {
		bad("key_account.min_score: want 0 to 100, got %d", k.MinScore)
	}
	checkPoints := func(name string, m map[string]int, keys []string) {
		for _, key := range keys {
			v, ok := m[key]
			if !ok {
				bad("key_account.%s.%s: missing", name, key)
			} else if v < 0 || v > 100 {
				bad("key_account.%s.%s: want 0 to 100, got %d", name, key, v)
			}
		}
		if len(m) != len(keys) {
			bad("key_account.%s: want exactly %s", name, strings.Join(keys, ", "))
		}
	}
	checkPoints("service_requirement_points", k.ServiceRequirementPoints, events.ServiceRequirements)
	checkPoints("partnership_points", k.PartnershipPoints, events.Partnerships)
	l := p.Loyalty
	for name, v := range map[string]int{"new_days": l.NewDays, "competitor_days": l.CompetitorDays, "prior_days": l.PriorDays} {
		if v < 1 || v > 3660 {
			bad("loyalty.%s: want 1 to 3660, got %d", name, v)
		}
	}
	if l.PriorMinOrders < 1 || l.MinWindowOrders < 0 {
		bad("loyalty: prior_min_orders must be at least 1 and min_window_orders not negative")
	}
	if l.DiscountedSharePct < 0 || l.DiscountedSharePct > 100 {
		bad("loyalty.discounted_share_pct: want 0 to 100, got %d", l.DiscountedSharePct)
	}
	for _, prio := range events.RequestPriorities {
		cols, ok := p.ServiceLevels.Requests[prio]
		if !ok {
			bad("service_levels.requests.%s: missing", prio)
			continue
		}
		for _, c := range tierColumns {
			tg, ok := cols[c]
			if !ok {
				bad("service_levels.requests.%s.%s: missing", prio, c)
			} else if tg.ResponseHours < 0 || tg.ResolutionHours < 0 {
				bad("service_levels.requests.%s.%s: hours must not be negative", prio, c)
			}
		}
		for c := range cols {
			if c != "key" && !contains(tierColumns, c) {
				bad("service_levels.requests.%s.%s: unknown column (want A, B, C or key)", prio, c)
			}
		}
	}
	for _, sev := range events.ComplaintSeverities {
		cols, ok := p.ServiceLevels.Complaints[sev]
		if !ok {
			bad("service_levels.complaints.%s: missing", sev)
			continue
		}
		for _, c := range tierColumns {
			if h, ok := cols[c]; !ok {
				bad("service_levels.complaints.%s.%s: missing", sev, c)
			} else if h < 0 {
				bad("service_levels.complaints.%s.%s: hours must not be negative", sev, c)
			}
		}
		for c := range cols {
			if c != "key" && !contains(tierColumns, c) {
				bad("service_levels.complaints.%s.%s: unknown column (want A, B, C or key)", sev, c)
			}
		}
	}
	if len(p.ServiceLevels.Requests) != len(events.RequestPriorities) {
		bad("service_levels.requests: want exactly %s", strings.Join(events.RequestPriorities, ", "))
	}
	if len(p.ServiceLevels.Complaints) != len(events.ComplaintSeverities) {
		bad("service_levels.complaints: want exactly %s", strings.Join(events.ComplaintSeverities, ", "))
	}
	if p.Coverage.DecisionMakerDays < 1 {
		bad("coverage.decision_maker_days: must be at least 1")
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return fmt.Errorf("invalid policy: %s", strings.Join(errs, "; "))
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
