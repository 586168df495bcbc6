// Accounts: the account list of /v1/accounts, filtered, searched, sorted and
// paged by the API itself; the page's URL holds the filter so that a view
// can be shared and the back button works.

import { get, allAccounts, query } from "../api.js";
import { h, clear, link, accountHref, tierBadge, loyaltyChip, empty, rowClick } from "../dom.js";
import { fmtMoney, fmtInt, LOYALTY_LABEL } from "../format.js";

const PAGE = 50;
const FILTERS = ["q", "tier", "key", "loyalty", "manager", "region", "sort", "desc"];
const DESC_BY_DEFAULT = new Set(["revenue", "revenue_total", "score"]);

const COLUMNS = [
  { label: "#", sort: "rank", num: true, opt: true },
  { label: "Account", sort: "name" },
  { label: "Tier", sort: "tier" },
  { label: "Key score", sort: "score", num: true, opt: true },
  { label: "Loyalty", opt: true },
  { label: "Revenue", more: " in window", sort: "revenue", num: true },
  { label: "Revenue all time", sort: "revenue_total", num: true, opt: true },
  { label: "Orders", num: true, opt: true },
  { label: "Manager", opt: true },
  { label: "Region", opt: true },
];

function stateFromURL(q) {
  const st = {};
  for (const k of FILTERS) st[k] = q.get(k) || "";
  st.cursor = q.get("cursor") || "";
  st.trail = (history.state && history.state.trail) || [];
  return st;
}

function urlOf(st) {
  const p = {};
  for (const k of FILTERS) p[k] = st[k];
  p.cursor = st.cursor;
  return "/accounts" + query(p);
}

export async function render(main, ctx) {
  const st = stateFromURL(ctx.query);
  const opts = await allAccounts({});
  if (ctx.signal.aborted) return;
  const managers = [...new Set(opts.accounts.map((a) => a.manager).filter(Boolean))].sort();
  const regions = [...new Set(opts.accounts.map((a) => a.region).filter(Boolean))].sort();

  const select = (name, label, options) => h("select", { name, "aria-label": label, "data-filter": name, onchange: (ev) => change(name, ev.target.value) },
    h("option", { value: "" }, label), options.map(([v, l]) => h("option", { value: v, selected: st[name] === v }, l)));
  const search = h("input", { type: "search", name: "q", placeholder: "Search by account id or name", value: st.q, "aria-label": "Search", "data-filter": "q", autocomplete: "off" });
  let debounce = 0;
  search.addEventListener("input", () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => change("q", search.value.trim(), true), 250);
  });

  const thead = h("thead", {});
  const tbody = h("tbody", { onclick: rowClick(ctx.navigate) });
  const summary = h("span", { class: "muted", "data-test": "accounts-summary" });
  const jsonLink = h("a", { class: "faint", target: "_blank", rel: "noopener" }, "this list as JSON");
  const prev = h("button", { class: "btn", type: "button", "data-test": "prev", onclick: () => page(-1) }, "← Previous");
  const next = h("button", { class: "btn", type: "button", "data-test": "next", onclick: () => page(1) }, "Next →");
  let nextCursor = "";
  let seq = 0;

  clear(main,
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Accounts"),
      h("p", {}, `${fmtInt(opts.total)} accounts · filter, search and sort; click a row for the account`))),
    h("section", { class: "card" },
      h("div", { class: "filters" },
        search,
        select("tier", "All tiers", [["A", "Tier A"], ["B", "Tier B"], ["C", "Tier C"], ["none", "No tier yet"]]),
        select("key", "Key and other", [["true", "Key accounts"], ["false", "Not key"]]),
        select("loyalty", "Any loyalty", Object.entries(LOYALTY_LABEL)),
        select("manager", "All managers", managers.map((m) => [m, m])),
        select("region", "All regions", regions.map((r) => [r, r]))),
      h("div", { class: "table-wrap" }, h("table", { "data-test": "accounts-table" }, thead, tbody)),
      h("div", { class: "pager" }, h("div", {}, summary, " · ", jsonLink), h("div", { class: "btns" }, prev, next))));

  function change(name, value, typing) {
    st[name] = value;
    st.cursor = ""; // a new filter or order starts again at the first page
    st.trail = [];
    ctx.setURL(urlOf(st), { replace: typing, state: { trail: [] } });
    ctx.track(load(), "update", tbody);
  }

  function page(dir) {
    if (dir > 0 && nextCursor) {
      st.trail = [...st.trail, st.cursor];
      st.cursor = nextCursor;
    } else if (dir < 0) {
      st.cursor = st.trail.length ? st.trail[st.trail.length - 1] : "";
      st.trail = st.trail.slice(0, -1);
    }
    ctx.setURL(urlOf(st), { state: { trail: st.trail } });
    ctx.track(load(), "update", tbody);
  }

  function sortBy(key) {
    const cur = st.sort || "revenue";
    const curDesc = st.desc ? st.desc === "true" : DESC_BY_DEFAULT.has(cur);
    let desc = DESC_BY_DEFAULT.has(key);
    if (cur === key) desc = !curDesc;
    st.sort = key === "revenue" && desc ? "" : key;
    st.desc = desc === DESC_BY_DEFAULT.has(key) ? "" : String(desc);
    change("sort", st.sort);
  }

  function drawHead() {
    const cur = st.sort || "revenue";
    const desc = st.desc ? st.desc === "true" : DESC_BY_DEFAULT.has(cur);
    clear(thead, h("tr", {}, COLUMNS.map((c) => {
      const sorted = c.sort === cur;
      return h("th", {
        class: [c.num && "num", c.opt && "opt", c.sort && "sortable", sorted && "sorted"],
        "data-sort": c.sort, "aria-sort": sorted ? (desc ? "descending" : "ascending") : null,
        onclick: c.sort ? () => sortBy(c.sort) : null,
      }, c.label, c.more ? h("span", { class: "opt" }, c.more) : null, c.sort ? h("span", { class: "arrow" }, sorted ? (desc ? "▼" : "▲") : "↕") : null);
    })));
  }

  async function load() {
    const my = ++seq;
    drawHead();
    const params = { q: st.q, tier: st.tier, key: st.key, loyalty: st.loyalty, manager: st.manager, region: st.region,
      sort: st.sort, desc: st.desc, limit: PAGE, cursor: st.cursor };
    const path = "/v1/accounts" + query(params);
    const res = await get(path, ctx.signal);
    if (my !== seq || ctx.signal.aborted) return;
    jsonLink.href = path;
    nextCursor = res.next_cursor || "";
    const from = st.trail.length * PAGE;
    clear(tbody, res.accounts.length ? res.accounts.map((a) => h("tr", { class: "row-link", "data-href": accountHref(a.id), "data-id": a.id },
      h("td", { class: "num opt faint" }, a.rank ?? "—"),
      h("td", {}, link(accountHref(a.id), { class: "acct-name" }, a.name || a.id),
        a.key_account ? h("span", { class: "star phone-only", title: "Key account" }, " ★") : null, h("span", { class: "acct-id" }, a.id)),
      h("td", {}, tierBadge(a.tier)),
      h("td", { class: "num opt" }, a.key_account ? h("span", { class: "star", title: "Key account" }, "★ ") : null, a.key_score === null ? "—" : a.key_score.toFixed(2)), // exact: basis points
      h("td", { class: "opt nowrap" }, loyaltyChip(a.loyalty), a.early_adopter ? h("span", { class: "early-mark", title: "Early adopter: a window order holds a new product" }, "✦") : null),
      h("td", { class: "num", "data-test": "revenue" }, fmtMoney(a.revenue_window)),
      h("td", { class: "num opt muted" }, fmtMoney(a.revenue_total)),
      h("td", { class: "num opt" }, fmtInt(a.orders_window)),
      h("td", { class: "opt nowrap" }, a.manager || "—"),
      h("td", { class: "opt nowrap" }, a.region || "—")))
      : h("tr", {}, h("td", { colspan: COLUMNS.length }, empty("No account matches these filters."),
        h("button", { class: "btn", type: "button", onclick: () => ctx.navigate("/accounts") }, "Clear filters"))));
    const range = !res.total ? "" : st.cursor && !st.trail.length ? `${fmtInt(res.accounts.length)} on this page of `
      : `${fmtInt(from + 1)}–${fmtInt(from + res.accounts.length)} of `;
    clear(summary, range, h("strong", { "data-test": "accounts-total" }, fmtInt(res.total)), res.total === 1 ? " account" : " accounts");
    prev.disabled = !st.cursor;
    next.disabled = !nextCursor;
  }

  await load();
}
