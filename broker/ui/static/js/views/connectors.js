// Connectors, their tools, quarantined upstream tools and pending approvals; for an upstream
// MCP server, the diff of what changed and approval (/admin/connectors/{name}/diff|approve).

import { api } from "../api.js";
import { h, mount } from "../dom.js";
import { ago, int } from "../format.js";
import { badge, card, errorBox, pageHeader, table } from "./common.js";

let flash = null; // what the last approval did, shown once on the page it returns to

const link = (name) => h("a", { href: `#/connectors/${encodeURIComponent(name)}` }, name);

export async function connectorsView() {
  const [connectors, held] = await Promise.all([api("/admin/connectors"), api("/admin/quarantine")]);
  const heldBy = new Map();
  for (const item of held) heldBy.set(item.connector, [...(heldBy.get(item.connector) || []), item]);
  const state = (c) => {
    const items = heldBy.get(c.name) || [];
    const quarantined = items.filter((i) => i.status !== "new").length;
    const pending = items.filter((i) => i.status === "new").length;
    return h("span", { class: "badges" },
      c.loaded ? badge("loaded", "good") : badge("not loaded", "bad"),
      quarantined ? badge(`${quarantined} quarantined`, "warn") : null,
      pending ? badge(`${pending} awaiting approval`, "info") : null);
  };
  return h("div", {},
    pageHeader("Connectors", "Upstreams the gateway calls, the tools each offers, and what waits for review."),
    held.length
      ? card("Waiting for review",
        h("p", { class: "muted" }, "Quarantined tools are hidden from every agent and refused until approved; new ones are not exposed."),
        table([
          { label: "Tool", value: (i) => i.tool, key: "tool" },
          { label: "Connector", value: (i) => link(i.connector) },
          { label: "State", value: (i) => badge(i.status) },
          { label: "Why", value: (i) => i.reason },
        ], held, { id: "held-table", rowKey: (i) => i.tool }))
      : null,
    card(null, table([
      { label: "Connector", value: (c) => link(c.name), key: "name" },
      { label: "Kind", value: (c) => c.kind },
      { label: "Tools", value: (c) => int(c.tool_count), num: true, key: "tools" },
      { label: "State", value: state, key: "state" },
      { label: "Description", value: (c) => c.description || "–" },
      { label: "Changed", value: (c) => ago(c.updated_at) },
    ], connectors, { id: "connector-table", rowKey: (c) => c.name, empty: "No connectors yet: POST /admin/connectors or /admin/apply." })));
}

export async function connectorView({ item }) {
  const [connector, held] = await Promise.all([
    api(`/admin/connectors/${encodeURIComponent(item)}`),
    api("/admin/quarantine"),
  ]);
  const mine = held.filter((i) => i.connector === connector.name);
  const done = flash;
  flash = null;
  const review = h("div", { id: "review" });
  const reviewButton = connector.kind === "mcp"
    ? h("button", { type: "button", class: "primary", id: "review-button", onclick: () => loadReview(connector.name, review) },
      "Review upstream changes")
    : null;
  return h("div", {},
    h("p", { class: "crumbs" }, h("a", { href: "#/connectors" }, "Connectors"), " / ", connector.name),
    pageHeader(connector.name, connector.description || `${connector.kind} connector`, reviewButton),
    done ? h("div", { class: "notice good", id: "approve-result", role: "status" }, done) : null,
    connector.warnings.length
      ? h("div", { class: "notice" }, h("strong", {}, "Warnings"), h("ul", {}, connector.warnings.map((w) => h("li", {}, w))))
      : null,
    mine.length
      ? card("Held back", table([
        { label: "Tool", value: (i) => i.tool },
        { label: "State", value: (i) => badge(i.status) },
        { label: "Why", value: (i) => i.reason },
      ], mine, { id: "held-table" }))
      : null,
    review,
    card(`Tools (${connector.tools.length})`, table([
      { label: "Tool", value: (t) => h("code", {}, t.name), key: "name" },
      { label: "Description", value: (t) => t.description || "–", key: "description" },
      { label: "Arguments", value: (t) => Object.keys((t.input_schema || {}).properties || {}).join(", ") || "–" },
      { label: "Hints", value: (t) => h("span", { class: "badges" },
        Object.entries(t.annotations || {}).filter(([k, v]) => k.endsWith("Hint") && v).map(([k]) => badge(k.replace(/Hint$/, ""), "neutral"))) },
    ], connector.tools, { id: "tool-table", rowKey: (t) => t.name, empty: "This connector offers no tools now." })),
    card("Stored configuration",
      h("p", { class: "muted" }, "As stored; credentials appear only as secret names, header values are redacted."),
      h("pre", { class: "code" }, JSON.stringify(connector.config, null, 2))));
}

async function loadReview(name, target) {
  mount(target, h("div", { class: "loading" }, "Listing the upstream's tools…"));
  try {
    const review = await api(`/admin/connectors/${encodeURIComponent(name)}/diff`);
    mount(target, reviewCard(name, review, target));
  } catch (error) {
    mount(target, errorBox(error));
  }
}

function reviewCard(name, review, target) {
  const items = [...review.changed, ...review.removed, ...review.new];
  if (review.clean) {
    return card("Upstream review", h("p", { class: "good-text", id: "review-clean" },
      `The upstream matches every approved definition (${review.unchanged.length} tools).`));
  }
  const chosen = new Set(items.map((t) => t.name));
  const result = h("div", {});
  const approve = async () => {
    const tools = items.filter((t) => chosen.has(t.name));
    try {
      const answer = await api(`/admin/connectors/${encodeURIComponent(name)}/approve`, {
        method: "POST",
        body: { tools: tools.map((t) => t.name), expect: Object.fromEntries(tools.map((t) => [t.name, t.live_pin])) },
      });
      flash = `Approved ${answer.approved.join(", ") || "nothing"}: ${answer.tools.length} tools exposed now.`;
      window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (error) {
      mount(result, errorBox(error));
    }
  };
  return card("Upstream review",
    h("p", { class: "muted" }, `${items.length} tool(s) differ from what was approved. Read each diff, then approve the ones you accept.`),
    items.map((t) => h("div", { class: "review-item", dataset: { tool: t.name } },
      h("div", { class: "review-head" },
        h("label", {}, h("input", { type: "checkbox", checked: true,
          onchange: (e) => (e.target.checked ? chosen.add(t.name) : chosen.delete(t.name)) }),
        " ", h("code", {}, t.exposed_name)),
        badge(t.status)),
      t.flags.length ? h("ul", { class: "flags" }, t.flags.map((f) => h("li", {}, "⚠ ", f))) : null,
      diffView(t.diff))),
    h("div", { class: "actions" },
      h("button", { type: "button", class: "primary", id: "approve-button", onclick: approve }, "Approve selected"),
      h("button", { type: "button", onclick: () => loadReview(name, target) }, "Refresh")),
    result);
}

function diffView(diff) {
  return h("pre", { class: "diff" }, (diff || "").split("\n").map((line) =>
    h("span", { class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : null },
      line + "\n")));
}
