// Account: the profile and figures of /v1/accounts/{id}, the timeline of its
// tier, key and loyalty histories with the reason of each change, revenue by
// month, open service items and the event history read from /v1/events.

import { get, cached, accountEvents, policy } from "../api.js";
import { h, clear, card, link, apiHref, tierBadge, keyChip, loyaltyChip, empty, meter } from "../dom.js";
import { fmtMoney, fmtCompact, fmtInt, fmtPct, fmtDate, fmtDateTime, fmtHours, fmtDay, addDays, daysAgo, digitsOf, plural, ROLE_LABEL, LOYALTY_LABEL, reviewDay } from "../format.js";
import { monthly, track, tierStyle, keyStyle, loyaltyStyle, legend } from "../charts.js";
import { timeline, segments, revenueByMonth, openItems, eventSummary, eventFamily, changeTrace } from "../derive.js";

const EVENTS_PAGE = 50;
const ROLE_ORDER = ["decision_maker", "influencer", "purchaser", "user"];

export async function render(main, ctx) {
  const id = ctx.params[0];
  const enc = encodeURIComponent(id);
  let acct;
  try {
    acct = await get("/v1/accounts/" + enc, ctx.signal);
  } catch (err) {
    if (err.status === 404) {
      clear(main, h("div", { class: "card" }, h("h1", {}, "No such account"),
        h("p", {}, "kam knows no account ", h("code", {}, id), ". ", link("/accounts", {}, "Search the accounts"))));
      return;
    }
    throw err;
  }
  const [tiers, keys, loyalty, abc, pol] = await Promise.all([
    get(apiHref(id, "tiers"), ctx.signal), get(apiHref(id, "key"), ctx.signal), get(apiHref(id, "loyalty"), ctx.signal),
    cached("/v1/reports/abc").catch(() => null), policy(),
  ]);
  if (ctx.signal.aborted) return;
  document.title = `${acct.name || id} · kam`;

  const revenueBox = h("div", {}, h("p", { class: "loading" }, "Reading the account's events…"));
  const itemsBox = h("div", {});
  const historyBox = h("div", {}, h("p", { class: "loading" }, "Reading the account's events…"));
  const untilMs = abc ? Date.parse(abc.as_of) : Date.now();
  const windowDays = tiers.history.length ? tiers.history[tiers.history.length - 1].window_days : 365;

  clear(main,
    h("div", { class: "crumb" }, link("/accounts", {}, "Accounts"), " / ", h("span", { class: "mono" }, id)),
    profile(acct),
    alerts(acct, pol),
    facts(acct, pol),
    h("div", { class: "grid" },
      card({ title: "Revenue by month", sub: `Orders minus returns by business month; shaded: the ${windowDays}-day window of the last review`, class: "span-8", id: "revenue" }, revenueBox),
      card({ title: "Key-account score", sub: "Five criteria, each 0–100, weighted by the policy", class: "span-4", id: "score" }, scoreCard(acct, keys.history, pol)),
      card({ title: "Timeline", sub: "Every change of tier, key account and loyalty, with the reason the review gave", class: "span-12", id: "timeline", test: "timeline" },
        timelineView(acct, tiers.history, keys.history, loyalty.history, untilMs, revealEvent)),
      card({ title: "Service", sub: "Requests and complaints, against the targets of the tier at opening", class: "span-6", id: "service" }, slaStats(acct), itemsBox),
      card({ title: "Contacts", sub: "By role, with the last visit", class: "span-6", id: "contacts" }, contacts(acct)),
      card({ title: "Event history", sub: "The account's facts as stored in the log, newest first", class: "span-12", id: "history", test: "history",
        action: h("a", { href: "/v1/events?account=" + enc, target: "_blank", rel: "noopener", class: "faint" }, "as JSON") }, historyBox)));

  let showEvent = null;
  function revealEvent(evId) {
    if (showEvent) showEvent(evId);
  }

  const loadEvents = (async () => {
    const { events, truncated } = await accountEvents(id, ctx.signal);
    if (ctx.signal.aborted) return;
    const digits = digitsOf(acct.revenue_total);
    const fromMs = Date.parse(addDays(abc ? abc.day : new Date(untilMs).toISOString().slice(0, 10), -windowDays + 1) + "T00:00:00Z");
    const rev = revenueByMonth(events, digits, untilMs);
    clear(revenueBox, rev.months.length ? monthly(rev.months, fromMs, untilMs) : empty("No order yet."),
      h("div", { class: "card-foot" }, "Sum of the months: ", h("strong", { "data-test": "revenue-sum" }, fmtMoney(rev.total)),
        rev.total === acct.revenue_total ? " — equals the account's all-time revenue." : ` — the account's all-time revenue is ${fmtMoney(acct.revenue_total)}.`,
        truncated ? " (only the first events were read)" : ""));
    clear(itemsBox, openItemsTable(openItems(events), acct));
    showEvent = eventHistory(historyBox, events, truncated);
  })();
  await ctx.track(loadEvents, "load", historyBox);
}

function profile(a) {
  const meta = [
    a.industry, a.region, a.manager ? "Manager: " + a.manager : null,
    a.first_order_at ? "Customer since " + fmtDate(a.first_order_at) : "First seen " + fmtDate(a.first_seen_at),
  ].filter(Boolean);
  return h("div", { class: "acct-head", style: { marginBottom: "18px" } },
    h("div", { class: "title" },
      h("h1", {}, tierBadge(a.tier, true), h("span", { "data-test": "acct-name" }, a.name || a.id)),
      h("div", { class: "meta" }, h("span", { class: "mono" }, a.id), meta.map((m) => h("span", {}, m))),
      h("div", { class: "chips" },
        keyChip(a.key_account), loyaltyChip(a.loyalty), a.early_adopter ? h("span", { class: "chip early" }, "✦ early adopter") : null,
        h("span", { class: "chip" }, "partnership: " + a.partnership), h("span", { class: "chip" }, "service: " + a.service_requirement),
        a.tier_since ? h("span", { class: "chip", title: fmtDateTime(a.tier_since) }, `tier ${a.tier} since ${fmtDay(reviewDay(a.tier_since))}`) : null)),
    h("div", { class: "links", style: { fontSize: "12.5px" } },
      h("span", { class: "faint" }, "JSON:"),
      h("a", { href: apiHref(a.id), target: "_blank", rel: "noopener" }, "account"),
      h("a", { href: apiHref(a.id, "tiers"), target: "_blank", rel: "noopener" }, "tiers"),
      h("a", { href: apiHref(a.id, "key"), target: "_blank", rel: "noopener" }, "key"),
      h("a", { href: apiHref(a.id, "loyalty"), target: "_blank", rel: "noopener" }, "loyalty"),
      link("/audit?account=" + encodeURIComponent(a.id) + "#trail", {}, "audit trail →")));
}

function alerts(a, pol) {
  const out = [];
  const overdue = a.sla.requests.overdue_now + a.sla.complaints.overdue_now;
  if (overdue) out.push(h("div", { class: "alert bad", "data-test": "alert-overdue" }, "⚠", h("span", {}, `${plural(overdue, "service item")} overdue now. `, h("a", { href: "#service" }, "See service"))));
  if (a.decision_maker_stale) {
    const stale = (a.contacts.decision_maker || []).filter((c) => c.stale).map((c) => `${c.name} (${c.days_since_visit} days)`);
    out.push(h("div", { class: "alert bad", "data-test": "alert-stale" }, "⚠", h("span", {}, pol ? `No visit to a decision maker for more than ${pol.coverage.decision_maker_days} days: ` : "No recent visit to a decision maker (the policy's coverage.decision_maker_days): ", stale.join(", "), ".")));
  } else if (!(a.contacts.decision_maker || []).length && a.tier === "A") {
    out.push(h("div", { class: "alert warn" }, "ⓘ", h("span", {}, "No decision maker known at this A account.")));
  }
  return out;
}

function fact(label, value, sub, test) {
  return h("div", { class: "card kpi" }, h("div", { class: "label" }, label), h("div", { class: "value", "data-test": test }, value), h("div", { class: "sub" }, sub));
}

function facts(a, pol) {
  const cur = pol ? " · " + pol.currency : "";
  return h("div", { class: "facts" },
    fact(`Revenue in window${cur}`, h("span", { title: fmtMoney(a.revenue_window) }, fmtCompact(a.revenue_window)),
      h("span", { "data-test": "acct-revenue-window" }, fmtMoney(a.revenue_window))),
    fact(`Revenue all time${cur}`, h("span", { title: fmtMoney(a.revenue_total) }, fmtCompact(a.revenue_total)),
      h("span", { "data-test": "acct-revenue-total" }, fmtMoney(a.revenue_total))),
    fact("Tier", h("span", { "data-test": "acct-tier" }, a.tier || "–"), a.rank ? `rank ${fmtInt(a.rank)}` : "not ranked"),
    fact("Orders", fmtInt(a.orders_window), `in window · ${fmtInt(a.orders_total)} all time`, "acct-orders"),
    fact("Returns", fmtInt(a.returns_total), "all time"),
    fact("Last order", h("span", { class: "sm" }, a.last_order_at ? fmtDate(a.last_order_at) : "—"), a.last_order_at ? `${daysAgo(a.last_order_at, Date.now())} days ago` : "no order"));
}

function scoreCard(a, keyRows, pol) {
  if (!a.key_score) return empty("Not reviewed yet.");
  const min = keyRows.length ? keyRows[keyRows.length - 1].min_score : null;
  const w = pol ? pol.key_account.weights : {};
  const parts = [
    ["Volume", a.key_score.volume, w.volume], ["Concentration", a.key_score.concentration, w.concentration],
    ["Service requirement", a.key_score.service_requirement, w.service_requirement],
    ["Price insensitivity", a.key_score.price_insensitivity, w.price_insensitivity], ["Partnership", a.key_score.partnership, w.partnership],
  ];
  return [
    h("div", { style: { display: "flex", alignItems: "baseline", gap: "10px" } },
      h("span", { class: "score-big", "data-test": "acct-score" }, a.key_score.score.toFixed(2)), // exact: basis points, so 59.96 never reads as 60
      h("span", { class: "muted" }, min !== null ? `threshold ${min}` : ""),
      keyChip(a.key_account)),
    h("div", { class: "parts" }, parts.map(([label, v, weight]) => {
      const fill = h("div", {});
      fill.style.width = v + "%";
      return h("div", { class: "part" }, h("span", { class: "muted" }, label, weight !== undefined ? h("span", { class: "faint" }, ` · ${weight}%`) : null),
        h("div", { class: "bar" }, fill), h("span", { class: "num" }, v.toFixed(0)));
    })),
  ];
}

function timelineView(a, tiers, keys, loyalty, untilMs, revealEvent) {
  const changes = timeline(tiers, keys, loyalty);
  if (!changes.length) return empty("No review has decided anything about this account yet.");
  const starts = [tiers, keys, loyalty].filter((r) => r.length).map((r) => Date.parse(r[0].effective));
  const fromMs = Math.min(...starts);
  const lanes = [
    { label: "Tier", segments: segments(tiers, "to_tier", untilMs), style: tierStyle },
    { label: "Key", segments: segments(keys, "to_key", untilMs), style: keyStyle },
    { label: "Loyalty", segments: segments(loyalty, "to_loyalty", untilMs), style: loyaltyStyle },
  ];
  const what = (c) => {
    if (c.kind === "tier") return [c.from ? tierBadge(c.from) : h("span", { class: "faint" }, "first review"), "→", tierBadge(c.to)];
    if (c.kind === "key") return c.to ? h("span", { class: "chip key" }, c.from === null ? "★ key account at first review" : "★ became a key account")
      : h("span", { class: "chip" }, c.from === null ? "not a key account at first review" : "no longer a key account");
    if (c.from === c.to) {
      return [h("span", { class: "chip " + c.to }, LOYALTY_LABEL[c.to] || c.to),
        h("span", { class: "chip early" }, c.row.to_early_adopter ? "✦ early adopter" : "no longer early adopter")];
    }
    return [c.from ? h("span", { class: "chip " + c.from }, LOYALTY_LABEL[c.from] || c.from) : h("span", { class: "faint" }, "first status"), "→",
      h("span", { class: "chip " + c.to }, LOYALTY_LABEL[c.to] || c.to)];
  };
  const moved = (r) => {
    if (!r.moved_count) return null;
    const ids = r.moved_ids || [];
    return h("div", { class: "trace" }, `Moved by ${plural(r.moved_count, "event")} since the previous change`,
      ids.length ? [": ", ids.map((evId, i) => [i ? ", " : "", h("button", { type: "button", class: "btn link mono", onclick: () => revealEvent(evId) }, evId)]),
        r.moved_count > ids.length ? ` (latest ${ids.length})` : ""] : "");
  };
  return [
    track(lanes, fromMs, untilMs),
    legend([["sw-A", "A"], ["sw-B", "B"], ["sw-C", "C"], ["sw-key", "key account"], ["sw-loyal", "loyal"], ["sw-new", "new"],
      ["sw-no_brand_loyalty", "no brand loyalty"], ["sw-brand_switching", "brand switching"]]),
    h("ul", { class: "changes", "data-test": "changes" }, changes.map((c) => h("li", { "data-kind": c.kind },
      h("div", {}, h("div", { class: "when" }, fmtDay(reviewDay(c.at))), h("div", { class: "kind-tag" }, c.kind)),
      h("div", { class: "what" }, what(c)),
      h("div", {}, h("div", { class: "why" }, c.why), moved(c.row),
        h("div", { class: "trace" }, changeTrace(c.row)))))),
  ];
}

function slaStats(a) {
  const r = a.sla.requests;
  const c = a.sla.complaints;
  const stat = (n, t, bad, test) => h("div", { class: "stat" }, h("div", { class: ["n", bad && "bad"], "data-test": test }, fmtInt(n)), h("div", { class: "t" }, t));
  return [
    h("div", { class: "stat-row" },
      stat(r.opened, "requests"), stat(r.open, "open", false, "acct-req-open"), stat(r.overdue_now, "overdue", r.overdue_now > 0, "acct-req-overdue"),
      stat(c.opened, "complaints"), stat(c.open, "open", false, "acct-cmp-open"), stat(c.overdue_now, "overdue", c.overdue_now > 0, "acct-cmp-overdue")),
    h("table", { class: "sla-table" }, h("tbody", {},
      h("tr", {}, h("td", { class: "muted" }, "First response"), h("td", {}, meter(r.response ? r.response.compliance : null)),
        h("td", { class: "num muted" }, r.response && r.response.median_hours !== null ? "median " + fmtHours(r.response.median_hours) : "")),
      h("tr", {}, h("td", { class: "muted" }, "Resolution"), h("td", {}, meter(r.resolution.compliance)),
        h("td", { class: "num muted" }, r.resolution.median_hours !== null ? "median " + fmtHours(r.resolution.median_hours) : "")),
      h("tr", {}, h("td", { class: "muted" }, "Complaints"), h("td", {}, meter(c.resolution.compliance)),
        h("td", { class: "num muted" }, c.resolution.median_hours !== null ? "median " + fmtHours(c.resolution.median_hours) : "")))),
  ];
}

function openItemsTable(items, a) {
  if (!items.length) return h("p", { class: "empty" }, "No open request or complaint.");
  const overdue = a.sla.requests.overdue_now + a.sla.complaints.overdue_now;
  const now = Date.now();
  let note = "";
  if (overdue === items.length) note = "All of them are overdue.";
  else if (overdue > 0) note = `${overdue} of them ${overdue === 1 ? "is" : "are"} overdue; the API does not yet say which.`;
  const allOverdue = overdue === items.length;
  return [
    h("h3", { style: { fontSize: "13px", margin: "16px 0 6px" } }, `Open items (${items.length})`),
    h("div", { class: "table-wrap" }, h("table", { class: "items", "data-test": "open-items" },
      h("thead", {}, h("tr", {}, h("th", {}, "Item"), h("th", {}, "Level"), h("th", {}, "Opened"), h("th", { class: "num" }, "Age"), h("th", { class: "opt" }, "Responded"))),
      h("tbody", {}, items.map((it) => h("tr", {},
        h("td", {}, h("span", { class: "mono" }, it.id), h("div", { class: "faint" }, it.kind === "request" ? "request" : "complaint", it.what ? " · " + it.what : "")),
        h("td", {}, h("span", { class: ["chip", (it.level === "urgent" || it.level === "critical") && "bad", (it.level === "high") && "warn"] }, it.level || "—")),
        h("td", { class: "nowrap" }, fmtDate(it.opened)),
        h("td", { class: "num" }, h("span", { class: allOverdue ? "chip bad" : "" }, `${daysAgo(it.opened, now)} d`)),
        h("td", { class: "opt" }, it.kind === "complaint" ? "—" : it.responded ? fmtDate(it.responded) : h("span", { class: "chip warn" }, "not yet"))))))),
    note ? h("p", { class: "note" }, note) : null,
  ];
}

function contacts(a) {
  const roles = Object.keys(a.contacts).sort((x, y) => (ROLE_ORDER.indexOf(x) + 99) % 99 - (ROLE_ORDER.indexOf(y) + 99) % 99);
  if (!roles.length) return empty("No visit logged yet.");
  return h("div", { class: "roles", "data-test": "contacts" }, roles.map((role) => h("div", { class: "role" },
    h("h3", {}, ROLE_LABEL[role] || role),
    a.contacts[role].map((c) => {
      const dmStale = role === "decision_maker" && c.stale;
      return h("div", { class: ["contact", dmStale && "stale"], "data-stale": dmStale ? "true" : null },
        h("div", {}, h("strong", {}, c.name), h("div", { class: "faint" }, plural(c.visits, "visit"))),
        h("div", { class: "last" }, "last visit " + fmtDate(c.last_visit_at),
          h("div", {}, dmStale ? `⚠ ${c.days_since_visit} days ago` : `${c.days_since_visit} days ago`)));
    }))));
}

// eventHistory lists the events newest first, EVENTS_PAGE at a time, and
// returns a function that reveals (and highlights) one event by id.
function eventHistory(box, events, truncated) {
  const newest = [...events].reverse();
  const list = h("div", { class: "evlist", "data-test": "events" });
  const more = h("button", { class: "btn", type: "button", "data-test": "more-events", onclick: () => show(shown + EVENTS_PAGE) }, "Show more");
  const count = h("span", { class: "muted" });
  let shown = 0;
  function row(e) {
    const fam = eventFamily(e.type);
    return h("details", { class: "ev", id: "ev-" + e.id, "data-seq": e.seq },
      h("summary", {},
        h("span", { class: "muted nowrap" }, fmtDateTime(e.time)),
        h("span", { class: "evtype " + fam }, e.type),
        h("span", { class: "ev-sum-wide" }, eventSummary(e)),
        h("span", { class: "faint num ev-seq" }, "#" + e.seq)),
      h("pre", {}, JSON.stringify(e, null, 2)));
  }
  function show(n) {
    const upto = Math.min(n, newest.length);
    for (let i = shown; i < upto; i++) list.append(row(newest[i]));
    shown = upto;
    count.textContent = `${fmtInt(shown)} of ${fmtInt(newest.length)} events${truncated ? " (the first read)" : ""}`;
    more.hidden = shown >= newest.length;
  }
  if (!newest.length) {
    clear(box, empty("No event."));
    return () => {};
  }
  clear(box, list, h("div", { class: "pager" }, count, more));
  show(EVENTS_PAGE);
  return (evId) => {
    const i = newest.findIndex((e) => e.id === evId);
    if (i < 0) return;
    if (i >= shown) show(i + 1);
    const el = document.getElementById("ev-" + evId);
    for (const x of list.querySelectorAll(".ev.hl")) x.classList.remove("hl");
    el.classList.add("hl");
    el.open = true;
    el.scrollIntoView({ block: "center" });
  };
}
