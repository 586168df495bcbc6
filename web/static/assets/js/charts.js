// SVG charts drawn at the width of their container, so that text keeps its
// size on a phone; each is redrawn when that width changes.

import { h, s, clear } from "./dom.js";
import { fmtCompact, fmtMonth, fmtPct, fmtMoney, fmtDate, LOYALTY_LABEL } from "./format.js";

const TIER_COLOR = { A: "var(--tier-a)", B: "var(--tier-b)", C: "var(--tier-c)" };
const LOYALTY_COLOR = { loyal: "var(--good)", new: "#8b5cf6", brand_switching: "var(--bad)", no_brand_loyalty: "#f0a060" };

// responsive returns a container whose content draw(width) makes, redrawn
// (on the next frame) whenever the container's width changes.
export function responsive(draw, attrs = {}) {
  const box = h("div", { class: "chart", ...attrs });
  let width = 0;
  const ro = new ResizeObserver((entries) => {
    const w = Math.floor(entries[0].contentRect.width);
    if (w > 0 && w !== width) {
      width = w;
      requestAnimationFrame(() => clear(box, draw(width)));
    }
  });
  ro.observe(box);
  return box;
}

function ticks(max, count) {
  if (max <= 0) return [0];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((st) => st >= raw);
  const out = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(v);
  if (out[out.length - 1] < max) out.push(out[out.length - 1] + step);
  return out;
}

// pareto draws the cumulative share of revenue against the share of ranked
// accounts, with the A cut line and the point where tier A ends.
export function pareto(report) {
  const points = report.pareto || [];
  const ranked = report.ranked;
  const aN = Math.min(report.tiers.A.accounts, ranked);
  const bN = Math.min(report.tiers.A.accounts + report.tiers.B.accounts, ranked);
  const xA = ranked ? aN / ranked : 0;
  const xB = ranked ? bN / ranked : 0;
  const yA = report.tiers.A.share;
  const cut = report.cut_a / 100;
  return responsive((W) => {
    const H = Math.round(Math.min(320, Math.max(220, W * 0.5)));
    const m = { l: 42, r: 14, t: 14, b: 38 };
    const iw = W - m.l - m.r;
    const ih = H - m.t - m.b;
    const X = (v) => m.l + v * iw;
    const Y = (v) => m.t + (1 - v) * ih;
    const g = s("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Pareto curve", "data-test": "pareto" });
    // tier zones
    const zones = [["A", 0, xA], ["B", xA, xB], ["C", xB, 1]];
    for (const [t, a, b] of zones) {
      if (b > a) g.append(s("rect", { x: X(a), y: m.t, width: X(b) - X(a), height: ih, fill: TIER_COLOR[t], "fill-opacity": 0.07 }));
    }
    // grid and axes
    const grid = s("g", { class: "grid" });
    const axis = s("g", { class: "axis" });
    for (let i = 0; i <= 5; i++) {
      const v = i / 5;
      grid.append(s("line", { x1: m.l, x2: m.l + iw, y1: Y(v), y2: Y(v) }));
      axis.append(s("text", { x: m.l - 8, y: Y(v) + 4, "text-anchor": "end" }, fmtPct(v, 0)));
      axis.append(s("text", { x: X(v), y: H - m.b + 16, "text-anchor": i === 0 ? "start" : i === 5 ? "end" : "middle" }, fmtPct(v, 0)));
    }
    axis.append(s("text", { x: m.l + iw / 2, y: H - 4, "text-anchor": "middle" }, "share of ranked accounts, largest first"));
    g.append(grid, axis);
    // equal-share diagonal
    g.append(s("line", { x1: X(0), y1: Y(0), x2: X(1), y2: Y(1), stroke: "var(--ink-3)", "stroke-dasharray": "3 4", "stroke-width": 1 }));
    if (points.length) {
      const pts = [[0, 0], ...points];
      const line = pts.map(([x, y], i) => `${i ? "L" : "M"}${X(x).toFixed(1)},${Y(y).toFixed(1)}`).join("");
      g.append(s("path", { d: `${line}L${X(1)},${Y(0)}Z`, fill: "var(--tier-a)", "fill-opacity": 0.08 }));
      g.append(s("path", { d: line, fill: "none", stroke: "var(--tier-a)", "stroke-width": 2.5, "stroke-linejoin": "round", "data-test": "pareto-curve" }));
      for (const [x, y] of points.filter((_, i) => (i + 1) % 10 === 0)) {
        g.append(s("circle", { cx: X(x), cy: Y(y), r: 3, fill: "var(--surface)", stroke: "var(--tier-a)", "stroke-width": 1.5 },
          s("title", {}, `Top ${fmtPct(x, 0)} of accounts: ${fmtPct(y)} of revenue`)));
      }
    }
    // the A cut
    g.append(s("line", { x1: m.l, x2: m.l + iw, y1: Y(cut), y2: Y(cut), stroke: "var(--bad)", "stroke-width": 1.2, "stroke-dasharray": "5 4", "data-test": "pareto-cut" }));
    g.append(s("text", { x: m.l + iw - 4, y: Y(cut) - 6, "text-anchor": "end", fill: "var(--bad)" }, `A's cut: ${report.cut_a}% of revenue`));
    // where A ends
    if (aN > 0) {
      g.append(s("line", { x1: X(xA), x2: X(xA), y1: m.t, y2: m.t + ih, stroke: "var(--tier-a)", "stroke-width": 1.2, "stroke-dasharray": "2 3", "data-test": "pareto-a-end" }));
      g.append(s("circle", { cx: X(xA), cy: Y(yA), r: 5, fill: "var(--tier-a)", stroke: "#fff", "stroke-width": 2 }));
      const right = xA < 0.6;
      g.append(s("text", { x: X(xA) + (right ? 10 : -10), y: Y(yA) + 22, "text-anchor": right ? "start" : "end", class: "lbl-strong" },
        `A ends: top ${aN} (${fmtPct(xA)})`));
      g.append(s("text", { x: X(xA) + (right ? 10 : -10), y: Y(yA) + 37, "text-anchor": right ? "start" : "end" },
        `hold ${fmtPct(yA)} of revenue`));
    }
    return g;
  }, { "data-test": "pareto-chart" });
}

// monthly draws revenue per month as columns (returns can make a month
// negative), shading the months inside the tiering window.
export function monthly(months, windowFromMs, windowToMs) {
  return responsive((W) => {
    const H = 220;
    const m = { l: 50, r: 8, t: 12, b: 28 };
    const iw = W - m.l - m.r;
    const ih = H - m.t - m.b;
    const vals = months.map((mo) => Number(mo.amount));
    const hi = Math.max(0, ...vals);
    const lo = Math.min(0, ...vals);
    const yt = ticks(hi, 4);
    const top = yt[yt.length - 1] || 1;
    const bottom = lo < 0 ? -ticks(-lo, 2).slice(-1)[0] : 0;
    const Y = (v) => m.t + ((top - v) / (top - bottom)) * ih;
    const g = s("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Revenue by month" });
    const n = Math.max(months.length, 1);
    const slot = iw / n;
    const bw = Math.max(2, Math.min(34, slot * 0.7));
    months.forEach((mo, i) => {
      if (mo.end > windowFromMs && mo.start < windowToMs) {
        g.append(s("rect", { x: m.l + i * slot, y: m.t, width: slot, height: ih, fill: "var(--tier-a)", "fill-opacity": 0.05 }));
      }
    });
    const grid = s("g", { class: "grid" });
    const axis = s("g", { class: "axis" });
    for (const v of yt) {
      grid.append(s("line", { x1: m.l, x2: m.l + iw, y1: Y(v), y2: Y(v) }));
      axis.append(s("text", { x: m.l - 6, y: Y(v) + 4, "text-anchor": "end" }, fmtCompact(v)));
    }
    if (bottom < 0) axis.append(s("text", { x: m.l - 6, y: Y(bottom) + 4, "text-anchor": "end" }, fmtCompact(bottom)));
    g.append(grid, axis);
    const every = Math.ceil(n / Math.max(1, Math.floor(iw / 54)));
    months.forEach((mo, i) => {
      const v = vals[i];
      const x = m.l + i * slot + (slot - bw) / 2;
      const y0 = Y(Math.max(v, 0));
      const hgt = Math.max(Math.abs(Y(v) - Y(0)), v === 0 ? 0 : 1);
      g.append(s("rect", { x, y: v >= 0 ? y0 : Y(0), width: bw, height: hgt, rx: 2, fill: v >= 0 ? "var(--tier-a)" : "var(--bad)", "data-test": "month-bar", "data-amount": mo.amount },
        s("title", {}, `${fmtMonth(mo.start)}: ${fmtMoney(mo.amount)}`)));
      if (i % every === 0) {
        g.append(s("text", { x: m.l + i * slot + slot / 2, y: H - 8, "text-anchor": "middle" }, fmtMonth(mo.start)));
      }
    });
    g.append(s("line", { x1: m.l, x2: m.l + iw, y1: Y(0), y2: Y(0), stroke: "var(--ink-3)" }));
    return g;
  }, { "data-test": "revenue-chart" });
}

// track draws an account's tier, key flag and loyalty as lanes over time.
export function track(lanes, fromMs, toMs) {
  return responsive((W) => {
    const labelW = W < 500 ? 64 : 84;
    const laneH = 22;
    const gap = 10;
    const H = lanes.length * (laneH + gap) + 22;
    const iw = W - labelW - 8;
    const span = Math.max(toMs - fromMs, 1);
    const X = (t) => labelW + ((Math.min(Math.max(t, fromMs), toMs) - fromMs) / span) * iw;
    const g = s("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Tier, key and loyalty over time" });
    lanes.forEach((lane, i) => {
      const y = i * (laneH + gap);
      g.append(s("text", { x: 0, y: y + 15, class: "lbl-strong" }, lane.label));
      g.append(s("rect", { x: labelW, y, width: iw, height: laneH, rx: 4, fill: "var(--line-2)" }));
      for (const seg of lane.segments) {
        const x0 = X(seg.start);
        const x1 = X(seg.end);
        const st = lane.style(seg.value);
        g.append(s("rect", { x: x0, y, width: Math.max(x1 - x0, 1), height: laneH, fill: st.fill, "data-value": String(seg.value) },
          s("title", {}, `${lane.label}: ${st.label} from ${fmtDate(seg.start)}`)));
        if (x1 - x0 > 34) g.append(s("text", { x: x0 + 6, y: y + 15, fill: st.ink || "#fff", "font-weight": 600 }, st.short || st.label));
      }
    });
    // time axis: months
    const y = lanes.length * (laneH + gap) + 14;
    const months = [];
    for (let d = new Date(fromMs), k = 0; k < 400; k++) {
      const mStart = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
      if (mStart > toMs) break;
      months.push(mStart);
      d = new Date(mStart);
    }
    const every = Math.ceil(months.length / Math.max(1, Math.floor(iw / 60)));
    months.forEach((t, k) => {
      if (k % every) return;
      g.append(s("line", { x1: X(t), x2: X(t), y1: 0, y2: y - 10, stroke: "#fff", "stroke-width": 1, "stroke-opacity": 0.35 }));
      g.append(s("text", { x: X(t), y, "text-anchor": "middle" }, fmtMonth(t)));
    });
    return g;
  }, { "data-test": "tier-track" });
}

export const tierStyle = (t) => ({ fill: TIER_COLOR[t] || "var(--line)", label: "Tier " + t, short: t });
export const keyStyle = (k) => (k ? { fill: "var(--key)", label: "key account", short: "★ key" } : { fill: "#dfe3ea", label: "not key", short: "–", ink: "var(--ink-3)" });
export const loyaltyStyle = (l) => ({ fill: LOYALTY_COLOR[l] || "var(--line)", label: LOYALTY_LABEL[l] || String(l), short: LOYALTY_LABEL[l] || String(l) });

// complianceBars draws, per tier, horizontal bars of several compliance
// shares (0..1 or null).
export function complianceBars(rows, series) {
  return responsive((W) => {
    const labelW = 46;
    const barH = 14;
    const groupH = series.length * (barH + 4) + 14;
    const H = rows.length * groupH + 24;
    const iw = W - labelW - 52;
    const g = s("svg", { width: W, height: H, viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "Compliance by tier" });
    const grid = s("g", { class: "grid" });
    for (let i = 0; i <= 4; i++) {
      const x = labelW + (iw * i) / 4;
      grid.append(s("line", { x1: x, x2: x, y1: 0, y2: H - 20 }));
      g.append(s("text", { x, y: H - 4, "text-anchor": "middle" }, `${i * 25}%`));
    }
    g.prepend(grid);
    rows.forEach((row, r) => {
      const y0 = r * groupH;
      g.append(s("rect", { x: 0, y: y0 + groupH / 2 - 18, width: 28, height: 22, rx: 6, fill: TIER_COLOR[row.tier] }));
      g.append(s("text", { x: 14, y: y0 + groupH / 2 - 3, "text-anchor": "middle", fill: "#fff", "font-weight": 700 }, row.tier));
      series.forEach((se, i) => {
        const v = row.values[i];
        const y = y0 + i * (barH + 4);
        g.append(s("rect", { x: labelW, y, width: iw, height: barH, rx: 3, fill: "var(--line-2)" }));
        if (v !== null && v !== undefined) {
          g.append(s("rect", { x: labelW, y, width: Math.max(iw * v, 1), height: barH, rx: 3, fill: se.color },
            s("title", {}, `${row.tier} ${se.label}: ${fmtPct(v)}`)));
        }
        g.append(s("text", { x: labelW + iw + 6, y: y + 11 }, fmtPct(v)));
      });
    });
    return g;
  }, { "data-test": "compliance-chart" });
}

export function legend(items) {
  return h("div", { class: "legend" }, items.map(([cls, label]) => h("span", {}, h("i", { class: cls }), label)));
}
