// "Who can talk to whom" on one cluster: the connectivity matrix as a heatmap (drawn here from
// GET /matrix, so each cell and pod can be clicked) and as a graph (GET /graph.svg), filtered by
// port, protocol and namespace; a click explains one connection or one pod.

import { api, apiUrl, namespaceNames } from "./api.js";
import { clear, debounce, errorBox, h, path, svg } from "./dom.js";

const CELL = 20;
const CHAR = 7; // px per character of a 12px label, near enough
const PROTOCOLS = ["TCP", "UDP", "SCTP"];
let picture = "heatmap"; // which picture the page showed last

function groups(pods) {
  const runs = [];
  pods.forEach((pod, i) => {
    const last = runs[runs.length - 1];
    if (last && last.namespace === pod.namespace) last.end = i + 1;
    else runs.push({ namespace: pod.namespace, start: i, end: i + 1 });
  });
  return runs;
}

function groupLines(pods, label, size) {
  return groups(pods).slice(1).map((run) => {
    const at = label + run.start * CELL;
    return [
      svg("line", { class: "group-line", x1: at, y1: 0, x2: at, y2: label + size }),
      svg("line", { class: "group-line", x1: 0, y1: at, x2: label + size, y2: at }),
    ];
  });
}

function podLabels(pods, label) {
  return pods.map((pod, i) => {
    const mid = label + i * CELL + CELL / 2 + 4;
    const attrs = { class: "pod-label", tabindex: 0, dataset: { pod: pod.id } };
    const title = () => svg("title", {}, `Explain ${pod.id}`);
    return [
      svg("text", { ...attrs, x: label - 6, y: mid, "text-anchor": "end" }, pod.id, title()),
      svg("text", { ...attrs, transform: `translate(${mid - 1} ${label - 6}) rotate(-90)` },
        pod.id, title()),
    ];
  });
}

function cells(pods, allowed, label) {
  return allowed.map((row, i) => row.map((ok, j) => {
    const from = pods[i].id;
    const to = pods[j].id;
    return svg("rect", {
      class: `cell ${ok ? "allowed" : "denied"}`, x: label + j * CELL + 1, y: label + i * CELL + 1,
      width: CELL - 2, height: CELL - 2, dataset: { from, to },
    }, svg("title", {}, `${from} → ${to}: ${ok ? "allowed" : "denied"}`));
  }));
}

function heatmap(matrix, explainPair, explainPod) {
  const { pods, allowed } = matrix;
  const label = Math.max(60, ...pods.map((p) => p.id.length * CHAR)) + 16;
  const size = pods.length * CELL;
  const side = label + size + 8;
  const chart = svg("svg", {
    class: "heatmap", width: side, height: side, viewBox: `0 0 ${side} ${side}`, role: "img",
    "aria-label": `Connectivity heatmap, ${pods.length} pods`,
  },
  groupLines(pods, label, size), podLabels(pods, label), cells(pods, allowed, label),
  svg("text", { class: "axis", x: 4, y: label - 6 }, "from ↓  to →"));
  chart.addEventListener("click", (event) => {
    const target = event.target.closest("[data-from], [data-pod]");
    if (target && target.dataset.pod) explainPod(target.dataset.pod);
    else if (target) explainPair(target.dataset.from, target.dataset.to);
  });
  chart.addEventListener("keydown", (event) => {
    const pod = event.target.dataset && event.target.dataset.pod;
    if (event.key === "Enter" && pod) explainPod(pod);
  });
  return chart;
}

function idList(title, ids) {
  return h("div", {}, h("h3", {}, `${title} (${ids.length})`),
    ids.length
      ? h("ul", { class: "id-list" }, ids.map((id) => h("li", {}, h("code", {}, id))))
      : h("p", { class: "muted small" }, "none"));
}

function notes(list) {
  return (list || []).map((n) => h("p", { class: "warning small" }, n));
}

function asPrinted(text, command) {
  return text && h("details", {}, h("summary", {}, `As ${command} prints it`),
    h("pre", { class: "explain-text" }, text));
}

function reason(r) {
  return h("li", { class: r.allowed ? "" : "denied" },
    r.direction && h("span", { class: "muted small" }, `${r.direction}: `),
    r.policy && h("strong", {}, r.policy), r.path && h("code", {}, ` ${r.path}`),
    r.policy || r.path ? ": " : "", r.text);
}

function pairExplanation(from, to, result) {
  const ok = result.verdict === "allowed";
  return [
    h("h2", {}, `${from} → ${to}`),
    h("p", {}, h("span", { class: `badge ${ok ? "ok" : "bad"} verdict` }, result.verdict),
      h("span", { class: "muted" }, ` on ${result.port}/${result.protocol}`)),
    h("ul", { class: "reasons" }, (result.reasons || []).map(reason)),
    notes(result.notes),
    asPrinted(result.text, "podwall check"),
  ];
}

function podExplanation(id, result) {
  const isolated = (on) => (on ? "isolated: only what a policy allows"
    : "not isolated: everything allowed");
  const policies = result.policies || [];
  return [
    h("h2", {}, id),
    h("p", {}, `Inbound: ${isolated(result.isolated_ingress)}.`),
    h("p", {}, `Outbound: ${isolated(result.isolated_egress)}.`),
    h("h3", {}, "Policies selecting it"),
    policies.length
      ? h("ul", {}, policies.map((p) => h("li", {}, h("code", {}, String(p)))))
      : h("p", { class: "muted small" }, "none"),
    idList("Reachable from", result.reachable_from || []),
    idList("Can reach", result.can_reach || []),
    notes(result.notes),
    asPrinted(result.text, "podwall explain"),
  ];
}

function filterBar(namespaces, filters, onChange) {
  const port = h("input", {
    inputmode: "numeric", value: filters.port, "aria-label": "Port", class: "port",
    placeholder: "declared", list: "declared-ports",
    title: "Empty: each destination's declared ports",
  });
  const protocol = h("select", { "aria-label": "Protocol" },
    PROTOCOLS.map((p) => h("option", { value: p, selected: p === filters.protocol }, p)));
  const ns = h("select", { "aria-label": "Namespace" }, h("option", { value: "" }, "All namespaces"),
    namespaces.map((n) => h("option", { value: n, selected: n === filters.namespace }, n)));
  const changed = debounce(() => {
    Object.assign(filters, { port: port.value.trim(), protocol: protocol.value, namespace: ns.value });
    onChange();
  }, 250);
  port.addEventListener("input", changed);
  protocol.addEventListener("change", changed);
  ns.addEventListener("change", changed);
  const choices = h("datalist", { id: "declared-ports" });
  const setPorts = (ports) => {
    const numbers = new Set(ports.map((p) => String(p).split("/")[0]));
    clear(choices, [...numbers].map((p) => h("option", { value: p })));
  };
  const bar = h("div", { class: "toolbar" },
    h("span", { class: "label" }, "Port"), port, protocol, ns, choices);
  return { bar, setPorts, cancel: changed.cancel };
}

function graphView(src, pods, explainPod) {
  return [
    h("img", { class: "graph", src, alt: "Graph: pods grouped by namespace, an edge for each allowed connection" }),
    h("div", { class: "pod-chips" }, h("span", { class: "label" }, "Explain a pod:"),
      pods.map((p) => h("button", {
        type: "button", class: "chip", dataset: { pod: p.id }, onclick: () => explainPod(p.id),
      }, p.id))),
  ];
}

function pictureSwitch(onSwitch) {
  const tabs = ["heatmap", "graph"].map((which) => h("button", {
    type: "button", role: "tab", class: which === picture ? "active" : "",
    "aria-selected": String(which === picture),
    onclick: () => {
      picture = which;
      tabs.forEach((tab, i) => {
        const on = ["heatmap", "graph"][i] === which;
        tab.classList.toggle("active", on);
        tab.setAttribute("aria-selected", String(on));
      });
      onSwitch();
    },
  }, which === "heatmap" ? "Heatmap" : "Graph"));
  return h("div", { class: "tabs", role: "tablist" }, tabs);
}

function explainer(c, filters, panel) {
  let latest = 0;
  const show = async (load, render) => {
    const mine = ++latest;
    clear(panel, h("p", { class: "muted" }, "Explaining…"));
    try {
      const result = await load();
      if (mine === latest) clear(panel, render(result));
    } catch (failure) {
      if (mine === latest) clear(panel, errorBox(failure.message));
    }
  };
  const port = () => (filters.port ? { port: filters.port, protocol: filters.protocol } : {});
  const pod = (id) => {
    const [ns, ...rest] = id.split("/");
    return show(() => api.get(path`/clusters/${c}/pods/${ns}/${rest.join("/")}/explain`, port()),
      (r) => podExplanation(id, r));
  };
  const pair = async (from, to) => {
    if (!filters.port) { // one connection needs one port: explain its destination instead
      await pod(to);
      panel.prepend(h("p", { class: "muted small" },
        "Choose a port to explain one connection; here is its destination."));
      return;
    }
    await show(() => api.get(path`/clusters/${c}/explain`, { from, to, ...port() }),
      (r) => pairExplanation(from, to, r));
  };
  return { pod, pair };
}

// Real packets beside the policies (clusters with a prober: the lab under `podwall up`): every
// pod pair is probed on the chosen port; cells the packets disagree with are outlined.
function probeResult(result) {
  const where = `${result.port}/${result.protocol}`;
  const lines = result.disagreements.map((d) => h("li", { class: "denied" },
    h("code", {}, `${d.from} → ${d.to}`),
    `: the policies ${d.computed ? "allow" : "deny"} it, the packets ${d.observed ? "got through" : "were dropped"}`));
  return [
    h("h2", {}, "Real packets"),
    h("p", { id: "probe-verdict" }, h("span", { class: `badge ${result.agree ? "ok" : "bad"}` },
      result.agree ? "agree" : `${result.disagreements.length} disagree`),
    ` ${result.probes} connections opened on ${where} between the pods; `,
    result.agree ? "every one did what the policies say." : "these did not do what the policies say:"),
    lines.length ? h("ul", { class: "reasons" }, lines) : null,
  ];
}

function markProbed(stage, result) {
  const wrong = new Set(result.disagreements.map((d) => `${d.from}\n${d.to}`));
  stage.querySelectorAll("rect.cell").forEach((cell) => {
    const key = `${cell.dataset.from}\n${cell.dataset.to}`;
    cell.classList.toggle("probed", true);
    cell.classList.toggle("disagrees", wrong.has(key));
  });
}

function probeButton(ctx, filters, stage, panel) {
  const button = h("button", { type: "button", class: "secondary", id: "probe" }, "Check with real packets");
  button.addEventListener("click", async () => {
    button.disabled = true;
    clear(panel, h("p", { class: "muted" }, `Opening a connection between every pod pair on ${filters.port}/${filters.protocol}…`));
    try {
      const result = await api.post(path`/clusters/${ctx.cluster.name}/probe`,
        { port: Number(filters.port), protocol: filters.protocol });
      clear(panel, probeResult(result));
      markProbed(stage, result);
    } catch (failure) {
      clear(panel, errorBox(failure.message));
    } finally {
      button.disabled = false;
    }
  });
  return button;
}

export async function connectivityView(ctx) {
  const c = ctx.cluster.name;
  const { query: q } = ctx;
  const filters = { port: q.port || "80", protocol: q.protocol || "TCP", namespace: q.namespace || "" };
  const explain = h("aside", { class: "card explain", "aria-live": "polite" }, h("p", { class: "muted" },
    "Click a cell to explain that connection, or a pod's name to explain the pod."));
  const stage = h("div", { class: "stage" });
  const summary = h("p", { class: "summary", id: "matrix-summary" });
  const links = h("p", { class: "small" });
  const probeSlot = h("span", { class: "probe-slot" });
  const explainOne = explainer(c, filters, explain);
  const query = () => (filters.port ? { ...filters } : { namespace: filters.namespace }); // no port: declared
  const svgLink = (what, text) =>
    h("a", { href: apiUrl(path`/clusters/${c}/${what}`, query()), target: "_blank" }, text);
  let drawn = 0;
  const draw = async () => {
    const mine = ++drawn;
    const matrix = await api.get(path`/clusters/${c}/matrix`, query());
    if (mine !== drawn) return; // the filters changed meanwhile
    clear(links, svgLink("matrix.svg", "Heatmap as SVG"), " · ", svgLink("graph.svg", "Graph as SVG"));
    const open = matrix.allowed.flat().filter(Boolean).length;
    const on = matrix.port ? `on ${matrix.port}/${matrix.protocol}` : "on each destination's declared ports";
    summary.textContent = `${open} of ${matrix.pods.length ** 2} pod-to-pod connections allowed ${on}.`;
    setPorts(matrix.ports || []);
    const probe = matrix.can_probe && ctx.canEdit && filters.port && picture === "heatmap";
    clear(probeSlot, probe ? probeButton(ctx, filters, stage, explain) : null);
    if (matrix.pods.length === 0) clear(stage, h("p", { class: "empty" }, "No pods: synchronize the cluster."));
    else if (picture === "heatmap") clear(stage, heatmap(matrix, explainOne.pair, explainOne.pod));
    else clear(stage, graphView(apiUrl(path`/clusters/${c}/graph.svg`, query()), matrix.pods, explainOne.pod));
  };
  const redraw = () => draw().catch((failure) => clear(stage, errorBox(failure.message)));
  const namespaces = await namespaceNames(c).catch(() => []);
  const { bar, setPorts, cancel } = filterBar(namespaces, filters, redraw);
  ctx.onCleanup(cancel);
  ctx.section.append(
    h("div", { class: "title-row" }, h("h1", {}, `Who can talk to whom in ${c}`)),
    h("div", { class: "toolbar-row" }, bar, probeSlot, pictureSwitch(redraw)),
    summary,
    h("div", { class: "split" }, h("div", { class: "picture" }, stage, links), explain));
  await redraw();
}
