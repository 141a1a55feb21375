// The policy form (the seeds' console form): name, namespace, pod selector rows (or a pod's
// labels as "reference workload labels"), inbound and outbound rule rows. Checked as you type
// by POST /forms/policy, whose messages appear next to the fields they name.

import { api, namespaceNames, podsOf } from "./api.js";
import { clear, debounce, errorBox, h, labelText, parseLabels } from "./dom.js";
import { reviewPanel } from "./preview.js";

const CHECK_DELAY_MS = 350;
const DIRECTIONS = ["ingress", "egress"];
const PROTOCOLS = [["", "Any"], ["TCP", "TCP"], ["UDP", "UDP"]];
const TYPES = [
  ["", "Automatic: Ingress, plus Egress when there are outbound rules"],
  ["Ingress", "Ingress"], ["Egress", "Egress"], ["Ingress,Egress", "Ingress and Egress"],
];
const ALIASES = { "metadata.name": "name", "metadata.namespace": "namespace", "spec.podSelector": "pod_selector" };
const WORDS = {
  ingress: {
    title: "Inbound rules", one: "Inbound rule", peer: "Source",
    none: "No inbound rules: every inbound connection to the selected pods is denied.",
  },
  egress: { title: "Outbound rules", one: "Outbound rule", peer: "Destination", none: "No outbound rules." },
};
let uid = 0;

export const EMPTY_FORM = {
  name: "", namespace: "default", pod_selector: {}, ingress: [], egress: [], policy_types: null,
};

function options(pairs, selected) {
  return pairs.map(([value, text]) => h("option", { value, selected: value === (selected || "") }, text));
}

function field(label, control, hint) {
  return h("label", { class: "field" }, h("span", { class: "label" }, label), control,
    hint && h("span", { class: "hint" }, hint), h("span", { class: "field-error" }));
}

function kvRow(key, value) {
  const remove = () => {
    row.dispatchEvent(new Event("input", { bubbles: true })); // while it is still in the form
    row.remove();
  };
  const row = h("div", { class: "kv-row" },
    h("input", { class: "kv-key", value: key, placeholder: "key", "aria-label": "Label key" }), " = ",
    h("input", { class: "kv-value", value, placeholder: "value", "aria-label": "Label value" }),
    h("button", { type: "button", class: "icon", "aria-label": "Remove this label", onclick: remove }, "×"));
  return row;
}

function fillDatalist(list, pods) {
  const seen = new Set(pods.map((p) => labelText(p.labels)).filter(Boolean));
  clear(list, [...seen].sort().map((text) => h("option", { value: text })));
}

function ruleFields(rule, words, listId, namespace) {
  const input = (name, attrs) => h("input", { dataset: { field: name }, ...attrs });
  return [
    field("Protocol", h("select", { dataset: { field: "protocol" } }, options(PROTOCOLS, rule.protocol))),
    field("Port or range", input("port", { value: rule.port || "", placeholder: "every port", size: 10 }),
      "80 or 8000-8080"),
    field(`${words.peer} namespace`, namespace),
    field(`${words.peer} pod labels`,
      input("pod_labels", { list: listId, value: labelText(rule.pod_labels), placeholder: "every pod" }),
      "app=web, tier=api"),
    field(`${words.peer} CIDR`, input("cidr", { value: rule.cidr || "", placeholder: "none", class: "wide" }),
      "172.17.0.0/16|172.17.1.0/24,172.17.2.0/24"),
  ];
}

function ruleRow(direction, rule, page) {
  const words = WORDS[direction];
  const listId = `pod-labels-${++uid}`;
  const datalist = h("datalist", { id: listId });
  const namespaces = [["", "the policy's namespace"], ["*", "every namespace"], ...page.namespaces.map((n) => [n, n])];
  const namespace = h("select", { dataset: { field: "namespace" } }, options(namespaces, rule.namespace));
  const suggest = () => page.podsIn(namespace.value || page.namespace())
    .then((pods) => fillDatalist(datalist, pods), () => {});
  namespace.addEventListener("change", suggest);
  suggest();
  const remove = () => {
    row.remove();
    page.changed();
  };
  const row = h("fieldset", { class: "rule", dataset: { direction } },
    h("legend", {}, words.one),
    h("div", { class: "rule-grid" }, ruleFields(rule, words, listId, namespace),
      h("button", { type: "button", class: "link danger remove-rule", onclick: remove }, "Remove")),
    datalist);
  return row;
}

function readRule(row, errors) {
  const get = (name) => row.querySelector(`[data-field="${name}"]`);
  const labels = get("pod_labels");
  let podLabels = {};
  try {
    podLabels = parseLabels(labels.value);
  } catch (failure) {
    errors.push(`${labels.dataset.path}: ${failure.message}`);
  }
  return {
    protocol: get("protocol").value, port: get("port").value.trim(), namespace: get("namespace").value,
    pod_labels: podLabels, cidr: get("cidr").value.trim(),
  };
}

function renumber(lists) {
  for (const [direction, list] of Object.entries(lists)) {
    [...list.children].forEach((row, i) => {
      row.querySelector("legend").textContent = `${WORDS[direction].one} ${i + 1}`;
      row.querySelectorAll("[data-field]").forEach((control) => {
        control.dataset.path = `${direction}[${i}].${control.dataset.field}`;
      });
    });
  }
}

function messagePath(message) {
  const path = message.split(": ")[0].trim();
  return ALIASES[path] || path;
}

// The control whose data-path is the longest prefix of `path` ("egress[0].cidr" for itself).
function controlFor(formEl, path) {
  let best = null;
  for (const control of formEl.querySelectorAll("[data-path]")) {
    const p = control.dataset.path;
    const hit = path === p || path.startsWith(`${p}.`) || path.startsWith(`${p}[`);
    if (hit && (!best || p.length > best.dataset.path.length)) best = control;
  }
  return best;
}

function showErrors(formEl, general, messages) {
  formEl.querySelectorAll(".field-error").forEach((slot) => { slot.textContent = ""; });
  formEl.querySelectorAll("[aria-invalid]").forEach((c) => c.removeAttribute("aria-invalid"));
  const unplaced = [];
  for (const message of messages) {
    const control = controlFor(formEl, messagePath(message));
    const slot = control && control.closest(".field").querySelector(".field-error");
    if (!slot) {
      unplaced.push(message);
      continue;
    }
    slot.textContent = slot.textContent ? `${slot.textContent}\n${message}` : message;
    control.setAttribute("aria-invalid", "true");
  }
  clear(general, unplaced.length > 0 && errorBox(unplaced));
}

function readSelector(rows) {
  const selector = {};
  for (const row of rows.querySelectorAll(".kv-row")) {
    const key = row.querySelector(".kv-key").value.trim();
    if (key) selector[key] = row.querySelector(".kv-value").value.trim();
  }
  return selector;
}

function podOption(pod, i) {
  const labels = Object.keys(pod.labels || {}).length ? labelText(pod.labels) : "no labels";
  return h("option", { value: String(i), dataset: { labels: JSON.stringify(pod.labels || {}) } },
    `${pod.name} (${labels})`);
}

function selectorBlock(page, initial) {
  const rows = h("div", { class: "kv-rows", dataset: { path: "pod_selector" } },
    Object.entries(initial).map(([k, v]) => kvRow(k, v)));
  const pick = h("select", { "aria-label": "Reference workload labels" });
  const refill = async () => {
    const pods = await page.podsIn(page.namespace()).catch(() => []);
    clear(pick, h("option", { value: "" }, "Reference workload labels: copy from a pod…"), pods.map(podOption));
  };
  pick.addEventListener("change", () => {
    const chosen = pick.selectedOptions[0];
    if (!chosen || !chosen.value) return;
    clear(rows, Object.entries(JSON.parse(chosen.dataset.labels)).map(([k, v]) => kvRow(k, v)));
    pick.value = "";
    page.changed();
  });
  const add = () => {
    rows.append(kvRow("", ""));
    rows.lastChild.querySelector("input").focus();
  };
  const block = h("div", { class: "field" },
    h("span", { class: "label" }, "Pod selector"),
    h("span", { class: "hint" }, "The pods this policy applies to."),
    rows,
    h("div", { class: "inline" }, h("button", { type: "button", class: "secondary", onclick: add }, "Add label"), pick),
    h("span", { class: "field-error" }));
  return { block, refill, read: () => readSelector(rows) };
}

function ruleSection(direction, list, page) {
  const add = () => {
    list.append(ruleRow(direction, { pod_labels: {} }, page));
    page.changed();
  };
  return h("section", { class: "card rule-section" },
    h("div", { class: "title-row" }, h("h2", {}, WORDS[direction].title),
      h("button", { type: "button", class: "secondary", onclick: add }, `Add ${WORDS[direction].one.toLowerCase()}`)),
    h("p", { class: "muted small empty-rules" }, WORDS[direction].none), list);
}

// Every control of the form, and read() for its value and the errors found before asking.
async function buildForm(cluster, form, editing) {
  const namespaces = await namespaceNames(cluster).catch(() => []);
  if (!namespaces.includes(form.namespace)) namespaces.unshift(form.namespace);
  const podCache = new Map();
  const nsSelect = h("select", { name: "namespace", dataset: { path: "namespace" }, disabled: editing },
    options(namespaces.map((n) => [n, n]), form.namespace));
  const page = {
    namespaces, namespace: () => nsSelect.value, changed: () => {},
    podsIn: (ns) => {
      if (!podCache.has(ns)) podCache.set(ns, podsOf(cluster, ns));
      return podCache.get(ns);
    },
  };
  const selector = selectorBlock(page, form.pod_selector || {});
  const lists = {};
  for (const d of DIRECTIONS) lists[d] = h("div", { class: "rules" }, (form[d] || []).map((r) => ruleRow(d, r, page)));
  const name = h("input", {
    name: "name", dataset: { path: "name" }, value: form.name, disabled: editing, required: true,
    placeholder: "allow-frontend-to-db",
  });
  const types = h("select", { name: "policy_types", dataset: { path: "policy_types" } },
    options(TYPES, (form.policy_types || []).join(",")));
  const general = h("div");
  const formEl = h("form", { class: "policy-form", novalidate: true },
    h("section", { class: "card" },
      h("div", { class: "row" }, field("Name", name), field("Namespace", nsSelect), field("Policy types", types)),
      selector.block),
    DIRECTIONS.map((d) => ruleSection(d, lists[d], page)),
    general);
  nsSelect.addEventListener("change", () => selector.refill());
  selector.refill();
  renumber(lists);
  const read = () => {
    renumber(lists);
    const errors = [];
    const value = {
      name: name.value.trim(), namespace: nsSelect.value, pod_selector: selector.read(),
      ingress: [...lists.ingress.children].map((r) => readRule(r, errors)),
      egress: [...lists.egress.children].map((r) => readRule(r, errors)),
      policy_types: types.value ? types.value.split(",") : null,
    };
    return { value, errors };
  };
  return { formEl, general, page, read, showErrors: (messages) => showErrors(formEl, general, messages) };
}

// The form page; `save(form)` creates or updates; `toYaml(yaml)` opens it in the YAML editor.
export async function policyForm({ cluster, initial, editing, save, saveLabel, onSaved, toYaml }) {
  const built = await buildForm(cluster, { ...EMPTY_FORM, ...initial }, editing);
  const yamlOut = h("pre", { class: "code small" });
  const review = h("div");
  const problems = (failure) => (failure.status === 422 ? failure.messages : [failure.message]);
  let latest = 0;
  const compile = async () => {
    const { value, errors } = built.read();
    if (errors.length) throw Object.assign(new Error(errors[0]), { messages: errors, status: 422 });
    return { form: value, ...(await api.post("/forms/policy", { form: value })) };
  };
  const check = async () => { // shows the newest answer only
    const mine = ++latest;
    try {
      const { yaml } = await compile();
      if (mine !== latest) return null;
      built.showErrors([]);
      yamlOut.textContent = yaml;
      return yaml;
    } catch (failure) {
      if (mine === latest) built.showErrors(problems(failure));
      return null;
    }
  };
  const checkSoon = debounce(check, CHECK_DELAY_MS);
  built.page.changed = () => {
    clear(review);
    checkSoon();
  };
  built.formEl.addEventListener("input", built.page.changed);
  built.formEl.addEventListener("change", built.page.changed);
  built.formEl.addEventListener("submit", (event) => event.preventDefault());
  if (editing) check();
  const preview = async () => {
    checkSoon.cancel();
    const form = built.read().value;
    const yaml = await check();
    if (yaml === null) return;
    clear(review, reviewPanel({
      cluster, change: { yaml }, saveLabel, onSaved, save: () => save(form), onCancel: () => clear(review),
    }));
  };
  const asYaml = toYaml && h("button", {
    type: "button", class: "secondary",
    onclick: () => compile().then((c) => toYaml(c.yaml), (f) => built.showErrors(problems(f))),
  }, "Continue in YAML");
  return h("div", { class: "form-page" }, built.formEl,
    h("details", { class: "yaml-out" }, h("summary", {}, "The policy as YAML"), yamlOut),
    h("div", { class: "actions" }, asYaml,
      h("button", { type: "button", class: "primary", onclick: preview }, "Preview changes")),
    review);
}
