// The dashboard's shell: routes, the status in the top bar, and the signal
// that a page has finished loading (html[data-ready], window.kamTimings), which
// the browser tests wait for and which measures load times.

import { get, setGeneration, setToken } from "./api.js";
import { h, clear, errorBox } from "./dom.js";
import { fmtInt, fmtDay } from "./format.js";

const routes = [
  { name: "overview", title: "Overview", re: /^\/$/, load: () => import("./pages/overview.js") },
  { name: "accounts", title: "Accounts", re: /^\/accounts\/?$/, load: () => import("./pages/accounts.js") },
  { name: "account", title: "Account", re: /^\/accounts\/([^/]+)\/?$/, load: () => import("./pages/account.js") },
  { name: "service", title: "Service levels", re: /^\/service\/?$/, load: () => import("./pages/service.js") },
  { name: "audit", title: "Audit", re: /^\/audit\/?$/, load: () => import("./pages/audit.js") },
];

const main = document.getElementById("main");
const statusEl = document.getElementById("status");
window.kamTimings = [];

// Every page render gets a context: an abort signal that fires when the
// user navigates on, and track() for work the page is still waiting for.
// A page is ready when nothing it tracks is pending; the time from the start
// of that busy spell (navigation start on a full load) is recorded.
let current = null;
let readyCount = 0;

// A failure is logged once and shown in box, when given; the promise track
// returns never rejects, so that work can be tracked and left to run.
function track(ctx, promise, what, box) {
  if (ctx.pending === 0 && ctx.started === null) ctx.started = performance.now();
  if (ctx.pending === 0 && ctx.what === null) ctx.what = what || "update";
  ctx.pending++;
  if (ctx === current) delete document.documentElement.dataset.ready;
  return Promise.resolve(promise)
    .catch((err) => {
      if (ctx.signal.aborted || (err && err.name === "AbortError")) return;
      console.error(err);
      if (box) clear(box, errorBox(err));
    })
    .finally(() => {
      ctx.pending--;
      if (ctx.pending > 0 || ctx !== current) return;
      const ms = Math.round(performance.now() - ctx.started);
      window.kamTimings.push({ page: ctx.page, path: location.pathname + location.search, ms, kind: ctx.what,
        shown: ctx.shown === undefined ? ms : Math.round(ctx.shown - ctx.started) });
      ctx.shown = undefined;
      ctx.started = null;
      ctx.what = null;
      document.documentElement.dataset.readyCount = String(++readyCount);
      document.documentElement.dataset.ready = ctx.page;
    });
}

function setNav(page) {
  for (const a of document.querySelectorAll("[data-nav]")) {
    const on = a.dataset.nav === page || (page === "account" && a.dataset.nav === "accounts");
    a.classList.toggle("active", on);
    if (on) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function refreshStatus(signal) {
  let st;
  try {
    st = await get("/v1/status", signal);
  } catch (err) {
    if (signal.aborted) return null;
    const why = err && err.status === 401 ? "API token needed" : err && err.status ? `API answered ${err.status}` : "API unreachable";
    clear(statusEl, h("span", { class: "dot down" }), h("span", { class: "txt" }, why));
    throw err;
  }
  const p = st.projector;
  if (!p) {
    clear(statusEl, h("span", { class: "dot lag" }), h("span", { class: "txt" }, "no read model on this kam"));
    return st;
  }
  setGeneration(p.applied_seq);
  const lag = p.lag > 0;
  clear(statusEl,
    h("span", { class: ["dot", lag && "lag"], title: lag ? `${p.lag} events still to apply` : "read model up to date" }),
    h("span", { class: "txt", "data-test": "status" },
      p.last_review ? `Reviewed to ${fmtDay(p.last_review)}` : "No review yet",
      ` · seq ${fmtInt(p.applied_seq)}`, lag ? ` · ${fmtInt(p.lag)} behind` : ""));
  return st;
}

async function render(kind) {
  if (current) current.abort.abort();
  const path = location.pathname;
  rendered = path + location.search;
  const route = routes.find((r) => r.re.test(path));
  const abort = new AbortController();
  const ctx = { page: route ? route.name : "notfound", abort, signal: abort.signal, pending: 0,
    started: kind === "load" ? 0 : performance.now(), what: kind };
  ctx.track = (p, what, box) => track(ctx, p, what, box);
  current = ctx;
  setNav(ctx.page);
  document.title = `${route ? route.title : "Not found"} · kam`;
  window.scrollTo(0, 0);
  await ctx.track((async () => {
    const status = refreshStatus(ctx.signal);
    if (!route) {
      clear(main, h("div", { class: "card" }, h("h1", {}, "Not found"), h("p", {}, "No page at ", h("code", {}, path), ". ",
        h("a", { href: "/" }, "Back to the overview"))));
      await status;
      return;
    }
    let mod;
    let st;
    try {
      [mod, st] = await Promise.all([route.load(), status]);
    } catch (err) {
      if (err && (err.status === 401 || err.status === 403)) {
        clear(main, tokenForm(err));
        return;
      }
      throw err;
    }
    if (ctx.signal.aborted) return;
    const params = route.re.exec(path).slice(1).map(decodeURIComponent);
    try {
      await mod.render(main, { ...ctx, params, status: st, query: new URLSearchParams(location.search), navigate, setURL });
      ctx.shown = performance.now(); // the page is drawn; details it tracks may still come
    } catch (err) {
      if (!ctx.signal.aborted && !(err && err.name === "AbortError")) clear(main, errorBox(err));
      throw err;
    }
    if (location.hash && !ctx.signal.aborted) {
      const target = document.getElementById(decodeURIComponent(location.hash.slice(1)));
      if (target) target.scrollIntoView();
    }
  })());
}

// tokenForm asks for an API token when kam wants one.
function tokenForm(err) {
  const input = h("input", { type: "password", placeholder: "API token", "aria-label": "API token", autocomplete: "off" });
  return h("div", { class: "card", style: { maxWidth: "520px" } },
    h("h1", {}, err.status === 401 ? "This kam needs an API token" : "This token may not read"),
    h("p", { class: "muted" }, "The dashboard reads kam's API with the token you give; it is kept for this browser tab only."),
    h("form", { class: "trace-form", onsubmit: (ev) => {
      ev.preventDefault();
      setToken(input.value.trim());
      render("route");
    } }, input, h("button", { class: "btn", type: "submit" }, "Use token")));
}

// setURL records a page's own change of its URL (a filter, a page of a
// list), which the page has drawn already.
function setURL(url, { replace = false, state = null } = {}) {
  if (replace) history.replaceState(state, "", url);
  else history.pushState(state, "", url);
  rendered = location.pathname + location.search;
}

// navigate moves to an in-app URL and renders it.
export function navigate(url, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render("route");
}

document.addEventListener("click", (ev) => {
  if (ev.defaultPrevented || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey || ev.altKey) return;
  const a = ev.target.closest("a[href]");
  if (!a || a.target || a.hasAttribute("download")) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin || url.pathname.startsWith("/v1/") || url.pathname.startsWith("/assets/")) return;
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return; // in-page anchor
  ev.preventDefault();
  navigate(url.pathname + url.search + url.hash);
});

// Going back or forward renders the page again, unless only the #fragment
// changed (an in-page link): then the browser's scroll is all it takes.
let rendered = "";
window.addEventListener("popstate", () => {
  if (location.pathname + location.search !== rendered) render("route");
});

render("load");
