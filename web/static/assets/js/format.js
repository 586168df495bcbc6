// Formatting of the API's values. Money arrives as decimal strings and is
// shown digit for digit (only grouped), never through a float; sums the
// dashboard makes itself (revenue by month) are made in integer minor units.

export const LOYALTY_LABEL = {
  new: "New",
  loyal: "Loyal",
  brand_switching: "Brand switching",
  no_brand_loyalty: "No brand loyalty",
};

export const ROLE_LABEL = {
  decision_maker: "Decision makers",
  influencer: "Influencers",
  purchaser: "Purchasers",
  user: "Users",
};

export const TIERS = ["A", "B", "C"];

const dateFmt = new Intl.DateTimeFormat("en-GB", { day: "numeric", month: "short", year: "numeric", timeZone: "UTC" });
const timeFmt = new Intl.DateTimeFormat("en-GB", {
  day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", hourCycle: "h23", timeZone: "UTC",
});
const monthFmt = new Intl.DateTimeFormat("en-GB", { month: "short", year: "2-digit", timeZone: "UTC" });

export function fmtDate(iso) {
  return iso ? dateFmt.format(new Date(iso)) : "—";
}

export function fmtDateTime(iso) {
  return iso ? timeFmt.format(new Date(iso)) + " UTC" : "—";
}

export function fmtMonth(ms) {
  return monthFmt.format(new Date(ms));
}

// reviewDay is the day a review closed: its effective time is that day's
// 24:00, i.e. the next day's 00:00.
export function reviewDay(effective) {
  return new Date(Date.parse(effective) - 1).toISOString().slice(0, 10);
}

export function fmtDay(day) {
  return day ? dateFmt.format(new Date(day + "T00:00:00Z")) : "—";
}

export function addDays(day, n) {
  const d = new Date(day + "T00:00:00Z");
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

export function fmtInt(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("en-US");
}

function group(intDigits) {
  return intDigits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

// fmtMoney groups the integer digits of a decimal string: "1234567.50" →
// "1,234,567.50".
export function fmtMoney(s) {
  if (s === null || s === undefined || s === "") return "—";
  const str = String(s);
  const neg = str.startsWith("-");
  const [i, f] = (neg ? str.slice(1) : str).split(".");
  return (neg ? "-" : "") + group(i) + (f !== undefined ? "." + f : "");
}

// fmtCompact is for headlines and chart labels: 11042669.42 → "11.0M".
export function fmtCompact(s) {
  const n = Number(s);
  const a = Math.abs(n);
  if (a >= 1e9) return (n / 1e9).toFixed(a >= 1e10 ? 1 : 2) + "B";
  if (a >= 1e6) return (n / 1e6).toFixed(a >= 1e7 ? 1 : 2) + "M";
  if (a >= 1e3) return (n / 1e3).toFixed(a >= 1e4 ? 0 : 1) + "k";
  return n.toFixed(0);
}

// digitsOf is how many decimals the deployment's currency has, read off a
// money string of the API.
export function digitsOf(s) {
  const i = String(s).indexOf(".");
  return i < 0 ? 0 : String(s).length - i - 1;
}

// toMinor parses a decimal string into integer minor units (BigInt).
export function toMinor(s, digits) {
  const str = String(s).trim();
  const neg = str.startsWith("-");
  const [i, f = ""] = (neg || str.startsWith("+") ? str.slice(1) : str).split(".");
  const v = BigInt((i || "0") + f.padEnd(digits, "0").slice(0, digits));
  return neg ? -v : v;
}

export function fromMinor(v, digits) {
  const neg = v < 0n;
  let str = (neg ? -v : v).toString().padStart(digits + 1, "0");
  if (digits > 0) str = str.slice(0, -digits) + "." + str.slice(-digits);
  return (neg ? "-" : "") + str;
}

export function fmtPct(share, places = 1) {
  return share === null || share === undefined ? "—" : (share * 100).toFixed(places) + "%";
}

export function fmtHours(h) {
  if (h === null || h === undefined) return "—";
  return h < 72 ? `${+h.toFixed(1)} h` : `${+(h / 24).toFixed(1)} d`;
}

export function daysAgo(iso, nowMs) {
  return Math.floor((nowMs - Date.parse(iso)) / 86400000);
}

export function plural(n, one, many) {
  return `${fmtInt(n)} ${n === 1 ? one : many || one + "s"}`;
}
