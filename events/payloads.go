package events

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Rules are the deployment's settings that validation depends on.
type Rules struct {
	Currency string // ISO 4217 code, e.g. "USD"
	Digits   int    // decimals of the currency's minor unit, e.g. 2
}

// DefaultRules is USD with cents.
var DefaultRules = Rules{Currency: "USD", Digits: 2}

// Enumerations of the spec.
var (
	Partnerships         = []string{"none", "interested", "strategic"}
	ServiceRequirements  = []string{"standard", "elevated", "critical"}
	ContactRoles         = []string{"decision_maker", "influencer", "purchaser", "user"}
	VisitKinds           = []string{"onsite", "phone", "video", "email"}
	CompetitorSignals    = []string{"none", "evaluating", "purchased"}
	ComplaintSeverities  = []string{"low", "medium", "high", "critical"}
	RequestPriorities    = []string{"low", "normal", "high", "urgent"}
	maxTextBytes         = 4096
	maxOrderLines        = 1000
	maxIdentifierBytes   = 256
	maxDiscountHundredth = 10000
)

// Profile is the account data of account.registered and account.updated.
// In an update, nil means "not given, leave as it is".
type Profile struct {
	Name               *string
	Industry           *string
	Region             *string
	Manager            *string
	Partnership        *string
	ServiceRequirement *string
}

// AccountRegistered is the payload of account.registered.
type AccountRegistered struct{ Profile }

// AccountUpdated is the payload of account.updated.
type AccountUpdated struct{ Profile }

// OrderLine is one line of an order.
type OrderLine struct {
	SKU        string
	Qty        int64
	UnitPrice  int64 // minor units; 0 when not given
	NewProduct bool
}

// OrderPlaced is the payload of order.placed. Amount is in minor units.
type OrderPlaced struct {
	OrderID  string
	Amount   int64
	Quantity int64 // 0 when not given
	// DiscountHundredths is discount_pct times 100 (12.5% is 1250), so that
	// the 10% threshold is an exact integer comparison.
	DiscountHundredths int64
	Lines              []OrderLine
	Channel            string
}

// HasNewProduct reports whether a line of the order is a new product.
func (o *OrderPlaced) HasNewProduct() bool {
	for _, l := range o.Lines {
		if l.NewProduct {
			return true
		}
	}
	return false
}

// OrderReturned is the payload of order.returned. Amount is in minor units, > 0.
type OrderReturned struct {
	OrderID string
	Amount  int64
}

// Contact is the person a visit met.
type Contact struct {
	Name string
	Role string
}

// VisitLogged is the payload of visit.logged.
type VisitLogged struct {
	VisitID              string
	Rep                  string
	Contact              Contact
	Kind                 string
	Competitor           string
	PartnershipDiscussed bool
}

// ComplaintFiled is the payload of complaint.filed.
type ComplaintFiled struct {
	ComplaintID string
	Severity    string
	Category    string
}

// ComplaintResolved is the payload of complaint.resolved.
type ComplaintResolved struct {
	ComplaintID string
	Satisfied   *bool
}

// ServiceRequestOpened is the payload of service_request.opened.
type ServiceRequestOpened struct {
	RequestID string
	Priority  string
	Kind      string
}

// ServiceRequestResponded is the payload of service_request.responded.
type ServiceRequestResponded struct{ RequestID string }

// ServiceRequestResolved is the payload of service_request.resolved.
type ServiceRequestResolved struct{ RequestID string }

// ClockTick is the (empty) payload of clock.tick.
type ClockTick struct{}

// MinTime is the earliest business time kam takes. A projector reviews
// every day from the first event on, so one event dated in year 1 made
// 740,000 daily reviews; no key account's history goes back before 1970.
var MinTime = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC)

// Validate checks e against the spec's rules and decodes its data into the
// payload struct of its type (a *OrderPlaced for order.placed, and so on).
// The error is an *Error with code EInvalid listing every field at fault,
// each with Index 0; callers handling a batch set the index.
// Validate does not check the time against a clock: see CheckNotFuture.
func Validate(e *Event, r Rules) (any, error) {
	var errs []FieldError
	add := func(field, problem string) { errs = append(errs, FieldError{Field: field, Problem: problem}) }

	if e.SpecVersion != SpecVersion {
		if e.SpecVersion == "" {
			add("specversion", "is required")
		} else {
			add("specversion", fmt.Sprintf("must be %q, got %q", SpecVersion, e.SpecVersion))
		}
	}
	if p := validText(e.ID, MaxIDBytes); p != "" {
		add("id", p)
	}
	if p := validText(e.Source, maxIdentifierBytes); p != "" {
		add("source", p)
	}
	if e.Actor != "" {
		if p := validText(e.Actor, maxIdentifierBytes); p != "" {
			add("actor", p)
		}
	}
	if e.Time.IsZero() {
		add("time", "is required")
	} else if e.Time.Before(MinTime) {
		add("time", fmt.Sprintf("must be %s or later, got %s", MinTime.Format(time.RFC3339), e.Time.UTC().Format(time.RFC3339Nano)))
	} else if y := e.Time.UTC().Year(); y > 9999 {
		// An offset can carry a parsed time out of the years RFC 3339
		// can write; stored in UTC, it could not be read back.
		add("time", "must be before year 10000 in UTC")
	}
	if e.DataVersion != 0 && e.DataVersion != currentDataVersion {
		add("dataversion", fmt.Sprintf("must be %d, got %d", currentDataVersion, e.DataVersion))
	}
	if e.Type == "" {
		add("type", "is required")
		return nil, invalid(errs...)
	}
	if !KnownType(e.Type) {
		add("type", fmt.Sprintf("unknown event type %q (known: %s)", e.Type, strings.Join(Types, ", ")))
		return nil, invalid(errs...)
	}
	if e.Type == TypeClockTick {
		if e.Subject != "" {
			add("subject", "must be empty for clock.tick")
		}
	} else if p := validText(e.Subject, MaxAccountIDBytes); p != "" {
		add("subject", p)
	}

	data := bytes.TrimSpace(e.Data)
	if len(data) == 0 || bytes.Equal(data, []byte("null")) {
		if e.Type == TypeClockTick {
			return finish(&ClockTick{}, errs)
		}
		add("data", "is required")
		return nil, invalid(errs...)
	}
	if data[0] != '{' {
		add("data", "must be a JSON object")
		return nil, invalid(errs...)
	}
	list, err := parsePooled(data)
	if err != nil {
		add("data", err.Error())
		return nil, invalid(errs...)
	}
	defer release(list)
	o := &obj{m: *list, prefix: "data.", errs: &errs, rules: r}
	var p any
	switch e.Type {
	case TypeAccountRegistered:
		prof := o.profile()
		if prof.Name == nil {
			o.add("name", "is required")
		} else if strings.TrimSpace(*prof.Name) == "" {
			o.add("name", "must not be empty")
		}
		p = &AccountRegistered{prof}
	case TypeAccountUpdated:
		prof := o.profile()
		if prof == (Profile{}) {
			add("data", "must change at least one of name, industry, region, manager, partnership, service_requirement")
		} else if prof.Name != nil && strings.TrimSpace(*prof.Name) == "" {
			o.add("name", "must not be empty")
		}
		p = &AccountUpdated{prof}
	case TypeOrderPlaced:
		o.currency()
		op := &OrderPlaced{
			OrderID: o.text("order_id", true),
			Amount:  o.money("amount", true, 0),
		}
		if q, ok := o.integer("quantity"); ok {
			if q < 1 {
				o.add("quantity", "must be at least 1")
			}
			op.Quantity = q
		}
		op.DiscountHundredths = o.percent("discount_pct")
		op.Lines = o.lines("lines")
		op.Channel = o.text("channel", false)
		p = op
	case TypeOrderReturned:
		o.currency()
		p = &OrderReturned{OrderID: o.text("order_id", false), Amount: o.money("amount", true, 1)}
	case TypeVisitLogged:
		v := &VisitLogged{
			VisitID:    o.text("visit_id", true),
			Rep:        o.text("rep", true),
			Kind:       o.enum("kind", VisitKinds, false),
			Competitor: o.enum("competitor", CompetitorSignals, false),
		}
		v.PartnershipDiscussed, _ = o.boolean("partnership_discussed")
		if c := o.object("contact"); c != nil {
			v.Contact = Contact{Name: c.text("name", false), Role: c.enum("role", ContactRoles, false)}
		}
		o.text("notes", false)
		p = v
	case TypeComplaintFiled:
		p = &ComplaintFiled{
			ComplaintID: o.text("complaint_id", true),
			Severity:    o.enum("severity", ComplaintSeverities, true),
			Category:    o.text("category", false),
		}
		o.text("description", false)
	case TypeComplaintResolved:
		c := &ComplaintResolved{ComplaintID: o.text("complaint_id", true)}
		if b, ok := o.boolean("satisfied"); ok {
			c.Satisfied = &b
		}
		o.text("resolution", false)
		p = c
	case TypeServiceRequestOpened:
		p = &ServiceRequestOpened{
			RequestID: o.text("request_id", true),
			Priority:  o.enum("priority", RequestPriorities, true),
			Kind:      o.text("kind", false),
		}
		o.text("description", false)
	case TypeServiceRequestResponded:
		p = &ServiceRequestResponded{RequestID: o.text("request_id", true)}
	case TypeServiceRequestResolved:
		p = &ServiceRequestResolved{RequestID: o.text("request_id", true)}
		o.text("resolution", false)
	case TypeClockTick:
		p = &ClockTick{}
	}
	return finish(p, errs)
}

func finish(p any, errs []FieldError) (any, error) {
	if len(errs) > 0 {
		return nil, invalid(errs...)
	}
	return p, nil
}

// CheckNotFuture refuses an event whose time lies more than tolerance after
// ref: the wall clock at the HTTP door, the stored timestamp in a projector.
func CheckNotFuture(e *Event, ref time.Time, tolerance time.Duration) error {
	if e.Time.After(ref.Add(tolerance)) {
		return invalid(FieldError{Field: "time", Problem: fmt.Sprintf("is in the future: %s is more than %s after %s",
			e.Time.Format(time.RFC3339), tolerance, ref.UTC().Format(time.RFC3339))})
	}
	return nil
}

// obj reads the fields of one JSON object, recording a FieldError per problem.
type obj struct {
	m      jsonObject
	prefix string
	errs   *[]FieldError
	rules  Rules
}

func (o *obj) add(name, problem string) {
	*o.errs = append(*o.errs, FieldError{Field: o.prefix + name, Problem: problem})
}

// raw returns the field's bytes, or nil when absent or null.
func (o *obj) raw(name string) []byte {
	v, ok := o.m.get(name)
	if !ok || isNull(v) {
		return nil
	}
	return v
}

func (o *obj) str(name string) (string, bool) {
	v := o.raw(name)
	if v == nil {
		return "", false
	}
	s, err := unquote(v)
	if err != nil {
		o.add(name, "must be a string")
		return "", false
	}
	return s, true
}

func (o *obj) text(name string, required bool) string {
	s, ok := o.str(name)
	if !ok {
		if required && o.raw(name) == nil {
			o.add(name, "is required")
		}
		return ""
	}
	limit := maxIdentifierBytes
	if name == "description" || name == "notes" || name == "resolution" {
		limit = maxTextBytes
	}
	if required && strings.TrimSpace(s) == "" {
		o.add(name, "must not be empty")
	} else if len(s) > limit {
		o.add(name, fmt.Sprintf("is %d bytes, at most %d are allowed", len(s), limit))
	}
	return s
}

func (o *obj) enum(name string, allowed []string, required bool) string {
	s, ok := o.str(name)
	if !ok {
		if required && o.raw(name) == nil {
			o.add(name, "is required")
		}
		return ""
	}
	for _, a := range allowed {
		if s == a {
			return s
		}
	}
	o.add(name, fmt.Sprintf("must be one of %s, got %q", strings.Join(allowed, ", "), s))
	return ""
}

func (o *obj) optEnum(name string, allowed []string) *string {
	if o.raw(name) == nil {
		return nil
	}
	s := o.enum(name, allowed, false)
	if s == "" {
		return nil
	}
	return &s
}

func (o *obj) optText(name string) *string {
	s, ok := o.str(name)
	if !ok {
		return nil
	}
	if len(s) > maxIdentifierBytes {
		o.add(name, fmt.Sprintf("is %d bytes, at most %d are allowed", len(s), maxIdentifierBytes))
	}
	return &s
}

func (o *obj) boolean(name string) (bool, bool) {
	v := o.raw(name)
	if v == nil {
		return false, false
	}
	switch string(v) {
	case "true":
		return true, true
	case "false":
		return false, true
	}
	o.add(name, "must be true or false")
	return false, false
}

func (o *obj) integer(name string) (int64, bool) {
	v := o.raw(name)
	if v == nil {
		return 0, false
	}
	n, err := strconv.ParseInt(string(bytes.TrimSpace(v)), 10, 64)
	if err != nil {
		o.add(name, "must be an integer")
		return 0, false
	}
	return n, true
}

// percent reads a percentage 0..100 with at most two decimals, as hundredths.
func (o *obj) percent(name string) int64 {
	v := o.raw(name)
	if v == nil {
		return 0
	}
	s := string(v)
	if v[0] == '"' {
		s, _ = unquote(v)
	}
	d, err := ParseDecimal(s)
	if err != nil || strings.ContainsAny(s, "eE") {
		o.add(name, "must be a number from 0 to 100")
		return 0
	}
	h, err := d.MinorUnits(2)
	if err != nil {
		o.add(name, "must have at most 2 decimals")
		return 0
	}
	if h < 0 || h > int64(maxDiscountHundredth) {
		o.add(name, "must be from 0 to 100")
		return 0
	}
	return h
}

// money reads a decimal string in the deployment's currency as minor units,
// requiring it to be at least min (0 or 1 minor unit).
func (o *obj) money(name string, required bool, min int64) int64 {
	v := o.raw(name)
	if v == nil {
		if required {
			o.add(name, "is required")
		}
		return 0
	}
	var d Decimal
	if err := d.UnmarshalJSON(v); err != nil {
		o.add(name, err.Error())
		return 0
	}
	minor, err := d.MinorUnits(o.rules.Digits)
	if err != nil {
		o.add(name, err.Error())
		return 0
	}
	switch {
	case minor < 0 || minor == 0 && len(v) > 1 && v[1] == '-': // "-0.00" too
		o.add(name, "must not be negative")
	case minor < min:
		o.add(name, "must be greater than 0")
	case minor > MaxAmount:
		o.add(name, "is too large: at most "+FormatMinor(MaxAmount, o.rules.Digits))
	}
	return minor
}

// MaxAmount is the largest amount of one event, in minor units (10^15:
// ten trillion dollars in cents). With it, sums stay far from int64's limits;
// the projector also sets aside what would take its running sums past 2^62.
const MaxAmount int64 = 1_000_000_000_000_000

func (o *obj) currency() {
	s, ok := o.str("currency")
	if ok && s != o.rules.Currency {
		o.add("currency", fmt.Sprintf("must be %s, the deployment's currency, got %q", o.rules.Currency, s))
	}
}

func (o *obj) object(name string) *obj {
	v := o.raw(name)
	if v == nil {
		return nil
	}
	m, err := parseObject(v)
	if err != nil {
		o.add(name, "must be an object")
		return nil
	}
	return &obj{m: m, prefix: o.prefix + name + ".", errs: o.errs, rules: o.rules}
}

func (o *obj) lines(name string) []OrderLine {
	v := o.raw(name)
	if v == nil {
		return nil
	}
	arr, err := parseArray(v)
	if err != nil {
		o.add(name, "must be an array of lines")
		return nil
	}
	if len(arr) > maxOrderLines {
		o.add(name, fmt.Sprintf("has %d lines, at most %d are allowed", len(arr), maxOrderLines))
		return nil
	}
	out := make([]OrderLine, 0, len(arr))
	for i, el := range arr {
		prefix := o.prefix + name + "[" + strconv.Itoa(i) + "]."
		list, err := parsePooled(el)
		if err != nil {
			*o.errs = append(*o.errs, FieldError{Field: strings.TrimSuffix(prefix, "."), Problem: "must be an object"})
			continue
		}
		lo := &obj{m: *list, prefix: prefix, errs: o.errs, rules: o.rules}
		l := OrderLine{SKU: lo.text("sku", false), UnitPrice: lo.money("unit_price", false, 0)}
		if q, ok := lo.integer("qty"); ok {
			if q < 1 {
				lo.add("qty", "must be at least 1")
			}
			l.Qty = q
		}
		l.NewProduct, _ = lo.boolean("new_product")
		release(list)
		out = append(out, l)
	}
	return out
}

func (o *obj) profile() Profile {
	return Profile{
		Name:               o.optText("name"),
		Industry:           o.optText("industry"),
		Region:             o.optText("region"),
		Manager:            o.optText("manager"),
		Partnership:        o.optEnum("partnership", Partnerships),
		ServiceRequirement: o.optEnum("service_requirement", ServiceRequirements),
	}
}
