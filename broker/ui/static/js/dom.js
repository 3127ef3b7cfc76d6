// Building the page without ever parsing HTML: text goes in as text nodes, so nothing an agent,
// a tool or an upstream named can run as markup.

const SVG_NS = "http://www.w3.org/2000/svg";

function set(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.setAttribute("class", value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "value" || key === "checked" || key === "selected") el[key] = value;
    else if (key === "href" && !/^[#/]/.test(String(value))) throw new Error("only local links");
    else el.setAttribute(key, value === true ? "" : String(value));
  }
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** h("td", {class: "num"}, "text", otherNode) */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  set(el, props);
  return append(el, children);
}

/** The same for SVG elements. */
export function s(tag, props, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  set(el, props);
  return append(el, children);
}

export function mount(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}
