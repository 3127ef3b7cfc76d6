// Numbers and times as an operator reads them.

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const compact = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });

export const int = (n) => integer.format(n ?? 0);
export const short = (n) => (Math.abs(n) >= 10000 ? compact.format(n) : integer.format(n ?? 0));

/** Dollars with enough digits for the small amounts model calls cost. */
export function usd(n) {
  const value = n ?? 0;
  const digits = value === 0 ? 2 : Math.abs(value) < 0.01 ? 6 : Math.abs(value) < 1 ? 4 : 2;
  return "$" + value.toFixed(digits);
}

export const percent = (ratio) => (ratio === null || ratio === undefined ? "–" : (ratio * 100).toFixed(1) + "%");
export const masked = (counts) => {
  const entries = Object.entries(counts || {});
  return entries.length ? entries.map(([kind, n]) => `${kind} ${n}`).join(", ") : "none";
};

export const ms = (n) => (n === null || n === undefined ? "–" : n < 10 ? n.toFixed(2) + " ms" : integer.format(n) + " ms");

export function when(iso) {
  if (!iso) return "–";
  const d = new Date(iso);
  return d.toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

export function ago(iso) {
  if (!iso) return "never";
  const seconds = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
  if (seconds < 60) return `${seconds}s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return `${Math.round(seconds / 86400)} d ago`;
}
