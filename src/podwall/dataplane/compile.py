"""Compile cluster state into the nftables ruleset that enforces it on one node.

Design (README "Data plane"). Egress and ingress are separate base chains (forward at
priority filter - 1 and filter; input judges a local pod's egress to the node; output its
ingress from the node when node traffic is judged), so a policy's `accept` ends only its own
direction. Each base chain lets established and related packets through, then dispatches by the
pod's host-side interface through a verdict map (`egress_dispatch`, `ingress_dispatch`); only
isolated pods have entries, so an open pod costs one map miss. Pods isolated by the same
policies share a group chain that jumps to each policy's chain, then records the denied flow
in a dynamic set, counts it per pod (through a counter map keyed by interface) and drops it.
A policy's rules live once, in its own chain per direction: peers are named sets per policy
rule and family, ports are literals or shared named sets, and named ports are concatenated
`address . port` sets, resolved on each destination pod. Nothing is written per pod pair, and
no inline anonymous sets are written (each one is a kernel set: thousands make nft slow), so the
per-packet cost depends on the policies isolating that pod, never on the number of pods.
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
from podwall.semantics.vectors import AddressTable

__all__ = ["compile_ruleset"]

_ADDR = {4: ("ip", "ipv4_addr"), 6: ("ip6", "ipv6_addr")}
_ND = (
    "meta l4proto ipv6-icmp icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, "
    "nd-router-solicit, nd-router-advert } accept"
)
_ESTABLISHED = "ct state established,related accept"
_FAMILIES = (4, 6)
_RECORD = {word: f"record_denied_{word}" for word in DIRECTION_WORDS}
_COUNTERS = {word: f"deny_counters_{word}" for word in DIRECTION_WORDS}
_WORD = {Direction.EGRESS: "egress", Direction.INGRESS: "ingress"}
_JUDGED_L4 = "judged_l4"  # the protocols NetworkPolicy ports speak of


def _address_of(pod: Pod, family: int) -> str | None:
    """The pod's address of this family (upstream allows at most one per family)."""
    return next((ip for ip in pod.ips if ipaddress.ip_address(ip).version == family), None)


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
        # Per family: each pod's address, as text, as a vector table, and pods in address order.
        self.ips = {f: [_address_of(p, f) for p in self.pods] for f in _FAMILIES}
        self.addresses = {f: AddressTable(self.ips[f]) for f in _FAMILIES}
        self.has_ip = {f: self.addresses[f].family == f for f in _FAMILIES}
        self.by_address = {
            f: np.array(
                sorted(
                    (i for i, ip in enumerate(self.ips[f]) if ip),
                    key=lambda i, f=f: ipaddress.ip_address(self.ips[f][i]),
                ),
                dtype=np.intp,
            )
            for f in _FAMILIES
        }
        self._peers: dict[str, tuple[np.ndarray, list]] = {}

    def _rule_peers(self, owner: str, rule: Rule, policy_ns: str) -> tuple[np.ndarray, list]:
        """(pods its selector peers match, networks its ipBlock peers match), once per rule."""
        if owner not in self._peers:
            selected = np.zeros(len(self.pods), dtype=bool)
            blocks = []
            exclude = [] if self.options.ipblock_matches_cluster else self.cluster_addresses
            for peer in rule.peers:
                if peer.ip_block is not None:
                    blocks += _block_networks(peer.ip_block.cidr, peer.ip_block.except_, exclude)
                else:
                    selected |= self.table.peer(peer, policy_ns)
            self._peers[owner] = (selected, blocks)
        return self._peers[owner]

    def _covered(self, blocks: list, family: int) -> np.ndarray:
        covered = np.zeros(len(self.pods), dtype=bool)
        for net in blocks:
            if net.version == family:
                covered |= self.addresses[family].in_network(str(net))
        return covered

    def _in_order(self, mask: np.ndarray, family: int) -> list[str]:
        order = self.by_address[family]
        return [self.ips[family][i] for i in order[mask[order]]]  # type: ignore[misc]

    def _peer_set(self, owner: str, rule: Rule, policy_ns: str, family: int) -> str:
        name = f"peer_{owner}_{family}"
        if name not in self.sets:
            selected, blocks = self._rule_peers(owner, rule, policy_ns)
            ranges = _collapse(blocks, family)
            # pods inside a block are already covered (interval sets may not overlap)
            alone = selected & self.has_ip[family] & ~self._covered(blocks, family)
            self.sets[name] = NftSet(
                name=name,
                key_type=_ADDR[family][1],
                flags=("interval",),
                elements=ranges + tuple(self._in_order(alone, family)),
            )
        return name

    def _named_set(
        self, owner: str, rule: Rule, policy_ns: str, entry: PolicyPort, family: int
    ) -> str:
        """(address . port) of every peer pod that declares the named port, for egress."""
        name = f"named_{owner}_{object_suffix(f'{entry.port}/{entry.protocol}')}_{family}"
        if name in self.sets:
            return name
        selected, blocks = self._rule_peers(owner, rule, policy_ns)
        numbers = self.table.named(str(entry.port), str(entry.protocol))
        matched = selected | self._covered(blocks, family) if rule.peers else True
        mask = (numbers > 0) & self.has_ip[family] & matched
        order = self.by_address[family]
        elements = tuple(f"{self.ips[family][i]} . {numbers[i]}" for i in order[mask[order]])
        self.sets[name] = NftSet(
            name=name, key_type=f"{_ADDR[family][1]} . inet_service", elements=elements
        )
        return name

    def _port_set(self, ports: list[str]) -> str:
        """A named set of ports, shared by every rule with the same ports. (An inline
        `{ 80, 81 }` is an anonymous kernel set per rule: thousands of them make nft slow.)"""
        elements = _merge_ports(ports)
        name = f"ports_{object_suffix(','.join(elements))}"
        if name not in self.sets:
            self.sets[name] = NftSet(
                name=name, key_type="inet_service", flags=("interval",), elements=elements
            )
        return name

    def _ingress_named_set(
        self, owner: str, policy: NetworkPolicy, entry: PolicyPort, family: int
    ) -> str:
        """(address . port) of every pod the policy selects that declares the named port: the
        name resolved on each destination, so one policy chain serves all its pods."""
        name = f"namedin_{owner}_{object_suffix(f'{entry.port}/{entry.protocol}')}_{family}"
        if name not in self.sets:
            numbers = self.table.named(str(entry.port), str(entry.protocol))
            mask = (numbers > 0) & self.has_ip[family] & self.table.subjects(policy)
            order = self.by_address[family]
            self.sets[name] = NftSet(
                name=name,
                key_type=f"{_ADDR[family][1]} . inet_service",
                elements=tuple(f"{self.ips[family][i]} . {numbers[i]}" for i in order[mask[order]]),
            )
        return name

    def _port_groups(self, rule: Rule) -> dict[str, list[str]]:
        """protocol -> numeric ports and ranges ("*": every port); names are handled apart."""
        groups: dict[str, list[str]] = defaultdict(list)
        for entry in rule.ports:
            proto = str(entry.protocol)
            if entry.port is None:
                groups[proto] = ["*"]
            elif isinstance(entry.port, int) and groups[proto] != ["*"]:
                end = "" if entry.end_port is None else f"-{entry.end_port}"
                groups[proto].append(f"{entry.port}{end}")
        return groups

    def _peer_tests(
        self, owner: str, policy: NetworkPolicy, rule: Rule, direction: Direction
    ) -> list[str]:
        """Address tests for the rule's peers, per family; a family whose set is empty can
        never match, so it gets none. [""] when the rule has no peers (all peers)."""
        if not rule.peers:
            return [""]
        word = "saddr" if direction is Direction.INGRESS else "daddr"
        sets = {f: self._peer_set(owner, rule, policy.namespace, f) for f in _FAMILIES}
        return [
            f"{_ADDR[f][0]} {word} @{sets[f]} " for f in _FAMILIES if self.sets[sets[f]].elements
        ]

    def rule_lines(self, policy: NetworkPolicy, direction: Direction, index: int) -> list[str]:
        """The nft rules of one policy rule: `accept` what it allows."""
        rule = policy.rules(direction)[index]
        ingress = direction is Direction.INGRESS
        owner = f"{object_suffix(policy.key)}_{'i' if ingress else 'e'}{index}"
        tests = self._peer_tests(owner, policy, rule, direction)
        if not rule.ports:
            return [f"{test}accept" for test in tests]
        lines = []
        for proto, ports in sorted(self._port_groups(rule).items()):
            l4 = f"meta l4proto {proto.lower()} "
            if ports == ["*"]:
                lines += [f"{l4}{test}accept" for test in tests]
            elif ports:
                merged = _merge_ports(ports)
                dports = merged[0] if len(merged) == 1 else f"@{self._port_set(ports)}"
                lines += [f"{l4}th dport {dports} {test}accept" for test in tests]
        for entry in (e for e in rule.ports if isinstance(e.port, str)):
            l4 = f"meta l4proto {str(entry.protocol).lower()}"
            for f in _FAMILIES:
                if ingress:
                    named = self._ingress_named_set(owner, policy, entry, f)
                    found = [
                        f"{l4} {_ADDR[f][0]} daddr . th dport @{named} {t}accept"
                        for t in tests
                        if not t or t.startswith(f"{_ADDR[f][0]} ")
                    ]
                else:
                    named = self._named_set(owner, rule, policy.namespace, entry, f)
                    found = [f"{l4} {_ADDR[f][0]} daddr . th dport @{named} accept"]
                if self.sets[named].elements:
                    lines += found
        return lines


def _merge_ports(ports: list[str]) -> tuple[str, ...]:
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


def _deny_lines(word: str) -> list[str]:
    """After every isolating policy: record the denied flow, count it per pod, drop it."""
    key = "iifname" if word == "egress" else "oifname"
    return [f"jump {_RECORD[word]}", f"counter name {key} map @{_COUNTERS[word]} drop"]


def _record_chains() -> list[Chain]:
    """One chain per direction that logs a denied new connection into its dynamic set."""
    return [
        Chain(
            name=_RECORD[word],
            rules=(
                *(
                    f"meta l4proto @{_JUDGED_L4} update @{denied_set(word, f)} "
                    f"{{ {_ADDR[f][0]} saddr . {_ADDR[f][0]} daddr . meta l4proto . th dport }}"
                    for f in _FAMILIES
                ),
                f'log prefix "podwall-deny {word}: " group 7',
            ),
        )
        for word in DIRECTION_WORDS
    ]


def compile_ruleset(cluster: Cluster, node: str, options: Options | None = None) -> Ruleset:
    """The ruleset for `node`'s pods: pure, deterministic, and independent of apply history.

    Each policy's rules live once, in its own chain per direction; pods isolated by the same
    policies share one group chain that jumps to those policy chains, then records, counts
    (per pod, through a counter map) and drops what none accepted.
    """
    options = options or Options()
    c = _Compiler(cluster, node, options)
    policies = sorted(cluster.policies, key=lambda p: p.key)  # same text whatever the order
    subjects = np.array([c.table.subjects(p) for p in policies], dtype=bool).reshape(
        len(policies), len(c.pods)
    )
    typed = {d: np.array([p.has_type(d) for p in policies], dtype=bool) for d in Direction}
    plan = _Plan()
    for i, pod in sorted(enumerate(c.pods), key=lambda item: item[1].key):
        if pod.node_name != node or pod.host_network:
            continue
        for direction in (Direction.EGRESS, Direction.INGRESS):
            isolating = [policies[k] for k in np.flatnonzero(subjects[:, i] & typed[direction])]
            if isolating:
                plan.add(pod, direction, isolating)
    chains = [
        Chain(
            name=_policy_chain(policy, d),
            rules=tuple(
                line for k in range(len(policy.rules(d))) for line in c.rule_lines(policy, d, k)
            ),
        )
        for policy, d in sorted(plan.policy_chains, key=lambda item: (item[0].key, item[1]))
    ]
    chains += plan.group_chains()
    return _assemble(c, chains, plan, options)


def _policy_chain(policy: NetworkPolicy, direction: Direction) -> str:
    return f"pol_{object_suffix(policy.key)}_{_WORD[direction]}"


class _Plan:
    """Which pods are isolated by which policies: group chains, dispatch and counter maps."""

    def __init__(self) -> None:
        self.groups: dict[tuple[Direction, tuple[str, ...]], list[NetworkPolicy]] = {}
        self.dispatch: dict[Direction, list[tuple[str, str]]] = {d: [] for d in Direction}
        self.counter_map: dict[Direction, list[tuple[str, str]]] = {d: [] for d in Direction}
        self.counters: list[str] = []
        self.policy_chains: set[tuple[NetworkPolicy, Direction]] = set()

    def add(self, pod: Pod, direction: Direction, isolating: list[NetworkPolicy]) -> None:
        word = _WORD[direction]
        keys = tuple(p.key for p in isolating)
        self.groups.setdefault((direction, keys), isolating)
        self.policy_chains.update((p, direction) for p in isolating)
        iface = f'"{interface_name(pod.namespace, pod.name)}"'
        counter = f"deny_{word}_{object_suffix(pod.key)}"
        self.dispatch[direction].append((iface, f"goto {_group_chain(direction, keys)}"))
        self.counter_map[direction].append((iface, f'"{counter}"'))
        self.counters.append(counter)

    def group_chains(self) -> list[Chain]:
        chains = []
        for (direction, keys), isolating in sorted(
            self.groups.items(), key=lambda item: (item[0][0], item[0][1])
        ):
            jumps = tuple(f"jump {_policy_chain(p, direction)}" for p in isolating)
            comment = f"{_WORD[direction]} isolated by {', '.join(keys)}"
            chains.append(
                Chain(
                    name=_group_chain(direction, keys),
                    rules=jumps + tuple(_deny_lines(_WORD[direction])),
                    comment=comment[:120],
                )
            )
        return chains


def _group_chain(direction: Direction, keys: tuple[str, ...]) -> str:
    return f"{_WORD[direction]}_{object_suffix('|'.join(keys))}"


def _assemble(c: _Compiler, chains: list[Chain], plan: _Plan, options: Options) -> Ruleset:
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
    maps = [
        NftMap(
            name=name,
            key_type="ifname",
            value_type=value,
            elements=tuple(sorted(elements[direction])),
        )
        for direction, name, value, elements in (
            (Direction.EGRESS, EGRESS_DISPATCH, "verdict", plan.dispatch),
            (Direction.INGRESS, INGRESS_DISPATCH, "verdict", plan.dispatch),
            (Direction.EGRESS, _COUNTERS["egress"], "counter", plan.counter_map),
            (Direction.INGRESS, _COUNTERS["ingress"], "counter", plan.counter_map),
        )
    ]
    # Egress and ingress are separate base chains: a policy's `accept` ends its own direction
    # only, so a packet leaving one local pod for another is judged by both.
    hook = "type filter hook {} priority filter{}; policy accept;"
    base = [
        Chain(
            name="forward_egress",
            base=hook.format("forward", " - 1"),
            rules=(_ESTABLISHED, "ct state invalid drop", _ND, f"iifname vmap @{EGRESS_DISPATCH}"),
        ),
        Chain(
            name="forward_ingress",
            base=hook.format("forward", ""),
            rules=(_ESTABLISHED, _ND, f"oifname vmap @{INGRESS_DISPATCH}"),
        ),
        Chain(
            name="input",
            base=hook.format("input", ""),
            rules=(_ESTABLISHED, "ct state invalid drop", _ND, f"iifname vmap @{EGRESS_DISPATCH}"),
        ),
        Chain(
            name="output",
            base=hook.format("output", ""),
            rules=(
                _ESTABLISHED,
                _ND,
                *(() if options.allow_node_local else (f"oifname vmap @{INGRESS_DISPATCH}",)),
            ),
        ),
    ]
    judged = NftSet(name=_JUDGED_L4, key_type="inet_proto", elements=("tcp", "udp", "sctp"))
    sets = (*sorted(c.sets.values(), key=lambda s: s.name), judged, *drops)
    return Ruleset(
        counters=tuple(sorted(plan.counters)),
        sets=sets,
        maps=tuple(maps),
        chains=(*base, *_record_chains(), *sorted(chains, key=lambda ch: ch.name)),
    )
