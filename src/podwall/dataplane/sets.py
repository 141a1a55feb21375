"""The named sets a ruleset's rules look up: peers, ports and named ports.

Sets are named after what defines them, not after the rule that uses them: a selector peer
(its selectors and, without a namespaceSelector, the policy's namespace), an ipBlock (cidr and
excepts), a port list, a named port with the peer it applies to. So every policy that says the
same thing shares one set (on 1,000 synthetic policies: 3,170 sets and 117k elements become a
few hundred and about 20k), and a pod's label change only edits elements of sets whose names
stay put. Selector sets hold pod addresses (hash sets); ipBlock sets hold ranges (interval
sets). A family with no element gets no rule line (it could never match).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence

import numpy as np

from podwall.dataplane.names import object_suffix
from podwall.dataplane.ruleset import NftSet
from podwall.model import Cluster, IPBlock, NetworkPolicy, Peer, Pod, PolicyPort
from podwall.semantics.endpoints import ClusterIndex
from podwall.semantics.options import Options
from podwall.semantics.table import EndpointTable
from podwall.semantics.vectors import AddressTable

__all__ = ["FAMILIES", "SetBuilder", "address_word"]

FAMILIES = (4, 6)
_ADDR = {4: ("ip", "ipv4_addr"), 6: ("ip6", "ipv6_addr")}


def address_word(family: int) -> str:
    """`ip` or `ip6`: the nft payload expression for that family's addresses."""
    return _ADDR[family][0]


def _address_of(pod: Pod, family: int) -> str | None:
    """The pod's address of this family (upstream allows at most one per family)."""
    return next((ip for ip in pod.ips if ipaddress.ip_address(ip).version == family), None)


def _block_networks(block: IPBlock, exclude: Sequence[str]) -> list:
    """`cidr` minus its excepts (and minus cluster addresses in Cilium mode), as networks."""
    remaining = [ipaddress.ip_network(block.cidr, strict=False)]
    holes = [ipaddress.ip_network(e, strict=False) for e in block.except_]
    holes += [ipaddress.ip_network(a) for a in exclude]
    for hole in holes:
        nxt = []
        for net in remaining:
            if net.version != hole.version or not net.overlaps(hole):
                nxt.append(net)
            elif not hole.supernet_of(net):
                nxt.extend(net.address_exclude(hole))
        remaining = nxt
    return remaining


def _collapse(networks: list, family: int) -> tuple[str, ...]:
    merged = ipaddress.collapse_addresses([n for n in networks if n.version == family])
    return tuple(str(n.network_address) if n.num_addresses == 1 else str(n) for n in merged)


def merge_ports(ports: list[str]) -> tuple[str, ...]:
    """Ports and ranges ("80", "8000-8080") merged where they overlap or touch: the elements of
    an interval set may not overlap."""
    spans = sorted((int(lo), int(hi or lo)) for lo, _, hi in (p.partition("-") for p in ports))
    merged: list[list[int]] = []
    for lo, hi in spans:
        if merged and lo <= merged[-1][1] + 1:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return tuple(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in merged)


Recipe = Callable[["SetBuilder"], tuple[str, ...]]


class SetBuilder:
    """Builds each set once, on first use, from vectors over every pod of the cluster.

    Every set that depends on pods keeps its recipe (`recipes[name]`: builder -> elements), so
    a long-lived compiler can run the same recipe over a builder of just the pods that changed
    and patch elements instead of rebuilding the world. `touched` logs every set name a rule
    asked for (built or cached, empty or not): the sets a chain's text depends on.
    """

    def __init__(
        self,
        cluster: Cluster,
        options: Options,
        pods: Sequence[Pod] | None = None,
        index: ClusterIndex | None = None,
    ) -> None:
        self.options = options
        self.pods = list(cluster.pods if pods is None else pods)
        index = index or ClusterIndex.build(cluster)
        self.table = EndpointTable(self.pods, cluster, options, index)
        self.sets: dict[str, NftSet] = {}
        self.recipes: dict[str, Recipe] = {}
        self.scopes: dict[str, str | None] = {}  # the one namespace whose pods a recipe reads
        self.touched: list[str] = []
        self.cluster_addresses = sorted(
            {ip for p in self.pods for ip in p.ips} | {p.host_ip for p in self.pods if p.host_ip}
        )
        self.ips = {f: [_address_of(p, f) for p in self.pods] for f in FAMILIES}
        self.addresses = {f: AddressTable(self.ips[f]) for f in FAMILIES}
        self.has_ip = {f: self.addresses[f].family == f for f in FAMILIES}
        self.by_address = {
            f: np.array(
                sorted(
                    (i for i, ip in enumerate(self.ips[f]) if ip),
                    key=lambda i, f=f: ipaddress.ip_address(self.ips[f][i]),
                ),
                dtype=np.intp,
            )
            for f in FAMILIES
        }
        self._blocks: dict[IPBlock, list] = {}

    def _addresses(self, mask: np.ndarray, family: int) -> tuple[str, ...]:
        order = self.by_address[family]
        return tuple(self.ips[family][i] for i in order[mask[order]])  # type: ignore[misc]

    def _block(self, block: IPBlock) -> list:
        if block not in self._blocks:
            exclude = [] if self.options.ipblock_matches_cluster else self.cluster_addresses
            self._blocks[block] = _block_networks(block, exclude)
        return self._blocks[block]

    def _pods_matching(self, peer: Peer | None, policy_ns: str, family: int) -> np.ndarray:
        """Pods a peer matches (every pod for None: a rule without peers)."""
        if peer is None:
            return np.ones(len(self.pods), dtype=bool)
        if peer.ip_block is None:
            return self.table.peer(peer, policy_ns)
        covered = np.zeros(len(self.pods), dtype=bool)
        for net in self._block(peer.ip_block):
            if net.version == family:
                covered |= self.addresses[family].in_network(str(net))
        return covered

    def peer(self, peer: Peer, policy_ns: str, family: int) -> str | None:
        """The set of addresses `peer` matches, or None when it has none of this family."""
        if peer.ip_block is not None:
            block = peer.ip_block
            name = f"block_{object_suffix(block.cidr + '|' + ','.join(block.except_))}_{family}"
            if name not in self.sets:
                self.sets[name] = NftSet(
                    name=name,
                    key_type=_ADDR[family][1],
                    flags=("interval",),
                    elements=_collapse(self._block(block), family),
                )
        else:
            scope = policy_ns if peer.namespace_selector is None else ""
            name = f"pods_{object_suffix(repr((peer.pod_selector, peer.namespace_selector, scope)))}_{family}"  # noqa: E501
            if name not in self.sets:

                def recipe(b: SetBuilder) -> tuple[str, ...]:
                    return b._addresses(b.table.peer(peer, policy_ns) & b.has_ip[family], family)

                self._build(name, recipe, _ADDR[family][1], scope or None)
        self.touched.append(name)
        return name if self.sets[name].elements else None

    def _build(self, name: str, recipe: Recipe, key_type: str, scope: str | None) -> None:
        self.recipes[name] = recipe
        self.scopes[name] = scope
        self.sets[name] = NftSet(name=name, key_type=key_type, elements=recipe(self))

    def ports(self, ports: list[str]) -> str:
        """A named set of ports, shared by every rule with the same ports. (An inline
        `{ 80, 81 }` is an anonymous kernel set per rule: thousands of them make nft slow.)"""
        elements = merge_ports(ports)
        name = f"ports_{object_suffix(','.join(elements))}"
        if name not in self.sets:
            self.sets[name] = NftSet(
                name=name, key_type="inet_service", flags=("interval",), elements=elements
            )
        self.touched.append(name)
        return name

    def _named(
        self,
        name: str,
        mask: Callable[[SetBuilder], np.ndarray],
        entry: PolicyPort,
        family: int,
        scope: str | None,
    ) -> str | None:
        if name not in self.sets:

            def recipe(b: SetBuilder) -> tuple[str, ...]:
                numbers = b.table.named(str(entry.port), str(entry.protocol))
                chosen = (numbers > 0) & b.has_ip[family] & mask(b)
                order = b.by_address[family]
                return tuple(f"{b.ips[family][i]} . {numbers[i]}" for i in order[chosen[order]])

            self._build(name, recipe, f"{_ADDR[family][1]} . inet_service", scope)
        self.touched.append(name)
        return name if self.sets[name].elements else None

    def egress_named(
        self, peer: Peer | None, policy_ns: str, entry: PolicyPort, family: int
    ) -> str | None:
        """(address . port) of every pod `peer` matches that declares the named port."""
        local = peer is not None and peer.namespace_selector is None and peer.ip_block is None
        scope = policy_ns if local else ""
        key = repr((peer, scope, entry.port, entry.protocol))
        return self._named(
            f"named_{object_suffix(key)}_{family}",
            lambda b: b._pods_matching(peer, policy_ns, family),
            entry,
            family,
            scope or None,
        )

    def ingress_named(self, policy: NetworkPolicy, entry: PolicyPort, family: int) -> str | None:
        """(address . port) of every pod the policy selects that declares the named port: the
        name resolved on each destination, so one policy chain serves all its pods."""
        key = repr((policy.namespace, policy.pod_selector, entry.port, entry.protocol))
        return self._named(
            f"namedin_{object_suffix(key)}_{family}",
            lambda b: b.table.subjects(policy),
            entry,
            family,
            policy.namespace,
        )
