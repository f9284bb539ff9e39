// The console's only way to the server: the public HTTP API under /api/v1, with each request
// timed by the page itself (the "This page's requests" chart).

const BASE = "/api/v1";

/** An answer of the API that is not a success, worded as the API worded it. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** The page's own requests: { at (ms since epoch), ms, label, status }, the last few hundred. */
export const timings = [];
const listeners = new Set();

/** Calls `fn(timing)` after each request of the page. */
export function onTiming(fn) {
  listeners.add(fn);
}

function record(label, started, status) {
  const t = { at: Date.now(), ms: performance.now() - started, label, status };
  timings.push(t);
  if (timings.length > 500) timings.splice(0, timings.length - 500);
  for (const fn of listeners) fn(t);
}

/** The path of an application: its token is only ever in API paths, never in the page's URL. */
export function appPath(token) {
  return `/applications/${encodeURIComponent(token)}`;
}

/**
 * One API request. `label` names it in the charts without its token. Resolves to
 * { data, next } where `next` is the path of the next page (from `Link: rel="next"`), or throws
 * an ApiError carrying the server's own words.
 */
export async function request(method, path, { body, admin, label, query } = {}) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (admin) headers.authorization = `Bearer ${admin}`;
  let url = path.startsWith(BASE) ? path : BASE + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null) q.set(k, String(v));
    const s = q.toString();
    if (s) url += (url.includes("?") ? "&" : "?") + s;
  }
  const started = performance.now();
  let response;
  try {
    response = await fetch(url, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer",
    });
  } catch (e) {
    record(`${method} ${label || path}`, started, 0);
    throw new ApiError(0, "network", `the server did not answer (${e.message})`);
  }
  let data = null;
  const text = await response.text();
  record(`${method} ${label || path}`, started, response.status);
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!response.ok) {
    const err = data && data.error;
    throw new ApiError(
      response.status,
      (err && err.code) || "http",
      (err && err.message) || `the server answered ${response.status} ${response.statusText}`,
    );
  }
  return { data, next: nextLink(response.headers.get("link")) };
}

function nextLink(header) {
  if (!header) return null;
  for (const part of header.split(",")) {
    const m = part.match(/<([^>]*)>\s*;\s*rel="?next"?/);
    if (m) return m[1];
  }
  return null;
}
