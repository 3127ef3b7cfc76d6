// The audit trail (/admin/audit), filtered by agent, tool, outcome and time; older pages on demand.

import { api } from "../api.js";
import { setParams } from "../router.js";
import { h } from "../dom.js";
import { masked, ms, when } from "../format.js";
import { badge, card, field, pageHeader, select, table } from "./common.js";

const OUTCOMES = ["", "ok", "denied", "unknown_tool", "invalid_arguments", "upstream_error", "quarantined",
  "credentials_missing", "credentials_unavailable", "masking_failed", "masking_unavailable", "unknown_token", "error"];
const PAGE = 100;

const toInput = (iso) => (iso ? iso.slice(0, 16) : "");
const fromInput = (value) => (value ? new Date(value + ":00Z").toISOString() : "");

export async function auditView({ params }) {
  const filters = {
    agent: params.get("agent") || "",
    tool: params.get("tool") || "",
    outcome: params.get("outcome") || "",
    since: params.get("since") || "",
    until: params.get("until") || "",
  };
  const [records, agents] = await Promise.all([
    api("/admin/audit", { query: { ...filters, limit: PAGE } }),
    api("/admin/agents"),
  ]);
  const agentSelect = select([["", "any agent"], ...agents.map((a) => [a.name, a.name])], filters.agent, { id: "filter-agent" });
  const tool = h("input", { id: "filter-tool", value: filters.tool, placeholder: "any tool" });
  const outcome = select(OUTCOMES.map((o) => [o, o || "any outcome"]), filters.outcome, { id: "filter-outcome" });
  const since = h("input", { id: "filter-since", type: "datetime-local", value: toInput(filters.since) });
  const until = h("input", { id: "filter-until", type: "datetime-local", value: toInput(filters.until) });
  const form = h("form", { class: "filters", id: "audit-filters" },
    field("Agent", agentSelect), field("Tool", tool), field("Outcome", outcome),
    field("From (UTC)", since), field("To (UTC)", until),
    h("button", { type: "submit", class: "primary", id: "filter-apply" }, "Filter"),
    h("button", { type: "button", onclick: () => go({}) }, "Clear"));
  const go = (values) => {
    setParams(values);
  };
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    go({ agent: agentSelect.value, tool: tool.value.trim(), outcome: outcome.value,
      since: fromInput(since.value), until: fromInput(until.value) });
  });

  const columns = [
    { label: "Time", value: (r) => when(r.ts), key: "ts" },
    { label: "Agent", value: (r) => r.agent, key: "agent" },
    { label: "Tool", value: (r) => h("code", {}, r.tool), key: "tool" },
    { label: "Outcome", value: (r) => badge(r.outcome), key: "outcome" },
    { label: "Decision", value: (r) => h("span", { title: r.reason }, badge(r.decision)), key: "decision" },
    { label: "Cache", value: (r) => (r.cache ? badge(r.cache) : "–"), key: "cache" },
    { label: "Masked", value: (r) => masked(r.masked), key: "masked" },
    { label: "Latency", value: (r) => ms(r.latency_ms), num: true },
    { label: "Detail", value: (r) => r.error || r.reason, key: "detail" },
  ];
  const body = h("div", {}, table(columns, records, { id: "audit-table", rowKey: (r) => String(r.id),
    empty: "No audit records match." }));
  const more = h("button", { type: "button", id: "audit-more" }, "Older records");
  let oldest = records.length ? records[records.length - 1].id : null;
  more.addEventListener("click", async () => {
    const page = await api("/admin/audit", { query: { ...filters, limit: PAGE, before_id: oldest } });
    const tbody = body.querySelector("tbody");
    const extra = table(columns, page, { rowKey: (r) => String(r.id) });
    if (tbody && page.length) tbody.append(...extra.querySelectorAll("tbody tr"));
    oldest = page.length ? page[page.length - 1].id : oldest;
    if (page.length < PAGE) more.remove();
  });
  return h("div", {},
    pageHeader("Audit trail", "Every tool call and refusal, newest first. Argument values are never stored."),
    card(null, form),
    card(null, body, records.length === PAGE ? h("div", { class: "actions" }, more) : null));
}
