// The console's single page: who is logged in, which screen the hash names, the header.
// Each screen is a function view(ctx) that fills ctx.section; ctx.onCleanup(fn) stops its timers.

import { api, isAuthProblem, onAuth } from "./api.js";
import { clustersView } from "./clusters.js";
import { connectivityView } from "./connectivity.js";
import { clear, errorBox, h, notify } from "./dom.js";
import { editorView } from "./editor.js";
import { historyView } from "./history.js";
import { go, parseHash, rememberWhereTo, to } from "./nav.js";
import { policiesView } from "./policies.js";
import { accountView, loginView, passwordView } from "./session.js";

const RANK = { viewer: 1, editor: 2, admin: 3 };
const state = { me: null, clusters: [], lastCluster: null, cleanups: [], renderId: 0 };

function match(parts) {
  const [a, cluster, what, x, y, z] = parts;
  const n = parts.length;
  if (n === 0 || (a === "clusters" && n === 1)) return { view: clustersView, title: "Clusters" };
  if (a === "login" && n === 1) return { view: loginView, public: true, title: "Log in" };
  if (a === "password" && n === 1) return { view: passwordView, bare: true, title: "Change password" };
  if (a === "account" && n === 1) return { view: accountView, title: "Account" };
  if (a !== "c" || !cluster) return null;
  const modes = ["yaml", "form"];
  const routes = {
    policies: n === 3 && { view: policiesView, title: "Policies" },
    new: n === 4 && modes.includes(x) && { view: editorView, params: { mode: x }, title: "New policy" },
    edit: n === 6 && modes.includes(z) &&
      { view: editorView, params: { namespace: x, name: y, mode: z }, title: "Edit policy" },
    history: n === 3 && { view: historyView, title: "History" },
    connectivity: n === 3 && { view: connectivityView, title: "Who can talk to whom" },
  };
  const route = routes[what];
  return route ? { ...route, cluster, tab: what } : null;
}

async function loadMe() {
  try {
    state.me = await api.get("/me", undefined, { quiet: true });
  } catch (error) {
    if (error.status !== 401) throw error;
    state.me = null;
  }
}

async function loadClusters() {
  state.clusters = await api.get("/clusters");
  return state.clusters;
}

function renderHeader(route, cluster) {
  const header = document.getElementById("top");
  header.hidden = !state.me || route.public || route.bare;
  if (header.hidden) return;
  document.getElementById("account-link").textContent = state.me.username;
  const select = document.getElementById("cluster-select");
  const current = cluster ? cluster.name : state.lastCluster;
  clear(select,
    h("option", { value: "", disabled: true, selected: !current }, "Choose a cluster…"),
    state.clusters.map((c) => h("option", { value: c.name, selected: c.name === current }, c.name)));
  select.onchange = () => go(to.policies(select.value));
  const nav = document.getElementById("nav");
  const links = [["Clusters", to.clusters(), !route.cluster && route.view === clustersView]];
  const known = state.clusters.find((c) => c.name === current);
  if (current) {
    links.push(
      ["Policies", to.policies(current), route.tab === "policies" || route.tab === "edit"],
      known && RANK[known.role] >= RANK.editor && ["New policy", to.create(current), route.tab === "new"],
      ["History", to.history(current), route.tab === "history"],
      ["Who can talk to whom", to.connectivity(current), route.tab === "connectivity"],
    );
  }
  clear(nav, links.filter(Boolean).map(([text, href, active]) =>
    h("a", { href, class: active ? "active" : "", "aria-current": active ? "page" : false }, text)));
}

function runCleanups() {
  for (const fn of state.cleanups.splice(0)) {
    try {
      fn();
    } catch (error) {
      console.warn("cleanup failed", error);
    }
  }
}

async function authorise(route, id) {
  if (route.public) return true;
  if (!state.me) await loadMe();
  if (id !== state.renderId) return false;
  if (!state.me) {
    rememberWhereTo(window.location.hash);
    go(to.login());
    return false;
  }
  if (state.me.must_change_password && !route.bare) {
    go(to.password());
    return false;
  }
  return true;
}

async function render() {
  const id = ++state.renderId;
  runCleanups();
  const { parts, query } = parseHash(window.location.hash);
  const route = match(parts);
  if (!route) return go(state.me ? to.clusters() : to.login());
  if (!(await authorise(route, id))) return undefined;
  let cluster = null;
  if (!route.public && !route.bare) await loadClusters();
  if (state.lastCluster && !state.clusters.some((c) => c.name === state.lastCluster)) state.lastCluster = null;
  if (!state.lastCluster && state.clusters.length === 1) state.lastCluster = state.clusters[0].name;
  if (route.cluster) {
    cluster = state.clusters.find((c) => c.name === route.cluster);
    if (!cluster) {
      notify(`There is no cluster named ${route.cluster} (or you hold no role on it).`, "error");
      return go(to.clusters());
    }
    state.lastCluster = cluster.name;
  }
  if (id !== state.renderId) return undefined;
  document.title = `${route.title}${cluster ? ` · ${cluster.name}` : ""} · podwall`;
  renderHeader(route, cluster);
  const section = h("section", { class: "view" });
  clear(document.getElementById("main"), section);
  const role = cluster ? RANK[cluster.role] || 0 : 0;
  const ctx = {
    section, cluster, query, params: route.params || {}, me: state.me,
    canEdit: role >= RANK.editor, isAdmin: Boolean(state.me && state.me.is_admin),
    onCleanup: (fn) => state.cleanups.push(fn),
    setMe: (me) => { state.me = me; },
    isCurrent: () => id === state.renderId,
  };
  try {
    await route.view(ctx);
  } catch (error) {
    if (!isAuthProblem(error)) section.append(errorBox(error.message));
  }
  return undefined;
}

onAuth((error) => {
  if (error.status === 401) {
    state.me = null;
    rememberWhereTo(window.location.hash);
    go(to.login());
  } else {
    if (state.me) state.me.must_change_password = true;
    go(to.password());
  }
});

document.getElementById("logout").addEventListener("click", async () => {
  try {
    await api.del("/session", { quiet: true });
  } catch (error) {
    if (error.status !== 401) notify(error.message, "error");
  }
  state.me = null;
  state.lastCluster = null;
  go(to.login());
});

window.addEventListener("hashchange", render);
render();
