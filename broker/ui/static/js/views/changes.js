// The admin change log (/admin/changes): who changed what through the admin API, with the
// resource before and after as the API shows it (never a secret's value).

import { api } from "../api.js";
import { setParams } from "../router.js";
import { h } from "../dom.js";
import { when } from "../format.js";
import { badge, card, field, pageHeader, table } from "./common.js";

export async function changesView({ params }) {
  const filters = { actor: params.get("actor") || "", path: params.get("path") || "" };
  const changes = await api("/admin/changes", { query: { ...filters, limit: 200 } });
  const actor = h("input", { id: "filter-actor", value: filters.actor, placeholder: "anyone" });
  const path = h("input", { id: "filter-path", value: filters.path, placeholder: "/admin/connectors" });
  const form = h("form", { class: "filters", id: "change-filters" },
    field("Actor", actor), field("Path starts with", path),
    h("button", { type: "submit", class: "primary" }, "Filter"),
    h("button", { type: "button", onclick: () => setParams({}) }, "Clear"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    setParams({ actor: actor.value.trim(), path: path.value.trim() });
  });
  const json = (value) => (value === null || value === undefined ? "(none)" : JSON.stringify(value, null, 2));
  return h("div", {},
    pageHeader("Change log", "Every change made through the admin API (the console, the CLI, scripts), newest first."),
    card(null, form),
    card(null, table([
      { label: "Time", value: (c) => when(c.ts), key: "ts" },
      { label: "Who", value: (c) => h("span", {}, c.actor, " ", badge(c.role, "neutral")), key: "actor" },
      { label: "Change", value: (c) => h("code", {}, `${c.method} ${c.path}`), key: "change" },
      { label: "Status", value: (c) => badge(String(c.status), c.status < 400 ? "good" : "bad"), key: "status" },
      { label: "Before / after", value: (c) => h("details", {},
        h("summary", {}, "show"),
        h("div", { class: "before-after" },
          h("pre", { class: "code" }, json(c.before)),
          h("pre", { class: "code" }, json(c.after)))) },
    ], changes, { id: "change-table", rowKey: (c) => String(c.id), empty: "No changes recorded." })));
}
