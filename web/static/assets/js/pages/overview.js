// Overview: the 80/20 picture, who moved tier, service levels by tier, and
// the key accounts with what they are waiting for.

import { cached, get, allAccounts, pool, query, policy } from "../api.js";
import { h, clear, card, link, accountHref, tierBadge, loyaltyChip, empty, meter, rowClick } from "../dom.js";
import { fmtMoney, fmtCompact, fmtInt, fmtPct, fmtDay, addDays, plural, TIERS, LOYALTY_LABEL } from "../format.js";
import { pareto, legend } from "../charts.js";
import { movements } from "../derive.js";

const KEY_ROWS = 25;

export async function render(main, ctx) {
  const [abc, sla, pol] = await Promise.all([
    cached("/v1/reports/abc").catch((err) => (err.status === 404 ? null : Promise.reject(err))),
    get("/v1/reports/sla", ctx.signal),
    policy(),
  ]);
  if (ctx.signal.aborted) return;
  if (!abc) {
    clear(main, head(null), card({ title: "No review yet" },
      h("p", {}, "Tiers are decided at the close of each business day. Once events have been posted ",
        h("code", {}, "POST /v1/events"), " and a day has closed, this page fills in.")));
    return;
  }
  const day = abc.day;
  const moves = h("div", { "data-test": "movements" });
  const keyBox = h("div", {});
  const loyaltyBox = h("div", {}, h("p", { class: "loading" }, "…"));
  clear(main,
    head(abc),
    kpis(abc, sla, pol),
    h("div", { class: "grid" },
      card({ title: "Accounts and revenue by tier", sub: `Revenue in the window ending with the review of ${fmtDay(day)}`, class: "span-5", test: "tiers" },
        tierShares(abc)),
      card({ title: "Pareto curve", sub: `Top 20% of accounts bring ${fmtPct(abc.top20_share)} of revenue`, class: "span-7" },
        pareto(abc), legendTiers()),
      card({ title: "Tier movements", sub: "Net changes of tier between two reviews", class: "span-6", action: periodToggle(ctx, moves, day) }, moves),
      h("div", { class: "span-6 stack-col" },
        card({ title: "Service levels by tier", sub: "Compliance of closed items, tier at opening", test: "sla" },
          slaTable(sla), h("div", { class: "card-foot" }, link("/service", {}, "Service levels in detail →"))),
        card({ title: "Loyalty by tier", sub: "Attitude to the brand of each tier's accounts", test: "loyalty" }, loyaltyBox)),
      card({ title: "Key accounts", sub: `${plural(abc.key_accounts, "key account")}: tier A with a key score at or above the policy's threshold`, class: "span-12", test: "key-accounts" },
        keyBox)));
  ctx.track(showMovements(ctx, moves, day, 30), "load", moves);
  ctx.track(keyAccounts(ctx, keyBox), "load", keyBox);
  ctx.track(loyaltyMix(ctx, loyaltyBox), "load", loyaltyBox);
}

const LOYALTIES = ["loyal", "new", "no_brand_loyalty", "brand_switching", null];

async function loyaltyMix(ctx, box) {
  const all = await allAccounts({});
  if (ctx.signal.aborted) return;
  const counts = {};
  for (const t of TIERS) counts[t] = new Map(LOYALTIES.map((l) => [l, 0]));
  for (const a of all.accounts) if (a.tier) counts[a.tier].set(a.loyalty || null, counts[a.tier].get(a.loyalty || null) + 1);
  clear(box,
    TIERS.map((t) => {
      const n = [...counts[t].values()].reduce((x, y) => x + y, 0);
      return h("div", { class: "share-row" }, h("span", { class: "lbl" }, tierBadge(t), " ", h("span", { class: "faint" }, fmtInt(n))),
        h("div", { class: "stack thin" }, LOYALTIES.map((l) => {
          const c = counts[t].get(l);
          if (!c) return null;
          const d = h("div", { class: "ly-" + (l || "none"), title: `${t}: ${c} ${LOYALTY_LABEL[l] || "without orders"}` }, c / n >= 0.08 ? fmtInt(c) : "");
          d.style.width = ((c / n) * 100).toFixed(2) + "%";
          return d;
        })));
    }),
    legend([["sw-loyal", "loyal"], ["sw-new", "new"], ["sw-no_brand_loyalty", "no brand loyalty"], ["sw-brand_switching", "brand switching"], ["sw-nokey", "no orders"]]),
    all.truncated ? h("div", { class: "card-foot" }, `The first ${fmtInt(all.accounts.length)} accounts.`) : null);
}

function head(abc) {
  return h("div", { class: "page-head" },
    h("div", {}, h("h1", {}, "Overview"),
      h("p", {}, abc ? `As decided at the review of ${fmtDay(abc.day)} · policy ${abc.policy.slice(0, 12)}` : "")));
}

function kpi(label, value, sub, attrs = {}) {
  return h("div", { class: "card kpi" }, h("div", { class: "label" }, label), h("div", { class: ["value", attrs.bad && "bad"], title: attrs.title }, value),
    h("div", { class: "sub" }, sub));
}

function kpis(abc, sla, pol) {
  let overdueReq = 0;
  let overdueCmp = 0;
  for (const t of TIERS) {
    overdueReq += sla.tiers[t].requests.overdue_now;
    overdueCmp += sla.tiers[t].complaints.overdue_now;
  }
  const overdue = overdueReq + overdueCmp;
  return h("div", { class: "kpis", style: { marginBottom: "18px" } },
    kpi(`Revenue in window${pol ? " · " + pol.currency : ""}`, fmtCompact(abc.total_revenue), h("span", { "data-test": "total-revenue" }, fmtMoney(abc.total_revenue)), { title: fmtMoney(abc.total_revenue) }),
    kpi("Accounts", h("span", { "data-test": "accounts" }, fmtInt(abc.accounts)), `${fmtInt(abc.ranked)} with revenue in the window`),
    kpi("Key accounts", h("span", { "data-test": "key-count" }, fmtInt(abc.key_accounts)), `${fmtPct(abc.accounts ? abc.key_accounts / abc.accounts : 0)} of accounts`),
    kpi("Top 20% share", fmtPct(abc.top20_share), "of revenue from the top fifth of ranked accounts"),
    kpi("Overdue now", h("span", { "data-test": "overdue" }, fmtInt(overdue)), `${plural(overdueReq, "request")} · ${plural(overdueCmp, "complaint")}`, { bad: overdue > 0 }));
}

function tierShares(abc) {
  const accountsTotal = TIERS.reduce((n, t) => n + abc.tiers[t].accounts, 0) || 1;
  const stack = (values, labels) => h("div", { class: "stack" }, TIERS.map((t, i) => {
    const d = h("div", { class: t, title: `${t}: ${labels[i]}` }, values[i] >= 0.18 ? `${t} · ${labels[i]}` : values[i] >= 0.08 ? labels[i] : "");
    d.style.width = (values[i] * 100).toFixed(2) + "%";
    return d;
  }));
  const accShares = TIERS.map((t) => abc.tiers[t].accounts / accountsTotal);
  const revShares = TIERS.map((t) => abc.tiers[t].share);
  return [
    h("div", { class: "share-row" }, h("span", { class: "lbl" }, "Accounts"), stack(accShares, accShares.map((v) => fmtPct(v, 0)))),
    h("div", { class: "share-row" }, h("span", { class: "lbl" }, "Revenue"), stack(revShares, revShares.map((v) => fmtPct(v, 0)))),
    h("div", { class: "table-wrap" }, h("table", { class: "tier-table" },
      h("thead", {}, h("tr", {}, h("th", {}, "Tier"), h("th", { class: "num" }, "Accounts"), h("th", { class: "num" }, "Revenue"),
        h("th", { class: "num" }, "Share"), h("th", { class: "num opt" }, "Per account"))),
      h("tbody", {}, TIERS.map((t) => {
        const ti = abc.tiers[t];
        const per = ti.accounts ? Number(ti.revenue) / ti.accounts : 0;
        return h("tr", { "data-tier-row": t },
          h("td", {}, link("/accounts" + query({ tier: t }), { title: `All tier ${t} accounts` }, tierBadge(t))),
          h("td", { class: "num", "data-test": "tier-count-" + t }, fmtInt(ti.accounts)),
          h("td", { class: "num", "data-test": "tier-revenue-" + t }, fmtMoney(ti.revenue)),
          h("td", { class: "num", "data-test": "tier-share-" + t }, fmtPct(ti.share)),
          h("td", { class: "num opt" }, fmtCompact(per)));
      })),
      h("tfoot", {}, h("tr", {}, h("td", { class: "muted" }, "All"), h("td", { class: "num" }, fmtInt(abc.accounts)),
        h("td", { class: "num" }, h("strong", {}, fmtMoney(abc.total_revenue))), h("td", { class: "num" }, "100%"), h("td", { class: "opt" }))))),
  ];
}

function legendTiers() {
  return h("div", { class: "legend" },
    h("span", {}, h("i", { class: "sw-A" }), "A zone"), h("span", {}, h("i", { class: "sw-B" }), "B zone"),
    h("span", {}, h("i", { class: "sw-C" }), "C zone"),
    h("span", { class: "faint" }, "dashed diagonal: every account alike"));
}

function periodToggle(ctx, box, day) {
  const seg = h("div", { class: "seg", role: "group", "aria-label": "Period" });
  for (const days of [30, 90]) {
    seg.append(h("button", {
      type: "button", class: days === 30 ? "on" : "", "data-days": days,
      onclick: (ev) => {
        for (const b of seg.children) b.classList.toggle("on", b === ev.currentTarget);
        ctx.track(showMovements(ctx, box, day, days), "update", box);
      },
    }, `${days} days`));
  }
  return seg;
}

async function showMovements(ctx, box, day, days) {
  const from = addDays(day, -days);
  const [now, then] = await Promise.all([allAccounts({}), allAccounts({ as_of: from })]);
  if (ctx.signal.aborted) return;
  const mv = movements(now.accounts, then.accounts);
  const byRevenue = (a, b) => Number(b.account.revenue_window) - Number(a.account.revenue_window);
  const list = [...mv.down.sort(byRevenue), ...mv.up.sort(byRevenue)].slice(0, 8);
  const cell = (from, to) => {
    const n = mv.matrix[from][to];
    const cls = from === "none" ? "" : from === to ? "diag" : from > to ? "up" : "down";
    return h("td", { class: cls }, n ? fmtInt(n) : "·");
  };
  clear(box,
    h("div", { class: "moves", "data-days": days },
      h("div", { class: "move up" }, h("div", { class: "n", "data-test": "moves-up" }, fmtInt(mv.up.length)), h("div", { class: "t" }, "↑ upgraded")),
      h("div", { class: "move down" }, h("div", { class: "n", "data-test": "moves-down" }, fmtInt(mv.down.length)), h("div", { class: "t" }, "↓ downgraded")),
      h("div", { class: "move new" }, h("div", { class: "n", "data-test": "moves-new" }, fmtInt(mv.entered.length)), h("div", { class: "t" }, "new to a tier"))),
    h("div", { class: "grid" },
      h("div", { class: "span-5" },
        h("table", { class: "matrix" },
          h("thead", {}, h("tr", {}, h("th", {}, `from \\ to`), ...["A", "B", "C"].map((t) => h("th", {}, tierBadge(t))))),
          h("tbody", {}, ["none", "A", "B", "C"].map((f) => h("tr", {},
            h("th", {}, f === "none" ? h("span", { class: "faint" }, "new") : tierBadge(f)),
            ...["A", "B", "C"].map((t) => cell(f, t)))))),
        h("p", { class: "muted", style: { fontSize: "12.5px", marginTop: "10px" } },
          `Key accounts: +${mv.keyGained.length} / −${mv.keyLost.length}`)),
      h("div", { class: "span-7" },
        list.length
          ? h("table", {}, h("tbody", {}, list.map((m) => h("tr", {},
            h("td", {}, h("span", { class: "flow" }, tierBadge(m.from), h("span", { class: m.from > m.to ? "arrow-up" : "arrow-down" }, m.from > m.to ? "↑" : "↓"), tierBadge(m.to))),
            h("td", {}, link(accountHref(m.account.id) + "#timeline", { class: "acct-name" }, m.account.name || m.account.id)),
            h("td", { class: "num muted" }, fmtCompact(m.account.revenue_window))))))
          : empty(`No account changed tier in these ${days} days.`))),
    h("div", { class: "card-foot" },
      `Tiers at the reviews of ${fmtDay(from)} and ${fmtDay(day)}, from `, h("code", {}, `/v1/accounts?as_of=${from}`),
      now.truncated ? ` (first ${fmtInt(now.accounts.length)} accounts only)` : "",
      ". An account that moved and moved back in between is not counted."));
}

function slaTable(sla) {
  return h("div", { class: "table-wrap" }, h("table", { class: "sla-table" },
    h("thead", {}, h("tr", {}, h("th", {}, "Tier"), h("th", {}, "First response"), h("th", {}, "Resolution"), h("th", { class: "opt" }, "Complaints"),
      h("th", { class: "num" }, "Overdue"))),
    h("tbody", {}, TIERS.map((t) => {
      const g = sla.tiers[t];
      const overdue = g.requests.overdue_now + g.complaints.overdue_now;
      return h("tr", {},
        h("td", {}, tierBadge(t)),
        h("td", {}, meter(g.requests.response ? g.requests.response.compliance : null, "sla-response-" + t)),
        h("td", {}, meter(g.requests.resolution.compliance, "sla-resolution-" + t)),
        h("td", { class: "opt" }, meter(g.complaints.resolution.compliance, "sla-complaints-" + t)),
        h("td", { class: "num" }, h("span", { class: ["chip", overdue ? "bad" : "good"], "data-test": "sla-overdue-" + t }, fmtInt(overdue))));
    }))));
}

async function keyAccounts(ctx, box) {
  const page = await cached("/v1/accounts" + query({ key: "true", limit: KEY_ROWS }));
  if (ctx.signal.aborted) return;
  if (!page.accounts.length) {
    clear(box, empty("No key account yet."));
    return;
  }
  const cells = new Map();
  const rows = page.accounts.map((a) => {
    const service = h("td", { class: "loading" }, "…");
    const dm = h("td", { class: "opt loading" }, "…");
    cells.set(a.id, { service, dm });
    return h("tr", { class: "row-link", "data-href": accountHref(a.id) },
      h("td", {}, link(accountHref(a.id), { class: "acct-name" }, a.name || a.id), h("span", { class: "acct-id" }, a.id)),
      h("td", {}, tierBadge(a.tier)),
      h("td", { class: "num" }, a.key_score === null ? "—" : a.key_score.toFixed(2)), // exact: basis points
      h("td", { class: "num" }, fmtMoney(a.revenue_window)),
      h("td", { class: "opt" }, loyaltyChip(a.loyalty)),
      h("td", { class: "opt muted" }, a.manager || "—"),
      service, dm);
  });
  clear(box,
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "Account"), h("th", {}, "Tier"), h("th", { class: "num" }, "Score"), h("th", { class: "num" }, "Revenue in window"),
        h("th", { class: "opt" }, "Loyalty"), h("th", { class: "opt" }, "Manager"), h("th", {}, "Service"), h("th", { class: "opt" }, "Decision maker"))),
      h("tbody", { onclick: rowClick(ctx.navigate) }, rows))),
    h("div", { class: "card-foot" },
      page.total > page.accounts.length ? [link("/accounts" + query({ key: "true" }), {}, `All ${fmtInt(page.total)} key accounts →`), " · "] : "",
      "Service and contacts read per account from ", h("code", {}, "/v1/accounts/{id}"), "."));
  await pool(page.accounts, 6, async (a) => {
    const d = await get("/v1/accounts/" + encodeURIComponent(a.id), ctx.signal);
    const c = cells.get(a.id);
    const open = d.sla.requests.open + d.sla.complaints.open;
    const overdue = d.sla.requests.overdue_now + d.sla.complaints.overdue_now;
    c.service.className = "";
    clear(c.service, overdue
      ? h("span", { class: "chip bad", title: `${open} open, ${overdue} overdue` }, `${overdue} overdue`)
      : open ? h("span", { class: "chip warn" }, `${open} open`) : h("span", { class: "chip good" }, "all clear"));
    c.dm.className = "opt";
    const dms = d.contacts.decision_maker || [];
    clear(c.dm, !dms.length
      ? h("span", { class: "chip warn" }, "none known")
      : d.decision_maker_stale ? h("span", { class: "chip bad", title: "no visit for more than the policy's coverage.decision_maker_days" }, "not visited lately") : h("span", { class: "chip good" }, "visited"));
  });
}
