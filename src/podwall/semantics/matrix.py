"""The full connectivity matrix, computed with set algebra instead of pair by pair.

Pods that no policy can tell apart (same kind, namespace, labels, named ports, membership in
every ipBlock, and node where node-local traffic matters) form one class, so the work scales
with the number of distinct workloads, not pods. Per class and rule, three vectors: S (the
policy selects the pod), P (a peer of the rule matches it), Q (a port entry matches it as a
destination). Egress allowed = not egress-isolated OR (S_egress^T @ (P*Q) > 0); ingress
allowed = not ingress-isolated OR (P^T @ (S*Q) > 0); both must hold. The rules are exactly
`decide`'s; a property test holds the two equal.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from podwall.model import Cluster, Direction, NetworkPolicy, Pod, Rule
from podwall.semantics.endpoints import ClusterIndex, EndpointKind, flow_ip
from podwall.semantics.options import Options
from podwall.semantics.ports import PortSpec
from podwall.semantics.table import EndpointTable
from podwall.semantics.vectors import AddressTable

__all__ = ["Matrix", "compute_matrix", "declared_ports", "disagreements", "group_pods"]


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


def group_pods(
    pods: Sequence[Pod], cluster: Cluster, options: Options, index: ClusterIndex
) -> tuple[np.ndarray, list[Pod]]:
    """Pods no policy can tell apart share a class: (class of each pod, one pod per class)."""
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
    masks = [classes.ports(rule, port) for rule in rules]
    return np.array(masks, dtype=np.float32).reshape(len(rules), classes.size)


def _class_matrix(
    classes: EndpointTable, egress: _Direction, ingress: _Direction, port: PortSpec
) -> np.ndarray:
    q_egress = _port_mask(classes, egress.rules, port)
    allowed_out = (egress.subjects.T @ (egress.peers * q_egress)) > 0
    allowed_out |= ~egress.isolated[:, None]
    q_ingress = _port_mask(classes, ingress.rules, port)
    allowed_in = (ingress.peers.T @ (ingress.subjects * q_ingress)) > 0
    allowed_in |= ~ingress.isolated[None, :]
    if classes.options.allow_node_local and classes.is_node.any():
        same_node = (classes.nodes[:, None] == classes.nodes[None, :]) & (classes.nodes != "")
        allowed_in |= classes.is_node[:, None] & classes.is_pod[None, :] & same_node
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
    index = ClusterIndex.build(cluster)
    of_pod, reps = group_pods(chosen, cluster, options, index)
    classes = EndpointTable(reps, cluster, options, index)
    egress = _direction(classes, cluster.policies, Direction.EGRESS)
    ingress = _direction(classes, cluster.policies, Direction.INGRESS)
    allowed: dict[str, np.ndarray] = {}
    for port in ports:
        by_class = _class_matrix(classes, egress, ingress, port)
        grid = by_class[of_pod][:, of_pod]
        np.fill_diagonal(grid, True)
        allowed[port.key] = grid
        if on_port is not None:
            on_port(port)
    return Matrix(pods=tuple(p.key for p in chosen), ports=ports, allowed=allowed)
