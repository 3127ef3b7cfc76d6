// Single sign-on: authorization code with PKCE. The verifier and state stay in this tab's
// sessionStorage; the code comes back in the URL and is redeemed through the gateway
// (POST /ui/oidc/token), which answers with the access token in the body, never in a URL.

import { api, session } from "./api.js";

const PENDING = "tool-broker.sign-in";

function base64url(bytes) {
  return btoa(String.fromCharCode(...new Uint8Array(bytes))).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function random(size) {
  return base64url(crypto.getRandomValues(new Uint8Array(size)));
}

export async function startSignIn(oidc) {
  const verifier = random(48);
  const state = random(24);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, return: window.location.hash }));
  const url = new URL(oidc.authorization_endpoint);
  const query = { response_type: "code", client_id: oidc.client_id, redirect_uri: oidc.redirect_uri, scope: oidc.scope,
    state, code_challenge: challenge, code_challenge_method: "S256", resource: oidc.resource };
  for (const [key, value] of Object.entries(query)) if (value) url.searchParams.set(key, value);
  window.location.assign(url.toString());
}

/** On return from the identity provider: redeem the code. Throws with a message to show. */
export async function finishSignIn() {
  const params = new URLSearchParams(window.location.search);
  if (!params.has("code") && !params.has("error")) return false;
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  window.history.replaceState(null, "", window.location.pathname + ((pending && pending.return) || ""));
  if (params.has("error")) throw new Error(`the identity provider refused: ${params.get("error_description") || params.get("error")}`);
  if (!pending || pending.state !== params.get("state")) throw new Error("this sign-in was not started here (state mismatch); sign in again");
  const response = await fetch("/ui/oidc/token", {
    method: "POST",
    headers: { "Content-Type": "application/json", Accept: "application/json" },
    body: JSON.stringify({ code: params.get("code"), code_verifier: pending.verifier }),
    cache: "no-store",
    credentials: "omit",
  });
  const body = await response.json().catch(() => null);
  if (!response.ok || !body || !body.access_token) {
    throw new Error((body && body.error && body.error.message) || `sign-in failed (${response.status})`);
  }
  await api("/admin/agents", { token: body.access_token }); // a token with no gateway role stops here
  session.signIn(body.access_token);
  return true;
}
