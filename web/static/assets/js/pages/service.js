// Service levels: /v1/reports/sla by the tier at opening, and which of the
// most valuable accounts have items overdue now.

import { get, allAccounts, pool, policy } from "../api.js";
import { h, clear, card, link, accountHref, tierBadge, empty, meter } from "../dom.js";
import { fmtInt, fmtHours, fmtDateTime, fmtMoney, TIERS } from "../format.js";
import { complianceBars, legend } from "../charts.js";

// How many A and key accounts the page checks one by one for overdue items.
const CHECK = 60;

export async function render(main, ctx) {
  const [sla, pol] = await Promise.all([get("/v1/reports/sla", ctx.signal), policy()]);
  if (ctx.signal.aborted) return;
  const waiting = h("div", {}, h("p", { class: "loading" }, "Checking accounts…"));
  const all = { requests: sum(sla, "requests"), complaints: sum(sla, "complaints") };
  clear(main,
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Service levels"),
      h("p", {}, `Requests and complaints by the tier in force when they were opened · overdue as of ${fmtDateTime(sla.as_of)}`))),
    h("div", { class: "kpis", style: { marginBottom: "18px" } },
      TIERS.map((t) => {
        const g = sla.tiers[t];
        const overdue = g.requests.overdue_now + g.complaints.overdue_now;
        return h("div", { class: "card kpi" }, h("div", { class: "label" }, tierBadge(t), " overdue now"),
          h("div", { class: ["value", overdue && "bad"], "data-test": "overdue-" + t }, fmtInt(overdue)),
          h("div", { class: "sub" }, `${fmtInt(g.requests.open + g.complaints.open)} open · ${fmtInt(g.requests.opened + g.complaints.opened)} opened`));
      }),
      h("div", { class: "card kpi" }, h("div", { class: "label" }, "Requests"), h("div", { class: "value" }, fmtInt(all.requests.opened)),
        h("div", { class: "sub" }, `${fmtInt(all.requests.open)} open · ${fmtInt(all.requests.overdue)} overdue`)),
      h("div", { class: "card kpi" }, h("div", { class: "label" }, "Complaints"), h("div", { class: "value" }, fmtInt(all.complaints.opened)),
        h("div", { class: "sub" }, `${fmtInt(all.complaints.open)} open · ${fmtInt(all.complaints.overdue)} overdue`))),
    h("div", { class: "grid align-start" },
      h("div", { class: "span-5 stack-col" }, card({ title: "Compliance by tier", sub: "Share of closed items that met their target" },
        complianceBars(TIERS.map((t) => ({
          tier: t,
          values: [sla.tiers[t].requests.response.compliance, sla.tiers[t].requests.resolution.compliance, sla.tiers[t].complaints.resolution.compliance],
        })), [{ label: "first response", color: "var(--tier-a)" }, { label: "resolution", color: "var(--tier-b)" }, { label: "complaints", color: "#f0a060" }]),
        legend([["sw-A", "first response"], ["sw-B", "request resolution"], ["sw-no_brand_loyalty", "complaint resolution"]])),
        pol ? card({ title: "Targets", sub: "Hours from opening, by the tier at opening (policy)", test: "targets" }, targets(pol)) : null),
      card({ title: "Accounts waiting on service", sub: "Key and A accounts with items overdue now", class: "span-7", test: "waiting" }, waiting),
      card({ title: "Requests", sub: "Service requests: first response and resolution", class: "span-12", test: "sla-requests" }, requestsTable(sla)),
      card({ title: "Complaints", sub: "Complaints: resolution", class: "span-12", test: "sla-complaints" }, complaintsTable(sla))));
  ctx.track(waitingAccounts(ctx, waiting), "load", waiting);
}

const PRIORITIES = ["urgent", "high", "normal", "low"];
const SEVERITIES = ["critical", "high", "medium", "low"];

// targets shows the policy's service-level targets: requests as first
// response / resolution, complaints as resolution, in hours.
function targets(pol) {
  const req = pol.service_levels.requests;
  const cmp = pol.service_levels.complaints;
  const cols = Object.keys(req[PRIORITIES[0]] || {}).sort((a, b) => (a === "key") - (b === "key") || a.localeCompare(b));
  const head = (first) => h("thead", {}, h("tr", {}, h("th", {}, first), cols.map((c) => h("th", { class: "num" }, c === "key" ? "★ key" : tierBadge(c)))));
  return [
    h("div", { class: "table-wrap" }, h("table", { class: "targets" }, head("Request"),
      h("tbody", {}, PRIORITIES.filter((p) => req[p]).map((p) => h("tr", {}, h("td", { class: "muted" }, p),
        cols.map((c) => h("td", { class: "num" }, `${req[p][c].response_hours} / ${req[p][c].resolution_hours}`))))))),
    h("div", { class: "table-wrap" }, h("table", { class: "targets" }, head("Complaint"),
      h("tbody", {}, SEVERITIES.filter((v) => cmp[v]).map((v) => h("tr", {}, h("td", { class: "muted" }, v),
        cols.map((c) => h("td", { class: "num" }, cmp[v][c] === undefined ? "—" : String(cmp[v][c])))))))),
    h("div", { class: "card-foot" }, "Requests: first response / resolution. From ", h("a", { href: "/v1/admin/policy", target: "_blank", rel: "noopener" }, "/v1/admin/policy"), "."),
  ];
}

function sum(sla, kind) {
  const out = { opened: 0, open: 0, overdue: 0 };
  for (const t of TIERS) {
    const k = sla.tiers[t][kind];
    out.opened += k.opened;
    out.open += k.open;
    out.overdue += k.overdue_now;
  }
  return out;
}

function stepCells(st, test) {
  if (!st) return [h("td", {}, "—"), h("td", {}), h("td", {})];
  return [
    h("td", {}, meter(st.compliance, test)),
    h("td", { class: "num opt" }, `${fmtInt(st.met)} / ${fmtInt(st.breached)}`),
    h("td", { class: "num opt" }, `${fmtHours(st.median_hours)} · ${fmtHours(st.p90_hours)}`),
  ];
}

function requestsTable(sla) {
  return h("div", { class: "table-wrap" }, h("table", { class: "sla-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Tier"), h("th", { class: "num" }, "Opened"), h("th", { class: "num" }, "Open"), h("th", { class: "num" }, "Overdue"),
      h("th", {}, "First response"), h("th", { class: "num opt" }, "met / breached"), h("th", { class: "num opt" }, "median · p90"),
      h("th", {}, "Resolution"), h("th", { class: "num opt" }, "met / breached"), h("th", { class: "num opt" }, "median · p90"))),
    h("tbody", {}, TIERS.map((t) => {
      const r = sla.tiers[t].requests;
      return h("tr", {}, h("td", {}, tierBadge(t)),
        h("td", { class: "num", "data-test": "req-opened-" + t }, fmtInt(r.opened)),
        h("td", { class: "num", "data-test": "req-open-" + t }, fmtInt(r.open)),
        h("td", { class: "num" }, h("span", { class: ["chip", r.overdue_now ? "bad" : "good"], "data-test": "req-overdue-" + t }, fmtInt(r.overdue_now))),
        ...stepCells(r.response, "req-response-" + t), ...stepCells(r.resolution, "req-resolution-" + t));
    }))));
}

function complaintsTable(sla) {
  return h("div", { class: "table-wrap" }, h("table", { class: "sla-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Tier"), h("th", { class: "num" }, "Opened"), h("th", { class: "num" }, "Open"), h("th", { class: "num" }, "Overdue"),
      h("th", {}, "Resolution"), h("th", { class: "num opt" }, "met / breached"), h("th", { class: "num opt" }, "median · p90"))),
    h("tbody", {}, TIERS.map((t) => {
      const c = sla.tiers[t].complaints;
      return h("tr", {}, h("td", {}, tierBadge(t)),
        h("td", { class: "num", "data-test": "cmp-opened-" + t }, fmtInt(c.opened)),
        h("td", { class: "num" }, fmtInt(c.open)),
        h("td", { class: "num" }, h("span", { class: ["chip", c.overdue_now ? "bad" : "good"], "data-test": "cmp-overdue-" + t }, fmtInt(c.overdue_now))),
        ...stepCells(c.resolution, "cmp-resolution-" + t));
    }))));
}

// waitingAccounts reads the highest-revenue key and A accounts one by one:
// the account list carries no service figures to filter on.
async function waitingAccounts(ctx, box) {
  const [keyAccts, aAccts] = await Promise.all([allAccounts({ key: "true" }), allAccounts({ tier: "A" })]);
  if (ctx.signal.aborted) return;
  const seen = new Set();
  const candidates = [...keyAccts.accounts, ...aAccts.accounts].filter((a) => !seen.has(a.id) && seen.add(a.id))
    .sort((a, b) => Number(b.revenue_window) - Number(a.revenue_window)).slice(0, CHECK);
  const details = await pool(candidates, 6, (a) => get("/v1/accounts/" + encodeURIComponent(a.id), ctx.signal));
  if (ctx.signal.aborted) return;
  const late = details.filter((d) => d.sla.requests.overdue_now + d.sla.complaints.overdue_now > 0)
    .sort((x, y) => (y.sla.requests.overdue_now + y.sla.complaints.overdue_now) - (x.sla.requests.overdue_now + x.sla.complaints.overdue_now)
      || Number(y.revenue_window) - Number(x.revenue_window));
  clear(box,
    late.length
      ? h("div", { class: "table-wrap" }, h("table", {},
        h("thead", {}, h("tr", {}, h("th", {}, "Account"), h("th", {}, "Tier"), h("th", { class: "num" }, "Requests overdue"), h("th", { class: "num" }, "Complaints overdue"),
          h("th", { class: "num opt" }, "Revenue in window"))),
        h("tbody", {}, late.map((d) => h("tr", {},
          h("td", {}, link(accountHref(d.id) + "#service", { class: "acct-name" }, d.name || d.id),
            d.key_account ? h("span", { class: "star", title: "Key account" }, " ★") : null, h("span", { class: "acct-id" }, d.id)),
          h("td", {}, tierBadge(d.tier)),
          h("td", { class: "num" }, h("span", { class: ["chip", d.sla.requests.overdue_now ? "bad" : ""] }, fmtInt(d.sla.requests.overdue_now))),
          h("td", { class: "num" }, h("span", { class: ["chip", d.sla.complaints.overdue_now ? "bad" : ""] }, fmtInt(d.sla.complaints.overdue_now))),
          h("td", { class: "num opt" }, fmtMoney(d.revenue_window)))))))
      : empty("No key or A account has an item overdue."),
    h("div", { class: "card-foot" }, `Checked the ${fmtInt(candidates.length)} highest-revenue key and A accounts one by one (`,
      h("code", {}, "/v1/accounts/{id}"), "): the account list cannot be filtered by overdue items yet."));
}
