package projections

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"time"

	"kam/events"
	"kam/events/natsstore"
)

// Incoming is one message of the stream, decoded and validated (or not).
type Incoming struct {
	Stored  events.Stored
	Event   *events.Event
	Payload any
	// Reject, when not empty, is why the message is set aside.
	Reject string
	// RejectID and RejectType are the id and type of a message that is no
	// event (Event nil), when they can be read, for rejected_events.
	RejectID, RejectType string
	// Digest is the SHA-256 of the message's bytes, for the hash chain.
	Digest [32]byte
}

// Decode decodes and validates a stored message the way the HTTP door does,
// with the stored timestamp in place of the wall clock, and checks that the
// subject is the one the event belongs on. It is a pure function, so the
// runner can call it on another goroutine.
func (p *Projector) Decode(st events.Stored) Incoming {
	return decodeStored(st, p.pol)
}

func decodeStored(st events.Stored, pol *Policy) Incoming {
	in := Incoming{Stored: st, Digest: MessageDigest(st)}
	e, err := events.Decode(st.Data, false)
	if err != nil {
		in.Reject = err.Error()
		in.RejectID, in.RejectType = events.Peek(st.Data)
		return in
	}
	in.Event = e
	payload, err := events.Validate(e, pol.Rules())
	if err != nil {
		in.Reject = err.Error()
		return in
	}
	tol := time.Duration(pol.FutureToleranceSeconds) * time.Second
	if err := events.CheckNotFuture(e, st.Stored, tol); err != nil {
		in.Reject = err.Error()
		return in
	}
	if want := natsstore.SubjectFor(e.Subject, e.Type); want != st.Subject {
		in.Reject = fmt.Sprintf("subject %s does not match the event (a %s of account %q belongs on %s)", st.Subject, e.Type, e.Subject, want)
		return in
	}
	in.Payload = payload
	return in
}

// window bounds of the review of day n.
func (p *Projector) windowStart(n Day) Day { return n - Day(p.pol.Tiering.WindowDays) + 1 }
func (p *Projector) priorStart(n Day) Day {
	return p.windowStart(n) - Day(p.pol.Loyalty.PriorDays)
}

// oldestKept is the first day the next review can look at.
func (p *Projector) oldestKept() Day { return p.priorStart(p.next) }

// addToWindows adds a bucket's figures to the next review's window or
// prior period, whichever holds its day.
func (p *Projector) addToWindows(h *hot, b bucket) {
	switch {
	case b.day > p.next:
		// Cannot happen: an event after the next close runs the review first.
		panic(fmt.Sprintf("bucket of %s after the next review day %s", b.day, p.next))
	case b.day >= p.windowStart(p.next):
		h.live.revenue += b.revenue
		h.live.discounted += b.discounted
		h.live.orders += b.orders
		h.live.newProduct += b.newProduct
	case b.day >= p.priorStart(p.next):
		h.livePrior += b.orders
	default:
		return
	}
	p.touch(h)
}

// newAccount adds an account, with a slot for its review inputs.
func (p *Projector) newAccount(id string) *account {
	a := &account{id: id, slot: int32(len(p.hot))}
	for _, m := range []*mover{&a.movers.Tier, &a.movers.Key, &a.movers.Loyalty} {
		m.IDs, m.Seqs = []string{}, []uint64{}
	}
	a.movers.Tier.changed = true // its row is written with its first
	p.accounts[id] = a
	p.list = append(p.list, a)
	p.hot = append(p.hot, hot{acct: a, id: id})
	p.setPoints(a)
	p.touch(&p.hot[a.slot])
	return a
}

// setPoints refreshes the profile points the key-account score reads.
func (p *Projector) setPoints(a *account) {
	h := &p.hot[a.slot]
	svc := p.pol.KeyAccount.ServiceRequirementPoints[a.serviceReqOrStandard()]
	part := p.pol.KeyAccount.PartnershipPoints[a.partnershipOrNone()]
	if svc != h.svc || part != h.part {
		h.svc, h.part = svc, part
		p.touch(h)
	}
}

// closeBefore runs the reviews that in would run before it is applied, as
// far as the days whose close is at or before until, and reports whether
// any ran. A model built up to until so gets the reviews in force then, made
// by the event that made them in a model that goes on; in itself is not
// applied.
func (p *Projector) closeBefore(in Incoming, until time.Time) bool {
	if in.Stored.Seq <= p.appliedSeq || !p.started {
		return false
	}
	if reason, _ := p.setAside(in); reason != "" {
		return false // set aside when applied: it closes nothing
	}
	return p.closeDays(msTime(in.Event.Time), in.Stored.Seq, in.Event.ID, until)
}

// setAside says why in is set aside instead of applied ("" when it is
// applied), with the digest of its id (zero for a message that is no event).
func (p *Projector) setAside(in Incoming) (string, idDigest) {
	if in.Reject != "" {
		return in.Reject, idDigest{}
	}
	d := digestID(in.Event.ID)
	if first, dup := p.ids[d]; dup {
		return fmt.Sprintf("duplicate: event id %q was applied at sequence %d", in.Event.ID, first), d
	}
	return p.conflict(in), d
}

// closeDays runs the reviews of the days that an event at t closes, with
// that event's sequence and id, as far as the day whose close is at or
// before until (zero: no bound); it reports whether any ran.
func (p *Projector) closeDays(t time.Time, seq uint64, id string, until time.Time) bool {
	ran := false
	for !t.Before(p.next.Close()) && (until.IsZero() || !p.next.Close().After(until)) {
		p.review(p.next, seq, id)
		ran = true
	}
	return ran
}

// apply applies one message. Reviews of the days its time closes run first.
func (p *Projector) apply(in Incoming) {
	st := in.Stored
	if st.Seq <= p.appliedSeq {
		return // delivered again after a reconnect: applied already
	}
	if p.timing.batchEvents == 0 {
		p.timing.batchStart = time.Now() // metrics only
	}
	p.timing.batchEvents++
	defer func() { p.appliedSeq = st.Seq }()
	c := p.link(st, in.Digest)
	reason, d := p.setAside(in)
	if reason != "" {
		p.reject(in, reason)
		return
	}
	e := in.Event

	t := msTime(e.Time)
	if !p.started {
		p.started, p.next = true, DayOf(t)
	}
	p.closeDays(t, st.Seq, e.ID, time.Time{})
	if t.After(p.watermark) {
		p.watermark = t
	}
	p.ids[d] = st.Seq
	p.out.ids = append(p.out.ids, idEntry{d, st.Seq})
	p.applied++
	if e.Type == events.TypeClockTick {
		return
	}

	// The chain of the event's subject token is the account's (an event on
	// another account's subject is set aside): it keeps the account at
	// hand, a map lookup less an event.
	var a *account
	if c != nil {
		a = c.acct
	}
	if a == nil {
		if a = p.accounts[e.Subject]; a == nil {
			a = p.newAccount(e.Subject)
			a.firstSeen, a.firstSeq = t, st.Seq
		}
		if c != nil {
			c.acct = a
		}
	}
	a.lastSeq = st.Seq
	a.events++
	p.markDirty(a)

	switch pl := in.Payload.(type) {
	case *events.AccountRegistered:
		if a.registeredAt.IsZero() {
			a.registeredAt = t
		}
		p.setProfile(a, pl.Profile)
		a.movers.Key.add(e.ID, st.Seq)
	case *events.AccountUpdated:
		p.setProfile(a, pl.Profile)
		a.movers.Key.add(e.ID, st.Seq)
	case *events.OrderPlaced:
		p.amountTotal += pl.Amount
		a.ordersTotal++
		a.revenueTotal += pl.Amount
		if a.firstOrder.IsZero() || t.Before(a.firstOrder) {
			a.firstOrder = t
			p.touch(&p.hot[a.slot])
			p.scheduleLoyalty(a)
		}
		if t.After(a.lastOrder) {
			a.lastOrder = t
		}
		b := bucket{day: DayOf(t), revenue: pl.Amount, orders: 1}
		if pl.DiscountHundredths >= int64(p.pol.DiscountedOrderPct)*100 {
			b.discounted = pl.Amount
		}
		if pl.HasNewProduct() {
			b.newProduct = 1
		}
		p.addBucket(a, b)
		if pl.Amount != 0 { // a free order moves no revenue
			a.movers.Tier.add(e.ID, st.Seq)
		}
		a.movers.Key.add(e.ID, st.Seq)
		a.movers.Loyalty.add(e.ID, st.Seq)
	case *events.OrderReturned:
		p.amountTotal += pl.Amount
		a.returnsTotal++
		a.revenueTotal -= pl.Amount
		p.addBucket(a, bucket{day: DayOf(t), revenue: -pl.Amount, returns: 1})
		a.movers.Tier.add(e.ID, st.Seq)
		a.movers.Key.add(e.ID, st.Seq)
		a.movers.Loyalty.add(e.ID, st.Seq)
	case *events.VisitLogged:
		if pl.Competitor == "purchased" {
			a.movers.Loyalty.add(e.ID, st.Seq)
			if t.After(a.lastCompetitor) {
				a.lastCompetitor = t
				p.touch(&p.hot[a.slot])
				p.scheduleLoyalty(a)
			}
		}
		if pl.PartnershipDiscussed && a.partnershipOrNone() == "none" {
			a.partnership = "interested"
			p.setPoints(a)
			a.movers.Key.add(e.ID, st.Seq)
		}
		if pl.Contact.Role != "" || pl.Contact.Name != "" {
			p.visitContact(a.id, pl.Contact, t, st.Seq)
		}
	case *events.ComplaintFiled:
		it := p.item(a.id, KindComplaint, pl.ComplaintID)
		dec := a.decisionAt(t)
		col, hours := ComplaintTarget(p.pol, pl.Severity, dec.tier, dec.key)
		it.priority, it.openedAt, it.openedSeq = pl.Severity, instantOf(t), st.Seq
		it.tier, it.key, it.column = tierOrC(dec.tier), dec.key, col
		it.resolutionDue = instantOf(t.Add(time.Duration(hours) * time.Hour))
	case *events.ComplaintResolved:
		it := p.item(a.id, KindComplaint, pl.ComplaintID)
		if at := instantOf(t); it.resolvedAt.IsZero() || at < it.resolvedAt {
			it.resolvedAt = at
		}
		if pl.Satisfied != nil {
			it.satisfied = -1
			if *pl.Satisfied {
				it.satisfied = 1
			}
		}
	case *events.ServiceRequestOpened:
		it := p.item(a.id, KindRequest, pl.RequestID)
		dec := a.decisionAt(t)
		col, tg := RequestTargets(p.pol, pl.Priority, dec.tier, dec.key)
		it.priority, it.openedAt, it.openedSeq = pl.Priority, instantOf(t), st.Seq
		it.tier, it.key, it.column = tierOrC(dec.tier), dec.key, col
		it.responseDue = instantOf(t.Add(time.Duration(tg.ResponseHours) * time.Hour))
		it.resolutionDue = instantOf(t.Add(time.Duration(tg.ResolutionHours) * time.Hour))
	case *events.ServiceRequestResponded:
		it := p.item(a.id, KindRequest, pl.RequestID)
		if at := instantOf(t); it.respondedAt.IsZero() || at < it.respondedAt {
			it.respondedAt = at
		}
	case *events.ServiceRequestResolved:
		it := p.item(a.id, KindRequest, pl.RequestID)
		if at := instantOf(t); it.resolvedAt.IsZero() || at < it.resolvedAt {
			it.resolvedAt = at
		}
	}
}

// ChainLink is the next link of a hash chain: SHA-256 of the previous link
// and the message's digest (MessageDigest, which can be computed ahead,
// beside the chain's order).
func ChainLink(prev, messageDigest [32]byte) [32]byte {
	var buf [64]byte
	copy(buf[:32], prev[:])
	copy(buf[32:], messageDigest[:])
	return sha256.Sum256(buf[:])
}

// MessageDigest is the SHA-256 of a message as stored, with its place:
// its sequence (8 bytes, big-endian), its subject, a zero byte, its bytes.
// With the sequence in it, two messages of different accounts cannot trade
// places in the log, nor a message move to another subject, unseen by the
// chains (rules 4; before, a link hashed the message's bytes alone).
func MessageDigest(st events.Stored) [32]byte {
	h := sha256.New()
	var buf [256]byte // the sequence and subject, most often without an allocation
	head := binary.BigEndian.AppendUint64(buf[:0], st.Seq)
	head = append(append(head, st.Subject...), 0)
	h.Write(head)
	h.Write(st.Data)
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// TickChain is the token (and label) of the chain over the clock ticks:
// the tick subject itself, which no account's token can be (an account's
// token holds no dot).
const TickChain = natsstore.TickSubject

// ChainOf names the chain a message of subject extends: the account's whose
// subject it is on, or the clock ticks'; the label is the account id (the
// token itself, said so, when it names no account kam makes).
func ChainOf(subject string) (token, label string, ok bool) {
	if subject == natsstore.TickSubject {
		return TickChain, TickChain, true
	}
	if token, ok := natsstore.TokenOf(subject); ok {
		return token, natsstore.ChainLabel(token), true
	}
	return "", "", false
}

// link extends the hash chain of the account whose subject the message is
// on (or the clock ticks'), whatever the message holds: the chains cover
// the log as stored, every message of it.
func (p *Projector) link(st events.Stored, digest [32]byte) *chain {
	token, label, ok := ChainOf(st.Subject)
	if !ok {
		return nil
	}
	c := p.chains[token]
	if c == nil {
		c = &chain{token: token, account: label}
		p.chains[token] = c
	}
	c.head = ChainLink(c.head, digest)
	c.length++
	c.lastSeq = st.Seq
	// A list, not a map by token: a map write a message was 0.5 s of a
	// replay's applying.
	if !c.queued {
		c.queued = true
		p.out.chains = append(p.out.chains, c)
	}
	return c
}

func tierOrC(t string) string {
	if t == "" {
		return TierC
	}
	return t
}

// conflict returns why a valid event cannot be applied to the current
// state, or "": an amount that would take the sum of all amounts applied past
// 2^62 minor units (every revenue sum kam keeps is bounded by that sum, so
// none can overflow), or a second opening of the same service request or
// complaint (the first one's priority and time stand).
func (p *Projector) conflict(in Incoming) string {
	var kind, id string
	switch pl := in.Payload.(type) {
	case *events.OrderPlaced:
		return p.amountConflict(pl.Amount)
	case *events.OrderReturned:
		return p.amountConflict(pl.Amount)
	case *events.ServiceRequestOpened:
		kind, id = KindRequest, pl.RequestID
	case *events.ComplaintFiled:
		kind, id = KindComplaint, pl.ComplaintID
	default:
		return ""
	}
	if it := p.items[itemKey{in.Event.Subject, kind, id}]; it != nil && !it.openedAt.IsZero() {
		return fmt.Sprintf("%s %q of account %q was already opened at sequence %d", kind, id, in.Event.Subject, it.openedSeq)
	}
	return ""
}

// maxAmountTotal bounds the sum of all amounts applied.
const maxAmountTotal = int64(1) << 62

func (p *Projector) amountConflict(amount int64) string {
	if amount > maxAmountTotal-p.amountTotal {
		return fmt.Sprintf("the amounts applied would exceed %d minor units in all, beyond which kam's sums could overflow", maxAmountTotal)
	}
	return ""
}

func (p *Projector) reject(in Incoming, reason string) {
	p.rejected++
	r := rejectedRow{seq: in.Stored.Seq, subject: in.Stored.Subject, storedAt: in.Stored.Stored, reason: reason}
	if in.Event != nil {
		r.eventID, r.eventType = in.Event.ID, in.Event.Type
	} else {
		r.eventID, r.eventType = in.RejectID, in.RejectType
	}
	p.out.rejected = append(p.out.rejected, r)
}

func (p *Projector) setProfile(a *account, pr events.Profile) {
	set := func(dst **string, v *string) {
		if v != nil {
			s := *v
			*dst = &s
		}
	}
	set(&a.name, pr.Name)
	set(&a.industry, pr.Industry)
	set(&a.region, pr.Region)
	set(&a.manager, pr.Manager)
	if pr.Partnership != nil && *pr.Partnership != a.partnership {
		a.partnership = *pr.Partnership
		p.setPoints(a)
	}
	if pr.ServiceRequirement != nil && *pr.ServiceRequirement != a.serviceReq {
		a.serviceReq = *pr.ServiceRequirement
		p.setPoints(a)
	}
}

// addBucket adds an event's figures to its day: to the table (as a delta),
// and to the windows when its day is still in reach of a review.
func (p *Projector) addBucket(a *account, delta bucket) {
	// Events are applied after the reviews their time closes, so the next
	// review is the first to count them: the day itself, or a later one
	// for an event that arrived late.
	key := dayKey{a.id, delta.day, p.next}
	if cur, ok := p.out.days[key]; ok {
		cur.add(delta)
	} else {
		d := delta
		p.out.days[key] = &d
	}
	if delta.day < p.oldestKept() {
		return // only late history: no review will look at that day again
	}
	b, created := a.bucketAt(delta.day)
	if created {
		p.byDay[delta.day] = append(p.byDay[delta.day], a)
	}
	b.add(delta)
	p.addToWindows(&p.hot[a.slot], delta)
}

// item returns the service request or complaint, creating it (a response or
// resolution may be applied before its opening).
func (p *Projector) item(acct, kind, id string) *slaItem {
	k := itemKey{acct, kind, id}
	it := p.items[k]
	if it == nil {
		it = &slaItem{account: acct, kind: kind, id: id}
		p.items[k] = it
	}
	p.out.items[k] = it
	return it
}

const unspecifiedRole = "unspecified"

func (p *Projector) visitContact(acct string, c events.Contact, t time.Time, seq uint64) {
	role := c.Role
	if role == "" {
		role = unspecifiedRole
	}
	p.out.visits = append(p.out.visits, visitRow{account: acct, seq: seq, at: t, role: role, name: c.Name})
	k := contactKey{acct, role, c.Name}
	ct := p.contacts[k]
	if ct == nil {
		ct = &contact{account: acct, role: role, name: c.Name, first: t, last: t}
		p.contacts[k] = ct
	}
	ct.visits++
	if t.Before(ct.first) {
		ct.first = t
	}
	if t.After(ct.last) {
		ct.last = t
	}
	p.out.contacts[k] = ct
}
