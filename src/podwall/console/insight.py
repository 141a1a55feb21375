"""Understanding one cluster from its last sync: the connectivity matrix (as data and as a
heatmap), the graph of allowed flows, why one flow is allowed or denied, what one pod may reach
and be reached from, and lint findings. Pure: stored manifests in, plain data and SVG out; no
database and no HTTP (`routes.insight` is the edge; `proposal` previews changes).

`Insight` holds one assembled cluster and what is costly to derive from it, built once on first
use: the class matrix (`semantics.matrix.ClassMatrix`: the work scales with distinct
workloads, not pods) and the lint findings. It is immutable in what it answers, so the edge can
keep one per stored state (`state_digest`) and share it between requests; a lock serialises the
class matrix, which remembers the last port it was asked for.

Ports: with a port, a cell says whether the row may connect to the column on it. Without one,
each destination is judged on the ports its pods declare: a cell is allowed when the row may
reach the column on at least one of them (a destination declaring none is never reached), and
the graph's edges carry exactly those ports. A pod always reaches itself.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np

from podwall.assemble import assemble
from podwall.console.errors import NotFound, Unprocessable
from podwall.lint import CHECKS, Finding, lint_cluster
from podwall.lint.context import Context
from podwall.lint.redundancy import check_redundancy
from podwall.model import Cluster, Pod, Protocol
from podwall.render.data import decision_data, explanation_data
from podwall.render.graph import Graph, matrix_graph
from podwall.render.grid import render_grid_svg
from podwall.render.layout import render_graph_svg
from podwall.render.text import decision_text, explanation_text
from podwall.semantics import (
    ClusterIndex,
    Flow,
    Matrix,
    Options,
    PortSpec,
    UnknownEndpoint,
    decide,
    declared_ports,
    explain_pod,
)
from podwall.semantics.matrix import ClassMatrix
from podwall.validation import render_errors

__all__ = [
    "REDUNDANCY_CODES",
    "Insight",
    "LintResult",
    "explain_flow",
    "explain_pod_data",
    "graph_data",
    "graph_svg",
    "lint_state",
    "matrix_data",
    "matrix_svg",
    "parse_port",
    "state_digest",
]

BLOCK_BUDGET = 64_000_000  # class-matrix cells (bytes) kept per state, all ports together
REDUNDANCY_CODES = ("PW011", "PW012")
REDUNDANCY_POD_LIMIT = 300  # PW011/PW012 cost a matrix per policy and rule: only where cheap
REDUNDANCY_MAX_MATRICES = 200


def parse_port(port: int | None, protocol: str | None) -> PortSpec | None:
    """A port and protocol from a query (None: each destination's declared ports); 422 on a
    protocol Kubernetes does not know."""
    wanted = (protocol or Protocol.TCP.value).upper()
    if wanted not in Protocol.__members__:
        raise Unprocessable(f"protocol {protocol!r}: must be one of TCP, UDP, SCTP")
    if port is None:
        if protocol:
            raise Unprocessable("protocol given without a port")
        return None
    if not 1 <= port <= 65535:
        raise Unprocessable(f"port {port}: must be between 1 and 65535")
    return PortSpec(port, wanted)


def state_digest(rows: Iterable[tuple[str, str, str, str]]) -> str:
    """One hash of stored (kind, namespace, name, manifest JSON) rows, in any order: equal
    stored objects, equal digest, whatever sync or write stored them."""
    digest = hashlib.sha256()
    for row in sorted(rows):
        for part in row:
            digest.update(part.encode("utf-8"))
            digest.update(b"\0")
    return digest.hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class LintResult:
    findings: tuple[Finding, ...]
    skipped: tuple[str, ...]  # codes not checked because the cluster is too big for them


def lint_state(cluster: Cluster) -> LintResult:
    """Every check `podwall lint` runs; the redundancy checks only where they stay cheap."""
    rules = sum(len(p.ingress) + len(p.egress) for p in cluster.policies)
    work = 1 + len(cluster.policies) + rules
    checks: list[Callable[[Context], Iterable[Finding]]] = [
        c for c in CHECKS if c is not check_redundancy
    ]
    skipped: tuple[str, ...] = REDUNDANCY_CODES
    if len(cluster.pods) <= REDUNDANCY_POD_LIMIT and work <= REDUNDANCY_MAX_MATRICES:
        checks.append(partial(check_redundancy, max_matrices=REDUNDANCY_MAX_MATRICES))
        skipped = ()
    return LintResult(findings=tuple(lint_cluster(cluster, checks=checks)), skipped=skipped)


class Insight:
    """One cluster state and its costly derivatives, built on first use."""

    def __init__(self, cluster: Cluster, warnings: Sequence[str] = ()) -> None:
        self.cluster = cluster
        self.warnings = tuple(warnings)
        self.options = Options()
        self.index = ClusterIndex.build(cluster)
        self._lock = threading.Lock()  # the class matrix remembers the last port asked
        self._lint_lock = threading.Lock()  # linting is slower: it must not hold up the matrix
        self._classes: ClassMatrix | None = None
        self._blocks: dict[PortSpec, np.ndarray] = {}  # kept class blocks, oldest first
        self._lint: LintResult | None = None
        self._position = {p.key: i for i, p in enumerate(cluster.pods)}

    @classmethod
    def from_manifests(cls, manifests: Sequence[Mapping[str, Any]]) -> Insight:
        """Stored objects as the API server returned them; any podwall cannot read is left
        out, with a warning (the cluster accepted it, so CIDRs are read as older servers did)."""
        sources = [(f"{m.get('kind')} {_name(m)}", m) for m in manifests]
        loaded = assemble(sources, strict_cidr=False)
        skipped = [
            f"left out: {render_errors(i.kind, i.name, i.errors)}" for i in loaded.invalid
        ]
        return cls(loaded.cluster, (*loaded.warnings, *skipped))

    def pods_in(self, namespaces: Sequence[str]) -> list[Pod]:
        """The pods of these namespaces (none given: every pod), sorted by `ns/name`."""
        wanted = set(namespaces)
        return [p for p in self.cluster.pods if not wanted or p.namespace in wanted]

    def pod(self, key: str) -> Pod:
        found = self.cluster.pod(key)
        if found is None:
            raise NotFound(f"no pod {key!r} in the cluster's last sync")
        return found

    def _class_matrix(self) -> ClassMatrix:
        if self._classes is None:
            self._classes = ClassMatrix(self.cluster, self.options, self.cluster.pods, self.index)
        return self._classes

    def _classes_of(self, pods: Sequence[Pod]) -> np.ndarray:
        of_pod = self._class_matrix().of_pod
        return of_pod[np.array([self._position[p.key] for p in pods], dtype=np.intp)]

    def _block(self, spec: PortSpec, cols: np.ndarray | None = None) -> np.ndarray:
        """Class x class cells on `spec` (only the columns `cols`, when given); call under the
        lock. Whole blocks are kept, up to BLOCK_BUDGET cells for all ports together."""
        full = self._blocks.get(spec)
        if full is None and cols is not None:
            return self._class_matrix().block(spec, cols=cols)
        if full is None:
            full = self._class_matrix().block(spec)
            while self._blocks and sum(b.size for b in self._blocks.values()) + full.size > (
                BLOCK_BUDGET
            ):
                self._blocks.pop(next(iter(self._blocks)))  # the oldest
            if full.size <= BLOCK_BUDGET:
                self._blocks[spec] = full
        return full if cols is None else full[:, cols]

    def _declared_block(self, spec: PortSpec, classes: np.ndarray, at: np.ndarray) -> np.ndarray:
        """Sources (classes) x the destinations at positions `at` that declare `spec`."""
        cols, inverse = np.unique(classes[at], return_inverse=True)
        return self._block(spec, cols)[np.ix_(classes, inverse.reshape(-1))]

    def grid(self, port: PortSpec | None, pods: Sequence[Pod]) -> np.ndarray:
        """`allowed[i, j]` over `pods`: on `port`, or (None) on some port pods[j] declares."""
        with self._lock:
            classes = self._classes_of(pods)
            if port is not None:
                grid = self._block(port)[np.ix_(classes, classes)]
            else:
                grid = np.zeros((len(pods), len(pods)), dtype=bool)
                for spec, at in _declaring(pods).items():
                    grid[:, at] |= self._declared_block(spec, classes, at)
        np.fill_diagonal(grid, True)
        return grid

    def matrix(self, ports: Sequence[PortSpec], pods: Sequence[Pod], *, declared: bool) -> Matrix:
        """The matrix over `pods` and `ports`, as `compute_matrix` gives it; `declared` keeps a
        cell on a port only where the destination declares that port."""
        allowed = {}
        declaring = _declaring(pods) if declared else {}
        with self._lock:
            classes = self._classes_of(pods)
            for spec in ports:
                if not declared:
                    grid = self._block(spec)[np.ix_(classes, classes)]
                else:
                    grid = np.zeros((len(pods), len(pods)), dtype=bool)
                    at = declaring.get(spec, np.zeros(0, dtype=np.intp))
                    if len(at):
                        grid[:, at] = self._declared_block(spec, classes, at)
                np.fill_diagonal(grid, True)
                allowed[spec.key] = grid
        return Matrix(pods=tuple(p.key for p in pods), ports=tuple(ports), allowed=allowed)

    def lint(self) -> LintResult:
        with self._lint_lock:
            if self._lint is None:
                self._lint = lint_state(self.cluster)
            return self._lint


def _name(manifest: Mapping[str, Any]) -> str:
    meta = manifest.get("metadata") or {}
    return f"{meta.get('namespace')}/{meta.get('name')}" if meta.get("namespace") else str(
        meta.get("name")
    )


def _declares(pod: Pod, spec: PortSpec) -> bool:
    return any(p.container_port == spec.port and p.protocol == spec.protocol for p in pod.ports)


def _declaring(pods: Sequence[Pod]) -> dict[PortSpec, np.ndarray]:
    """Each port some of `pods` declares, and the positions of the pods declaring it."""
    found: dict[PortSpec, set[int]] = {}
    for j, pod in enumerate(pods):
        for port in pod.ports:
            found.setdefault(PortSpec(port.container_port, port.protocol), set()).add(j)
    return {spec: np.array(sorted(found[spec]), dtype=np.intp) for spec in sorted(found)}


def _port_fields(port: PortSpec | None) -> dict[str, Any]:
    return {"port": port.port if port else None, "protocol": port.protocol if port else None}


def _scope(port: PortSpec | None, namespaces: Sequence[str]) -> str:
    on = f"on {port.key}" if port else "on the ports each destination declares"
    where = f" in {', '.join(namespaces)}" if namespaces else ""
    return f"may the row connect to the column {on}{where}?"


def matrix_data(insight: Insight, port: PortSpec | None, namespaces: Sequence[str]) -> dict:
    """The heatmap's data: pods grouped by namespace, `allowed[from][to]`."""
    pods = insight.pods_in(namespaces)
    grid = insight.grid(port, pods)
    return {
        **_port_fields(port),
        "title": _scope(port, namespaces),
        "ports": [s.key for s in declared_ports(insight.cluster.pods)],
        "namespaces": list(dict.fromkeys(p.namespace for p in pods)),
        "pods": [
            {"id": p.key, "namespace": p.namespace, "name": p.name, "labels": p.labels.to_dict()}
            for p in pods
        ],
        "allowed": grid.tolist(),
        "warnings": list(insight.warnings),
    }


def matrix_svg(insight: Insight, port: PortSpec | None, namespaces: Sequence[str]) -> str:
    pods = insight.pods_in(namespaces)
    question = _scope(port, namespaces)
    title = question[0].upper() + question[1:]
    return render_grid_svg([p.key for p in pods], insight.grid(port, pods), title=title)


def _graph(
    insight: Insight, port: PortSpec | None, namespaces: Sequence[str]
) -> tuple[Graph, list[Pod]]:
    pods = insight.pods_in(namespaces)
    ports = [port] if port else list(declared_ports(pods))
    return matrix_graph(insight.matrix(ports, pods, declared=port is None)), pods


def graph_data(insight: Insight, port: PortSpec | None, namespaces: Sequence[str]) -> dict:
    """Namespaces and their pods, the drawing's nodes (a pod, a group of alike pods, or a
    namespace, by size: `detail`) and an edge per allowed flow between nodes."""
    graph, pods = _graph(insight, port, namespaces)
    groups: dict[str, list[str]] = {}
    for pod in pods:
        groups.setdefault(pod.namespace, []).append(pod.key)
    return {
        **_port_fields(port),
        "title": graph.title,
        "detail": graph.detail.value,
        "groups": [{"namespace": ns, "pods": keys} for ns, keys in groups.items()],
        "nodes": [
            {"id": n.id, "namespace": n.namespace, "label": n.label, "pods": list(n.members)}
            for n in graph.nodes
        ],
        "edges": [
            {"from": e.src, "to": e.dst, "ports": list(e.ports), "label": e.label}
            for e in graph.edges
        ],
    }


def graph_svg(insight: Insight, port: PortSpec | None, namespaces: Sequence[str]) -> str:
    graph, _ = _graph(insight, port, namespaces)
    return render_graph_svg(graph, ident="graph", edge_labels=len(graph.edges) <= 40,
                            standalone=True) + "\n"


def explain_flow(insight: Insight, source: str, destination: str, port: PortSpec) -> dict:
    """One flow decided as `podwall check` decides it: the verdict, each reason with the
    policy and field path behind it, and the same words as text."""
    try:
        flow = Flow(
            src=insight.index.resolve(source),
            dst=insight.index.resolve(destination),
            protocol=port.protocol,
            port=port.port,
        )
    except UnknownEndpoint as err:
        raise NotFound(str(err).replace("in the input", "in the cluster's last sync")) from err
    decision = decide(flow, insight.index, insight.options)
    data = decision_data(decision)
    reasons = [
        {"direction": side.direction.value, "allowed": side.allowed, "policy": r.policy,
         "path": r.path, "text": r.text}
        for side in (decision.egress, decision.ingress)
        for r in side.reasons
    ]
    return {
        **{key: data[key] for key in ("verdict", "from", "to", "port", "protocol")},
        "reasons": reasons,
        "egress": _side(data["egress"]),
        "ingress": _side(data["ingress"]),
        "notes": data["notes"],
        "text": decision_text(decision),
    }


def _side(side: Mapping[str, Any]) -> dict:
    return {"allowed": side["allowed"], "isolated_by": side["isolatedBy"]}


def _allowances(direction: Mapping[str, Any]) -> list[dict]:
    return [dict(a) for a in direction["allowedBy"]]


def explain_pod_data(insight: Insight, key: str, port: PortSpec | None) -> dict:
    """One pod as `podwall explain NS/POD` tells it (every pod, on `port` or every declared
    port): what isolates it each way, the rules letting traffic in and out, whom it reaches."""
    pod = insight.pod(key)
    ports = [port] if port else list(declared_ports(insight.cluster.pods))
    pods = list(insight.cluster.pods)
    explanation = explain_pod(pod, insight.cluster, insight.matrix(ports, pods, declared=False))
    data = explanation_data([explanation])[0]
    ingress, egress = data["ingress"], data["egress"]
    reachable_from = sorted({k for keys in explanation.reachable_from.values() for k in keys})
    at = {p.key: p for p in pods}
    can_reach = sorted(
        {k for spec in ports for k in explanation.reaches.get(spec.key, ())
         if port is not None or _declares(at[k], spec)}
    )
    return {
        "pod": pod.key,
        **_port_fields(port),
        "isolated_ingress": ingress["isolated"],
        "isolated_egress": egress["isolated"],
        "policies": sorted({*ingress["isolatedBy"], *egress["isolatedBy"]}),
        "reachable_from": reachable_from,
        "can_reach": can_reach,
        "ingress": {"isolated_by": ingress["isolatedBy"], "allowed_by": _allowances(ingress),
                    "reachable_from": ingress["reachableFrom"]},
        "egress": {"isolated_by": egress["isolatedBy"], "allowed_by": _allowances(egress),
                   "reaches": egress["reaches"]},
        "notes": data["notes"],
        "text": explanation_text(explanation),
    }
