// Sign-in: the admin token (BROKER_ADMIN_TOKEN), checked against the admin API, then kept in this
// tab's sessionStorage only. Single sign-on appears here when the gateway offers it (config.sign_in.oidc).

import { api, session } from "../api.js";
import { h } from "../dom.js";
import { startSignIn } from "../sso.js";

export function signIn(config, done, problem = null) {
  // No `name`: were the script ever bypassed, a submitted form would carry no token (CSP form-action 'none' too).
  const input = h("input", { type: "password", id: "token", autocomplete: "off",
    placeholder: "BROKER_ADMIN_TOKEN", required: true, spellcheck: "false" });
  const message = h("p", { class: "form-error", id: "sign-in-error", role: "alert" }, problem);
  const oidc = config.sign_in && config.sign_in.oidc;
  const form = h("form", { class: "signin-card", id: "sign-in", novalidate: true },
    h("div", { class: "brand big" }, h("span", { class: "logo" }), h("span", {}, "tool-broker")),
    h("h1", {}, "Sign in to the console"),
    h("p", { class: "muted" }, "Use the gateway's admin token (or an OIDC access token with a gateway role). "
      + "It stays in this browser tab and is sent only to this gateway."),
    h("label", { class: "field" }, h("span", {}, "Admin token"), input),
    message,
    h("button", { type: "submit", class: "primary", id: "sign-in-button" }, "Sign in"),
    oidc && !oidc.error
      ? h("button", { type: "button", class: "sso", id: "sso", onclick: () => startSignIn(oidc) }, "Sign in with single sign-on")
      : null,
    oidc && oidc.error ? h("p", { class: "muted", id: "sso-error" }, `Single sign-on is unavailable: ${oidc.error}`) : null);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    message.textContent = "";
    if (!token) {
      message.textContent = "Enter the admin token.";
      return;
    }
    try {
      await api("/admin/agents", { token });
      session.signIn(token);
      input.value = "";
      done();
    } catch (error) {
      message.textContent = error.message;
    }
  });
  return h("div", { class: "signin" }, form);
}
