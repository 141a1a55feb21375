// Building the page safely: every piece of data goes in as text (textContent), never as markup.
// h("tag", {attributes}, ...children) builds an element; strings become text nodes.

const SVG_NS = "http://www.w3.org/2000/svg";

function setAttributes(node, attrs) {
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "style") throw new Error("inline styles are forbidden by the page's CSP");
    if (key.startsWith("on") && typeof value === "function") {
      node.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === "dataset") {
      Object.assign(node.dataset, value);
    } else if (key === "class") {
      node.setAttribute("class", Array.isArray(value) ? value.filter(Boolean).join(" ") : value);
    } else if (key === "text") {
      node.textContent = String(value);
    } else if (key === "value" || key === "checked" || key === "selected") {
      node[key] = value;
    } else {
      node.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  setAttributes(node, attrs);
  return append(node, children);
}

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(SVG_NS, tag);
  setAttributes(node, attrs);
  return append(node, children);
}

export function clear(node, ...children) {
  node.replaceChildren();
  return append(node, children);
}

export function debounce(fn, ms) {
  let timer = null;
  const wrapped = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  wrapped.cancel = () => clearTimeout(timer);
  return wrapped;
}

// "ns/name"-style path segments for the API, each one URL-encoded.
export function path(strings, ...values) {
  return strings.reduce((out, s, i) => out + s + (i < values.length ? encodeURIComponent(values[i]) : ""), "");
}

function toDate(iso) {
  if (!iso) return null;
  const text = /[zZ]|[+-]\d\d:?\d\d$/.test(iso) ? iso : `${iso}Z`; // stored times are UTC
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? null : date;
}

export function formatTime(iso) {
  const date = toDate(iso);
  if (!date) return "never";
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

export function timeAgo(iso) {
  const date = toDate(iso);
  if (!date) return "";
  const seconds = Math.max(0, Math.round((Date.now() - date.getTime()) / 1000));
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  return `${Math.floor(seconds / 86400)} d ago`;
}

export function labelText(labels) {
  return Object.entries(labels || {}).map(([k, v]) => (v === "" ? k : `${k}=${v}`)).join(", ");
}

// "app=web, tier=api" -> {app: "web", tier: "api"}; throws on a term without "=".
export function parseLabels(text) {
  const labels = {};
  for (const term of text.split(",").map((t) => t.trim()).filter(Boolean)) {
    const at = term.indexOf("=");
    if (at <= 0) throw new Error(`"${term}": expected key=value`);
    labels[term.slice(0, at).trim()] = term.slice(at + 1).trim();
  }
  return labels;
}

// A modal dialog; resolves true when the confirm button is pressed, false otherwise.
export function confirmDialog({ title, body, confirm = "OK", danger = false }) {
  const dialog = document.getElementById("dialog");
  return new Promise((resolve) => {
    const done = new AbortController();
    const close = (answer) => {
      done.abort();
      if (dialog.open) dialog.close();
      resolve(answer);
    };
    clear(
      dialog,
      h("h2", { text: title }),
      h("div", { class: "dialog-body" }, body),
      h("div", { class: "actions" },
        h("button", { type: "button", class: "secondary", onclick: () => close(false) }, "Cancel"),
        h("button", { type: "button", class: danger ? "danger" : "primary", onclick: () => close(true) },
          confirm)),
    );
    dialog.addEventListener("cancel", () => close(false), { signal: done.signal });
    dialog.showModal();
  });
}

let noticeTimer = null;

export function notify(text, kind = "info") {
  const notice = document.getElementById("notice");
  notice.textContent = text;
  notice.className = `notice ${kind}`;
  notice.hidden = false;
  clearTimeout(noticeTimer);
  noticeTimer = setTimeout(() => { notice.hidden = true; }, kind === "error" ? 10000 : 5000);
}

export function errorBox(messages) {
  const list = Array.isArray(messages) ? messages : [messages];
  return h("div", { class: "errors", role: "alert" }, list.map((m) => h("pre", { class: "message", text: m })));
}
