// Agents, their keys (prefix and state only: the secret is shown once, at creation, by the API),
// the policies that name them, the tools they see, and "explain" for a call.

import { api } from "../api.js";
import { h, mount } from "../dom.js";
import { ago, int, when } from "../format.js";
import { badge, card, errorBox, field, pageHeader, select, table } from "./common.js";

const link = (name) => h("a", { href: `#/agents/${encodeURIComponent(name)}` }, name);

export async function agentsView() {
  const agents = await api("/admin/agents");
  return h("div", {},
    pageHeader("Agents & keys", "Who may call the gateway. Keys are shown by prefix only; a key's secret is never shown again after creation."),
    card(null, table([
      { label: "Agent", value: (a) => link(a.name), key: "name" },
      { label: "Team", value: (a) => a.team || "–", key: "team" },
      { label: "State", value: (a) => (a.enabled ? badge("enabled", "good") : badge("disabled", "bad")) },
      { label: "Active keys", value: (a) => int(a.active_keys), num: true, key: "keys" },
      { label: "Description", value: (a) => a.description || "–", key: "description" },
      { label: "Created", value: (a) => ago(a.created_at) },
    ], agents, { id: "agent-table", rowKey: (a) => a.name, empty: "No agents yet: POST /admin/agents." })));
}

export async function agentView({ item, config }) {
  const [agent, catalog, policySet] = await Promise.all([
    api(`/admin/agents/${encodeURIComponent(item)}`),
    api("/admin/tools", { query: { agent: item } }),
    api("/admin/policies"),
  ]);
  const policies = policySet.policies.filter((p) => p.agents.includes(agent.name) || (agent.team && p.teams.includes(agent.team)));
  const visible = catalog.tools.filter((t) => t.visible);
  return h("div", {},
    h("p", { class: "crumbs" }, h("a", { href: "#/agents" }, "Agents"), " / ", agent.name),
    pageHeader(agent.name, agent.description || (agent.team ? `Team ${agent.team}` : "No team"),
      h("a", { class: "button", href: `#/audit?agent=${encodeURIComponent(agent.name)}` }, "Audit trail")),
    h("div", { class: "two" },
      card("Keys", table([
        { label: "Prefix", value: (k) => h("code", {}, k.prefix + "…"), key: "prefix" },
        { label: "Label", value: (k) => k.label || "–" },
        { label: "State", value: (k) => badge(k.status) },
        { label: "Created", value: (k) => when(k.created_at) },
        { label: "Expires", value: (k) => (k.revoked_at ? `revoked ${when(k.revoked_at)}` : when(k.expires_at)) },
      ], agent.keys, { id: "key-table", rowKey: (k) => k.id, empty: "No keys." })),
      card("Explain a decision", explainForm(agent, catalog, config))),
    card(`Policies naming ${agent.name}${agent.team ? ` or team ${agent.team}` : ""} (revision ${policySet.revision})`,
      table([
        { label: "Policy", value: (p) => h("strong", {}, p.name), key: "name" },
        { label: "Applies to", value: (p) => [...p.agents.map((a) => `agent ${a}`), ...p.teams.map((t) => `team ${t}`)].join(", ") },
        { label: "Allows", value: (p) => p.allow.join(", ") || "–" },
        { label: "Denies", value: (p) => (p.deny || []).join(", ") || "–" },
        { label: "Constraints", value: (p) => Object.keys(p.constraints || {}).join(", ") || "–" },
        { label: "Models", value: (p) => ((p.models && p.models.allow) || []).join(", ") || "–" },
      ], policies, { id: "policy-table", rowKey: (p) => p.name, empty: "No policy names this agent or its team: it sees no tools (default deny)." })),
    card(`Tools ${agent.name} sees (${visible.length} of ${catalog.tools.length})`,
      table([
        { label: "Tool", value: (t) => h("code", {}, t.name), key: "name" },
        { label: "Visible", value: (t) => (t.visible ? badge("allow") : badge("deny")), key: "visible" },
        { label: "Why", value: (t) => t.reason || "–" },
      ], catalog.tools, { id: "visibility-table", rowKey: (t) => t.name, empty: "The catalog is empty." })));
}

const KINDS = {
  tool: { label: "Tool", placeholder: "crm.get_contact", list: "tools/list", args: true },
  resource: { label: "Resource URI", placeholder: "broker://crm/tables/customers", list: "resources/list", args: false },
  prompt: { label: "Prompt", placeholder: "docs.summarise", list: "prompts/list", args: true },
};

function explainForm(agent, catalog, config) {
  const kinds = (config.explain || ["tool"]).filter((k) => KINDS[k]);
  const target = h("input", { id: "explain-tool", list: "explain-tools", placeholder: KINDS.tool.placeholder, required: true });
  const targetLabel = h("span", {}, KINDS.tool.label);
  const args = h("textarea", { id: "explain-arguments", rows: 3, placeholder: '{"limit": 10}  (optional)' });
  const argsField = field("Arguments (JSON)", args);
  const kind = kinds.length > 1 ? select(kinds.map((k) => [k, k]), "tool", { id: "explain-kind" }) : null;
  const toolNames = h("datalist", { id: "explain-tools" }, catalog.tools.map((t) => h("option", { value: t.name })));
  if (kind) {
    kind.addEventListener("change", () => {
      const chosen = KINDS[kind.value];
      targetLabel.textContent = chosen.label;
      target.placeholder = chosen.placeholder;
      target.setAttribute("list", kind.value === "tool" ? "explain-tools" : "");
      argsField.hidden = !chosen.args;
    });
  }
  const out = h("div", { id: "explain-result" });
  const form = h("form", { class: "stack", novalidate: true },
    toolNames,
    kind ? field("Kind", kind) : null,
    h("label", { class: "field" }, targetLabel, target),
    argsField,
    h("button", { type: "submit", class: "primary", id: "explain-button" }, "Explain"),
    out);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const which = kind ? kind.value : "tool";
    let parsed = null;
    if (KINDS[which].args && args.value.trim()) {
      try {
        parsed = JSON.parse(args.value);
      } catch (error) {
        mount(out, errorBox({ message: `the arguments are not JSON: ${error.message}` }));
        return;
      }
    }
    try {
      const result = await api("/admin/policies/explain", {
        method: "POST", body: { agent: agent.name, [which]: target.value.trim(), arguments: parsed },
      });
      const noun = result.kind || which;
      mount(out, h("div", { class: `verdict ${result.allowed ? "allowed" : "refused"}` },
        h("div", { class: "verdict-head" }, result.allowed ? badge("allowed", "good") : badge("refused", "bad"),
          result.policy ? ` by policy ${result.policy}` : ""),
        h("p", {}, result.reason),
        h("ul", { class: "facts" },
          h("li", {}, result.tool_exists ? `The ${noun} exists.` : `No connector offers this ${noun} now.`),
          h("li", {}, result.visible ? `It is in the agent's ${(KINDS[noun] || KINDS.tool).list}.` : `It is not in the agent's ${(KINDS[noun] || KINDS.tool).list}.`),
          result.agent_enabled ? null : h("li", {}, "The agent is disabled: its keys do not work."),
          h("li", {}, `Policy revision ${result.revision}.`)),
        result.violations.length
          ? h("ul", { class: "flags" }, result.violations.map((v) => h("li", {}, `${v.argument}: ${v.reason} (${v.policy})`)))
          : null));
    } catch (error) {
      mount(out, errorBox(error));
    }
  });
  return form;
}
