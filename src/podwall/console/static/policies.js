// A cluster's policies: filter by namespace, name and label; select some and delete them after
// a confirmation that lists them and previews the connections their removal opens.

import { api, namespaceNames } from "./api.js";
import { clear, confirmDialog, debounce, errorBox, formatTime, h, labelText, notify, path } from "./dom.js";
import { to } from "./nav.js";
import { previewOf, renderPreview } from "./preview.js";

const filtersByCluster = new Map(); // kept while the page lives, per cluster

function selectorText(selector, namespace) {
  const terms = [labelText(selector && selector.matchLabels)];
  for (const e of (selector && selector.matchExpressions) || []) {
    terms.push(`${e.key} ${e.operator}${e.values ? ` (${e.values.join(", ")})` : ""}`);
  }
  const text = terms.filter(Boolean).join(", ");
  return text || `every pod in ${namespace}`;
}

function typesText(spec) {
  if (spec.policyTypes && spec.policyTypes.length) return spec.policyTypes.join(", ");
  return spec.egress ? "Ingress, Egress" : "Ingress";
}

function keyOf(item) {
  return `${item.namespace}/${item.name}`;
}

function policyRow(manifest, ctx, selection, onSelect) {
  const { namespace, name, labels } = manifest.metadata;
  const spec = manifest.spec || {};
  const c = ctx.cluster.name;
  const key = keyOf({ namespace, name });
  const box = h("input", {
    type: "checkbox", checked: selection.has(key), "aria-label": `Select ${key}`,
    onchange: (event) => onSelect(key, event.target.checked),
  });
  return h("tr", { dataset: { policy: key } },
    ctx.canEdit && h("td", { class: "check" }, box),
    h("td", {}, namespace),
    h("td", {}, h("a", { href: to.edit(c, namespace, name, "yaml"), class: "strong" }, name)),
    h("td", {}, selectorText(spec.podSelector, namespace)),
    h("td", {}, typesText(spec)),
    h("td", {}, `${(spec.ingress || []).length} in · ${(spec.egress || []).length} out`),
    h("td", { class: "small" }, labelText(labels)),
    h("td", { class: "row-actions" },
      h("a", { href: to.edit(c, namespace, name, "yaml") }, ctx.canEdit ? "Edit YAML" : "YAML"),
      ctx.canEdit && h("a", { href: to.edit(c, namespace, name, "form") }, "Edit in form"),
      h("a", { href: to.history(c, { namespace, name }) }, "History")));
}

async function confirmDelete(cluster, items) {
  const preview = h("div", { class: "preview-slot" }, h("p", { class: "muted" }, "Working out which connections open…"));
  previewOf(cluster, { remove: items }).then(
    (result) => clear(preview, renderPreview(result)),
    (failure) => clear(preview, errorBox(`No preview: ${failure.message}`)),
  );
  return confirmDialog({
    title: `Delete ${items.length} polic${items.length === 1 ? "y" : "ies"}?`,
    confirm: `Delete ${items.length}`, danger: true,
    body: [
      h("p", {}, "These policies will be deleted from the cluster:"),
      h("ul", { class: "delete-list" }, items.map((i) => h("li", {}, h("code", {}, keyOf(i))))),
      preview,
    ],
  });
}

function toolbar(ctx, filters, namespaces, onChange) {
  const nsSelect = h("select", { name: "namespace", "aria-label": "Namespace" },
    h("option", { value: "" }, "All namespaces"),
    namespaces.map((n) => h("option", { value: n, selected: n === filters.namespace }, n)));
  const search = (name, placeholder, label) => h("input", {
    name, type: "search", value: filters[name], placeholder, "aria-label": label,
  });
  const name = search("name", "Name contains…", "Name contains");
  const label = search("label", "Label: team=data", "Label");
  const changed = debounce(() => {
    Object.assign(filters, { namespace: nsSelect.value, name: name.value.trim(), label: label.value.trim() });
    onChange();
  }, 250);
  nsSelect.addEventListener("change", changed);
  name.addEventListener("input", changed);
  label.addEventListener("input", changed);
  ctx.onCleanup(changed.cancel);
  return h("div", { class: "toolbar" }, nsSelect, name, label);
}

export async function policiesView(ctx) {
  const c = ctx.cluster.name;
  const filters = filtersByCluster.get(c) || { namespace: ctx.query.namespace || "", name: "", label: "" };
  filtersByCluster.set(c, filters);
  const selection = new Set();
  const tbody = h("tbody");
  const info = h("p", { class: "muted small" });
  const problems = h("div");
  const deleteButton = h("button", { type: "button", class: "danger", disabled: true }, "Delete selected");
  const allBox = h("input", { type: "checkbox", "aria-label": "Select all shown" });
  let shown = [];
  const refreshSelection = () => {
    deleteButton.disabled = selection.size === 0;
    deleteButton.textContent = selection.size ? `Delete selected (${selection.size})` : "Delete selected";
    allBox.checked = shown.length > 0 && shown.every((m) => selection.has(keyOf(m.metadata)));
  };
  const onSelect = (key, on) => {
    if (on) selection.add(key);
    else selection.delete(key);
    refreshSelection();
  };
  const load = async () => {
    const list = await api.get(path`/clusters/${c}/policies`, filters);
    shown = list.items;
    for (const key of [...selection]) if (!shown.some((m) => keyOf(m.metadata) === key)) selection.delete(key);
    clear(tbody, shown.length ? shown.map((m) => policyRow(m, ctx, selection, onSelect)) :
      h("tr", {}, h("td", { colspan: 8, class: "empty" }, "No policies match.")));
    const count = `${shown.length} polic${shown.length === 1 ? "y" : "ies"}`;
    info.textContent = `${count} · as of the sync at ${formatTime(list.last_sync_at)}`;
    refreshSelection();
  };
  allBox.addEventListener("change", () => {
    for (const m of shown) onSelect(keyOf(m.metadata), allBox.checked);
    tbody.querySelectorAll("input[type=checkbox]").forEach((b) => { b.checked = allBox.checked; });
  });
  deleteButton.addEventListener("click", async () => {
    const items = [...selection].sort().map((key) => {
      const [namespace, ...name] = key.split("/");
      return { namespace, name: name.join("/") };
    });
    if (!(await confirmDelete(c, items))) return;
    try {
      const result = await api.post(path`/clusters/${c}/policies/delete`, { items });
      selection.clear();
      notify(`Deleted ${result.deleted.length} polic${result.deleted.length === 1 ? "y" : "ies"}.`, "ok");
      clear(problems, result.failed.length > 0 &&
        errorBox(result.failed.map((f) => `${f.namespace}/${f.name}: ${f.detail}`)));
    } catch (failure) {
      clear(problems, errorBox(failure.messages));
    }
    await load();
  });
  const namespaces = await namespaceNames(c).catch(() => []);
  ctx.section.append(
    h("div", { class: "title-row" }, h("h1", {}, `Policies of ${c}`),
      ctx.canEdit && h("div", { class: "actions" },
        h("a", { href: to.create(c, "form"), class: "button-link primary" }, "New from form"),
        h("a", { href: to.create(c, "yaml"), class: "button-link" }, "New from YAML"))),
    h("div", { class: "toolbar-row" },
      toolbar(ctx, filters, namespaces, () => load().catch((e) => clear(problems, errorBox(e.message)))),
      ctx.canEdit && deleteButton),
    info, problems,
    h("table", { class: "table policies" },
      h("thead", {}, h("tr", {}, ctx.canEdit && h("th", { class: "check" }, allBox),
        ["Namespace", "Name", "Applies to", "Types", "Rules", "Labels", ""].map((t) => h("th", {}, t)))),
      tbody));
  await load();
}
