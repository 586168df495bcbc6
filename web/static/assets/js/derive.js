// What the dashboard derives from the API's answers: tier movements between
// two moments, revenue by month and open service items from an account's
// events, and the reason of each history row in words. Pure functions.

import { digitsOf, fmtMoney, fromMinor, toMinor, fmtDateTime, LOYALTY_LABEL, reviewDay, fmtDay } from "./format.js";

const RANK = { A: 3, B: 2, C: 1 };

// movements compares the accounts' tiers at two moments (two answers of
// /v1/accounts, the second with as_of). It sees net changes: an account that
// went A → B → A in between did not move.
export function movements(now, then) {
  const before = new Map(then.map((a) => [a.id, a]));
  const res = { up: [], down: [], entered: [], keyGained: [], keyLost: [], matrix: {} };
  for (const from of ["none", "A", "B", "C"]) res.matrix[from] = { A: 0, B: 0, C: 0 };
  for (const a of now) {
    if (!a.tier) continue;
    const b = before.get(a.id);
    const from = b && b.tier ? b.tier : null;
    res.matrix[from || "none"][a.tier]++;
    const m = { account: a, from, to: a.tier };
    if (!from) res.entered.push(m);
    else if (RANK[a.tier] > RANK[from]) res.up.push(m);
    else if (RANK[a.tier] < RANK[from]) res.down.push(m);
    const wasKey = !!(b && b.key_account);
    if (a.key_account && !wasKey) res.keyGained.push(a);
    if (!a.key_account && wasKey) res.keyLost.push(a);
  }
  return res;
}

function monthStart(ms) {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
}

function nextMonth(ms) {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

// revenueByMonth sums order.placed minus order.returned amounts per calendar
// month (UTC) of the event's business time, from the first order's month to
// untilMs's month. digits is the currency's number of decimals.
export function revenueByMonth(events, digits, untilMs) {
  const sums = new Map();
  let first = null;
  let total = 0n;
  for (const e of events) {
    if (e.type !== "order.placed" && e.type !== "order.returned") continue;
    if (!e.data || e.data.amount === undefined) continue;
    const t = Date.parse(e.time);
    const m = monthStart(t);
    let v = toMinor(e.data.amount, digits);
    if (e.type === "order.returned") v = -v;
    sums.set(m, (sums.get(m) || 0n) + v);
    total += v;
    if (first === null || m < first) first = m;
  }
  if (first === null) return { months: [], total: fromMinor(0n, digits) };
  const last = Math.max(monthStart(untilMs), ...sums.keys());
  const months = [];
  for (let m = first; m <= last; m = nextMonth(m)) {
    const v = sums.get(m) || 0n;
    months.push({ start: m, end: nextMonth(m), minor: v, amount: fromMinor(v, digits) });
  }
  return { months, total: fromMinor(total, digits) };
}

// openItems follows an account's service requests and complaints through
// its events and returns those not resolved yet, oldest first.
export function openItems(events) {
  const items = new Map();
  const item = (kind, id) => {
    const k = kind + ":" + id;
    if (!items.has(k)) items.set(k, { kind, id });
    return items.get(k);
  };
  for (const e of events) {
    const d = e.data || {};
    switch (e.type) {
      case "service_request.opened": {
        const it = item("request", d.request_id);
        Object.assign(it, { opened: e.time, level: d.priority, what: d.kind || "", description: d.description || "", seq: e.seq });
        break;
      }
      case "service_request.responded": {
        const it = item("request", d.request_id);
        if (!it.responded) it.responded = e.time;
        break;
      }
      case "service_request.resolved":
        item("request", d.request_id).resolved = e.time;
        break;
      case "complaint.filed": {
        const it = item("complaint", d.complaint_id);
        Object.assign(it, { opened: e.time, level: d.severity, what: d.category || "", description: d.description || "", seq: e.seq });
        break;
      }
      case "complaint.resolved":
        item("complaint", d.complaint_id).resolved = e.time;
        break;
    }
  }
  return [...items.values()].filter((it) => it.opened && !it.resolved).sort((a, b) => Date.parse(a.opened) - Date.parse(b.opened));
}

function pct(num, den) {
  // Both are decimal strings of the same currency.
  const d = digitsOf(den);
  const n = toMinor(num, d);
  const t = toMinor(den, d);
  if (t === 0n) return "0";
  // Truncated, not rounded: 94.96% reads 94.9%, never the 95% it is under.
  return (Number((n * 1000n) / t) / 10).toFixed(1);
}

// tierReason says in words why a tier history row decided what it did.
export function tierReason(r) {
  if (r.rank === null || r.rank === undefined) {
    return `Revenue ${fmtMoney(r.revenue)} in the ${r.window_days}-day window is not above zero: not ranked, so C.`;
  }
  if (r.rank === 1) {
    return `Ranked first of ${r.ranked} with ${fmtMoney(r.revenue)} of ${fmtMoney(r.total_revenue)}: no account ranks above it, so A.`;
  }
  const p = pct(r.before_revenue, r.total_revenue);
  const base = `Ranked ${r.rank} of ${r.ranked} with ${fmtMoney(r.revenue)}; the accounts above it hold ${p}% of ${fmtMoney(r.total_revenue)}`;
  const before100 = toMinor(r.before_revenue, digitsOf(r.total_revenue)) * 100n;
  const total = toMinor(r.total_revenue, digitsOf(r.total_revenue));
  if (before100 < BigInt(r.cut_a) * total) return `${base}, under A's cut of ${r.cut_a}%.`;
  if (before100 < BigInt(r.cut_b) * total) return `${base}: at or over A's cut of ${r.cut_a}%, under B's ${r.cut_b}%.`;
  return `${base}: at or over B's cut of ${r.cut_b}%.`;
}

export function keyReason(r) {
  const parts = `volume ${r.score_volume}, concentration ${r.score_concentration}, service ${r.score_service_requirement}, ` +
    `price insensitivity ${r.score_price_insensitivity}, partnership ${r.score_partnership}`;
  let why;
  if (r.to_key) why = `Tier A and score ${r.score} ≥ ${r.min_score}.`;
  else if (r.tier !== "A") why = `Tier ${r.tier}: only A accounts are key accounts (score ${r.score}).`;
  else why = `Score ${r.score} is under ${r.min_score}.`;
  return `${why} Parts: ${parts}.`;
}

export function loyaltyReason(r) {
  let why = (r.reason || "").trim();
  if (why && !why.endsWith(".")) why += ".";
  if (r.from_early_adopter !== null && r.from_early_adopter !== r.to_early_adopter) {
    why += r.to_early_adopter ? " Now an early adopter: a window order holds a new product." : " No longer an early adopter.";
  }
  return why.trim();
}

// timeline merges the three histories into one list of changes, newest first.
export function timeline(tiers, keys, loyalty) {
  const out = [];
  for (const r of tiers) out.push({ kind: "tier", at: r.effective, from: r.from_tier, to: r.to_tier, why: tierReason(r), row: r });
  for (const r of keys) out.push({ kind: "key", at: r.effective, from: r.from_key, to: r.to_key, why: keyReason(r), row: r });
  for (const r of loyalty) {
    out.push({ kind: "loyalty", at: r.effective, from: r.from_loyalty, to: r.to_loyalty, why: loyaltyReason(r), row: r });
  }
  const order = { tier: 0, key: 1, loyalty: 2 };
  return out.sort((a, b) => Date.parse(b.at) - Date.parse(a.at) || order[a.kind] - order[b.kind]);
}

// segments turns one history into [start, end) spans of a value, for the
// tier track; the last span runs to untilMs.
export function segments(rows, field, untilMs) {
  const out = [];
  rows.forEach((r, i) => {
    const start = Date.parse(r.effective);
    const end = i + 1 < rows.length ? Date.parse(rows[i + 1].effective) : untilMs;
    if (end <= start) return;
    const prev = out[out.length - 1];
    // A row may change another field only (the early-adopter flag): one span.
    if (prev && prev.value === r[field] && prev.end === start) prev.end = end;
    else out.push({ start, end, value: r[field] });
  });
  return out;
}

// eventFamily groups event types for colour.
export function eventFamily(type) {
  if (type === "order.placed") return "order";
  if (type === "order.returned") return "return";
  if (type.startsWith("visit.")) return "visit";
  if (type.startsWith("complaint.")) return "complaint";
  if (type.startsWith("service_request.")) return "request";
  if (type === "clock.tick") return "tick";
  return "account";
}

const ROLE_WORD = { decision_maker: "decision maker", influencer: "influencer", purchaser: "purchaser", user: "user" };

// eventSummary is one line about an event for the history list.
export function eventSummary(e) {
  const d = e.data || {};
  const join = (...xs) => xs.filter(Boolean).join(" · ");
  switch (e.type) {
    case "account.registered":
      return join(`Registered ${d.name || ""}`.trim(), d.industry, d.region, d.manager && "manager " + d.manager);
    case "account.updated":
      return "Updated " + Object.entries(d).map(([k, v]) => `${k}: ${typeof v === "object" ? JSON.stringify(v) : v}`).join(", ");
    case "order.placed": {
      const newProduct = Array.isArray(d.lines) && d.lines.some((l) => l && l.new_product);
      return join(`Order ${d.order_id} · ${fmtMoney(d.amount)}`, d.discount_pct ? `${d.discount_pct}% discount` : "",
        d.channel, newProduct && "new product");
    }
    case "order.returned":
      return d.order_id ? `Return of ${d.order_id} · -${fmtMoney(d.amount)}` : `Credit note · -${fmtMoney(d.amount)}`;
    case "visit.logged": {
      const c = d.contact || {};
      return join(`${d.kind ? d.kind[0].toUpperCase() + d.kind.slice(1) + " visit" : "Visit"} by ${d.rep}`,
        c.name && `${c.name}${c.role ? ", " + (ROLE_WORD[c.role] || c.role) : ""}`,
        d.competitor && d.competitor !== "none" && "competitor " + d.competitor, d.partnership_discussed && "partnership discussed");
    }
    case "complaint.filed":
      return join(`Complaint ${d.complaint_id}`, d.severity, d.category, d.description);
    case "complaint.resolved":
      return join(`Complaint ${d.complaint_id} resolved`, d.resolution, d.satisfied === true ? "satisfied" : d.satisfied === false ? "not satisfied" : "");
    case "service_request.opened":
      return join(`Request ${d.request_id}`, d.priority, d.kind, d.description);
    case "service_request.responded":
      return `Request ${d.request_id} responded`;
    case "service_request.resolved":
      return join(`Request ${d.request_id} resolved`, d.resolution);
    case "clock.tick":
      return "Clock tick";
    default:
      return e.type;
  }
}

// changeTrace is the audit line of a history row: which review, which event.
export function changeTrace(r) {
  return `Review of ${fmtDay(reviewDay(r.effective))} (effective ${fmtDateTime(r.effective)}), closed by event #${r.close_seq} ${r.close_event_id}`;
}

export function loyaltyLabel(l) {
  return l ? LOYALTY_LABEL[l] || l : "none";
}
