// A small SVG line chart: time on x (the last minute), one line per series, a legend below.
// Everything is built with DOM calls; names and values are set as text, never as markup.

const NS = "http://www.w3.org/2000/svg";
const W = 360;
const H = 120;
const M = { left: 42, right: 8, top: 8, bottom: 18 };
const COLORS = 8;

function svg(name, attrs = {}, parent) {
  const el = document.createElementNS(NS, name);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

/** The smallest of 1, 2, 2.5, 5 × 10^n at or above `v` (an axis top that reads well). */
function niceCeil(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function fmt(v) {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1).replace(/\.0$/, "");
  return v.toFixed(2).replace(/\.?0+$/, "") || "0";
}

export class LineChart {
  /**
   * @param container element to draw into
   * @param options { label: accessible name, unit: "ms" | "req/s", seconds: the widest window }
   */
  constructor(container, { label, unit, seconds = 60 }) {
    this.unit = unit;
    this.seconds = seconds;
    this.svg = svg("svg", {
      viewBox: `0 0 ${W} ${H}`,
      role: "img",
      "aria-label": label,
      class: "linechart",
    });
    container.appendChild(this.svg);
    this.legend = document.createElement("ul");
    this.legend.className = "legend";
    container.appendChild(this.legend);
    this.update([], Date.now());
  }

  /**
   * Redraws. `series`: [{ name, title, color, points: [[time ms, value], …] }] (points in time
   * order; `color`: a palette index, or "all" for the total);
   * `now`: the right edge, in ms since the epoch. The window spans the data, from 10 s up to
   * the widest window, so a fresh page does not squeeze its first seconds against the edge.
   */
  update(series, now) {
    const first = Math.min(now, ...series.flatMap((s) => s.points.map(([t]) => t)));
    const span = Math.min(this.seconds, Math.max(10, Math.ceil((now - first) / 1000) + 1));
    const from = now - span * 1000;
    const shown = series
      .map((s) => ({ ...s, points: s.points.filter(([t]) => t >= from && t <= now) }))
      .filter((s) => s.points.length > 0);
    const top = niceCeil(Math.max(0, ...shown.flatMap((s) => s.points.map(([, v]) => v))));
    const x = (t) => M.left + ((t - from) / (now - from)) * (W - M.left - M.right);
    const y = (v) => H - M.bottom - (v / top) * (H - M.top - M.bottom);

    this.svg.replaceChildren();
    for (const v of [0, top / 2, top]) {
      svg("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: "grid" }, this.svg);
      const label = svg("text", { x: M.left - 4, y: y(v) + 4, class: "axis", "text-anchor": "end" }, this.svg);
      label.textContent = fmt(v);
    }
    for (const [t, text, anchor] of [
      [from, `-${span} s`, "start"],
      [now, "now", "end"],
    ]) {
      const label = svg("text", { x: x(t), y: H - 4, class: "axis", "text-anchor": anchor }, this.svg);
      label.textContent = text;
    }
    let points = 0;
    const colorOf = (s, i) => (s.color === "all" ? "sall" : `s${(s.color ?? i) % COLORS}`);
    shown.forEach((s, i) => {
      const cls = colorOf(s, i);
      const coords = s.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`);
      const line = svg("polyline", { points: coords.join(" "), class: `line ${cls}` }, this.svg);
      line.dataset.series = s.name;
      const title = svg("title", {}, line);
      title.textContent = s.title || s.name;
      if (s.points.length === 1) {
        const [t, v] = s.points[0];
        svg("circle", { cx: x(t), cy: y(v), r: 2, class: `dot ${cls}` }, this.svg);
      }
      points += s.points.length;
    });
    if (shown.length === 0) {
      const empty = svg("text", { x: W / 2, y: H / 2, class: "empty", "text-anchor": "middle" }, this.svg);
      empty.textContent = "no requests yet";
    }
    this.svg.dataset.series = String(shown.length);
    this.svg.dataset.points = String(points);

    this.legend.replaceChildren();
    shown.forEach((s, i) => {
      const li = document.createElement("li");
      const swatch = document.createElement("span");
      swatch.className = `swatch ${colorOf(s, i)}`;
      swatch.setAttribute("aria-hidden", "true");
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = s.name;
      name.title = s.title || s.name;
      const last = document.createElement("span");
      last.className = "value";
      last.textContent = `${fmt(s.points[s.points.length - 1][1])} ${this.unit}`;
      li.append(swatch, name, last);
      this.legend.appendChild(li);
    });
  }
}
