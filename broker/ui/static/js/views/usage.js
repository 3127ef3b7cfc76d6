// Spend and tokens over time, by team, agent, model, provider (and end user once recorded),
// from the LLM ledger (/admin/llm/usage), with the budgets' state.

import { api } from "../api.js";
import { setParams } from "../router.js";
import { h } from "../dom.js";
import { OTHER, RANGES, rangeStart, stackedBars, timeBuckets } from "../chart.js";
import { int, percent, short, usd, when } from "../format.js";
import { card, kpis, pageHeader, segmented, table } from "./common.js";

const LABELS = { team: "Team", agent: "Agent", model: "Model", provider: "Provider", user: "End user" };
const METRICS = {
  cost: { label: "Cost", of: (l) => l.cost_usd, format: usd },
  tokens: { label: "Tokens", of: (l) => l.prompt_tokens + l.completion_tokens, format: short },
  requests: { label: "Requests", of: (l) => l.requests, format: short },
};
const TOP = 8;

export async function usageView({ params, config }) {
  const dims = config.usage_dimensions;
  const state = {
    range: RANGES[params.get("range")] ? params.get("range") : "7d",
    by: dims.includes(params.get("by")) ? params.get("by") : dims.includes("team") ? "team" : dims[0],
    metric: METRICS[params.get("metric")] ? params.get("metric") : "cost",
  };
  const range = RANGES[state.range];
  const since = rangeStart(range);
  const [series, grouped, budgets] = await Promise.all([
    api("/admin/llm/usage", { query: { by: `${range.unit},${state.by}`, since } }),
    api("/admin/llm/usage", { query: { by: state.by, since } }),
    api("/admin/llm/budget-status"),
  ]);
  const rerender = (change) => {
    setParams({ ...state, ...change });
  };
  const metric = METRICS[state.metric];
  const total = grouped.total;
  const label = (g) => g[state.by] ?? "(none)";

  const ranked = [...grouped.lines].sort((a, b) => metric.of(b) - metric.of(a));
  const top = ranked.slice(0, TOP).map((l) => label(l.group));
  const buckets = timeBuckets(range);
  const cut = range.unit === "hour" ? 13 : 10;
  const index = new Map(buckets.map((b, i) => [b.key.slice(0, cut), i]));
  const byName = new Map(top.map((name) => [name, new Array(buckets.length).fill(0)]));
  const other = new Array(buckets.length).fill(0);
  for (const line of series.lines) {
    const i = index.get(String(line.group[range.unit]).slice(0, cut));
    if (i === undefined) continue;
    (byName.get(label(line.group)) || other)[i] += metric.of(line);
  }
  const chartSeries = [...byName].map(([name, values]) => ({ name, values }));
  if (other.some((v) => v > 0)) chartSeries.push({ name: "other", values: other, tone: OTHER });

  const share = (line) => {
    const all = metric.of(total);
    const part = all ? metric.of(line) / all : 0;
    return h("div", { class: "share" }, h("progress", { max: 1, value: part }), percent(part));
  };

  return h("div", {},
    pageHeader("Spend & tokens", `Model calls through /v1 since ${when(since)}, from the usage ledger.`,
      segmented("range", Object.fromEntries(Object.entries(RANGES).map(([k, r]) => [k, r.label])), state.range,
        (v) => rerender({ range: v }))),
    kpis([
      { id: "cost", label: "Cost", value: usd(total.cost_usd) },
      { id: "prompt_tokens", label: "Prompt tokens", value: int(total.prompt_tokens),
        note: total.cached_tokens ? `${int(total.cached_tokens)} cached` : null },
      { id: "completion_tokens", label: "Completion tokens", value: int(total.completion_tokens) },
      { id: "requests", label: "Requests", value: int(total.requests) },
      { id: "errors", label: "Not ok", value: int(total.errors), tone: total.errors ? "warn" : "",
        note: total.estimated ? `${int(total.estimated)} estimated` : null },
    ]),
    card(null,
      h("div", { class: "toolbar" },
        segmented("by", Object.fromEntries(dims.map((d) => [d, LABELS[d] || d])), state.by, (v) => rerender({ by: v })),
        segmented("metric", Object.fromEntries(Object.entries(METRICS).map(([k, m]) => [k, m.label])), state.metric,
          (v) => rerender({ metric: v }))),
      stackedBars({
        buckets, series: chartSeries, format: metric.format,
        title: `${metric.label} per ${range.unit} by ${(LABELS[state.by] || state.by).toLowerCase()}`,
      })),
    card(`By ${(LABELS[state.by] || state.by).toLowerCase()}`,
      table([
        { label: LABELS[state.by] || state.by, value: (l) => label(l.group), key: "name" },
        { label: "Requests", value: (l) => int(l.requests), num: true, key: "requests" },
        { label: "Prompt tokens", value: (l) => int(l.prompt_tokens), num: true, key: "prompt_tokens" },
        { label: "Completion tokens", value: (l) => int(l.completion_tokens), num: true, key: "completion_tokens" },
        { label: "Cost", value: (l) => usd(l.cost_usd), num: true, key: "cost" },
        { label: "Not ok", value: (l) => int(l.errors), num: true, key: "errors" },
        { label: `Share of ${metric.label.toLowerCase()}`, value: share },
      ], ranked, { id: "usage-table", rowKey: (l) => label(l.group), empty: "No model calls in this range." })),
    card("Budgets",
      table([
        { label: "Budget", value: (b) => b.name },
        { label: "Applies to", value: (b) => `${b.scope} ${b.subject}` },
        { label: "Period", value: (b) => b.period },
        { label: "Used", value: (b) => h("div", { class: "share" },
          h("progress", { max: b.limit || 1, value: Math.min(b.spent, b.limit) }),
          b.unit === "usd" ? `${usd(b.spent)} of ${usd(b.limit)}` : `${int(b.spent)} of ${int(b.limit)} tokens`) },
        { label: "In flight", value: (b) => (b.unit === "usd" ? usd(b.reserved) : int(b.reserved)), num: true },
        { label: "Resets", value: (b) => when(b.resets_at) },
      ], budgets, { id: "budget-table", empty: "No budgets configured (see /admin/llm/budgets)." })));
}
