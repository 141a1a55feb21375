// The YAML editor: validates as you type (debounced, POST /validate) and shows the messages
// exactly as the API server prints them, lint's warnings for the cluster, import from a file,
// then the preview and the save.

import { api } from "./api.js";
import { clear, debounce, h, path } from "./dom.js";
import { findingsList, reviewPanel } from "./preview.js";

const CHECK_DELAY_MS = 300;
const INDENT = "  ";

export const TEMPLATE = `apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: my-policy
  namespace: default
spec:
  podSelector:
    matchLabels:
      app: web
  policyTypes:
  - Ingress
  ingress:
  - from:
    - podSelector:
        matchLabels:
          role: frontend
    ports:
    - protocol: TCP
      port: 80
`;

function onTab(event) {
  if (event.key !== "Tab" || event.shiftKey || event.ctrlKey || event.altKey || event.metaKey) return;
  event.preventDefault();
  const area = event.target;
  area.setRangeText(INDENT, area.selectionStart, area.selectionEnd, "end");
  area.dispatchEvent(new Event("input"));
}

function validationView(result) {
  if (result.invalid > 0) {
    return h("div", { class: "validation bad", role: "alert" },
      h("p", { class: "status-line" }, `✗ ${result.summary}`),
      result.messages.map((m) => h("pre", { class: "message" }, m)));
  }
  if (result.valid === 0) return h("div", { class: "validation idle" }, h("p", { class: "status-line" }, "Nothing to check yet."));
  return h("div", { class: "validation ok" },
    h("p", { class: "status-line" }, `✓ Valid: ${result.summary}`),
    (result.warnings || []).map((w) => h("p", { class: "warning small" }, `Warning: ${w}`)));
}

async function lintFindings(cluster, yaml) {
  try {
    const result = await api.post(path`/clusters/${cluster}/lint`, { yaml }, { quiet: true });
    return (result.findings || []).filter((f) => f.new !== false); // what this policy adds
  } catch {
    return []; // lint is advice: the editor works without it
  }
}

// The editor for `initial`; `save(yaml)` creates or replaces; null when the caller may not edit.
export function yamlEditor({ cluster, initial, namespace = "default", save, saveLabel, onSaved }) {
  const area = h("textarea", {
    class: "code editor", rows: 24, spellcheck: "false", autocapitalize: "off",
    "aria-label": "Policy YAML", readonly: !save,
  });
  area.value = initial;
  const status = h("div", { class: "validation-slot", "aria-live": "polite" });
  const lint = h("div", { class: "lint-slot" });
  const review = h("div");
  let sequence = 0;
  const check = async () => {
    const mine = ++sequence;
    status.classList.add("checking");
    let view;
    let valid = false;
    try {
      const result = await api.post("/validate", { yaml: area.value, namespace });
      view = validationView(result);
      valid = result.invalid === 0 && result.valid > 0;
    } catch (failure) {
      view = h("div", { class: "validation bad", role: "alert" },
        h("p", { class: "status-line" }, "✗ Not readable as YAML"), h("pre", { class: "message" }, failure.message));
    }
    const findings = valid && save ? await lintFindings(cluster, area.value) : [];
    if (mine !== sequence) return; // a newer check is under way
    status.classList.remove("checking");
    clear(status, view);
    clear(lint, findingsList(findings));
  };
  const checkSoon = debounce(check, CHECK_DELAY_MS);
  area.addEventListener("input", () => {
    clear(review);
    checkSoon();
  });
  area.addEventListener("keydown", onTab);
  const upload = h("input", { type: "file", accept: ".yaml,.yml,.json,text/*", "aria-label": "Import a YAML file" });
  upload.addEventListener("change", async () => {
    if (!upload.files.length) return;
    area.value = await upload.files[0].text();
    upload.value = "";
    clear(review);
    checkSoon.cancel();
    await check();
  });
  const previewButton = h("button", {
    type: "button", class: "primary",
    onclick: () => clear(review, reviewPanel({
      cluster, change: { yaml: area.value }, saveLabel,
      save: () => save(area.value), onSaved, onCancel: () => { clear(review); area.focus(); },
    })),
  }, "Preview changes");
  check();
  return h("div", { class: "yaml-editor" },
    save && h("div", { class: "toolbar" },
      h("label", { class: "file-pick button-link" }, "Import from a file…", upload)),
    area, status, lint,
    save && h("div", { class: "actions" }, previewButton),
    review);
}
