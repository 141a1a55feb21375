"""`analyze_exposure`: per pod and direction, who beyond the pods in the input may connect.

A pod is exposed in a direction when it is not isolated there (no policy with that policyType
selects it; hostNetwork pods never are): then everyone may connect, inside the cluster or out.
When policies isolate it, each rule of theirs that opens a port on it adds the rule's wide
peers (see `peers`); a rule with no peers is as open as no policy, on its ports. Policies are
additive, so an exposure granted by any one rule stands.

Ports: `ports=None` reports each rule's ports as written (named ports of ingress rules are
resolved on the pod, and a rule whose named ports the pod does not declare opens nothing);
given ports, only those a rule admits are reported. Named ports of egress rules resolve on the
destination, which may not exist yet, so they are taken to match any number of their protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from podwall.exposure.addresses import parse_network
from podwall.exposure.findings import Exposure, ExposureReport, Grant
from podwall.exposure.peers import PeerContext, PeerExposure, judge_peer, open_exposures
from podwall.model import DIRECTION_FIELDS, Cluster, Direction, NetworkPolicy, Pod, PolicyPort, Rule
from podwall.semantics import Options, PortSpec
from podwall.semantics.rules import describe_port

__all__ = ["admitted_ports", "analyze_exposure"]

BOTH = (Direction.INGRESS, Direction.EGRESS)
Found = tuple[PeerExposure, Grant]


def _entry_admits(entry: PolicyPort, want: PortSpec, direction: Direction, pod: Pod) -> bool:
    if entry.protocol != want.protocol:
        return False
    if entry.port is None:
        return True
    if isinstance(entry.port, int):
        return entry.port <= want.port <= (entry.end_port or entry.port)
    if direction is Direction.EGRESS:
        return True  # resolved on a destination that may not exist yet
    return pod.resolve_port(entry.port, want.protocol) == want.port


def _entry_text(entry: PolicyPort, direction: Direction, pod: Pod) -> str | None:
    if not isinstance(entry.port, str) or direction is Direction.EGRESS:
        return describe_port(entry)
    number = pod.resolve_port(entry.port, str(entry.protocol))
    return None if number is None else f"{number}/{entry.protocol} ({entry.port})"


def admitted_ports(
    rule: Rule, direction: Direction, pod: Pod, wanted: Sequence[PortSpec] | None
) -> tuple[str, ...] | None:
    """The ports a rule opens for this subject pod, as text: () every port, None no port."""
    if wanted is not None:
        hits = tuple(
            w.key
            for w in wanted
            if not rule.ports or any(_entry_admits(e, w, direction, pod) for e in rule.ports)
        )
        return hits or None
    if not rule.ports:
        return ()
    texts = [t for e in rule.ports if (t := _entry_text(e, direction, pod)) is not None]
    return tuple(texts) or None


def _open_why(pod: Pod, direction: Direction) -> str:
    if pod.host_network:
        return "hostNetwork pod: it uses its node's network, and no NetworkPolicy can select it"
    word = direction.value
    who = "every source" if direction is Direction.INGRESS else "every destination"
    return (
        f"not isolated for {word.lower()}: no NetworkPolicy with policyType {word} selects "
        f"it, so {who} is allowed, inside the cluster or out"
    )


class _Rules:
    """Each rule's wide peers, judged once however many pods the policy selects."""

    def __init__(self, ctx: PeerContext) -> None:
        self.ctx = ctx
        self._cache: dict[tuple[str, Direction, int], tuple[tuple[PeerExposure, str], ...]] = {}

    def wide_peers(
        self, policy: NetworkPolicy, direction: Direction, i: int
    ) -> tuple[tuple[PeerExposure, str], ...]:
        key = (policy.key, direction, i)
        if key not in self._cache:
            self._cache[key] = self._judge(policy, direction, i)
        return self._cache[key]

    def _judge(
        self, policy: NetworkPolicy, direction: Direction, i: int
    ) -> tuple[tuple[PeerExposure, str], ...]:
        rules_field, peers_field = DIRECTION_FIELDS[direction]
        rule = policy.rules(direction)[i]
        path = f"spec.{rules_field}[{i}]"
        if not rule.peers:
            who = "source" if direction is Direction.INGRESS else "destination"
            why = f"rule has no `{peers_field}`: every {who}, inside the cluster or out, qualifies"
            return tuple((e, path) for e in open_exposures(why, self.ctx.options))
        return tuple(
            (e, f"{path}.{peers_field}[{j}]{e.field}")
            for j, peer in enumerate(rule.peers)
            for e in judge_peer(peer, policy.namespace, self.ctx)
        )


def _isolators(
    cluster: Cluster, ctx: PeerContext, direction: Direction
) -> dict[str, list[NetworkPolicy]]:
    """Pod key -> the policies isolating it in this direction, in input order: one vector per
    policy (hostNetwork pods are never selected) instead of one selector match per pair."""
    found: dict[str, list[NetworkPolicy]] = {}
    for policy in cluster.policies:
        if policy.has_type(direction):
            for row in np.flatnonzero(ctx.table.subjects(policy)):
                found.setdefault(cluster.pods[row].key, []).append(policy)
    return found


def _pod_findings(
    pod: Pod,
    direction: Direction,
    policies: Sequence[NetworkPolicy],
    rules: _Rules,
    wanted: Sequence[PortSpec] | None,
) -> list[Found]:
    if not policies:
        ports = tuple(w.key for w in wanted) if wanted is not None else ()
        grant = Grant(ports=ports)
        return [(e, grant) for e in open_exposures(_open_why(pod, direction), rules.ctx.options)]
    found: list[Found] = []
    for policy in policies:
        for i, rule in enumerate(policy.rules(direction)):
            ports = admitted_ports(rule, direction, pod, wanted)
            if ports is None:
                continue
            for exposure, path in rules.wide_peers(policy, direction, i):
                found.append((exposure, Grant(policy=policy.key, path=path, ports=ports)))
    return found


def _merge(pod: Pod, direction: Direction, found: Iterable[Found]) -> list[Exposure]:
    """One Exposure per remote set, carrying every grant (np-guard lists a peer once)."""
    groups: dict[tuple[str, tuple[object, ...]], tuple[PeerExposure, list[Grant]]] = {}
    for exposure, grant in found:
        key = (exposure.peer, exposure.kinds)
        groups.setdefault(key, (exposure, []))[1].append(grant)
    merged = [
        Exposure(
            pod=pod.key,
            direction=direction,
            peer=exposure.peer,
            kinds=exposure.kinds,
            why=exposure.why,
            grants=tuple(dict.fromkeys(grants)),
        )
        for exposure, grants in groups.values()
    ]
    return sorted(merged, key=Exposure.sort_key)


def _notes(
    cluster: Cluster,
    scope: Sequence[Pod],
    exposures: Sequence[Exposure],
    directions: Sequence[Direction],
    options: Options,
    networks: Sequence[str],
    namespace: str | None,
) -> tuple[str, ...]:
    notes: list[str] = []
    if not cluster.pods:
        notes.append(
            "the input holds no pods: exposure is reported per pod, so give the pods too "
            "(kubectl get ns,pods,netpol -A -o yaml)"
        )
    elif not scope:
        notes.append(f"no pod in namespace {namespace}")
    by_block = any(g.path.endswith(".ipBlock") for e in exposures for g in e.grants)
    if by_block and not networks:
        notes.append(
            "no cluster networks given: an ipBlock address counts as outside the cluster "
            "unless a pod or node in the input holds it (declare the pod, node and service "
            "CIDRs with --cluster-cidr)"
        )
    if options.allow_node_local and Direction.INGRESS in directions and scope:
        notes.append(
            "every pod also accepts connections from its own node (kubelet probes) whatever "
            "its policies say; that node traffic is not counted as exposure"
        )
    return tuple(notes)


def analyze_exposure(
    cluster: Cluster,
    options: Options | None = None,
    *,
    networks: Sequence[str] = (),
    ports: Sequence[PortSpec] | None = None,
    directions: Sequence[Direction] = BOTH,
    namespace: str | None = None,
) -> ExposureReport:
    """Every exposure of the pods in `namespace` (all pods when None), in input order.

    `networks`: the cluster's pod, node and service CIDRs when known; addresses inside them
    count as inside the cluster. Raises ValueError on a CIDR that does not parse.
    """
    options = options or Options()
    nets = tuple(parse_network(n) for n in networks)
    ctx = PeerContext.build(cluster, options, nets)
    rules = _Rules(ctx)
    scope = [p for p in cluster.pods if namespace is None or p.namespace == namespace]
    wanted = None if ports is None else tuple(ports)
    chosen = tuple(d for d in BOTH if d in directions)
    isolators = {d: _isolators(cluster, ctx, d) for d in chosen}
    exposures: list[Exposure] = []
    for pod in scope:
        for d in chosen:
            found = _pod_findings(pod, d, isolators[d].get(pod.key, ()), rules, wanted)
            exposures += _merge(pod, d, found)
    return ExposureReport(
        pods=tuple(p.key for p in scope),
        directions=chosen,
        exposures=tuple(exposures),
        notes=_notes(cluster, scope, exposures, directions, options, networks, namespace),
    )
