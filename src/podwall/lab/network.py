"""The lab's network: one namespace per node, pod and external host, wired as Calico wires pods.

Layout (every namespace named `<prefix>...`, prefix `podwall-` unless a test picks its own):

- `fabric`: a bridge `br0` joining every node and external host (ports `n<i>`, `e<i>`): one L2
  segment, no addresses, never connected to the host.
- node `<node>` (e.g. `podwall-node-1`): `eth0` on the fabric with the node's address in its /24
  and /64. For each local pod a veth whose node end is `interface_name(ns, pod)`, with
  proxy_arp=1 (proxy_delay 0) and `fe80::1/64`, and host routes to the pod's /32 and /128;
  each remote pod's /32 and /128 via its node's address; other fabric networks on-link.
  Forwarding on, rp_filter off. `sink0` (a veth whose peer stays down) gives 169.254.1.1 a
  route, which proxy ARP needs before it answers for the gateway; anything sent to it is dropped.
- pod `pod-<ns>-<pod>`: `eth0` with the pod's /32 and /128, `default via 169.254.1.1 dev eth0
  onlink` and `default via fe80::1 dev eth0`, exactly as a Calico pod.
- external `ext-<name>`: `eth0` on the fabric in its own /24 and /64 (documentation ranges in
  the default topology), fabric networks on-link, each pod's addresses via its node.

No namespace has a default route, so no packet can leave the lab's namespaces. Addresses are
added with `nodad` and DAD is off, so the lab is usable the moment `build` returns.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from podwall.dataplane.names import interface_name
from podwall.lab import netns
from podwall.lab.schema import FABRIC_PREFIXLEN, pod_netns_tail
from podwall.lab.topology import LabExternal, LabNode, LabPod, Topology

if TYPE_CHECKING:
    from podwall.lab.state import LabState

__all__ = [
    "BRIDGE",
    "POD_GATEWAY_V4",
    "POD_GATEWAY_V6",
    "LabNames",
    "build",
    "lab_namespaces",
    "teardown",
]

BRIDGE = "br0"
FABRIC_IF = "eth0"  # a node's or external host's fabric-facing interface
POD_IF = "eth0"
SINK = "sink0"  # a veth whose peer stays down: whatever is routed to it is dropped
SINK_PEER = "sink1"
POD_GATEWAY_V4 = "169.254.1.1"
POD_GATEWAY_V6 = "fe80::1"

_NO_DAD = {"net.ipv6.conf.all.accept_dad": 0, "net.ipv6.conf.default.accept_dad": 0}
_ROUTER = {
    **_NO_DAD,
    "net.ipv4.ip_forward": 1,
    "net.ipv6.conf.all.forwarding": 1,
    "net.ipv4.conf.all.rp_filter": 0,
    "net.ipv4.conf.default.rp_filter": 0,
}


@dataclass(frozen=True, slots=True)
class LabNames:
    """Network namespace names of one lab (all start with `prefix`, itself `podwall-...`)."""

    prefix: str = netns.NETNS_PREFIX

    def fabric(self) -> str:
        return f"{self.prefix}fabric"

    def node(self, node: str) -> str:
        return f"{self.prefix}{node}"

    def pod(self, namespace: str, pod: str) -> str:
        return f"{self.prefix}{pod_netns_tail(namespace, pod)}"

    def external(self, name: str) -> str:
        return f"{self.prefix}ext-{name}"


def lab_namespaces(topology: Topology, names: LabNames) -> list[str]:
    """Every namespace the lab creates, in creation order."""
    return [
        names.fabric(),
        *(names.node(n.name) for n in topology.nodes),
        *(names.external(e.name) for e in topology.externals),
        *(names.pod(p.namespace, p.name) for p in topology.pods),
    ]


def build(topology: Topology, state: LabState) -> None:
    """Create and wire every namespace; each is recorded in `state` before it is created."""
    names = LabNames(state.prefix)
    created = lab_namespaces(topology, names)
    state.record_namespaces(created)
    netns.add_namespaces(created)
    for name in created:
        netns.set_sysctls(name, _ROUTER if _is_node(topology, names, name) else _NO_DAD)
    netns.ip_batch(names.fabric(), _fabric_commands(topology, names))
    for node in topology.nodes:
        netns.ip_batch(names.node(node.name), _node_commands(topology, node, names))
        local = [p for p in topology.pods if p.node == node.name]
        netns.set_sysctls(names.node(node.name), _pod_interface_sysctls(local))
    for ext in topology.externals:
        netns.ip_batch(names.external(ext.name), _external_commands(topology, ext))
    for pod in topology.pods:
        netns.ip_batch(names.pod(pod.namespace, pod.name), _pod_commands(pod))


def teardown(state: LabState, extra: Iterable[str] = ()) -> None:
    """Delete the namespaces `state` recorded, and `extra` ones (`down` sweeps by prefix)."""
    netns.delete_namespaces({*state.namespaces, *extra})


def _is_node(topology: Topology, names: LabNames, name: str) -> bool:
    return any(names.node(n.name) == name for n in topology.nodes)


def _fabric_commands(topology: Topology, names: LabNames) -> Iterator[str]:
    yield "link set lo up"
    yield f"link add {BRIDGE} type bridge"
    yield f"link set {BRIDGE} up"
    members = [(f"n{i}", names.node(n.name)) for i, n in enumerate(topology.nodes)]
    members += [(f"e{i}", names.external(e.name)) for i, e in enumerate(topology.externals)]
    for port, member in members:
        yield f"link add {port} type veth peer name {FABRIC_IF} netns {member}"
        yield f"link set {port} master {BRIDGE}"
        yield f"link set {port} up"


def _fabric_network(
    member: LabNode | LabExternal, family: int
) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    address = member.ipv4 if family == 4 else member.ipv6
    return ipaddress.ip_interface(f"{address}/{FABRIC_PREFIXLEN[family]}").network


def _fabric_member_commands(topology: Topology, member: LabNode | LabExternal) -> Iterator[str]:
    """Loopback, the fabric address pair, and on-link routes to the other fabric networks."""
    yield "link set lo up"
    yield f"addr add {member.ipv4}/{FABRIC_PREFIXLEN[4]} dev {FABRIC_IF}"
    yield f"addr add {member.ipv6}/{FABRIC_PREFIXLEN[6]} dev {FABRIC_IF} nodad"
    yield f"link set {FABRIC_IF} up"
    own = {_fabric_network(member, 4), _fabric_network(member, 6)}
    others = {
        _fabric_network(m, family)
        for m in (*topology.nodes, *topology.externals)
        for family in (4, 6)
    }
    for network in sorted(others - own, key=lambda n: (n.version, n)):
        yield f"route add {network} dev {FABRIC_IF} scope link"


def _node_commands(topology: Topology, node: LabNode, names: LabNames) -> Iterator[str]:
    yield from _fabric_member_commands(topology, node)
    yield f"link add {SINK} type veth peer name {SINK_PEER}"  # no dummy module needed
    yield f"link set {SINK} up"
    yield f"route add {POD_GATEWAY_V4}/32 dev {SINK}"
    for pod in topology.pods:
        if pod.node == node.name:
            veth = interface_name(pod.namespace, pod.name)
            peer_netns = names.pod(pod.namespace, pod.name)
            yield f"link add {veth} type veth peer name {POD_IF} netns {peer_netns}"
            yield f"addr add {POD_GATEWAY_V6}/64 dev {veth} nodad"
            yield f"link set {veth} up"
            yield f"route add {pod.ipv4}/32 dev {veth} scope link"
            yield f"route add {pod.ipv6}/128 dev {veth}"
        else:
            remote = topology.node(pod.node)
            yield f"route add {pod.ipv4}/32 via {remote.ipv4} dev {FABRIC_IF}"
            yield f"route add {pod.ipv6}/128 via {remote.ipv6} dev {FABRIC_IF}"


def _pod_interface_sysctls(pods: list[LabPod]) -> dict[str, int]:
    """Proxy ARP without its random delay (as Calico sets), so the first probe is not slowed."""
    settings: dict[str, int] = {}
    for pod in pods:
        veth = interface_name(pod.namespace, pod.name)
        settings[f"net.ipv4.conf.{veth}.proxy_arp"] = 1
        settings[f"net.ipv4.neigh.{veth}.proxy_delay"] = 0
    return settings


def _external_commands(topology: Topology, ext: LabExternal) -> Iterator[str]:
    yield from _fabric_member_commands(topology, ext)
    for pod in topology.pods:
        node = topology.node(pod.node)
        yield f"route add {pod.ipv4}/32 via {node.ipv4} dev {FABRIC_IF}"
        yield f"route add {pod.ipv6}/128 via {node.ipv6} dev {FABRIC_IF}"


def _pod_commands(pod: LabPod) -> Iterator[str]:
    yield "link set lo up"
    yield f"addr add {pod.ipv4}/32 dev {POD_IF}"
    yield f"addr add {pod.ipv6}/128 dev {POD_IF} nodad"
    yield f"link set {POD_IF} up"
    yield f"route add 0.0.0.0/0 via {POD_GATEWAY_V4} dev {POD_IF} onlink"
    yield f"route add ::/0 via {POD_GATEWAY_V6} dev {POD_IF}"
