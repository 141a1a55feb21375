"""Who stands at each end of a flow: a pod, a node, or an address outside the cluster.

Policies judge pods. A hostNetwork pod is not a pod to them: its traffic is its node's, so it
becomes a NODE endpoint carrying its node's address. Any address that is neither a pod's nor a
node's is EXTERNAL. `ClusterIndex` holds the lookups every decision needs, built once.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from enum import StrEnum

from podwall.model import Cluster, Labels, Pod
from podwall.semantics.options import Options

__all__ = [
    "ClusterIndex",
    "Endpoint",
    "EndpointKind",
    "UnknownEndpoint",
    "flow_ip",
]


class EndpointKind(StrEnum):
    POD = "pod"
    NODE = "node"
    EXTERNAL = "external"


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    kind: EndpointKind
    ips: tuple[str, ...] = ()
    pod: Pod | None = None
    node: str = ""
    label: str = ""  # how reports name it: ns/pod, node/<name> or the address

    @property
    def is_policy_subject(self) -> bool:
        """Only ordinary (not hostNetwork) pods can be selected by a policy."""
        return self.kind is EndpointKind.POD


def flow_ip(endpoint: Endpoint, options: Options) -> str | None:
    """The address this endpoint uses in a flow (its primary, or the chosen family's)."""
    if options.ip_family is None:
        return endpoint.ips[0] if endpoint.ips else None
    for ip in endpoint.ips:
        if ipaddress.ip_address(ip).version == options.ip_family:
            return ip
    return None


class UnknownEndpoint(LookupError):
    """A `NS/POD` that names no pod, or text that is neither a pod nor an IP address."""


@dataclass(slots=True)
class ClusterIndex:
    cluster: Cluster
    namespace_labels: dict[str, Labels] = field(default_factory=dict)
    pods_by_key: dict[str, Pod] = field(default_factory=dict)
    pod_by_ip: dict[str, Pod] = field(default_factory=dict)
    node_by_ip: dict[str, str] = field(default_factory=dict)

    @classmethod
    def build(cls, cluster: Cluster) -> ClusterIndex:
        index = cls(cluster)
        for ns in cluster.namespaces:
            index.namespace_labels[ns.name] = ns.labels
        for pod in cluster.pods:
            index.pods_by_key[pod.key] = pod
            if pod.host_ip:
                index.node_by_ip.setdefault(_canonical(pod.host_ip), pod.node_name)
            for ip in pod.ips:
                if pod.host_network:
                    index.node_by_ip.setdefault(_canonical(ip), pod.node_name)
                else:
                    index.pod_by_ip.setdefault(_canonical(ip), pod)
        return index

    def ns_labels(self, namespace: str) -> Labels:
        return self.namespace_labels.get(namespace, Labels())

    def pod_endpoint(self, pod: Pod) -> Endpoint:
        kind = EndpointKind.NODE if pod.host_network else EndpointKind.POD
        return Endpoint(kind=kind, ips=pod.ips, pod=pod, node=pod.node_name, label=pod.key)

    def resolve(self, text: str, namespace: str = "default") -> Endpoint:
        """`NS/POD`, `POD` (in `namespace`), or an IP address (a pod's, a node's or outside)."""
        try:
            ip = _canonical(text)
        except ValueError:
            key = text if "/" in text else f"{namespace}/{text}"
            pod = self.pods_by_key.get(key)
            if pod is None:
                raise UnknownEndpoint(f"no pod {key!r} in the input") from None
            return self.pod_endpoint(pod)
        if ip in self.pod_by_ip:
            return self.pod_endpoint(self.pod_by_ip[ip])
        if ip in self.node_by_ip:
            node = self.node_by_ip[ip]
            return Endpoint(kind=EndpointKind.NODE, ips=(ip,), node=node, label=f"node/{node}")
        return Endpoint(kind=EndpointKind.EXTERNAL, ips=(ip,), label=ip)


def _canonical(text: str) -> str:
    return str(ipaddress.ip_address(text.strip()))
