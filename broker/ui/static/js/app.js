// The console's shell: sign-in, navigation, and a hash router (#/usage, #/agents/bot, ...).
// Filters live in the hash; the admin token never does.

import { consoleConfig, session, whenUnauthorized } from "./api.js";
import { h, mount } from "./dom.js";
import { signIn } from "./views/signin.js";
import { usageView } from "./views/usage.js";
import { activityView } from "./views/activity.js";
import { connectorsView, connectorView } from "./views/connectors.js";
import { agentsView, agentView } from "./views/agents.js";
import { auditView } from "./views/audit.js";
import { changesView } from "./views/changes.js";
import { errorBox } from "./views/common.js";
import { parseHash } from "./router.js";
import { finishSignIn } from "./sso.js";

const NAV = [
  { path: "usage", label: "Spend & tokens", view: usageView },
  { path: "activity", label: "Tool activity", view: activityView },
  { path: "connectors", label: "Connectors", view: connectorsView, detail: connectorView },
  { path: "agents", label: "Agents & keys", view: agentsView, detail: agentView },
  { path: "audit", label: "Audit trail", view: auditView },
  { path: "changes", label: "Change log", view: changesView },
];

const root = document.getElementById("app");
let config = null;

function shell(section) {
  const main = h("main", { class: "content", id: "content" });
  const status = h("span", { class: "status", id: "gateway-status" });
  const nav = h("nav", { class: "sidebar", "aria-label": "Sections" },
    h("div", { class: "brand" }, h("span", { class: "logo" }), h("span", {}, "tool-broker")),
    h("ul", {}, NAV.map((item) => h("li", {},
      h("a", { href: `#/${item.path}`, class: item.path === section ? "active" : null, dataset: { nav: item.path } },
        item.label)))),
    h("div", { class: "sidebar-foot" },
      h("a", { href: "/admin/docs", target: "_blank", rel: "noopener" }, "Admin API docs ↗"),
      h("button", { type: "button", class: "link", id: "sign-out", onclick: () => { session.signOut(); route(); } },
        "Sign out")));
  mount(root, nav, h("div", { class: "page" }, h("header", { class: "topbar" }, status), main));
  showHealth(status);
  return main;
}

/** The top bar: readiness (/readyz: database, schema, Redis, draining) and the revisions in force. */
async function showHealth(status) {
  const read = (path) => fetch(path, { cache: "no-store", credentials: "omit" })
    .then(async (r) => ({ ok: r.ok, body: await r.json().catch(() => ({})) }));
  try {
    const [alive, ready] = await Promise.all([read("/healthz"), read("/readyz")]);
    const failing = Object.entries((ready.body && ready.body.checks) || {}).filter(([, v]) => v !== "ok");
    const state = ready.ok ? "Ready" : `Not ready: ${failing.map(([k, v]) => `${k} ${v}`).join("; ") || ready.body.status}`;
    const health = alive.body || {};
    mount(status, h("span", { class: `dot ${ready.ok ? "ok" : "bad"}` }), h("span", { id: "readiness" }, state),
      ` · catalog revision ${health.revision ?? "?"} · policy revision ${health.policy_revision ?? "?"} · ${health.tools ?? "?"} tools`);
  } catch {
    mount(status, h("span", { class: "dot bad" }), "Gateway unreachable");
  }
}

let generation = 0;

let signInProblem = null;

export async function route() {
  const current = ++generation;
  config = config || (await consoleConfig());
  if (!session.token()) {
    mount(root, signIn(config, () => route(), signInProblem));
    signInProblem = null;
    return;
  }
  const { section, item, params } = parseHash();
  const entry = NAV.find((n) => n.path === section) || NAV[0];
  const main = shell(entry.path);
  mount(main, h("div", { class: "loading" }, "Loading…"));
  try {
    const view = item && entry.detail ? entry.detail : entry.view;
    const page = await view({ item, params, config, isCurrent: () => current === generation });
    if (current === generation) mount(main, page);
  } catch (error) {
    if (current === generation && session.token()) mount(main, errorBox(error));
  }
}

whenUnauthorized(() => {
  session.signOut();
  route();
});
window.addEventListener("hashchange", route);
finishSignIn()
  .catch((error) => (signInProblem = error.message))
  .finally(route);
