// "What will this change do?": before any change is saved, the connections it opens and
// closes (POST /clusters/{c}/preview) and lint's warnings, then the button that saves it.

import { api } from "./api.js";
import { clear, errorBox, h, path } from "./dom.js";

const SHOWN = 200;

function endpoint(value) {
  if (typeof value === "string") return value;
  if (value && typeof value === "object") {
    return value.id || (value.name ? `${value.namespace}/${value.name}` : value.cidr || value.ip || JSON.stringify(value));
  }
  return String(value);
}

function portText(conn) {
  if (conn.port) return `${conn.protocol || "TCP"}/${conn.port}`;
  return conn.protocol ? `${conn.protocol}, every port` : "every port";
}

function connectionList(title, connections, count, kind) {
  const items = connections || [];
  const total = Number.isInteger(count) ? count : items.length;
  const shown = items.slice(0, SHOWN);
  return h("div", { class: `conn-list ${kind}` },
    h("h3", {}, `${title} ${total} connection${total === 1 ? "" : "s"}`),
    total === 0 ? h("p", { class: "muted small" }, "none") :
      h("ul", {},
        shown.map((c) => h("li", { class: "conn" },
          h("span", { class: "from" }, endpoint(c.from)), " → ",
          h("span", { class: "to" }, endpoint(c.to)), " ",
          h("span", { class: "port" }, portText(c)))),
        total > shown.length && h("li", { class: "muted" }, `… and ${total - shown.length} more`)));
}

export function findingsList(findings) {
  if (!findings || findings.length === 0) return null;
  return h("div", { class: "findings" },
    h("h3", {}, `Warnings (${findings.length})`),
    h("ul", {}, findings.map((f) => h("li", { class: `finding ${f.severity || "warning"}` },
      h("span", { class: "badge" }, f.severity || "warning"), " ",
      f.policy && h("strong", {}, f.policy), f.path && h("code", {}, ` ${f.path}`), f.policy || f.path ? ": " : "",
      f.message, f.code && h("span", { class: "muted small" }, ` (${f.code})`),
      f.fix && h("div", { class: "fix small" }, `Fix: ${f.fix}`)))));
}

export function renderPreview(result) {
  return h("div", { class: "preview-result" },
    result.summary && h("p", { class: "summary" }, result.summary),
    h("div", { class: "conn-columns" },
      connectionList("Opens", result.opened, result.opened_count, "opened"),
      connectionList("Closes", result.closed, result.closed_count, "closed")),
    findingsList(result.findings),
    (result.warnings || []).map((w) => h("p", { class: "warning small" }, `Warning: ${w}`)));
}

export function previewOf(cluster, { yaml = "", remove = [] }) {
  return api.post(path`/clusters/${cluster}/preview`, { yaml, delete: remove });
}

// A panel that previews `change`, then offers `saveLabel`; save() does the change.
export function reviewPanel({ cluster, change, saveLabel, save, onSaved, onCancel }) {
  const body = h("div", {}, h("p", { class: "muted" }, "Working out which connections change…"));
  const status = h("div");
  const panel = h("section", { class: "card review", "aria-label": "Preview" },
    h("h2", {}, "Preview: what this change does"), body, status);
  const saveButton = (label) => h("button", {
    type: "button", class: "primary",
    onclick: async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      clear(status, h("p", { class: "muted" }, "Saving…"));
      try {
        onSaved(await save());
      } catch (failure) {
        clear(status, errorBox(failure.messages));
        button.disabled = false;
      }
    },
  }, label);
  const cancel = h("button", { type: "button", class: "secondary", onclick: onCancel }, "Keep editing");
  previewOf(cluster, change).then(
    (result) => clear(body, renderPreview(result), h("div", { class: "actions" }, cancel, saveButton(saveLabel))),
    (failure) => clear(body, errorBox(failure.messages), h("div", { class: "actions" }, cancel,
      failure.status !== 422 && saveButton(`${saveLabel} without a preview`))),
  );
  return panel;
}
