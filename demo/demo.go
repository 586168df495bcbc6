// Package demo generates kam's demo data: a realistic, synthetic history of
// key accounts (registrations, orders with discounts and new products,
// returns, visits with contact roles and competitor signals, complaints and
// service requests with their responses), deterministic by seed. It owns
// nothing but the generator; kam demo and kam serve --demo write or append
// what it emits.
package demo

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"kam/events"
)

// Defaults of Options, and the limits Generate accepts.
const (
	DefaultAccounts = 200
	DefaultDays     = 365
	MaxAccounts     = 1_000_000
	MaxDays         = 3660
	// Source is the source attribute of every demo event.
	Source = "kam/demo"
)

// Options say what to generate.
type Options struct {
	// Accounts and Days: how many accounts, over how many business days
	// (0 means DefaultAccounts, DefaultDays).
	Accounts, Days int
	// Seed decides everything random; the same Options give the same
	// events, byte for byte.
	Seed int64
	// End is the last business day, UTC midnight (a time within the day is
	// truncated to its midnight); zero means today (UTC, read from the
	// wall clock). The closing clock.tick lies at End + 24h: with End today
	// it is in the future, and a kam refuses it and the day's later events,
	// so to load into a running kam pass yesterday (kam demo does).
	End time.Time
}

// Generate emits the demo history to emit, in business-time order (ties in
// the order they were generated), and ends with one clock.tick at the
// midnight after the last day. Every event passes events.Validate with
// events.DefaultRules (USD). Event ids are "demo-<seed>-<counter>", except
// the closing tick's, which is "clock.tick/<date>" as kam serve's daily
// tick, so that the two deduplicate. Account ids (ACC-00001...) and the ids
// in data (orders, visits, requests, complaints) do not depend on the seed:
// two demos of different seeds in one stream are two histories of the same
// accounts, and a projector sets aside the second opening of a request id.
// Generate stops at emit's first error and returns it; an invalid option is
// an error naming it.
func Generate(o Options, emit func(*events.Event) error) error {
	if o.Accounts == 0 {
		o.Accounts = DefaultAccounts
	}
	if o.Days == 0 {
		o.Days = DefaultDays
	}
	if o.Accounts < 0 || o.Accounts > MaxAccounts {
		return fmt.Errorf("demo: accounts: want 1 to %d, got %d", MaxAccounts, o.Accounts)
	}
	if o.Days < 0 || o.Days > MaxDays {
		return fmt.Errorf("demo: days: want 1 to %d, got %d", MaxDays, o.Days)
	}
	end := o.End
	if end.IsZero() {
		end = time.Now()
	}
	end = end.UTC().Truncate(24 * time.Hour)
	start := end.AddDate(0, 0, -(o.Days - 1))
	if start.Year() < 1 {
		return fmt.Errorf("demo: end: %s minus %d days is before year 1", end.Format(time.DateOnly), o.Days)
	}
	g := &gen{
		o:       o,
		rng:     rand.New(rand.NewPCG(uint64(o.Seed), 0x6b616d2d64656d6f)), // "kam-demo"
		start:   start,
		emit:    emit,
		pending: map[int][]item{},
	}
	g.catalog()
	g.accounts()
	for d := 0; d < o.Days; d++ {
		if err := g.day(d); err != nil {
			return err
		}
	}
	tick := start.AddDate(0, 0, o.Days)
	return emit(&events.Event{
		SpecVersion: events.SpecVersion, ID: "clock.tick/" + tick.Format(time.DateOnly), Source: Source,
		Type: events.TypeClockTick, Time: tick,
	})
}

// item is an event waiting for its day, with the order it was made in.
type item struct {
	at  time.Time
	seq uint64
	e   *events.Event
}

type product struct {
	sku    string
	price  int64 // cents
	launch int   // day index it appears on; < 0 for the old range
}

type contact struct {
	name, role string
}

type account struct {
	id             string
	weight         float64 // Pareto weight: annual revenue is proportional to it
	ordersYear     float64 // and the other yearly rates
	visitsYear     float64
	requestsYear   float64
	complaintsYear float64
	avgOrder       float64 // cents
	registered     bool
	joinDay        int
	churnDay       int // no orders from this day on
	switchDay      int // a visit reports a competitor purchase; orders drop after it
	updateDay      int // an account.updated; -1 none
	discounting    bool
	adopter        float64 // chance that a line picks a new product when one is out
	partnership    string
	serviceReq     string
	manager        string
	contacts       []contact
	orders         int
	visits         int
	requests       int
	complaints     int
	returns        int
}

type gen struct {
	o        Options
	rng      *rand.Rand
	start    time.Time
	emit     func(*events.Event) error
	pending  map[int][]item // day index → events made earlier for that day
	curDay   int            // the day being generated
	seq      uint64         // generation order
	emitted  uint64         // id counter
	products []product
	fresh    []product // the products new on the day being generated
	accts    []*account
	managers []string
}

// Word lists. Realistic enough to read, small enough to keep here.
var (
	namePrefixes = []string{"Northwind", "Contoso", "Fabrikam", "Globex", "Initech", "Umbrella", "Stark", "Wayne", "Acme",
		"Tyrell", "Cyberdyne", "Soylent", "Hooli", "Vandelay", "Wonka", "Oceanic", "Massive", "Aperture", "Gringotts",
		"Monarch", "Sterling", "Pinnacle", "Summit", "Horizon", "Atlas", "Vertex", "Nimbus", "Polaris", "Orion", "Helix",
		"Meridian", "Apex", "Boreal", "Cobalt", "Delta", "Evergreen", "Falcon", "Granite", "Harbor", "Ironwood"}
	nameSuffixes = []string{"Logistics", "Aerospace", "Motors", "Health", "Retail", "Energy", "Systems", "Foods", "Chemicals",
		"Telecom", "Construction", "Pharma", "Industries", "Airlines", "Robotics", "Materials", "Labs", "Freight", "Marine", "Rail"}
	legalForms  = []string{"Inc.", "Ltd", "GmbH", "S.A.", "AG", "LLC", "plc", "B.V.", "S.p.A.", "Corp."}
	industries  = []string{"Manufacturing", "Aerospace", "Automotive", "Healthcare", "Retail", "Energy", "Logistics", "Telecom", "Construction", "Food & Beverage", "Chemicals", "Pharmaceuticals"}
	regions     = []string{"North America", "Latin America", "Northern Europe", "Southern Europe", "DACH", "Middle East", "Asia Pacific", "Africa"}
	firstNames  = []string{"Maria", "James", "Aiko", "Lars", "Fatima", "Chen", "Olga", "Pedro", "Amara", "Jonas", "Priya", "Tom", "Elena", "Kwame", "Sofia", "Ravi", "Ingrid", "Mateo", "Yara", "Noah", "Leila", "Hugo", "Mei", "Anders"}
	lastNames   = []string{"Keller", "Smith", "Tanaka", "Berg", "Haddad", "Wang", "Ivanova", "Silva", "Okafor", "Weber", "Sharma", "Brown", "Rossi", "Mensah", "García", "Patel", "Larsen", "López", "Nasser", "Müller", "Khan", "Dubois", "Lin", "Nilsson"}
	channels    = []string{"field", "web", "edi", "phone"}
	visitKinds  = []string{"onsite", "phone", "video", "email"}
	categories  = []string{"delivery", "quality", "billing", "service", "documentation"}
	requestKind = []string{"repair", "maintenance", "installation", "training", "question", "spare_parts"}
	visitNotes  = []string{"quarterly business review", "new product presentation", "price negotiation", "project kickoff",
		"escalation follow-up", "contract renewal", "site tour", "technical workshop"}
	resolutions = []string{"replaced part", "credit issued", "process fixed", "explained", "on-site repair", "software update"}
)

func (g *gen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

// weighted picks an index with probability proportional to its weight.
func (g *gen) weighted(w ...int) int {
	sum := 0
	for _, x := range w {
		sum += x
	}
	r := g.rng.IntN(sum)
	for i, x := range w {
		if r < x {
			return i
		}
		r -= x
	}
	return len(w) - 1
}

// poisson draws a count with mean lambda (small: inversion).
func (g *gen) poisson(lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	l, k, p := math.Exp(-lambda), 0, g.rng.Float64()
	for p > l {
		k++
		p *= g.rng.Float64()
	}
	return k
}

// lognormal draws exp(N(0, sigma)) scaled so that its mean is 1.
func (g *gen) lognormal(sigma float64) float64 {
	return math.Exp(g.rng.NormFloat64()*sigma - sigma*sigma/2)
}

func (g *gen) catalog() {
	// 60 products on sale from the start, 25 launched during the period.
	for i := 0; i < 85; i++ {
		launch := -1
		if i >= 60 {
			launch = g.rng.IntN(g.o.Days)
		}
		// Prices from 5.00 to about 5,000.00, most of them low.
		price := int64(500 * math.Exp(g.rng.Float64()*g.rng.Float64()*6.9))
		g.products = append(g.products, product{sku: fmt.Sprintf("SKU-%04d", i+1), price: price, launch: launch})
	}
}

func (g *gen) personName() string { return g.pick(firstNames) + " " + g.pick(lastNames) }

func (g *gen) accounts() {
	nm := min(max(g.o.Accounts/25, 3), 400)
	for i := 0; i < nm; i++ {
		g.managers = append(g.managers, g.personName())
	}
	width := max(5, len(strconv.Itoa(g.o.Accounts)))
	const alpha = 0.8 // near 1.16, the Pareto index of the 80/20 rule: small samples spread more
	for i := 0; i < g.o.Accounts; i++ {
		a := &account{id: fmt.Sprintf("ACC-%0*d", width, i+1), churnDay: g.o.Days, switchDay: -1, updateDay: -1}
		// Capped: with alpha below 1 the mean would be unbounded.
		a.weight = min(math.Pow(1-g.rng.Float64(), -1/alpha), 20000)
		annual := 200_000 * a.weight // cents: 2,000.00 a year for the smallest
		a.ordersYear = min(max(10*math.Sqrt(a.weight), 4), 400)
		a.avgOrder = annual / a.ordersYear
		// Bigger accounts are visited more: from about three times a year
		// to three times a month; they also ask for more service.
		a.visitsYear = min(1+2*math.Sqrt(a.weight), 36)
		a.requestsYear = min(0.5+0.5*math.Sqrt(a.weight), 30)
		a.complaintsYear = min(0.3+0.2*math.Sqrt(a.weight), 10)
		a.registered = g.rng.IntN(100) >= 3
		if g.o.Days > 1 && g.rng.IntN(100) < 25 {
			a.joinDay = 1 + g.rng.IntN(g.o.Days-1)
		}
		if rest := g.o.Days - a.joinDay; rest > 30 {
			switch r := g.rng.IntN(100); {
			case r < 7:
				a.churnDay = a.joinDay + 30 + g.rng.IntN(rest-30)
			case r < 13:
				a.switchDay = a.joinDay + 30 + g.rng.IntN(rest-30)
			}
			if g.rng.IntN(100) < 4 {
				a.updateDay = a.joinDay + 1 + g.rng.IntN(rest-1)
			}
		}
		a.adopter = []float64{0.02, 0.1, 0.4}[g.weighted(60, 30, 10)]
		size := 0 // small
		if a.weight > 20 {
			size = 2
		} else if a.weight > 4 {
			size = 1
		}
		// Big buyers negotiate discounts more often.
		a.discounting = g.rng.IntN(100) < []int{20, 35, 50}[size]
		a.partnership = events.Partnerships[g.weighted([][]int{{83, 15, 2}, {60, 30, 10}, {45, 35, 20}}[size]...)]
		a.serviceReq = events.ServiceRequirements[g.weighted([][]int{{77, 20, 3}, {50, 38, 12}, {35, 40, 25}}[size]...)]
		if a.serviceReq == "critical" {
			a.requestsYear *= 2
		}
		a.manager = g.managers[g.rng.IntN(len(g.managers))]
		a.contacts = append(a.contacts, contact{g.personName(), "decision_maker"})
		for n := g.rng.IntN(3); n > 0; n-- {
			a.contacts = append(a.contacts, contact{g.personName(), "influencer"})
		}
		for n := 1 + g.rng.IntN(2); n > 0; n-- {
			a.contacts = append(a.contacts, contact{g.personName(), "purchaser"})
		}
		for n := g.rng.IntN(4); n > 0; n-- {
			a.contacts = append(a.contacts, contact{g.personName(), "user"})
		}
		g.accts = append(g.accts, a)
	}
}

// at is a time on day d at hour h (fractional) after midnight.
func (g *gen) at(d int, hours float64) time.Time {
	return g.start.AddDate(0, 0, d).Add(time.Duration(hours * float64(time.Hour))).Truncate(time.Second)
}

// businessTime is a random moment of day d's business hours, 08:00 to 18:00.
func (g *gen) businessTime(d int) time.Time { return g.at(d, 8+10*g.rng.Float64()) }

// schedule files an event for the day its time falls on; events after the
// last day are dropped (what they would answer stays open).
func (g *gen) schedule(today []item, e *events.Event) []item {
	g.seq++
	it := item{at: e.Time, seq: g.seq, e: e}
	d := int(e.Time.Sub(g.start) / (24 * time.Hour))
	switch {
	case d >= g.o.Days:
		return today
	case d <= g.curDay:
		return append(today, it)
	}
	g.pending[d] = append(g.pending[d], it)
	return today
}

func (g *gen) event(typ, subject string, at time.Time, data any) *events.Event {
	b, err := json.Marshal(data)
	if err != nil {
		panic(err) // only our own structs are marshalled
	}
	return &events.Event{SpecVersion: events.SpecVersion, Source: Source, Type: typ, Subject: subject, Time: at, Data: b}
}

func money(cents int64) string { return events.FormatMinor(cents, 2) }

func (g *gen) day(d int) error {
	g.curDay = d
	today := g.pending[d]
	delete(g.pending, d)
	date := g.start.AddDate(0, 0, d)
	weekend := date.Weekday() == time.Saturday || date.Weekday() == time.Sunday
	// A mild season: busier towards the end of the year, quieter in summer.
	season := 1 + 0.15*math.Cos(2*math.Pi*float64(date.YearDay()-330)/365)
	g.fresh = g.fresh[:0]
	for _, p := range g.products {
		if p.launch >= 0 && p.launch <= d && d-p.launch < newWithin {
			g.fresh = append(g.fresh, p)
		}
	}
	for _, a := range g.accts {
		if d < a.joinDay {
			continue
		}
		if d == a.joinDay && a.registered {
			today = g.schedule(today, g.register(a, d))
		}
		act := season / 365
		if weekend {
			act *= 0.1
		}
		orders, visits, requests, complaints := a.ordersYear*act, a.visitsYear*act, a.requestsYear*act, a.complaintsYear*act
		switch {
		case d >= a.churnDay:
			orders, visits, requests, complaints = 0, 0.3*visits, 0, 0
		case a.switchDay >= 0 && d > a.switchDay:
			orders *= 0.2
		}
		// One draw for the day's count of all four (the usual answer is
		// none), then each event's kind in proportion to its rate.
		total := orders + visits + requests + complaints
		for n := g.poisson(total); n > 0; n-- {
			switch u := g.rng.Float64() * total; {
			case u < orders:
				today = g.order(today, a, d)
			case u < orders+visits:
				today = g.visit(today, a, d, "")
			case u < orders+visits+requests:
				today = g.request(today, a, d)
			default:
				today = g.complaint(today, a, d)
			}
		}
		if d == a.switchDay {
			today = g.visit(today, a, d, "purchased")
		}
		if d == a.updateDay {
			today = g.schedule(today, g.update(a, d))
		}
	}
	slices.SortFunc(today, func(x, y item) int {
		if c := x.at.Compare(y.at); c != 0 {
			return c
		}
		return cmp.Compare(x.seq, y.seq)
	})
	for _, it := range today {
		g.emitted++
		it.e.ID = "demo-" + strconv.FormatInt(g.o.Seed, 10) + "-" + strconv.FormatUint(g.emitted, 10)
		if err := g.emit(it.e); err != nil {
			return err
		}
	}
	return nil
}

type profile struct {
	Name               string `json:"name,omitempty"`
	Industry           string `json:"industry,omitempty"`
	Region             string `json:"region,omitempty"`
	Manager            string `json:"manager,omitempty"`
	Partnership        string `json:"partnership,omitempty"`
	ServiceRequirement string `json:"service_requirement,omitempty"`
}

func (g *gen) register(a *account, d int) *events.Event {
	p := profile{
		Name:     g.pick(namePrefixes) + " " + g.pick(nameSuffixes) + " " + g.pick(legalForms),
		Industry: g.pick(industries), Region: g.pick(regions), Manager: a.manager,
		Partnership: a.partnership, ServiceRequirement: a.serviceReq,
	}
	// Before the day's business: 07:00 to 08:00.
	return g.event(events.TypeAccountRegistered, a.id, g.at(d, 7+g.rng.Float64()), p)
}

func (g *gen) update(a *account, d int) *events.Event {
	var p profile
	switch g.weighted(40, 30, 20, 10) {
	case 0:
		a.manager = g.managers[g.rng.IntN(len(g.managers))]
		p.Manager = a.manager
	case 1:
		a.partnership = map[string]string{"none": "interested", "interested": "strategic", "strategic": "interested"}[a.partnership]
		p.Partnership = a.partnership
	case 2:
		a.serviceReq = map[string]string{"standard": "elevated", "elevated": "critical", "critical": "elevated"}[a.serviceReq]
		p.ServiceRequirement = a.serviceReq
	default:
		p.Region = g.pick(regions)
	}
	return g.event(events.TypeAccountUpdated, a.id, g.businessTime(d), p)
}

type orderLine struct {
	SKU        string `json:"sku"`
	Qty        int64  `json:"qty"`
	UnitPrice  string `json:"unit_price"`
	NewProduct bool   `json:"new_product,omitempty"`
}

type orderData struct {
	OrderID     string      `json:"order_id"`
	Amount      string      `json:"amount"`
	Quantity    int64       `json:"quantity"`
	DiscountPct json.Number `json:"discount_pct,omitempty"`
	Lines       []orderLine `json:"lines"`
	Channel     string      `json:"channel"`
}

type returnData struct {
	OrderID string `json:"order_id"`
	Amount  string `json:"amount"`
	Reason  string `json:"reason"`
}

// newWithin is how long a product counts as new after its launch.
const newWithin = 180

func (g *gen) order(today []item, a *account, d int) []item {
	a.orders++
	value := a.avgOrder * g.lognormal(0.6)
	nLines := 1 + min(g.poisson(1.2), 7)
	fresh := g.fresh
	od := orderData{OrderID: fmt.Sprintf("SO-%s-%d", a.id, a.orders), Channel: channels[g.weighted(35, 30, 25, 10)]}
	var gross int64
	for i := 0; i < nLines; i++ {
		var p product
		if len(fresh) > 0 && g.rng.Float64() < a.adopter {
			p = fresh[g.rng.IntN(len(fresh))]
		} else {
			p = g.products[g.rng.IntN(60)]
		}
		qty := max(int64(value/float64(nLines)/float64(p.price)+0.5), 1)
		od.Lines = append(od.Lines, orderLine{SKU: p.sku, Qty: qty, UnitPrice: money(p.price), NewProduct: p.launch >= 0})
		gross += qty * p.price
		od.Quantity += qty
	}
	// Discounts in hundredths of a percent; discount-driven buyers get 10%
	// or more on most orders, the others rarely anything.
	var disc int64
	if a.discounting {
		if g.rng.IntN(100) < 70 {
			disc = []int64{1000, 1250, 1500, 2000}[g.rng.IntN(4)]
		}
	} else if g.rng.IntN(100) < 15 {
		disc = []int64{250, 500, 750}[g.rng.IntN(3)]
	}
	amount := (gross*(10000-disc) + 5000) / 10000
	if disc > 0 {
		od.DiscountPct = json.Number(events.FormatMinor(disc, 2))
	}
	od.Amount = money(amount)
	at := g.businessTime(d)
	today = g.schedule(today, g.event(events.TypeOrderPlaced, a.id, at, od))
	if amount > 0 && g.rng.IntN(100) < 3 {
		a.returns++
		part := max(amount*int64(10+g.rng.IntN(91))/100, 1)
		rt := at.Add(time.Duration(1+g.rng.IntN(30)) * 24 * time.Hour)
		today = g.schedule(today, g.event(events.TypeOrderReturned, a.id, rt,
			returnData{OrderID: od.OrderID, Amount: money(part), Reason: g.pick([]string{"damaged", "wrong item", "not needed", "quality"})}))
	}
	return today
}

type contactData struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

type visitData struct {
	VisitID              string      `json:"visit_id"`
	Rep                  string      `json:"rep"`
	Contact              contactData `json:"contact"`
	Kind                 string      `json:"kind"`
	Competitor           string      `json:"competitor"`
	PartnershipDiscussed bool        `json:"partnership_discussed"`
	Notes                string      `json:"notes"`
}

func (g *gen) visit(today []item, a *account, d int, competitor string) []item {
	a.visits++
	// Purchasers are met most, decision makers less, users least.
	var w []int
	for _, c := range a.contacts {
		w = append(w, map[string]int{"decision_maker": 25, "influencer": 20, "purchaser": 35, "user": 10}[c.role])
	}
	c := a.contacts[g.weighted(w...)]
	if competitor == "" {
		competitor = events.CompetitorSignals[g.weighted(90, 9, 1)]
	}
	discuss := 8
	if a.partnership != "none" {
		discuss = 30
	}
	rep := a.manager
	if g.rng.IntN(100) < 20 {
		rep = g.managers[g.rng.IntN(len(g.managers))]
	}
	v := visitData{
		VisitID: fmt.Sprintf("V-%s-%d", a.id, a.visits), Rep: rep, Contact: contactData{c.name, c.role},
		Kind: visitKinds[g.weighted(45, 30, 15, 10)], Competitor: competitor,
		PartnershipDiscussed: g.rng.IntN(100) < discuss, Notes: g.pick(visitNotes),
	}
	return g.schedule(today, g.event(events.TypeVisitLogged, a.id, g.businessTime(d), v))
}

type requestOpened struct {
	RequestID   string `json:"request_id"`
	Priority    string `json:"priority"`
	Kind        string `json:"kind"`
	Description string `json:"description"`
}

type requestStep struct {
	RequestID  string `json:"request_id"`
	Resolution string `json:"resolution,omitempty"`
}

// Median hours to respond and to resolve, by priority (low, normal, high,
// urgent): around the B column of the default policy, so that A accounts'
// requests breach more often than C accounts'.
var (
	respondHours = []float64{36, 18, 6, 1.6}
	resolveHours = []float64{160, 90, 36, 12}
)

func (g *gen) hoursAfter(t time.Time, median float64) time.Time {
	h := median * math.Exp(g.rng.NormFloat64()*0.8)
	return t.Add(time.Duration(max(h, 0.05) * float64(time.Hour))).Truncate(time.Second)
}

func (g *gen) request(today []item, a *account, d int) []item {
	a.requests++
	id := fmt.Sprintf("SR-%s-%d", a.id, a.requests)
	prio := g.weighted(25, 45, 22, 8)
	kind := g.pick(requestKind)
	at := g.businessTime(d)
	today = g.schedule(today, g.event(events.TypeServiceRequestOpened, a.id, at,
		requestOpened{RequestID: id, Priority: events.RequestPriorities[prio], Kind: kind, Description: kind + " requested"}))
	if g.rng.IntN(100) < 3 {
		return today // never answered
	}
	resp := g.hoursAfter(at, respondHours[prio])
	today = g.schedule(today, g.event(events.TypeServiceRequestResponded, a.id, resp, requestStep{RequestID: id}))
	if g.rng.IntN(100) < 3 {
		return today // answered, never resolved
	}
	res := g.hoursAfter(resp, resolveHours[prio])
	return g.schedule(today, g.event(events.TypeServiceRequestResolved, a.id, res, requestStep{RequestID: id, Resolution: g.pick(resolutions)}))
}

type complaintFiled struct {
	ComplaintID string `json:"complaint_id"`
	Severity    string `json:"severity"`
	Category    string `json:"category"`
	Description string `json:"description"`
}

type complaintResolved struct {
	ComplaintID string `json:"complaint_id"`
	Resolution  string `json:"resolution"`
	Satisfied   bool   `json:"satisfied"`
}

var complaintHours = []float64{150, 100, 60, 30} // low, medium, high, critical

func (g *gen) complaint(today []item, a *account, d int) []item {
	a.complaints++
	id := fmt.Sprintf("CP-%s-%d", a.id, a.complaints)
	sev := g.weighted(40, 35, 20, 5)
	cat := g.pick(categories)
	at := g.businessTime(d)
	today = g.schedule(today, g.event(events.TypeComplaintFiled, a.id, at,
		complaintFiled{ComplaintID: id, Severity: events.ComplaintSeverities[sev], Category: cat, Description: cat + " issue"}))
	if g.rng.IntN(100) < 5 {
		return today
	}
	res := g.hoursAfter(at, complaintHours[sev])
	return g.schedule(today, g.event(events.TypeComplaintResolved, a.id, res,
		complaintResolved{ComplaintID: id, Resolution: g.pick(resolutions), Satisfied: g.rng.IntN(100) < 75}))
}
