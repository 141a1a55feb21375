// The clusters screen: each registered cluster with its state and last sync, "Synchronize"
// with live progress, and (for administrators) registering one from a kubeconfig.

import { api } from "./api.js";
import { clear, confirmDialog, errorBox, formatTime, h, notify, path, timeAgo } from "./dom.js";
import { go, to } from "./nav.js";

const POLL_MS = 400;
const STATE_CLASS = { synced: "ok", unreachable: "bad", "never synced": "idle" };

function isRunning(cluster) {
  return Boolean(cluster.sync && cluster.sync.state === "running");
}

function stateCell(cluster) {
  if (isRunning(cluster)) {
    const { progress = 0, step = "" } = cluster.sync;
    return h("td", { class: "state" },
      h("span", { class: "badge busy" }, "synchronizing"),
      h("progress", { max: 1, value: Number(progress) || 0, "aria-label": `Sync of ${cluster.name}` }),
      h("div", { class: "muted small" }, `${step || "working"} · ${Math.round((progress || 0) * 100)}%`));
  }
  return h("td", { class: "state" },
    h("span", { class: `badge ${STATE_CLASS[cluster.state] || "idle"}` }, cluster.state),
    cluster.state === "unreachable" && cluster.last_sync_error &&
      h("div", { class: "sync-error small" }, cluster.last_sync_error));
}

function plural(n, one, many) {
  return `${n} ${n === 1 ? one : many}`;
}

function countsText(counts) {
  const c = counts || {};
  return [plural(c.Namespace || 0, "namespace", "namespaces"), plural(c.Pod || 0, "pod", "pods"),
    plural(c.NetworkPolicy || 0, "policy", "policies")].join(" · ");
}

function clusterRow(cluster, actions) {
  const canSync = cluster.role === "editor" || cluster.role === "admin";
  return h("tr", { dataset: { cluster: cluster.name } },
    h("td", {}, h("a", { href: to.policies(cluster.name), class: "strong" }, cluster.name),
      h("div", { class: "muted small" }, cluster.context ? `context ${cluster.context}` : "current context")),
    stateCell(cluster),
    h("td", {}, cluster.last_sync_at
      ? [h("time", { datetime: cluster.last_sync_at }, formatTime(cluster.last_sync_at)),
        h("div", { class: "muted small" }, timeAgo(cluster.last_sync_at))]
      : h("span", { class: "muted" }, "never")),
    h("td", {}, countsText(cluster.counts)),
    h("td", { class: "row-actions" },
      canSync && h("button", {
        type: "button", class: "secondary", disabled: isRunning(cluster),
        onclick: () => actions.sync(cluster.name),
      }, isRunning(cluster) ? "Synchronizing…" : "Synchronize"),
      h("a", { href: to.connectivity(cluster.name), class: "button-link" }, "Who can talk to whom"),
      actions.isAdmin && h("button", {
        type: "button", class: "link danger", onclick: () => actions.remove(cluster.name),
      }, "Remove")));
}

function registerCard(onRegistered) {
  const error = h("div");
  const upload = h("input", {
    type: "file", accept: ".yaml,.yml,.conf,.config,text/*", "aria-label": "Upload a kubeconfig",
  });
  const kubeconfig = h("textarea", {
    name: "kubeconfig", rows: 8, spellcheck: "false", required: true, class: "code",
    placeholder: "apiVersion: v1\nkind: Config\nclusters: …", "aria-label": "Kubeconfig",
  });
  upload.addEventListener("change", async () => {
    if (upload.files.length) kubeconfig.value = await upload.files[0].text();
  });
  const form = h("form", { class: "stack" },
    h("div", { class: "row" },
      h("label", { class: "field" }, h("span", { class: "label" }, "Name"),
        h("input", { name: "name", required: true, pattern: "[a-z0-9]([-a-z0-9]*[a-z0-9])?", placeholder: "prod-eu" })),
      h("label", { class: "field" }, h("span", { class: "label" }, "Context (optional)"),
        h("input", { name: "context", placeholder: "the kubeconfig's current-context" }))),
    h("div", { class: "field" }, h("span", { class: "label" }, "Kubeconfig: paste it, or ",
      h("label", { class: "file-pick" }, "upload a file", upload)), kubeconfig),
    h("p", { class: "muted small" }, "The kubeconfig stays on the console's server; browsers never get it back."),
    error,
    h("div", { class: "actions" }, h("button", { type: "submit", class: "primary" }, "Register and synchronize")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clear(error);
    const body = { name: form.name.value.trim(), kubeconfig: kubeconfig.value };
    if (form.context.value.trim()) body.context = form.context.value.trim();
    try {
      const cluster = await api.post("/clusters", body);
      form.reset();
      await onRegistered(cluster);
    } catch (failure) {
      clear(error, errorBox(failure.messages));
    }
  });
  return h("details", { class: "card" }, h("summary", {}, h("h2", {}, "Register a cluster")), form);
}

export async function clustersView(ctx) {
  let stopped = false;
  ctx.onCleanup(() => { stopped = true; });
  const tbody = h("tbody");
  const replaceRow = (cluster) => {
    const old = tbody.querySelector(`tr[data-cluster="${CSS.escape(cluster.name)}"]`);
    const row = clusterRow(cluster, actions);
    if (old) old.replaceWith(row);
    else tbody.append(row);
  };
  const wait = () => new Promise((resolve) => { setTimeout(resolve, POLL_MS); });
  const follow = async (cluster) => {
    let current = cluster;
    while (isRunning(current) && !stopped) {
      replaceRow(current);
      await wait();
      current = await api.get(path`/clusters/${current.name}`);
    }
    if (stopped) return;
    replaceRow(current);
    if (current.state === "unreachable") notify(`${current.name} is unreachable: ${current.last_sync_error}`, "error");
    else notify(`Synchronized ${current.name}: ${countsText(current.counts)}.`, "ok");
  };
  const actions = {
    isAdmin: ctx.isAdmin,
    sync: async (name) => {
      try {
        await follow(await api.post(path`/clusters/${name}/sync`));
      } catch (failure) {
        notify(failure.message, "error");
      }
    },
    remove: async (name) => {
      const sure = await confirmDialog({
        title: `Remove cluster ${name}?`, confirm: "Remove", danger: true,
        body: h("p", {}, "The console forgets the cluster and its stored objects. The cluster itself is not touched."),
      });
      if (!sure) return;
      await api.del(path`/clusters/${name}`).then(() => go(to.clusters()), (e) => notify(e.message, "error"));
    },
  };
  const clusters = await api.get("/clusters");
  clusters.forEach(replaceRow);
  ctx.section.append(
    h("div", { class: "title-row" }, h("h1", {}, "Clusters")),
    clusters.length === 0
      ? h("p", { class: "empty" }, ctx.isAdmin ? "No clusters yet: register one below."
        : "You hold no role on any cluster yet: ask an administrator.")
      : h("table", { class: "table clusters" },
        h("thead", {}, h("tr", {}, ["Cluster", "State", "Last sync", "Objects", ""].map((t) => h("th", {}, t)))),
        tbody),
  );
  if (ctx.isAdmin) {
    const card = registerCard(async (cluster) => {
      notify(`Registered ${cluster.name}; synchronizing…`, "ok");
      try {
        await api.post(path`/clusters/${cluster.name}/sync`);
      } catch (failure) {
        notify(failure.message, "error");
      }
      if (ctx.isCurrent()) go(to.clusters());
    });
    if (clusters.length === 0) card.open = true;
    ctx.section.append(card);
  }
  clusters.filter(isRunning).forEach((c) => follow(c).catch((e) => notify(e.message, "error")));
}
