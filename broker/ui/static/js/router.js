// Where the console is: the section, the item and the filters, all in the URL's hash.

export function parseHash() {
  const [path, search] = window.location.hash.replace(/^#\/?/, "").split("?");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { section: parts[0] || "usage", item: parts[1] || null, params: new URLSearchParams(search || "") };
}

/** Put filters in the hash (replacing the history entry) and show the page again. */
export function setParams(params) {
  const { section, item } = parseHash();
  const base = "#/" + [section, item].filter(Boolean).map(encodeURIComponent).join("/");
  const entries = Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "");
  const query = new URLSearchParams(entries).toString();
  window.history.replaceState(null, "", query ? `${base}?${query}` : base);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}
