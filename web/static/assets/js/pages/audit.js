// Audit: what an auditor traces with the public API — the state of the log
// and the read model, an account's decision trail (/v1/accounts/{id}/audit:
// every decision with its figures, policy, the event that closed the review
// and the events that moved it, read from the stream by sequence), the
// recent tier decisions, and the log itself.

import { get, cached, allAccounts, query } from "../api.js";
import { h, clear, card, link, accountHref, apiHref, tierBadge, empty } from "../dom.js";
import { fmtInt, fmtDay, fmtDateTime, addDays, reviewDay, LOYALTY_LABEL, plural } from "../format.js";
import { movements, eventSummary, eventFamily, tierReason, keyReason, loyaltyReason } from "../derive.js";

const LOG_PAGE = 50;

export async function render(main, ctx) {
  const st = ctx.status || (await get("/v1/status", ctx.signal));
  const abc = await cached("/v1/reports/abc").catch((err) => (err.status === 404 ? null : Promise.reject(err)));
  if (ctx.signal.aborted) return;
  const account = ctx.query.get("account") || "";
  const decisions = h("div", {}, h("p", { class: "loading" }, "Comparing reviews…"));
  const logBox = h("div", {}, h("p", { class: "loading" }, "Reading the log…"));
  const trailBox = h("div", {}, h("p", { class: "loading" }, "Reading the trail…"));
  clear(main,
    h("div", { class: "page-head" }, h("div", {}, h("h1", {}, "Audit"),
      h("p", {}, "When, why and on which events each decision was taken; everything here comes from the public API and links to it."))),
    h("div", { class: "grid" },
      card({ title: "Log and read model", sub: "Where the projector stands", class: "span-5", test: "audit-status" }, statusList(st)),
      card({ title: "Trace an account", sub: "Its decision trail: figures, policy, and the events behind each decision", class: "span-7" }, traceForm(ctx, account)),
      account ? card({
        title: h("span", {}, "Decision trail of ", link(accountHref(account) + "#timeline", {}, account)),
        sub: "Oldest decision last; every event shown is read from the stream by its sequence", class: "span-12", id: "trail", test: "audit-trail",
        action: h("a", { href: apiHref(account, "audit"), target: "_blank", rel: "noopener", class: "faint" }, "as JSON"),
      }, trailBox) : null,
      card({ title: "Tier decisions, last 30 days", sub: abc ? `Accounts whose tier at the review of ${fmtDay(abc.day)} differs from 30 days before` : "", class: "span-12", test: "audit-decisions" }, decisions),
      card({ title: "Event log", sub: "The stream as stored, newest first: sequence, business time, type, account", class: "span-12", id: "log", test: "audit-log" }, logBox)));
  if (account) ctx.track(trail(ctx, trailBox, account), "load", trailBox);
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

function traceForm(ctx, account) {
  const input = h("input", { type: "text", placeholder: "Account id, e.g. ACME", "aria-label": "Account id", "data-test": "trace-id", value: account });
  const form = h("form", {
    class: "trace-form",
    onsubmit: (ev) => {
      ev.preventDefault();
      const id = input.value.trim();
      if (id) ctx.navigate("/audit" + query({ account: id }) + "#trail");
    },
  }, input, h("button", { class: "btn", type: "submit" }, "Show trail"));
  return [
    form,
    h("p", { class: "note" }, "The trail is ", h("code", {}, "/v1/accounts/{id}/audit"), ". The history views ",
      h("code", {}, "/v1/accounts/{id}/tiers"), ", ", h("code", {}, "/key"), " and ", h("code", {}, "/loyalty"),
      " hold the same decisions row by row, and ", h("code", {}, "/v1/events?account={id}"),
      " the facts; the account page shows them as one timeline. ",
      h("code", {}, "kam verify"), " rebuilds the read model from the log and compares it table by table."),
    h("div", { class: "links", style: { fontSize: "12.5px" } }, h("span", { class: "faint" }, "Policy in force:"),
      h("a", { href: "/v1/admin/policy", target: "_blank", rel: "noopener" }, "/v1/admin/policy")),
  ];
}

const KIND_FIELDS = { tier: ["from_tier", "to_tier"], key: ["from_key", "to_key"], loyalty: ["from_loyalty", "to_loyalty"] };

// decisionRow is a decision of the audit trail in the shape of a history row.
function decisionRow(d) {
  const [from, to] = KIND_FIELDS[d.kind] || ["from", "to"];
  return { ...d.figures, effective: d.effective, [from]: d.from, [to]: d.to, close_seq: d.close_seq, close_event_id: d.close_event_id };
}

function change(d) {
  const v = (x) => {
    if (x === null || x === undefined) return h("span", { class: "faint" }, "none");
    if (d.kind === "tier") return tierBadge(x);
    if (d.kind === "key") return x ? h("span", { class: "chip key" }, "★ key") : h("span", { class: "chip" }, "not key");
    return h("span", { class: "chip " + x }, LOYALTY_LABEL[x] || x);
  };
  return h("span", { class: "flow" }, v(d.from), "→", v(d.to));
}

function eventLine(e) {
  if (!e) return h("span", { class: "faint" }, "not in the stream");
  return h("span", {}, h("span", { class: "faint num" }, `#${e.seq} `), h("span", { class: "evtype " + eventFamily(e.type || "") }, e.type),
    " ", h("span", { class: "muted" }, fmtDateTime(e.time)), e.subject ? [" · ", e.subject] : "", e.type ? [" · ", eventSummary(e)] : "");
}

async function trail(ctx, box, id) {
  let a;
  try {
    a = await get(apiHref(id, "audit"), ctx.signal);
  } catch (err) {
    if (err.status === 404) {
      clear(box, empty(`kam knows no account ${id}.`));
      return;
    }
    throw err;
  }
  if (ctx.signal.aborted) return;
  const why = { tier: tierReason, key: keyReason, loyalty: loyaltyReason };
  const ds = [...a.decisions].reverse();
  clear(box,
    h("dl", { class: "kv", style: { marginBottom: "12px" } },
      h("dt", {}, "Decisions"), h("dd", { "data-test": "trail-count" }, fmtInt(a.decisions.length)),
      h("dt", {}, "Hash chain"), h("dd", {}, a.chain
        ? [plural(a.chain.length, "event"), " · head ", h("span", { class: "mono", title: a.chain.head }, a.chain.head.slice(0, 16) + "…"), ` · last #${a.chain.last_seq}`]
        : "none"),
      h("dt", {}, "Policy"), h("dd", { class: "mono", title: a.policy }, a.policy.slice(0, 16) + "…"),
      h("dt", {}, "Prepared"), h("dd", {}, `${fmtDateTime(a.prepared)} · stream at #${fmtInt(a.stream.last_seq)}`)),
    ds.length ? h("ul", { class: "changes", "data-test": "trail" }, ds.map((d) => h("li", { "data-kind": d.kind },
      h("div", {}, h("div", { class: "when" }, fmtDay(reviewDay(d.effective))), h("div", { class: "kind-tag" }, d.kind)),
      h("div", { class: "what" }, change(d)),
      h("div", {},
        h("div", { class: "why" }, (why[d.kind] || (() => ""))(decisionRow(d))),
        h("div", { class: "trace", "data-test": "closed-by" }, "Closed by ", eventLine(d.closed_by)),
        d.moved_count ? h("div", { class: "trace" }, `Moved by ${plural(d.moved_count, "event")}`, d.moved.length < d.moved_count ? ` (latest ${d.moved.length})` : "", ":",
          h("ul", { class: "moved" }, d.moved.map((e) => h("li", {}, eventLine(e))))) : null,
        d.policy !== a.policy ? h("div", { class: "trace" }, "Under policy ", h("span", { class: "mono" }, d.policy.slice(0, 12))) : null))))
      : empty("No decision yet."));
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
          link("/audit" + query({ account: m.account.id }) + "#trail", { "data-test": "trail-link" }, "trail"),
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
