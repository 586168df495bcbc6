// The dashboard's only door to data: kam's public JSON API under /v1/.
// Nothing here knows more than a script calling the same URLs would.

export class ApiError extends Error {
  constructor(path, status, body) {
    const e = body && body.error;
    super(`${path}: ${status}${e ? " " + e.code + ": " + e.message : ""}`);
    this.status = status;
    this.code = e ? e.code : "";
  }
}

// A kam with API tokens answers 401 without one; the dashboard then asks for
// a token and keeps it for the browser tab only (sessionStorage).
const TOKEN_KEY = "kam.token";

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  cache.clear();
}

// get fetches one API path and returns its JSON.
export async function get(path, signal) {
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const resp = await fetch(path, { signal, headers });
  let body = null;
  try {
    body = await resp.json();
  } catch {
    throw new ApiError(path, resp.status, null);
  }
  if (!resp.ok) throw new ApiError(path, resp.status, body);
  return body;
}

// Answers are cached while the read model stays at one applied sequence:
// the status call at each navigation tells when it moved on.
let generation = null;
const cache = new Map();

export function setGeneration(seq) {
  if (seq !== generation) {
    cache.clear();
    generation = seq;
  }
}

export function cached(path) {
  if (!cache.has(path)) {
    const p = get(path).catch((err) => {
      cache.delete(path);
      throw err;
    });
    cache.set(path, p);
  }
  return cache.get(path);
}

export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const str = q.toString();
  return str ? "?" + str : "";
}

// Most accounts a view reads by paging the whole list (10 pages of 1000).
export const ALL_ACCOUNTS_CAP = 10000;

// allAccounts pages through /v1/accounts with the given filter, up to the
// cap; truncated says whether there were more.
export async function allAccounts(params = {}) {
  const out = [];
  let cursor = "";
  let total = 0;
  for (;;) {
    const page = await cached("/v1/accounts" + query({ ...params, limit: 1000, cursor }));
    out.push(...page.accounts);
    total = page.total;
    cursor = page.next_cursor;
    if (!cursor || out.length >= ALL_ACCOUNTS_CAP) break;
  }
  return { accounts: out, total, truncated: out.length < total };
}

// Most events the account page reads for its charts and history.
export const ACCOUNT_EVENTS_CAP = 20000;

// accountEvents reads an account's whole history from the log, oldest first.
export async function accountEvents(id, signal) {
  const out = [];
  let after = 0;
  for (;;) {
    const page = await get("/v1/events" + query({ account: id, after, limit: 1000 }), signal);
    out.push(...page.events);
    if (page.events.length < 1000 || out.length >= ACCOUNT_EVENTS_CAP) {
      return { events: out, truncated: page.events.length === 1000 };
    }
    after = page.next_after;
  }
}

// pool runs fn over items with at most n requests in flight.
export async function pool(items, n, fn) {
  const results = new Array(items.length);
  let next = 0;
  async function worker() {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  }
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, worker));
  return results;
}

// policy is the policy the read model was built under (currency, cut-offs,
// weights, service-level targets), or null when this caller may not read it.
export function policy() {
  return cached("/v1/admin/policy").catch(() => null);
}
