// Audit: what an auditor can trace today with the public API — the state of
// the log and the read model, the recent tier decisions with the event that
// closed each review, every account's history views, and the log itself.

import { get, cached, allAccounts, query } from "../api.js";
import { h, clear, card, link, accountHref, apiHref, tierBadge, empty } from "../dom.js";
import { fmtInt, fmtDay, fmtDateTime, addDays, reviewDay } from "../format.js";
import { movements, eventSummary, eventFamily } from "../derive.js";

const LOG_PAGE = 50;

export async function render(main, ctx) {
  const st = ctx.status || (await get("/v1/status", ctx.signal));
  const abc = await cached("/v1/reports/abc").catch((err) => (err.status === 404 ? null : Promise.reject(err)));
  if (ctx.signal.aborted) return;
  const decisions = h("div", {}, h("p", { class: "loading" }, "Comparing reviews…"));
  const logBox = h("div", {}, h("p", { class: "loading" }, "Reading the log…"));
  clear(main,
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Audit"),
      h("p", {}, "When, why and on which events each decision was taken; everything here comes from the public API and links to it."))),
    h("div", { class: "grid" },
      card({ title: "Log and read model", sub: "Where the projector stands", class: "span-5", test: "audit-status" }, statusList(st)),
      card({ title: "Trace an account", sub: "Its timeline, with the reason and closing event of each change", class: "span-7" }, traceForm(ctx)),
      card({ title: "Tier decisions, last 30 days", sub: abc ? `Accounts whose tier at the review of ${fmtDay(abc.day)} differs from 30 days before` : "", class: "span-12", test: "audit-decisions" }, decisions),
      card({ title: "Event log", sub: "The stream as stored, newest first: sequence, business time, type, account", class: "span-12", id: "log", test: "audit-log" }, logBox)));
  ctx.track(recentDecisions(ctx, decisions, abc), "load", decisions);
  ctx.track(eventLog(ctx, logBox, st.stream ? st.stream.last_seq : 0), "load", logBox);
}

function statusList(st) {
  const p = st.projector || {};
  const s = st.stream || {};
  const row = (k, v, test) => [h("dt", {}, k), h("dd", { "data-test": test }, v)];
  return [
    h("dl", { class: "kv" },
      row("Stream", `${s.name} · ${fmtInt(s.messages)} messages · ${s.replicas} replica${s.replicas === 1 ? "" : "s"}`),
      row("Immutable", s.deny_delete && s.deny_purge ? "yes: deletes and purges are denied" : "no", "immutable"),
      row("Last sequence", fmtInt(s.last_seq), "last-seq"),
      row("Applied by the read model", fmtInt(p.applied_seq), "applied-seq"),
      row("Behind", fmtInt(p.lag)),
      row("Events applied", fmtInt(p.events_applied)),
      row("Set aside (invalid)", fmtInt(p.rejected), "rejected"),
      row("Watermark", fmtDateTime(p.watermark)),
      row("Last review", fmtDay(p.last_review)),
      row("Policy version", h("span", { class: "mono", title: p.policy }, (p.policy || "").slice(0, 16) + "…")),
      row("Deduplication window", s.duplicate_window)),
    h("div", { class: "card-foot" }, h("a", { href: "/v1/status", target: "_blank", rel: "noopener" }, "/v1/status")),
  ];
}

function traceForm(ctx) {
  const input = h("input", { type: "text", placeholder: "Account id, e.g. ACME", "aria-label": "Account id", "data-test": "trace-id" });
  const form = h("form", {
    class: "trace-form",
    onsubmit: (ev) => {
      ev.preventDefault();
      const id = input.value.trim();
      if (id) ctx.navigate(accountHref(id) + "#timeline");
    },
  }, input, h("button", { class: "btn", type: "submit" }, "Open timeline"));
  return [
    form,
    h("p", { class: "note" }, "For every account the API gives its history views: ",
      h("code", {}, "/v1/accounts/{id}/tiers"), ", ", h("code", {}, "/key"), ", ", h("code", {}, "/loyalty"),
      " (each row holds the figures that decided it, the policy version and the event that closed the review), and ",
      h("code", {}, "/v1/events?account={id}"), " for the facts. The account page shows them all as one timeline."),
    h("p", { class: "muted", style: { fontSize: "12.5px" } }, "The audit trail endpoint (verification of the read model against the log) is not in the API yet; this page will show it when it lands."),
  ];
}

async function recentDecisions(ctx, box, abc) {
  if (!abc) {
    clear(box, empty("No review yet."));
    return;
  }
  const from = addDays(abc.day, -30);
  const [now, then] = await Promise.all([allAccounts({}), allAccounts({ as_of: from })]);
  if (ctx.signal.aborted) return;
  const mv = movements(now.accounts, then.accounts);
  const moved = [...mv.down, ...mv.up, ...mv.entered];
  if (!moved.length) {
    clear(box, empty("No tier changed in these 30 days."));
    return;
  }
  // The row of each account's latest change: the review that decided it.
  const rows = await Promise.all(moved.slice(0, 40).map(async (m) => {
    const hist = await cached(apiHref(m.account.id, "tiers"));
    return { m, last: hist.history[hist.history.length - 1] };
  }));
  if (ctx.signal.aborted) return;
  rows.sort((x, y) => Date.parse(y.last.effective) - Date.parse(x.last.effective));
  clear(box,
    h("div", { class: "table-wrap" }, h("table", {},
      h("thead", {}, h("tr", {}, h("th", {}, "Account"), h("th", {}, "Change"), h("th", {}, "Last decided"), h("th", { class: "opt" }, "Closed by event"),
        h("th", { class: "opt" }, "Trail"))),
      h("tbody", {}, rows.map(({ m, last }) => h("tr", {},
        h("td", {}, link(accountHref(m.account.id) + "#timeline", { class: "acct-name" }, m.account.name || m.account.id), h("span", { class: "acct-id" }, m.account.id)),
        h("td", { class: "nowrap" }, m.from ? tierBadge(m.from) : h("span", { class: "faint" }, "new"), " → ", tierBadge(m.to)),
        h("td", { class: "nowrap" }, fmtDay(reviewDay(last.effective))),
        h("td", { class: "opt mono" }, `#${last.close_seq} ${last.close_event_id}`),
        h("td", { class: "opt" }, h("span", { class: "links" },
          link(accountHref(m.account.id) + "#timeline", {}, "timeline"),
          h("a", { href: apiHref(m.account.id, "tiers"), target: "_blank", rel: "noopener" }, "tiers JSON"),
          h("a", { href: "/v1/events" + query({ account: m.account.id }), target: "_blank", rel: "noopener" }, "events JSON")))))))),
    h("div", { class: "card-foot" }, moved.length > rows.length ? `The first ${rows.length} of ${moved.length} changes. ` : "",
      "Net changes between ", h("code", {}, `/v1/accounts?as_of=${from}`), " and now; each account's latest decision from its tier history."));
}

async function eventLog(ctx, box, lastSeq) {
  let after = Math.max(0, lastSeq - LOG_PAGE);
  const body = h("tbody", {});
  const older = h("button", { class: "btn", type: "button", "data-test": "log-older", onclick: () => ctx.track(show(Math.max(0, after - LOG_PAGE)), "update", body) }, "← Older");
  const newer = h("button", { class: "btn", type: "button", "data-test": "log-newer", onclick: () => ctx.track(show(after + LOG_PAGE), "update", body) }, "Newer →");
  const range = h("span", { class: "muted" });
  clear(box,
    h("div", { class: "table-wrap" }, h("table", { "data-test": "log-table" },
      h("thead", {}, h("tr", {}, h("th", { class: "num" }, "Seq"), h("th", {}, "Business time"), h("th", {}, "Type"), h("th", {}, "Account"),
        h("th", { class: "opt" }, "What"), h("th", { class: "opt" }, "Source · actor"))),
      body)),
    h("div", { class: "pager" }, range, h("div", { class: "btns" }, older, newer)));
  async function show(a) {
    const page = await get("/v1/events" + query({ after: a, limit: LOG_PAGE }), ctx.signal);
    if (ctx.signal.aborted) return;
    after = a;
    const evs = [...page.events].reverse();
    clear(body, evs.length ? evs.map((e) => h("tr", {},
      h("td", { class: "num faint" }, e.seq),
      h("td", { class: "nowrap" }, fmtDateTime(e.time)),
      h("td", {}, h("span", { class: "evtype " + eventFamily(e.type || "") }, e.type || "(unreadable)")),
      h("td", {}, e.subject ? link(accountHref(e.subject) + "#history", {}, e.subject) : h("span", { class: "faint" }, "—")),
      h("td", { class: "opt muted" }, e.type ? eventSummary(e) : ""),
      h("td", { class: "opt faint" }, [e.source, e.actor].filter(Boolean).join(" · "))))
      : h("tr", {}, h("td", { colspan: 6 }, empty("The log is empty."))));
    range.textContent = evs.length ? `#${fmtInt(evs[evs.length - 1].seq)}–#${fmtInt(evs[0].seq)} of ${fmtInt(lastSeq)}` : "";
    older.disabled = after === 0;
    newer.disabled = after + LOG_PAGE >= lastSeq;
  }
  await show(after);
}
