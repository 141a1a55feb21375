// A cluster's change history (GET /clusters/{c}/history): who changed what and when, with the
// diff, and a one-click Revert for editors.

import { api } from "./api.js";
import { clear, debounce, errorBox, formatTime, h, notify, path, timeAgo } from "./dom.js";
import { to } from "./nav.js";

function diffView(diff) {
  if (!diff) return null;
  return h("pre", { class: "diff" }, diff.split("\n").map((line) => {
    const kind = line.startsWith("+++") || line.startsWith("---") ? "file"
      : line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : "same";
    return h("span", { class: `line ${kind}` }, `${line}\n`);
  }));
}

function entryCard(entry, ctx, revert) {
  const problem = h("div");
  const button = ctx.canEdit && entry.revertable && !entry.reverted_by && h("button", {
    type: "button", class: "secondary",
    onclick: async () => {
      button.disabled = true;
      clear(problem);
      try {
        await revert(entry);
      } catch (failure) {
        clear(problem, errorBox(failure.messages));
        button.disabled = false;
      }
    },
  }, "Revert");
  return h("article", { class: "card history-entry", dataset: { entry: String(entry.id), action: entry.action } },
    h("header", { class: "title-row" },
      h("div", {},
        h("span", { class: "muted" }, `#${entry.id} `),
        h("span", { class: "badge idle" }, entry.action), " ",
        h("strong", {}, entry.object || ""), " ",
        h("span", { class: "muted" }, `by ${entry.username}, `),
        h("time", { datetime: entry.at, title: formatTime(entry.at) }, `${formatTime(entry.at)} (${timeAgo(entry.at)})`)),
      h("div", { class: "actions" },
        entry.reverted_by && h("span", { class: "muted small" }, `reverted by change #${entry.reverted_by}`),
        button)),
    diffView(entry.diff), problem);
}

export async function historyView(ctx) {
  const c = ctx.cluster.name;
  const query = { namespace: ctx.query.namespace || "", name: ctx.query.name || "" };
  const list = h("div", { class: "history" });
  const load = async () => {
    const entries = await api.get(path`/clusters/${c}/history`, query);
    clear(list, entries.length === 0 ? h("p", { class: "empty" }, "No changes recorded yet.") :
      entries.map((e) => entryCard(e, ctx, revert)));
  };
  const revert = async (entry) => {
    const result = await api.post(path`/clusters/${c}/history/${entry.id}/revert`);
    const meta = result && result.manifest && result.manifest.metadata;
    notify(meta ? `Reverted: ${meta.namespace}/${meta.name} is back as it was.`
      : `Reverted change #${entry.id}.`, "ok");
    await load();
  };
  const ns = h("input", { type: "search", value: query.namespace, placeholder: "Namespace", "aria-label": "Namespace" });
  const name = h("input", { type: "search", value: query.name, placeholder: "Policy name", "aria-label": "Policy name" });
  const refilter = debounce(() => {
    Object.assign(query, { namespace: ns.value.trim(), name: name.value.trim() });
    window.history.replaceState(null, "", to.history(c, query)); // no hashchange: keep the focus
    load().catch((failure) => clear(list, errorBox(failure.message)));
  }, 300);
  ns.addEventListener("input", refilter);
  name.addEventListener("input", refilter);
  ctx.onCleanup(refilter.cancel);
  ctx.section.append(
    h("div", { class: "title-row" }, h("h1", {}, `History of ${c}`)),
    h("div", { class: "toolbar" }, ns, name),
    list);
  await load();
}
