// Tool calls by tool or agent from the audit log (/admin/audit/summary): outcomes, denials,
// cache hit ratio, masked entities and upstream errors; calls over time by outcome.

import { api } from "../api.js";
import { setParams } from "../router.js";
import { h } from "../dom.js";
import { RANGES, rangeStart, stackedBars, timeBuckets } from "../chart.js";
import { int, masked, ms, percent, short, when } from "../format.js";
import { card, kpis, pageHeader, segmented, table } from "./common.js";

const GROUPS = { tool: "Tool", agent: "Agent", user: "End user", team: "Team" };
const OUTCOMES = [
  { name: "ok", of: (l) => l.ok, tone: 1 },
  { name: "denied", of: (l) => l.denied, tone: 2 },
  { name: "upstream errors", of: (l) => l.upstream_errors, tone: 4 },
  { name: "other errors", of: (l) => l.other_errors, tone: 3 },
];

export async function activityView({ params }) {
  const state = {
    range: RANGES[params.get("range")] ? params.get("range") : "7d",
    by: GROUPS[params.get("by")] ? params.get("by") : "tool",
  };
  const range = RANGES[state.range];
  const since = rangeStart(range);
  const [series, grouped] = await Promise.all([
    api("/admin/audit/summary", { query: { by: range.unit, since } }),
    api("/admin/audit/summary", { query: { by: state.by, since } }),
  ]);
  const rerender = (change) => {
    setParams({ ...state, ...change });
  };
  const total = grouped.total;
  const buckets = timeBuckets(range);
  const cut = range.unit === "hour" ? 13 : 10;
  const index = new Map(buckets.map((b, i) => [b.key.slice(0, cut), i]));
  const chartSeries = OUTCOMES.map((o) => ({ name: o.name, tone: o.tone, values: new Array(buckets.length).fill(0) }));
  for (const line of series.lines) {
    const i = index.get(String(line.group[range.unit]).slice(0, cut));
    if (i !== undefined) OUTCOMES.forEach((o, k) => (chartSeries[k].values[i] += o.of(line)));
  }
  const name = (l) => l.group[state.by] ?? "(none)";
  const auditLink = (l) => h("a", { href: `#/audit?${new URLSearchParams({ [state.by]: name(l) })}` },
    name(l));

  return h("div", {},
    pageHeader("Tool activity", `MCP tool calls since ${when(since)}, counted from the audit log.`,
      segmented("range", Object.fromEntries(Object.entries(RANGES).map(([k, r]) => [k, r.label])), state.range,
        (v) => rerender({ range: v }))),
    kpis([
      { id: "calls", label: "Tool calls", value: int(total.calls) },
      { id: "denied", label: "Denied", value: int(total.denied), tone: total.denied ? "warn" : "" },
      { id: "upstream_errors", label: "Upstream errors", value: int(total.upstream_errors),
        tone: total.upstream_errors ? "bad" : "" },
      { id: "cache_hit_ratio", label: "Cache hit ratio", value: percent(total.cache_hit_ratio),
        note: `${int(total.cache_hits)} of ${int(total.cache_lookups)} lookups` },
      { id: "masked", label: "Masked entities", value: int(total.masked_total), note: masked(total.masked) },
    ]),
    card(null, stackedBars({ buckets, series: chartSeries, format: short,
      title: `Tool calls per ${range.unit} by outcome` })),
    card(null,
      h("div", { class: "toolbar" },
        segmented("by", GROUPS, state.by, (v) => rerender({ by: v }))),
      table([
        { label: GROUPS[state.by], value: state.by === "tool" || state.by === "agent" ? auditLink : name, key: "name" },
        { label: "Calls", value: (l) => int(l.calls), num: true, key: "calls" },
        { label: "OK", value: (l) => int(l.ok), num: true, key: "ok" },
        { label: "Denied", value: (l) => int(l.denied), num: true, key: "denied" },
        { label: "Upstream errors", value: (l) => int(l.upstream_errors), num: true, key: "upstream_errors" },
        { label: "Other errors", value: (l) => int(l.other_errors), num: true, key: "other_errors" },
        { label: "Cache hits", value: (l) => `${percent(l.cache_hit_ratio)} (${int(l.cache_hits)}/${int(l.cache_lookups)})`,
          num: true, key: "cache" },
        { label: "Masked", value: (l) => masked(l.masked), key: "masked" },
        { label: "Avg latency", value: (l) => ms(l.latency_ms_avg), num: true },
      ], grouped.lines, { id: "activity-table", rowKey: name, empty: "No tool calls in this range." })));
}
