"""The full connectivity matrix, computed with set algebra instead of pair by pair.

Pods that no policy can tell apart (same kind, namespace, labels, named ports, membership in
every ipBlock, and node where node-local traffic matters) form one class, so the work scales
with the number of distinct workloads, not pods. Per class and rule, three vectors: S (the
policy selects the pod), P (a peer of the rule matches it), Q (a port entry matches it as a
destination). Egress allowed = not egress-isolated OR (S_egress^T @ (P*Q) > 0); ingress
allowed = not ingress-isolated OR (P^T @ (S*Q) > 0); both must hold. The rules are exactly
`decide`'s; a property test holds the two equal.

`ClassMatrix` keeps those vectors and computes any block of the class matrix on demand, so a
caller that needs only some rows and columns (`podwall diff`) pays only for those.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from podwall.model import Cluster, Direction, NetworkPolicy, Pod, PolicyPort, Rule
from podwall.semantics.endpoints import ClusterIndex, EndpointKind, flow_ip
from podwall.semantics.options import Options
from podwall.semantics.ports import PortSpec
from podwall.semantics.table import EndpointTable
from podwall.semantics.vectors import AddressTable

__all__ = [
    "ClassMatrix",
    "Matrix",
    "compute_matrix",
    "declared_ports",
    "disagreements",
    "pod_classes",
]


@dataclass(frozen=True, slots=True)
class Matrix:
    """`allowed[port.key][i, j]`: may `pods[i]` open a connection to `pods[j]` on that port."""

    pods: tuple[str, ...]
    ports: tuple[PortSpec, ...]
    allowed: dict[str, np.ndarray]


def disagreements(
    observed: Matrix, expected: Matrix, *, scored_diagonal: bool = False
) -> list[str]:
    """Every cell where two matrices over the same pods and ports differ, in words. The
    diagonal is not scored unless asked (upstream does not score a pod's traffic to itself)."""
    if observed.pods != expected.pods:
        raise ValueError("the matrices cover different pods")
    words = {True: "allowed", False: "denied"}
    return [
        f"{src} -> {dst} {key}: {words[bool(grid[i, j])]}, expected "
        f"{words[bool(expected.allowed[key][i, j])]}"
        for key, grid in observed.allowed.items()
        for i, src in enumerate(observed.pods)
        for j, dst in enumerate(observed.pods)
        if (scored_diagonal or i != j) and bool(grid[i, j]) != bool(expected.allowed[key][i, j])
    ]


def declared_ports(pods: Sequence[Pod]) -> tuple[PortSpec, ...]:
    """Every (port, protocol) some pod declares: the matrix's default columns."""
    found = {PortSpec(p.container_port, p.protocol) for pod in pods for p in pod.ports}
    return tuple(sorted(found))


def pod_classes(
    pods: Sequence[Pod], cluster: Cluster, options: Options, index: ClusterIndex | None = None
) -> tuple[np.ndarray, list[Pod]]:
    """Pods no policy can tell apart share a class: (class of each pod, one pod per class).

    Public so that other analyses (diff) split pods exactly as the matrix does."""
    index = index or ClusterIndex.build(cluster)
    endpoints = [index.pod_endpoint(p) for p in pods]
    blocks = sorted(
        {
            peer.ip_block
            for pol in cluster.policies
            for rule in pol.ingress + pol.egress
            for peer in rule.peers
            if peer.ip_block is not None
        },
        key=lambda b: (b.cidr, b.except_),
    )
    is_node = [e.kind is EndpointKind.NODE for e in endpoints]
    if blocks and options.ipblock_matches_cluster:
        addresses = AddressTable([flow_ip(e, options) for e in endpoints])
        bits = np.packbits(np.stack([addresses.match(b) for b in blocks]), axis=0).T
    else:
        bits = np.zeros((len(pods), 0), dtype=np.uint8)
    node_matters = options.allow_node_local and any(is_node)
    signature_ids: dict[tuple[object, ...], int] = {}
    of_pod = np.empty(len(pods), dtype=np.intp)
    reps: list[Pod] = []
    for i, pod in enumerate(pods):
        sig = (
            is_node[i],
            pod.namespace,
            pod.labels,
            pod.ports,
            pod.node_name if node_matters else "",
            bits[i].tobytes(),
        )
        cls = signature_ids.setdefault(sig, len(reps))
        if cls == len(reps):
            reps.append(pod)
        of_pod[i] = cls
    return of_pod, reps


@dataclass(slots=True)
class _Direction:
    """Per direction: who is isolated, and per rule its subjects and peers (ports come later)."""

    isolated: np.ndarray
    subjects: np.ndarray  # rules x classes
    peers: np.ndarray  # rules x classes
    rules: list[Rule]


def _direction(
    classes: EndpointTable, policies: Sequence[NetworkPolicy], d: Direction
) -> _Direction:
    isolated = np.zeros(classes.size, dtype=bool)
    subjects, peers, rules = [], [], []
    for policy in policies:
        if not policy.has_type(d):
            continue
        selected = classes.subjects(policy)
        isolated |= selected
        for rule in policy.rules(d):
            subjects.append(selected)
            peers.append(classes.peers(rule, policy.namespace))
            rules.append(rule)
    shape = (len(rules), classes.size)
    return _Direction(
        isolated=isolated,
        subjects=np.array(subjects, dtype=np.float32).reshape(shape),
        peers=np.array(peers, dtype=np.float32).reshape(shape),
        rules=rules,
    )


def _port_mask(classes: EndpointTable, rules: list[Rule], port: PortSpec) -> np.ndarray:
    """Q: per rule, which classes the rule's ports admit as a destination on `port`. Rules
    often repeat a ports list (or have none), so each distinct list is evaluated once."""
    masks: dict[tuple[PolicyPort, ...], np.ndarray] = {}
    for rule in rules:
        if rule.ports not in masks:
            masks[rule.ports] = classes.ports(rule, port)
    rows = [masks[rule.ports] for rule in rules]
    return np.array(rows, dtype=np.float32).reshape(len(rules), classes.size)


def _any_rule(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """`left.T @ right > 0` (rules x sources, rules x destinations) over the rules that can
    contribute: a rule all zero on either side adds nothing, and a block touches few rules."""
    used = left.any(axis=1) & right.any(axis=1)
    return (left[used].T @ right[used]) > 0


class ClassMatrix:
    """One cluster's per-class vectors over `pods`, from which any block of the class x class
    matrix is computed on demand: `compute_matrix` asks for all of it, `podwall diff` only for
    the rows and columns a change can reach, so it never pays for the rest.

    Cell [a, b]: may a pod of class a connect to a different pod of class b on the port (a pod
    may always reach itself; `compute_matrix` sets that diagonal).
    """

    def __init__(
        self,
        cluster: Cluster,
        options: Options,
        pods: Sequence[Pod],
        index: ClusterIndex | None = None,
    ) -> None:
        index = index or ClusterIndex.build(cluster)
        self.of_pod, reps = pod_classes(pods, cluster, options, index)
        self.table = EndpointTable(reps, cluster, options, index)
        self.egress = _direction(self.table, cluster.policies, Direction.EGRESS)
        self.ingress = _direction(self.table, cluster.policies, Direction.INGRESS)
        self._weighted: tuple[PortSpec, np.ndarray, np.ndarray] | None = None
        codes = np.unique(self.table.nodes.astype(str), return_inverse=True)[1]
        self._node = np.where(self.table.nodes != "", codes, -1)  # -1: no node

    @property
    def size(self) -> int:
        return self.table.size

    def _port_terms(self, port: PortSpec) -> tuple[np.ndarray, np.ndarray]:
        """P*Q (egress) and S*Q (ingress) for `port`, kept for the last port asked: callers
        ask for several blocks of one port in a row."""
        if self._weighted is None or self._weighted[0] != port:
            q_egress = _port_mask(self.table, self.egress.rules, port)
            q_ingress = _port_mask(self.table, self.ingress.rules, port)
            self._weighted = (
                port, self.egress.peers * q_egress, self.ingress.subjects * q_ingress
            )
        return self._weighted[1], self._weighted[2]

    def block(
        self, port: PortSpec, rows: np.ndarray | None = None, cols: np.ndarray | None = None
    ) -> np.ndarray:
        """Allowed cells for source classes `rows` x destination classes `cols` (None: all)."""
        r = slice(None) if rows is None else rows
        c = slice(None) if cols is None else cols
        egress, ingress, table = self.egress, self.ingress, self.table
        peers_ports, subjects_ports = self._port_terms(port)
        allowed_out = _any_rule(egress.subjects[:, r], peers_ports[:, c])
        allowed_out |= ~egress.isolated[r][:, None]
        allowed_in = _any_rule(ingress.peers[:, r], subjects_ports[:, c])
        allowed_in |= ~ingress.isolated[c][None, :]
        if table.options.allow_node_local and table.is_node.any():
            src_nodes, dst_nodes = self._node[r], self._node[c]
            same_node = (src_nodes[:, None] == dst_nodes[None, :]) & (dst_nodes >= 0)[None, :]
            allowed_in |= table.is_node[r][:, None] & table.is_pod[c][None, :] & same_node
        return allowed_out & allowed_in


def compute_matrix(
    cluster: Cluster,
    ports: Sequence[PortSpec] | None = None,
    options: Options | None = None,
    pods: Sequence[Pod] | None = None,
    on_port: Callable[[PortSpec], None] | None = None,
) -> Matrix:
    """The matrix over `pods` (default: every pod) for `ports` (default: declared ports).

    `on_port` is called after each port is done, so a caller can show progress.
    """
    options = options or Options()
    chosen = list(cluster.pods if pods is None else pods)
    ports = tuple(declared_ports(cluster.pods) if ports is None else ports)
    classes = ClassMatrix(cluster, options, chosen)
    of_pod = classes.of_pod
    allowed: dict[str, np.ndarray] = {}
    for port in ports:
        grid = classes.block(port)[of_pod][:, of_pod]
        np.fill_diagonal(grid, True)
        allowed[port.key] = grid
        if on_port is not None:
            on_port(port)
    return Matrix(pods=tuple(p.key for p in chosen), ports=ports, allowed=allowed)
