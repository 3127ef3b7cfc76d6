// Pieces every page uses: headings, KPI tiles, tables, segmented controls, badges, errors.

import { h } from "../dom.js";

export function pageHeader(title, subtitle, ...actions) {
  return h("div", { class: "page-header" },
    h("div", {}, h("h1", {}, title), subtitle ? h("p", { class: "muted" }, subtitle) : null),
    h("div", { class: "actions" }, actions));
}

export function kpis(items) {
  return h("section", { class: "kpis" }, items.map(({ label, value, note, id, tone }) =>
    h("div", { class: `kpi ${tone || ""}`, dataset: { kpi: id } },
      h("div", { class: "kpi-label" }, label),
      h("div", { class: "kpi-value", dataset: { value: id } }, value),
      note ? h("div", { class: "kpi-note" }, note) : null)));
}

/** columns: [{label, value: row -> text|Node, num?: bool, key?: string}] */
export function table(columns, rows, { empty = "Nothing here yet.", id, rowKey } = {}) {
  if (!rows.length) return h("div", { class: "empty", id }, empty);
  return h("div", { class: "table-wrap" },
    h("table", { class: "grid", id },
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { class: c.num ? "num" : null }, c.label)))),
      h("tbody", {}, rows.map((row) => h("tr", { dataset: rowKey ? { row: rowKey(row) } : null },
        columns.map((c) => h("td", { class: c.num ? "num" : null, dataset: c.key ? { col: c.key } : null },
          c.value(row))))))));
}

export function segmented(name, options, current, onchange) {
  return h("div", { class: "segmented", role: "group", "aria-label": name },
    Object.entries(options).map(([value, label]) => h("button", {
      type: "button",
      class: value === current ? "on" : null,
      "aria-pressed": value === current ? "true" : "false",
      dataset: { [name]: value },
      onclick: () => onchange(value),
    }, label)));
}

export function field(label, control) {
  return h("label", { class: "field" }, h("span", {}, label), control);
}

export function select(options, current, props = {}) {
  return h("select", props, options.map(([value, label]) =>
    h("option", { value, selected: value === current }, label)));
}

const TONES = { ok: "good", hit: "good", active: "good", allow: "good", coalesced: "good",
  denied: "bad", deny: "bad", revoked: "bad", upstream_error: "bad", quarantined: "warn", changed: "warn",
  removed: "warn", new: "info", expired: "muted", miss: "muted", unknown_tool: "warn" };

export function badge(text, tone) {
  return h("span", { class: `badge ${tone || TONES[text] || "neutral"}` }, text);
}

export function errorBox(error) {
  const problems = (error.problems || []).map((p) => `${(p.loc || []).join(".")}: ${p.message}`);
  return h("div", { class: "error", role: "alert" },
    h("strong", {}, error.status ? `Error ${error.status}` : "Error"), " ", error.message,
    problems.length ? h("ul", {}, problems.map((p) => h("li", {}, p))) : null);
}

export function card(title, ...children) {
  return h("section", { class: "card" }, title ? h("h2", {}, title) : null, children);
}
