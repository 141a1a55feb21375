// Creating and editing one policy, as YAML or through the form (tabs); both end in the
// preview and the save. A policy the form cannot express (GET answers form: null) opens as YAML.

import { api } from "./api.js";
import { h, notify, path } from "./dom.js";
import { EMPTY_FORM, policyForm } from "./form.js";
import { go, to } from "./nav.js";
import { TEMPLATE, yamlEditor } from "./yamledit.js";

let handoff = null; // YAML carried from the form to the YAML editor ("Continue in YAML")

function tabs(hrefs, mode, formNote) {
  const tab = (which, text) => h("a", {
    href: hrefs[which], class: mode === which ? "active" : "", "aria-current": mode === which ? "page" : false,
  }, text);
  return h("nav", { class: "tabs", "aria-label": "Editor" }, tab("yaml", "YAML"),
    formNote ? h("span", { class: "tab disabled", role: "link", "aria-disabled": "true", title: formNote }, "Form")
      : tab("form", "Form"));
}

function savers(c, params) {
  if (params.name) {
    const url = path`/clusters/${c}/policies/${params.namespace}/${params.name}`;
    return { yaml: (yaml) => api.put(url, { yaml }), form: (form) => api.put(url, { form }), label: "Save changes" };
  }
  const url = path`/clusters/${c}/policies`;
  return { yaml: (yaml) => api.post(url, { yaml }), form: (form) => api.post(url, { form }), label: "Create policy" };
}

export async function editorView(ctx) {
  const c = ctx.cluster.name;
  const { mode, namespace, name } = ctx.params;
  const editing = Boolean(name);
  if (!editing && !ctx.canEdit) { // a viewer has nothing to create: show what there is
    notify("Your role on this cluster is viewer: you can look, not create.", "info");
    return go(to.policies(c));
  }
  const existing = editing ? await api.get(path`/clusters/${c}/policies/${namespace}/${name}`) : null;
  const hrefs = editing
    ? { yaml: to.edit(c, namespace, name, "yaml"), form: to.edit(c, namespace, name, "form") }
    : { yaml: to.create(c, "yaml"), form: to.create(c, "form") };
  const formNote = existing && existing.form === null
    ? "This policy uses fields the form cannot show (e.g. matchExpressions); edit it as YAML." : null;
  if (mode === "form" && (formNote || !ctx.canEdit)) return go(hrefs.yaml);
  const save = savers(c, ctx.params);
  const onSaved = (result) => {
    const meta = (result && result.manifest && result.manifest.metadata) || { namespace, name };
    notify(`${editing ? "Updated" : "Created"} ${meta.namespace}/${meta.name}.`, "ok");
    go(to.policies(c));
  };
  ctx.section.append(
    h("div", { class: "title-row" },
      h("h1", {}, editing ? `Policy ${namespace}/${name}` : `New policy in ${c}`),
      editing && h("a", { href: to.history(c, { namespace, name }) }, "History of this policy")),
    ctx.canEdit && tabs(hrefs, mode, formNote));
  if (mode === "yaml") {
    const initial = editing ? existing.yaml : handoff || TEMPLATE;
    handoff = null;
    ctx.section.append(yamlEditor({
      cluster: c, initial, namespace: namespace || "default",
      save: ctx.canEdit ? save.yaml : null, saveLabel: save.label, onSaved,
    }));
    return undefined;
  }
  ctx.section.append(await policyForm({
    cluster: c, initial: editing ? existing.form : EMPTY_FORM, editing,
    save: save.form, saveLabel: save.label, onSaved,
    toYaml: editing ? null : (yaml) => { handoff = yaml; go(hrefs.yaml); },
  }));
  return undefined;
}
