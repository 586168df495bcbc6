// Small DOM helpers. Everything from the API is put in the page as text
// (textContent, attributes), never as HTML: account names and event data are
// written by upstream systems.

import { LOYALTY_LABEL } from "./format.js";

const SVGNS = "http://www.w3.org/2000/svg";

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") el.setAttribute("class", Array.isArray(v) ? v.filter(Boolean).join(" ") : v);
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on") && typeof v === "function") el.addEventListener(k.slice(2), v);
    else if (k === "style" && typeof v === "object") Object.assign(el.style, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else if (c instanceof Node) el.appendChild(c);
    else el.appendChild(document.createTextNode(String(c)));
  }
}

// h creates an HTML element: h("a", {href: "/", class: "x"}, "text", child).
export function h(tag, attrs, ...children) {
  return build(document.createElement(tag), attrs, children);
}

// s creates an SVG element.
export function s(tag, attrs, ...children) {
  return build(document.createElementNS(SVGNS, tag), attrs, children);
}

export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// link is an in-app link: the router handles the click without a reload.
export function link(href, attrs, ...children) {
  return h("a", { ...attrs, href }, ...children);
}

export function accountHref(id) {
  return "/accounts/" + encodeURIComponent(id);
}

export function apiHref(id, what) {
  return "/v1/accounts/" + encodeURIComponent(id) + (what ? "/" + what : "");
}

export function tierBadge(tier, big) {
  const t = tier || "none";
  return h("span", { class: ["tier", "tier-" + t, big && "lg"], title: tier ? "Tier " + tier : "No tier yet", "data-tier": tier || "" }, tier || "–");
}

export function keyChip(isKey) {
  return isKey ? h("span", { class: "chip key", title: "Key account" }, "★ Key account") : null;
}

export function loyaltyChip(loyalty) {
  if (!loyalty) return h("span", { class: "chip", title: "No order yet" }, "no orders");
  return h("span", { class: "chip " + loyalty }, LOYALTY_LABEL[loyalty] || loyalty);
}

export function card(opts, ...body) {
  const head = opts.title
    ? h("div", { class: "card-head" },
        h("div", {}, h("h2", {}, opts.title), opts.sub ? h("p", {}, opts.sub) : null),
        opts.action || null)
    : null;
  return h("section", { class: ["card", opts.class], id: opts.id, "data-test": opts.test }, head, ...body);
}

export function empty(text) {
  return h("p", { class: "empty" }, text);
}

export function errorBox(err) {
  return h("div", { class: "error", role: "alert" }, "Could not load: " + (err && err.message ? err.message : String(err)));
}

// meter is a compliance bar: share 0..1 or null when nothing closed yet.
// The percentage is cut, not rounded, to one decimal, so that it never reads
// as a threshold the colour says it missed (0.8996 is 89.9%, not 90.0%).
export function meter(share, test) {
  const lvl = share === null || share === undefined ? "none" : share >= 0.9 ? "good" : share >= 0.75 ? "warn" : "bad";
  const fill = h("div", { class: "lvl-" + lvl });
  const pct = share === null || share === undefined ? null : (Math.floor(share * 1000 + 1e-6) / 10).toFixed(1);
  fill.style.width = pct === null ? "0" : pct + "%";
  return h("div", { class: "meter" },
    h("div", { class: "bar" }, fill),
    h("span", { class: "v", "data-test": test }, pct === null ? "—" : pct + "%"));
}

// rowClick makes a whole table row (tr[data-href]) open its link.
export function rowClick(navigate) {
  return (ev) => {
    if (ev.target.closest("a, button, input, select")) return;
    const tr = ev.target.closest("tr[data-href]");
    if (tr) navigate(tr.dataset.href);
  };
}
