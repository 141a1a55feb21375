"""Does one rule's peer or port match one endpoint? The spec's matching rules, one flow at a time.

Peer: podSelector alone means pods in the policy's namespace; namespaceSelector alone means all
pods in matching namespaces; both in one peer means AND; an ipBlock matches an address inside
`cidr` and outside every `except`. Selectors never match nodes or outside addresses.
Port: the protocol must be equal; no port means every port; a number with endPort is a range;
a name is resolved on the destination pod's container ports for that protocol.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from podwall.model import IPBlock, Peer, PolicyPort
from podwall.semantics.endpoints import ClusterIndex, Endpoint, EndpointKind, flow_ip
from podwall.semantics.options import Options
from podwall.semantics.selectors import matches_selector

__all__ = ["describe_peer", "describe_port", "ip_in_block", "peer_matches", "port_matches"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=65536)
def _network(cidr: str) -> Network:
    return ipaddress.ip_network(cidr, strict=False)


def ip_in_block(ip: str, block: IPBlock) -> bool:
    addr = ipaddress.ip_address(ip)
    net = _network(block.cidr)
    if addr.version != net.version or addr not in net:
        return False
    return not any(
        addr.version == _network(e).version and addr in _network(e) for e in block.except_
    )


def peer_matches(
    peer: Peer, policy_ns: str, remote: Endpoint, index: ClusterIndex, options: Options
) -> bool:
    if peer.ip_block is not None:
        ip = flow_ip(remote, options)
        if ip is None:
            return False
        if remote.kind is not EndpointKind.EXTERNAL and not options.ipblock_matches_cluster:
            return False
        return ip_in_block(ip, peer.ip_block)
    if remote.kind is not EndpointKind.POD or remote.pod is None:
        return False
    pod = remote.pod
    if peer.namespace_selector is not None:
        if not matches_selector(peer.namespace_selector, index.ns_labels(pod.namespace)):
            return False
    elif pod.namespace != policy_ns:
        return False
    return peer.pod_selector is None or matches_selector(peer.pod_selector, pod.labels)


def port_matches(entry: PolicyPort, protocol: str, port: int, dst: Endpoint) -> bool:
    if entry.protocol != protocol:
        return False
    if entry.port is None:
        return True
    if isinstance(entry.port, int):
        return entry.port <= port <= (entry.end_port or entry.port)
    if dst.kind is not EndpointKind.POD or dst.pod is None:
        return False
    return dst.pod.resolve_port(entry.port, protocol) == port


def describe_peer(peer: Peer, policy_ns: str) -> str:
    """A peer in plain words (`pods role=frontend in namespace default`)."""
    if peer.ip_block is not None:
        text = f"addresses in {peer.ip_block.cidr}"
        if peer.ip_block.except_:
            text += f" except {', '.join(peer.ip_block.except_)}"
        return text
    pods = (
        "all pods"
        if peer.pod_selector is None or peer.pod_selector.is_empty
        else (f"pods {peer.pod_selector.render()}")
    )
    if peer.namespace_selector is None:
        return f"{pods} in namespace {policy_ns}"
    if peer.namespace_selector.is_empty:
        return f"{pods} in all namespaces"
    return f"{pods} in namespaces {peer.namespace_selector.render()}"


def describe_port(entry: PolicyPort) -> str:
    if entry.port is None:
        return f"all {entry.protocol} ports"
    if entry.end_port is not None:
        return f"{entry.port}-{entry.end_port}/{entry.protocol}"
    return f"{entry.port}/{entry.protocol}"
