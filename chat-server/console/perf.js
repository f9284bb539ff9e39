// The performance panel: the server's requests per second and latencies by route (from the
// stats stream), and the latency of this page's own requests (timed by api.js).

import { onTiming, timings } from "./api.js";
import { LineChart } from "./chart.js";

const $ = (id) => document.getElementById(id);

const seconds = [];
const charts = {};

/** `POST /api/v1/applications/{token}/chats` → `POST …/chats`: short enough for a legend. */
function shortRoute(route) {
  return route
    .replace("/api/v1/", "/")
    .replace(/\/(chat_)?applications\/\{token\}/, " …")
    .replace(/ +/g, " ");
}

/** Each route keeps its colour in every chart, in the order the page first saw them. */
const routeColors = new Map();
function colorOf(route) {
  if (!routeColors.has(route)) routeColors.set(route, routeColors.size);
  return routeColors.get(route);
}

/** The console's own files and the stats stream: in "all routes", not charted one by one. */
const ownRoute = (route) => / \/(console\/|$)|\/stats\/stream$/.test(route);

function topRoutes(n) {
  const totals = new Map();
  for (const s of seconds) {
    for (const r of s.routes) if (!ownRoute(r.route)) totals.set(r.route, (totals.get(r.route) || 0) + r.requests);
  }
  return [...totals.entries()].sort((a, b) => b[1] - a[1]).slice(0, n).map(([r]) => r);
}

function drawServer() {
  if (!seconds.length) return;
  const now = seconds[seconds.length - 1].at_ms;
  const routes = topRoutes(5);
  const per = (route, field, zero) => ({
    name: shortRoute(route),
    title: route,
    color: colorOf(route),
    points: seconds.flatMap((s) => {
      const r = s.routes.find((x) => x.route === route);
      if (r) return [[s.at_ms, r[field]]];
      return zero ? [[s.at_ms, 0]] : [];
    }),
  });
  charts.rps.update([
    { name: "all routes", color: "all", points: seconds.map((s) => [s.at_ms, s.requests]) },
    ...routes.slice(0, 4).map((r) => per(r, "requests", true)),
  ], now);
  charts.p50.update(routes.map((r) => per(r, "p50_ms", false)), now);
  charts.p99.update(routes.map((r) => per(r, "p99_ms", false)), now);
}

function drawPage() {
  const now = Date.now();
  const byRoute = new Map();
  for (const t of timings) {
    // "GET /applications/{token}" is the server's route "GET /api/v1/applications/{token}":
    // one colour for both.
    const route = t.label.replace(" /", " /api/v1/");
    if (!byRoute.has(route)) byRoute.set(route, []);
    byRoute.get(route).push([t.at, t.ms]);
  }
  const series = [...byRoute.entries()]
    .sort((a, b) => b[1].length - a[1].length)
    .slice(0, 6)
    .map(([route, points]) => ({ name: shortRoute(route), title: route, points, color: colorOf(route) }));
  charts.page.update(series, now);
  const last = timings[timings.length - 1];
  $("page-last").textContent = last
    ? `last: ${shortRoute(last.label)} ${last.ms.toFixed(1)} ms (${last.status || "no answer"}); ${timings.length} requests timed`
    : "";
}

export function startPerf() {
  charts.rps = new LineChart($("chart-rps"), { label: "Server requests per second over the last minute", unit: "req/s" });
  charts.p50 = new LineChart($("chart-p50"), { label: "Server p50 latency by route over the last minute", unit: "ms" });
  charts.p99 = new LineChart($("chart-p99"), { label: "Server p99 latency by route over the last minute", unit: "ms" });
  charts.page = new LineChart($("chart-page"), { label: "Latency of this page's own requests over the last minute", unit: "ms" });
  const stateEl = $("perf-state");
  const source = new EventSource("/api/v1/stats/stream");
  source.addEventListener("open", () => { stateEl.textContent = "live"; });
  source.addEventListener("error", () => { stateEl.textContent = "reconnecting…"; });
  source.addEventListener("second", (ev) => {
    const s = JSON.parse(ev.data);
    // A reconnect replays the history: keep each second once.
    if (seconds.length && s.at_ms <= seconds[seconds.length - 1].at_ms) return;
    seconds.push(s);
    if (seconds.length > 120) seconds.splice(0, seconds.length - 120);
    drawServer();
    drawPage();
  });
  let pending = false;
  onTiming(() => {
    if (pending) return;
    pending = true;
    requestAnimationFrame(() => { pending = false; drawPage(); });
  });
}
