// The REST API client: bearer token from sessionStorage, JSON in and
// out, RFC 9457 problems turned into APIError.

const KEY = "meridian.token";

export function getToken() {
  return sessionStorage.getItem(KEY) || "";
}
export function setToken(t) {
  if (t) sessionStorage.setItem(KEY, t);
  else sessionStorage.removeItem(KEY);
}

export class APIError extends Error {
  constructor(status, problem, path) {
    super(problem && (problem.detail || problem.title) ? `${problem.title || status}: ${problem.detail || ""}`.replace(/: $/, "") : `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.path = path;
  }
}

// unauthorized listeners run when any call answers 401 (token revoked or
// wrong): the page signs out.
const onUnauthorized = new Set();
export function whenUnauthorized(fn) {
  onUnauthorized.add(fn);
}

export function authHeaders(extra) {
  return { Authorization: `Bearer ${getToken()}`, ...extra };
}

// api makes one call; the answer's JSON, or null for 204.
export async function api(path, { method = "GET", body, signal, quiet401 = false } = {}) {
  const headers = authHeaders({ Accept: "application/json" });
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`/api/v1${path}`, {
    method, headers, signal, cache: "no-store",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (res.status === 204) return null;
  const type = res.headers.get("Content-Type") || "";
  const data = type.includes("json") ? await res.json().catch(() => null) : null;
  if (!res.ok) {
    if (res.status === 401 && !quiet401) for (const fn of onUnauthorized) fn();
    throw new APIError(res.status, data, path);
  }
  return data;
}

// listAll follows a paged list's next cursors (at most pages pages).
export async function listAll(path, params = {}, pages = 20) {
  const items = [];
  let after = "";
  for (let i = 0; i < pages; i++) {
    const q = new URLSearchParams({ ...params, limit: "1000" });
    if (after) q.set("after", after);
    const page = await api(`${path}?${q}`);
    items.push(...(page.items || []));
    if (!page.next) return items;
    after = page.next;
  }
  return items;
}

// seg escapes one path segment, leaving the characters names and
// addresses are made of (dots, colons) as they are.
export function seg(s) {
  return String(s).replace(/[^A-Za-z0-9._~:-]/g, (c) => encodeURIComponent(c));
}

// probeRole signs in: the token must read (/status), and /whoami says
// its role, without trying a route the role may not use (that would be a
// denied attempt in the audit log). Answers "admin" or "read"; throws
// APIError (401: bad token; 403: a checker token, which cannot read the
// dashboard's data).
export async function probeRole() {
  await api("/status", { quiet401: true });
  const who = await api("/whoami", { quiet401: true });
  return who && who.role === "admin" ? "admin" : "read";
}
