"""Policy predicates over many endpoints at once: who a policy selects, which endpoints a
peer matches, which ports a rule admits on each destination. One boolean (or port) vector per
question, so the matrix and the nftables compiler never loop over pod pairs in Python.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from podwall.model import Cluster, NetworkPolicy, Peer, Pod, PolicyPort, Rule
from podwall.semantics.endpoints import ClusterIndex, EndpointKind, flow_ip
from podwall.semantics.options import Options
from podwall.semantics.ports import PortSpec
from podwall.semantics.vectors import AddressTable, LabelTable

__all__ = ["EndpointTable"]


class EndpointTable:
    """Vectors over `pods` (each row an endpoint: a pod, or a hostNetwork pod's node)."""

    def __init__(
        self,
        pods: Sequence[Pod],
        cluster: Cluster,
        options: Options,
        index: ClusterIndex | None = None,
    ) -> None:
        index = index or ClusterIndex.build(cluster)
        endpoints = [index.pod_endpoint(p) for p in pods]
        self.reps = list(pods)
        self.is_node = np.array([e.kind is EndpointKind.NODE for e in endpoints], dtype=bool)
        self.is_pod = ~self.is_node
        self.addresses = AddressTable([flow_ip(e, options) for e in endpoints])
        self.labels = LabelTable([p.labels for p in self.reps])
        ns_names = sorted({ns.name for ns in cluster.namespaces} | {p.namespace for p in pods})
        self.ns_code = {name: i for i, name in enumerate(ns_names)}
        self.ns_of = np.array([self.ns_code[p.namespace] for p in self.reps], dtype=np.intp)
        self.namespaces = LabelTable([index.ns_labels(name) for name in ns_names])
        self.nodes = np.array([p.node_name for p in self.reps], dtype=object)
        self.options = options
        self._named: dict[tuple[str, str], np.ndarray] = {}

    @property
    def size(self) -> int:
        return len(self.reps)

    def in_namespace(self, namespace: str) -> np.ndarray:
        code = self.ns_code.get(namespace, -1)
        return self.ns_of == code

    def subjects(self, policy: NetworkPolicy) -> np.ndarray:
        return (
            self.is_pod
            & self.in_namespace(policy.namespace)
            & self.labels.match(policy.pod_selector)
        )

    def peer(self, peer: Peer, policy_ns: str) -> np.ndarray:
        if peer.ip_block is not None:
            if not self.options.ipblock_matches_cluster:
                return np.zeros(self.size, dtype=bool)
            return self.addresses.match(peer.ip_block)
        if peer.namespace_selector is not None:
            in_ns = self.namespaces.match(peer.namespace_selector)[self.ns_of]
        else:
            in_ns = self.in_namespace(policy_ns)
        result = self.is_pod & in_ns
        if peer.pod_selector is not None:
            result = result & self.labels.match(peer.pod_selector)
        return result

    def peers(self, rule: Rule, policy_ns: str) -> np.ndarray:
        if not rule.peers:
            return np.ones(self.size, dtype=bool)
        return np.logical_or.reduce([self.peer(p, policy_ns) for p in rule.peers])

    def named(self, name: str, protocol: str) -> np.ndarray:
        key = (name, protocol)
        if key not in self._named:
            self._named[key] = np.array(
                [
                    (p.resolve_port(name, protocol) or -1) if not p.host_network else -1
                    for p in self.reps
                ],
                dtype=np.int64,
            )
        return self._named[key]

    def port_entry(self, entry: PolicyPort, port: PortSpec) -> np.ndarray:
        if entry.protocol != port.protocol:
            return np.zeros(self.size, dtype=bool)
        if entry.port is None or (
            isinstance(entry.port, int)
            and entry.port <= port.port <= (entry.end_port or entry.port)
        ):
            return np.ones(self.size, dtype=bool)
        if isinstance(entry.port, int):
            return np.zeros(self.size, dtype=bool)
        return self.is_pod & (self.named(entry.port, port.protocol) == port.port)

    def ports(self, rule: Rule, port: PortSpec) -> np.ndarray:
        if not rule.ports:
            return np.ones(self.size, dtype=bool)
        return np.logical_or.reduce([self.port_entry(e, port) for e in rule.ports])
