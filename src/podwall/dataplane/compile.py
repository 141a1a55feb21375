"""Compile cluster state into the nftables ruleset that enforces it on one node.

Design (see README "Data plane"): base chains on forward, input and output let established and
related packets through, then dispatch through verdict maps keyed by the pod's host-side
interface: `egress_dispatch` (packets from a local pod) jumps to that pod's egress chain,
`ingress_dispatch` (packets to a local pod) to its ingress chain. Only isolated pods have
entries, so open pods cost one map miss. A pod's chain holds one rule per rule of the policies
isolating it; peers are named interval sets (one per policy rule and family, shared by every pod
the policy selects), ports are anonymous sets, egress named ports are concatenated
`addr . port` sets. Egress chains `return` on a match (ingress is judged next), ingress chains
`accept`; both end by recording the denied flow in a dynamic set, counting and dropping. The
per-packet cost depends on the rules selecting that pod, never on the number of pods.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from podwall.dataplane.names import (
    DIRECTION_WORDS,
    EGRESS_DISPATCH,
    INGRESS_DISPATCH,
    denied_set,
    interface_name,
    object_suffix,
)
from podwall.dataplane.ruleset import Chain, NftMap, NftSet, Ruleset
from podwall.model import Cluster, Direction, NetworkPolicy, Pod, PolicyPort, Rule
from podwall.semantics.endpoints import ClusterIndex
from podwall.semantics.options import Options
from podwall.semantics.table import EndpointTable

__all__ = ["compile_ruleset"]

_ADDR = {4: ("ip", "ipv4_addr"), 6: ("ip6", "ipv6_addr")}
_ND = (
    "meta l4proto ipv6-icmp icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, "
    "nd-router-solicit, nd-router-advert } accept"
)
_ESTABLISHED = "ct state established,related accept"
_FAMILIES = (4, 6)


def _collapse(
    networks: Iterable[ipaddress.IPv4Network | ipaddress.IPv6Network], family: int
) -> tuple[str, ...]:
    nets = [n for n in networks if n.version == family]
    merged = ipaddress.collapse_addresses(nets)  # type: ignore[arg-type]
    return tuple(str(n.network_address) if n.num_addresses == 1 else str(n) for n in merged)


def _block_networks(cidr: str, excepts: Sequence[str], exclude: Sequence[str]) -> list:
    """`cidr` minus its excepts (and minus cluster addresses in Cilium mode), as networks."""
    remaining = [ipaddress.ip_network(cidr, strict=False)]
    holes = [ipaddress.ip_network(e, strict=False) for e in excepts]
    holes += [ipaddress.ip_network(a) for a in exclude]
    for hole in holes:
        nxt = []
        for net in remaining:
            if net.version != hole.version or not net.overlaps(hole):
                nxt.append(net)
            elif hole.supernet_of(net):
                continue
            else:
                nxt.extend(net.address_exclude(hole))
        remaining = nxt
    return remaining


class _Compiler:
    def __init__(self, cluster: Cluster, node: str, options: Options) -> None:
        self.cluster, self.node, self.options = cluster, node, options
        self.pods = list(cluster.pods)
        self.table = EndpointTable(self.pods, cluster, options, ClusterIndex.build(cluster))
        self.sets: dict[str, NftSet] = {}
        self.cluster_addresses = sorted(
            {ip for p in self.pods for ip in p.ips} | {p.host_ip for p in self.pods if p.host_ip}
        )

    def _rule_peers(self, rule: Rule, policy_ns: str) -> tuple[np.ndarray, list]:
        """(pods its selector peers match, networks its ipBlock peers match)."""
        selected = np.zeros(len(self.pods), dtype=bool)
        blocks = []
        exclude = [] if self.options.ipblock_matches_cluster else self.cluster_addresses
        for peer in rule.peers:
            if peer.ip_block is not None:
                blocks += _block_networks(peer.ip_block.cidr, peer.ip_block.except_, exclude)
            else:
                selected |= self.table.peer(peer, policy_ns)
        return selected, blocks

    def _peer_set(self, owner: str, rule: Rule, policy_ns: str, family: int) -> str:
        name = f"peer_{owner}_{family}"
        if name not in self.sets:
            selected, blocks = self._rule_peers(rule, policy_ns)
            pods = [
                ipaddress.ip_network(ip)
                for i in np.flatnonzero(selected)
                for ip in self.pods[i].ips
            ]
            self.sets[name] = NftSet(
                name=name,
                key_type=_ADDR[family][1],
                flags=("interval",),
                elements=_collapse(blocks + pods, family),
            )
        return name

    def _named_set(
        self, owner: str, rule: Rule, policy_ns: str, entry: PolicyPort, family: int
    ) -> str:
        """(address . port) of every peer pod that declares the named port, for egress."""
        name = f"named_{owner}_{object_suffix(f'{entry.port}/{entry.protocol}')}_{family}"
        if name in self.sets:
            return name
        selected, blocks = self._rule_peers(rule, policy_ns)
        elements = set()
        for i, pod in enumerate(self.pods):
            port = (
                None if pod.host_network else pod.resolve_port(str(entry.port), str(entry.protocol))
            )
            for ip in pod.ips if port is not None else ():
                addr = ipaddress.ip_address(ip)
                if addr.version == family and (
                    not rule.peers or selected[i] or any(addr in n for n in blocks)
                ):
                    elements.add(f"{ip} . {port}")
        self.sets[name] = NftSet(
            name=name,
            key_type=f"{_ADDR[family][1]} . inet_service",
            elements=tuple(sorted(elements)),
        )
        return name

    def _port_groups(self, rule: Rule, subject: Pod | None) -> dict[str, list[str]]:
        """protocol -> port expressions; named ports resolved on `subject` (ingress only)."""
        groups: dict[str, list[str]] = defaultdict(list)
        for entry in rule.ports:
            proto = str(entry.protocol)
            if entry.port is None:
                groups[proto] = ["*"]
            elif isinstance(entry.port, int):
                text = (
                    str(entry.port) if entry.end_port is None else f"{entry.port}-{entry.end_port}"
                )
                if groups[proto] != ["*"]:
                    groups[proto].append(text)
            elif subject is not None:
                number = subject.resolve_port(entry.port, proto)
                if number is not None and groups[proto] != ["*"]:
                    groups[proto].append(str(number))
                elif number is None:
                    groups.setdefault(proto, [])
        return groups

    def rule_lines(
        self, policy: NetworkPolicy, direction: Direction, index: int, pod: Pod
    ) -> list[str]:
        rule = policy.rules(direction)[index]
        ingress = direction is Direction.INGRESS
        verdict = "accept" if ingress else "return"
        owner = f"{object_suffix(policy.key)}_{'i' if ingress else 'e'}{index}"
        address_word = "saddr" if ingress else "daddr"
        peer_tests = [""]
        if rule.peers:
            peer_tests = [
                f"{_ADDR[f][0]} {address_word} @{self._peer_set(owner, rule, policy.namespace, f)} "
                for f in _FAMILIES
            ]
        if not rule.ports:
            return [f"{test}{verdict}" for test in peer_tests]
        lines = []
        for proto, ports in sorted(self._port_groups(rule, pod if ingress else None).items()):
            l4 = f"meta l4proto {proto.lower()} "
            if ports == ["*"]:
                lines += [f"{l4}{test}{verdict}" for test in peer_tests]
            elif ports:
                dports = (
                    ports[0]
                    if len(ports) == 1
                    else "{ " + ", ".join(sorted(set(ports), key=_port_key)) + " }"
                )
                lines += [f"{l4}th dport {dports} {test}{verdict}" for test in peer_tests]
        if not ingress:
            for entry in rule.ports:
                if isinstance(entry.port, str):
                    for f in _FAMILIES:
                        named = self._named_set(owner, rule, policy.namespace, entry, f)
                        lines.append(
                            f"meta l4proto {str(entry.protocol).lower()} "
                            f"{_ADDR[f][0]} daddr . th dport @{named} {verdict}"
                        )
        return lines


def _port_key(text: str) -> int:
    return int(text.split("-")[0])


def _deny_lines(direction: Direction, pod: Pod) -> list[str]:
    word = "ingress" if direction is Direction.INGRESS else "egress"
    counter = f"deny_{word}_{object_suffix(pod.key)}"
    lines = [
        f"meta l4proto {{ tcp, udp, sctp }} update @{denied_set(word, f)} "
        f"{{ {_ADDR[f][0]} saddr . {_ADDR[f][0]} daddr . meta l4proto . th dport }}"
        for f in _FAMILIES
    ]
    lines.append(f'log prefix "podwall-deny {word} {pod.key}: " group 7')
    lines.append(f"counter name {counter} drop")
    return lines


def compile_ruleset(cluster: Cluster, node: str, options: Options | None = None) -> Ruleset:
    """The ruleset for `node`'s pods: pure, deterministic, and independent of apply history."""
    options = options or Options()
    c = _Compiler(cluster, node, options)
    chains: list[Chain] = []
    counters: list[str] = []
    dispatch: dict[Direction, list[tuple[str, str]]] = {Direction.INGRESS: [], Direction.EGRESS: []}
    local = sorted(
        (p for p in c.pods if p.node_name == node and not p.host_network), key=lambda p: p.key
    )
    policies = sorted(cluster.policies, key=lambda p: p.key)  # same text whatever the order
    subjects = {p.key: c.table.subjects(p) for p in policies}
    position = {p.key: i for i, p in enumerate(c.pods)}
    for pod in local:
        i = position[pod.key]
        for direction in (Direction.EGRESS, Direction.INGRESS):
            isolating = [p for p in policies if p.has_type(direction) and subjects[p.key][i]]
            if not isolating:
                continue
            word = "ingress" if direction is Direction.INGRESS else "egress"
            name = f"{word}_{object_suffix(pod.key)}"
            rules: list[str] = []
            for policy in isolating:
                for k in range(len(policy.rules(direction))):
                    rules += c.rule_lines(policy, direction, k, pod)
            rules += _deny_lines(direction, pod)
            counters.append(f"deny_{word}_{object_suffix(pod.key)}")
            comment = f"{word} of {pod.key}, isolated by {', '.join(p.key for p in isolating)}"
            chains.append(Chain(name=name, rules=tuple(rules), comment=comment[:120]))
            dispatch[direction].append(
                (f'"{interface_name(pod.namespace, pod.name)}"', f"jump {name}")
            )
    return _assemble(c, chains, counters, dispatch, options)


def _assemble(
    c: _Compiler,
    chains: list[Chain],
    counters: list[str],
    dispatch: dict[Direction, list[tuple[str, str]]],
    options: Options,
) -> Ruleset:
    drops = [
        NftSet(
            name=denied_set(word, f),
            key_type=f"{_ADDR[f][1]} . {_ADDR[f][1]} . inet_proto . inet_service",
            flags=("dynamic", "timeout"),
            options=("timeout 1h", "size 65536"),
        )
        for word in DIRECTION_WORDS
        for f in _FAMILIES
    ]
    maps = (
        NftMap(
            name=EGRESS_DISPATCH,
            key_type="ifname",
            value_type="verdict",
            elements=tuple(sorted(dispatch[Direction.EGRESS])),
        ),
        NftMap(
            name=INGRESS_DISPATCH,
            key_type="ifname",
            value_type="verdict",
            elements=tuple(sorted(dispatch[Direction.INGRESS])),
        ),
    )
    hook = "type filter hook {} priority filter; policy accept;"
    base = [
        Chain(
            name="forward",
            base=hook.format("forward"),
            rules=(
                _ESTABLISHED,
                "ct state invalid drop",
                _ND,
                f"iifname vmap @{EGRESS_DISPATCH}",
                f"oifname vmap @{INGRESS_DISPATCH}",
            ),
        ),
        Chain(
            name="input",
            base=hook.format("input"),
            rules=(_ESTABLISHED, "ct state invalid drop", _ND, f"iifname vmap @{EGRESS_DISPATCH}"),
        ),
        Chain(
            name="output",
            base=hook.format("output"),
            rules=(
                _ESTABLISHED,
                _ND,
                *(() if options.allow_node_local else (f"oifname vmap @{INGRESS_DISPATCH}",)),
            ),
        ),
    ]
    sets = tuple(sorted(c.sets.values(), key=lambda s: s.name)) + tuple(drops)
    return Ruleset(
        counters=tuple(sorted(counters)),
        sets=sets,
        maps=maps,
        chains=tuple(base) + tuple(sorted(chains, key=lambda ch: ch.name)),
    )
