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

from collections import defaultdict
from functools import lru_cache

import numpy as np

from podwall.dataplane.names import (
    DIRECTION_WORDS,
    EGRESS_DISPATCH,
    INGRESS_DISPATCH,
    PodMatch,
    denied_set,
    interface_name,
    object_suffix,
)
from podwall.dataplane.ruleset import Chain, NftMap, NftSet, Ruleset
from podwall.dataplane.sets import FAMILIES, SetBuilder, address_word, merge_ports
from podwall.model import Cluster, Direction, NetworkPolicy, Pod, Rule
from podwall.semantics.options import Options

__all__ = ["ChainLines", "Isolation", "assemble_ruleset", "chain_lines", "compile_ruleset"]

_ADDR_TYPE = {4: "ipv4_addr", 6: "ipv6_addr"}
_ND = (
    "meta l4proto ipv6-icmp icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, "
    "nd-router-solicit, nd-router-advert } accept"
)
_ESTABLISHED = "ct state established,related accept"
_RECORD = {word: f"record_denied_{word}" for word in DIRECTION_WORDS}
_COUNTERS = {word: f"deny_counters_{word}" for word in DIRECTION_WORDS}
_WORD = {Direction.EGRESS: "egress", Direction.INGRESS: "ingress"}
_JUDGED_L4 = "judged_l4"  # the protocols NetworkPolicy ports speak of


def _port_groups(rule: Rule) -> dict[str, list[str]]:
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
    sets: SetBuilder, policy: NetworkPolicy, rule: Rule, direction: Direction
) -> list[str]:
    """One address test per peer and family that can match; [""] for a rule without peers."""
    if not rule.peers:
        return [""]
    word = "saddr" if direction is Direction.INGRESS else "daddr"
    tests = []
    for peer in rule.peers:
        for f in FAMILIES:
            name = sets.peer(peer, policy.namespace, f)
            if name is not None:
                tests.append(f"{address_word(f)} {word} @{name} ")
    return tests


def rule_lines(
    sets: SetBuilder, policy: NetworkPolicy, direction: Direction, index: int
) -> list[str]:
    """The nft rules of one policy rule: `accept` what it allows."""
    rule = policy.rules(direction)[index]
    tests = _peer_tests(sets, policy, rule, direction)
    if not rule.ports:
        return [f"{test}accept" for test in tests]
    lines = []
    for proto, ports in sorted(_port_groups(rule).items()):
        l4 = f"meta l4proto {proto.lower()} "
        if ports == ["*"]:
            lines += [f"{l4}{test}accept" for test in tests]
        elif ports:
            merged = merge_ports(ports)
            dports = merged[0] if len(merged) == 1 else f"@{sets.ports(ports)}"
            lines += [f"{l4}th dport {dports} {test}accept" for test in tests]
    for entry in (e for e in rule.ports if isinstance(e.port, str)):
        l4 = f"meta l4proto {str(entry.protocol).lower()}"
        for f in FAMILIES:
            dest = f"{address_word(f)} daddr . th dport"
            if direction is Direction.INGRESS:
                named = sets.ingress_named(policy, entry, f)
                family_tests = [t for t in tests if not t or t.startswith(f"{address_word(f)} ")]
                lines += [f"{l4} {dest} @{named} {t}accept" for t in family_tests if named]
            else:
                for peer in rule.peers or (None,):
                    named = sets.egress_named(peer, policy.namespace, entry, f)
                    if named:
                        lines.append(f"{l4} {dest} @{named} accept")
    return lines


def _deny_lines(word: str, match: PodMatch) -> list[str]:
    """After every isolating policy: record the denied flow, count it per pod, drop it. By
    address, a family's counter map misses the other family's packets (the rule breaks), so a
    last plain `drop` stands behind them."""
    if match is PodMatch.INTERFACE:
        key = "iifname" if word == "egress" else "oifname"
        return [f"jump {_RECORD[word]}", f"counter name {key} map @{_COUNTERS[word]} drop"]
    side = "saddr" if word == "egress" else "daddr"
    counted = [
        f"counter name {address_word(f)} {side} map @{_COUNTERS[word]}{f} drop" for f in FAMILIES
    ]
    return [f"jump {_RECORD[word]}", *counted, "drop"]


def _dispatch_lines(direction: Direction, match: PodMatch) -> list[str]:
    """A base chain's lookup of the local pod the packet leaves (egress) or enters (ingress)."""
    if match is PodMatch.INTERFACE:
        if direction is Direction.EGRESS:
            return [f"iifname vmap @{EGRESS_DISPATCH}"]
        return [f"oifname vmap @{INGRESS_DISPATCH}"]
    name, side = (
        (EGRESS_DISPATCH, "saddr") if direction is Direction.EGRESS else (INGRESS_DISPATCH, "daddr")
    )
    return [f"{address_word(f)} {side} vmap @{name}{f}" for f in FAMILIES]


def _record_chains() -> list[Chain]:
    """One chain per direction that logs a denied new connection into its dynamic set."""
    return [
        Chain(
            name=_RECORD[word],
            rules=(
                *(
                    f"meta l4proto @{_JUDGED_L4} update @{denied_set(word, f)} "
                    f"{{ {address_word(f)} saddr . {address_word(f)} daddr . meta l4proto . "
                    "th dport }"
                    for f in FAMILIES
                ),
                f'log prefix "podwall-deny {word}: " group 7',
            ),
        )
        for word in DIRECTION_WORDS
    ]


def compile_ruleset(
    cluster: Cluster,
    node: str,
    options: Options | None = None,
    match: PodMatch = PodMatch.INTERFACE,
) -> Ruleset:
    """The ruleset for `node`'s pods: pure, deterministic, and independent of apply history.

    Each policy's rules live once, in its own chain per direction; pods isolated by the same
    policies share one group chain that jumps to those policy chains, then records, counts
    (per pod, through a counter map) and drops what none accepted.
    """
    options = options or Options()
    c = SetBuilder(cluster, options)
    policies = sorted(cluster.policies, key=lambda p: p.key)  # same text whatever the order
    subjects = np.array([c.table.subjects(p) for p in policies], dtype=bool).reshape(
        len(policies), len(c.pods)
    )
    typed = {d: np.array([p.has_type(d) for p in policies], dtype=bool) for d in Direction}
    isolating: Isolation = {}
    for i, pod in enumerate(c.pods):
        if pod.node_name != node or pod.host_network:
            continue
        for direction in (Direction.EGRESS, Direction.INGRESS):
            found = np.flatnonzero(subjects[:, i] & typed[direction])
            if len(found):
                isolating[pod.key, direction] = (pod, tuple(policies[k].key for k in found))
    lines = {}
    for policy, direction in policy_chains(isolating, {p.key: p for p in policies}):
        lines[policy.key, direction] = chain_lines(c, policy, direction)
    return assemble_ruleset(c.sets, isolating, lines, options, match)


# (pod key, direction) -> the pod and the keys of the policies isolating it there, sorted
Isolation = dict[tuple[str, Direction], tuple[Pod, tuple[str, ...]]]
# (policy key, direction) -> the chain's rules and the sets they asked for
ChainLines = dict[tuple[str, Direction], tuple[tuple[str, ...], frozenset[str]]]


def policy_chains(
    isolating: Isolation, policies: dict[str, NetworkPolicy]
) -> list[tuple[NetworkPolicy, Direction]]:
    """Every (policy, direction) whose chain some local pod jumps to, sorted."""
    groups = {(d, keys) for (_, d), (_, keys) in isolating.items()}
    found = {(k, d) for d, keys in groups for k in keys}
    return [(policies[k], d) for k, d in sorted(found)]


def chain_lines(
    c: SetBuilder, policy: NetworkPolicy, direction: Direction
) -> tuple[tuple[str, ...], frozenset[str]]:
    """A policy chain's rules, and the names of the sets they looked up (empty ones too)."""
    c.touched.clear()
    lines = tuple(
        line
        for k in range(len(policy.rules(direction)))
        for line in rule_lines(c, policy, direction, k)
    )
    return lines, frozenset(c.touched)


def assemble_ruleset(
    sets: dict[str, NftSet],
    isolating: Isolation,
    lines: ChainLines,
    options: Options,
    match: PodMatch = PodMatch.INTERFACE,
) -> Ruleset:
    """The ruleset from its parts: shared by the full and the incremental compiler."""
    plan = _Plan(match)
    for (_, direction), (pod, keys) in sorted(isolating.items(), key=_by_pod_key):
        plan.add(pod, direction, keys)
    policy_chains = plan.policy_chains
    chains = [
        Chain(name=_policy_chain(key, d), rules=lines[key, d][0])
        for key, d in sorted(policy_chains)
    ]
    chains += plan.group_chains()
    used = sorted(set().union(*(lines[key][1] for key in policy_chains)))
    return _assemble([sets[name] for name in used], chains, plan, options)


def _by_pod_key(item: tuple[tuple[str, Direction], object]) -> tuple[str, Direction]:
    return item[0]


@lru_cache(maxsize=65536)
def _policy_chain(policy_key: str, direction: Direction) -> str:
    return f"pol_{object_suffix(policy_key)}_{_WORD[direction]}"


@lru_cache(maxsize=65536)
def _pod_names(namespace: str, name: str) -> tuple[str, str, str]:
    """A pod's quoted interface name and its counters' names (egress, ingress)."""
    suffix = object_suffix(f"{namespace}/{name}")
    return (
        f'"{interface_name(namespace, name)}"',
        f"deny_egress_{suffix}",
        f"deny_ingress_{suffix}",
    )


class _Plan:
    """Which pods are isolated by which policies: group chains, dispatch and counter maps.
    Maps are keyed (direction, family): family 0 is the interface maps."""

    def __init__(self, match: PodMatch) -> None:
        self.match = match
        self.groups: dict[tuple[Direction, tuple[str, ...]], None] = {}
        self.dispatch: dict[tuple[Direction, int], list[tuple[str, str]]] = defaultdict(list)
        self.counter_map: dict[tuple[Direction, int], list[tuple[str, str]]] = defaultdict(list)
        self.counters: list[str] = []

    def add(self, pod: Pod, direction: Direction, keys: tuple[str, ...]) -> None:
        self.groups[direction, keys] = None
        (iface, goto), (_, counter_ref), counter = _plan_entry(
            pod.namespace, pod.name, direction, keys
        )
        self.counters.append(counter)
        if self.match is PodMatch.INTERFACE:
            self.dispatch[direction, 0].append((iface, goto))
            self.counter_map[direction, 0].append((iface, counter_ref))
            return
        for ip in pod.ips:
            family = _family(ip)
            self.dispatch[direction, family].append((ip, goto))
            self.counter_map[direction, family].append((ip, counter_ref))

    @property
    def policy_chains(self) -> set[tuple[str, Direction]]:
        return {(k, direction) for direction, keys in self.groups for k in keys}

    def group_chains(self) -> list[Chain]:
        return [
            _group_chain_of(direction, keys, self.match) for direction, keys in sorted(self.groups)
        ]


@lru_cache(maxsize=65536)
def _family(ip: str) -> int:
    return 6 if ":" in ip else 4


@lru_cache(maxsize=65536)
def _plan_entry(
    namespace: str, name: str, direction: Direction, keys: tuple[str, ...]
) -> tuple[tuple[str, str], tuple[str, str], str]:
    """A pod's dispatch-map and counter-map elements and its counter's name (cached: the agent
    assembles them again on every change)."""
    iface, egress_counter, ingress_counter = _pod_names(namespace, name)
    counter = egress_counter if direction is Direction.EGRESS else ingress_counter
    return (iface, f"goto {_group_chain(direction, keys)}"), (iface, f'"{counter}"'), counter


@lru_cache(maxsize=65536)
def _group_chain_of(direction: Direction, keys: tuple[str, ...], match: PodMatch) -> Chain:
    jumps = tuple(f"jump {_policy_chain(k, direction)}" for k in keys)
    comment = f"{_WORD[direction]} isolated by {', '.join(keys)}"
    return Chain(
        name=_group_chain(direction, keys),
        rules=jumps + tuple(_deny_lines(_WORD[direction], match)),
        comment=comment[:120],
    )


@lru_cache(maxsize=65536)
def _group_chain(direction: Direction, keys: tuple[str, ...]) -> str:
    return f"{_WORD[direction]}_{object_suffix('|'.join(keys))}"


def _assemble(sets: list[NftSet], chains: list[Chain], plan: _Plan, options: Options) -> Ruleset:
    drops = [
        NftSet(
            name=denied_set(word, f),
            key_type=f"{_ADDR_TYPE[f]} . {_ADDR_TYPE[f]} . inet_proto . inet_service",
            flags=("dynamic", "timeout"),
            options=("timeout 1h", "size 65536"),
        )
        for word in DIRECTION_WORDS
        for f in FAMILIES
    ]
    families = (0,) if plan.match is PodMatch.INTERFACE else FAMILIES
    maps = [
        NftMap(
            name=f"{name}{family or ''}",
            key_type=_ADDR_TYPE.get(family, "ifname"),
            value_type=value,
            elements=tuple(sorted(elements[direction, family])),
        )
        for direction, name, value, elements in (
            (Direction.EGRESS, EGRESS_DISPATCH, "verdict", plan.dispatch),
            (Direction.INGRESS, INGRESS_DISPATCH, "verdict", plan.dispatch),
            (Direction.EGRESS, _COUNTERS["egress"], "counter", plan.counter_map),
            (Direction.INGRESS, _COUNTERS["ingress"], "counter", plan.counter_map),
        )
        for family in families
    ]
    egress = _dispatch_lines(Direction.EGRESS, plan.match)
    ingress = _dispatch_lines(Direction.INGRESS, plan.match)
    # Egress and ingress are separate base chains: a policy's `accept` ends its own direction
    # only, so a packet leaving one local pod for another is judged by both.
    hook = "type filter hook {} priority filter{}; policy accept;"
    base = [
        Chain(
            name="forward_egress",
            base=hook.format("forward", " - 1"),
            rules=(_ESTABLISHED, "ct state invalid drop", _ND, *egress),
        ),
        Chain(
            name="forward_ingress",
            base=hook.format("forward", ""),
            rules=(_ESTABLISHED, _ND, *ingress),
        ),
        Chain(
            name="input",
            base=hook.format("input", ""),
            rules=(_ESTABLISHED, "ct state invalid drop", _ND, *egress),
        ),
        Chain(
            name="output",
            base=hook.format("output", ""),
            rules=(
                _ESTABLISHED,
                _ND,
                *(() if options.allow_node_local else ingress),
            ),
        ),
    ]
    judged = NftSet(name=_JUDGED_L4, key_type="inet_proto", elements=("tcp", "udp", "sctp"))
    all_sets = (*sets, judged, *drops)
    return Ruleset(
        counters=tuple(sorted(plan.counters)),
        sets=all_sets,
        maps=tuple(maps),
        chains=(*base, *_record_chains(), *sorted(chains, key=lambda ch: ch.name)),
    )
