// A stacked bar chart in SVG: buckets along x, one colour per series, a value axis, a legend and
// a tooltip (SVG <title>) per bar. Enough for usage over time; no library to vendor.

import { h, s } from "./dom.js";

export const PALETTE = ["#2563eb", "#0d9488", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#65a30d",
  "#db2777", "#9ca3af"];
export const OTHER = 8;

function niceMax(value) {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/**
 * buckets: [{key, label}], series: [{name, tone? (a PALETTE index), values: number[] (one per bucket)}],
 * format: number -> string. Returns a <figure>.
 */
export function stackedBars({ buckets, series, format, title, empty = "No data in this range." }) {
  const width = 960, height = 260, left = 84, right = 12, top = 12, bottom = 34;
  const plotW = width - left - right, plotH = height - top - bottom;
  const totals = buckets.map((_, i) => series.reduce((sum, one) => sum + (one.values[i] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const slot = plotW / Math.max(1, buckets.length);
  const barW = Math.max(2, Math.min(48, slot * 0.7));
  const y = (v) => top + plotH - (v / max) * plotH;

  const svg = s("svg", { viewBox: `0 0 ${width} ${height}`, class: "chart", role: "img", "aria-label": title });
  for (let i = 0; i <= 4; i++) {
    const value = (max * i) / 4;
    svg.append(
      s("line", { x1: left, x2: width - right, y1: y(value), y2: y(value), class: i ? "grid" : "axis" }),
      s("text", { x: left - 8, y: y(value) + 4, class: "tick", "text-anchor": "end" }, format(value)),
    );
  }
  const every = Math.max(1, Math.ceil(buckets.length / 12));
  buckets.forEach((bucket, i) => {
    const x = left + slot * i + (slot - barW) / 2;
    let base = 0;
    series.forEach((one, k) => {
      const value = one.values[i] || 0;
      if (value <= 0) return;
      const rect = s("rect", {
        x, width: barW, y: y(base + value), height: Math.max(1, y(base) - y(base + value)),
        fill: PALETTE[(one.tone ?? k) % PALETTE.length], class: "bar",
      });
      rect.append(s("title", {}, `${bucket.label} · ${one.name}: ${format(value)}`));
      svg.append(rect);
      base += value;
    });
    if (i % every === 0) {
      svg.append(s("text", { x: x + barW / 2, y: height - 12, class: "tick", "text-anchor": "middle" }, bucket.label));
    }
  });
  const figure = h("figure", { class: "chart-box" }, h("figcaption", {}, title));
  if (!totals.some((t) => t > 0)) {
    figure.append(h("div", { class: "chart-empty" }, empty));
  }
  figure.append(svg);
  figure.append(
    h("ul", { class: "legend" },
      series.map((one, k) => h("li", {},
        h("span", { class: "swatch", dataset: { color: String((one.tone ?? k) % PALETTE.length) } }),
        one.name))),
  );
  return figure;
}

/** Time buckets ending now: hourly for a day, daily beyond (keys as the API writes them). */
export function timeBuckets(range) {
  const now = new Date();
  if (range.unit === "hour") {
    const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), now.getUTCHours());
    return Array.from({ length: range.count }, (_, i) => {
      const d = new Date(end - (range.count - 1 - i) * 3600e3);
      return { key: d.toISOString().slice(0, 13) + ":00:00Z", label: d.toISOString().slice(11, 16) };
    });
  }
  const end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
  return Array.from({ length: range.count }, (_, i) => {
    const d = new Date(end - (range.count - 1 - i) * 86400e3);
    return { key: d.toISOString().slice(0, 10), label: d.toISOString().slice(5, 10) };
  });
}

export const RANGES = {
  "24h": { label: "24 hours", unit: "hour", count: 24 },
  "7d": { label: "7 days", unit: "day", count: 7 },
  "30d": { label: "30 days", unit: "day", count: 30 },
};

/** The first instant of the first bucket: what `since` asks the API for. */
export function rangeStart(range) {
  const first = timeBuckets(range)[0].key;
  return range.unit === "hour" ? first : first + "T00:00:00Z";
}
