// The admin API as the console uses it: the admin token from this tab's sessionStorage, sent
// as a bearer header (never in a URL), JSON in and out, errors as ApiError with the API's message.

const TOKEN_KEY = "tool-broker.admin-token";

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `the gateway answered ${status}`);
    this.status = status;
    this.code = error.code || `http_${status}`;
    this.problems = error.problems || [];
  }
}

/** Called when the gateway refuses the token: the app goes back to sign-in. */
let onUnauthorized = () => {};
export const whenUnauthorized = (handler) => (onUnauthorized = handler);

export async function api(path, { method = "GET", query, body, token } = {}) {
  const url = new URL(path, window.location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== "") url.searchParams.set(key, value);
  }
  const headers = { Accept: "application/json", Authorization: `Bearer ${token ?? session.token() ?? ""}` };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(url, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
  const data = response.status === 204 ? null : await response.json().catch(() => null);
  if (response.status === 401 && token === undefined) onUnauthorized();
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

/** Public, unauthenticated: what this gateway's console can show. */
export async function consoleConfig() {
  const response = await fetch("/ui/config.json", { cache: "no-store", credentials: "omit" });
  return response.json();
}
