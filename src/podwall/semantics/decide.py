"""Decide one flow (source, destination, protocol, port), with the reasons behind the verdict.

A connection needs the source's egress AND the destination's ingress. A pod is isolated in a
direction only when some policy selecting it has that policyType; policies are additive, so
any rule of any such policy that matches both port and peer allows the flow. Exceptions, in
precedence order: a pod always reaches itself; a node reaches its own pods when
`Options.allow_node_local`; endpoints that are not pods are never isolated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from podwall.model import DIRECTION_FIELDS, Direction, NetworkPolicy, Pod
from podwall.semantics.endpoints import ClusterIndex, Endpoint, EndpointKind, flow_ip
from podwall.semantics.options import Options
from podwall.semantics.rules import describe_peer, describe_port, peer_matches, port_matches
from podwall.semantics.selectors import matches_selector

__all__ = [
    "Decision",
    "Flow",
    "Reason",
    "Side",
    "Verdict",
    "decide",
    "isolating_policies",
    "selects",
]


class Verdict(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"


@dataclass(frozen=True, slots=True, kw_only=True)
class Flow:
    src: Endpoint
    dst: Endpoint
    protocol: str
    port: int

    def render(self) -> str:
        return f"{self.src.label} -> {self.dst.label} on {self.port}/{self.protocol}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Reason:
    """One fact behind a verdict; `policy` and `path` name the rule when one is involved."""

    text: str
    policy: str = ""
    path: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Side:
    """The verdict of one direction: the source's egress or the destination's ingress."""

    direction: Direction
    allowed: bool
    isolated_by: tuple[str, ...] = ()
    reasons: tuple[Reason, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Decision:
    flow: Flow
    verdict: Verdict
    egress: Side
    ingress: Side
    notes: tuple[str, ...] = field(default=())

    @property
    def allowed(self) -> bool:
        return self.verdict is Verdict.ALLOWED


def selects(policy: NetworkPolicy, pod: Pod) -> bool:
    """Does the policy's podSelector pick this pod? hostNetwork pods are never picked."""
    return (
        not pod.host_network
        and pod.namespace == policy.namespace
        and matches_selector(policy.pod_selector, pod.labels)
    )


def isolating_policies(
    pod: Pod, direction: Direction, policies: tuple[NetworkPolicy, ...]
) -> tuple[NetworkPolicy, ...]:
    return tuple(p for p in policies if p.has_type(direction) and selects(p, pod))


def _rule_reasons(
    policy: NetworkPolicy,
    direction: Direction,
    flow: Flow,
    remote: Endpoint,
    index: ClusterIndex,
    options: Options,
) -> tuple[list[Reason], list[Reason]]:
    """(rules that allow the flow, why each other rule does not) for one isolating policy."""
    rules_field, peers_field = DIRECTION_FIELDS[direction]
    allowing: list[Reason] = []
    missing: list[Reason] = []
    for i, rule in enumerate(policy.rules(direction)):
        path = f"spec.{rules_field}[{i}]"
        port_hit = next(
            (
                j
                for j, e in enumerate(rule.ports)
                if port_matches(e, flow.protocol, flow.port, flow.dst)
            ),
            None,
        )
        if rule.ports and port_hit is None:
            wanted = ", ".join(describe_port(e) for e in rule.ports)
            missing.append(
                Reason(
                    text=f"port {flow.port}/{flow.protocol} is not among {wanted}",
                    policy=policy.key,
                    path=f"{path}.ports",
                )
            )
            continue
        peer_hit = next(
            (
                j
                for j, peer in enumerate(rule.peers)
                if peer_matches(peer, policy.namespace, remote, index, options)
            ),
            None,
        )
        if rule.peers and peer_hit is None:
            wanted = "; ".join(describe_peer(p, policy.namespace) for p in rule.peers)
            missing.append(
                Reason(
                    text=f"{remote.label} is not among {wanted}",
                    policy=policy.key,
                    path=f"{path}.{peers_field}",
                )
            )
            continue
        where = f"{path}.{peers_field}[{peer_hit}]" if peer_hit is not None else path
        what = (
            describe_peer(rule.peers[peer_hit], policy.namespace)
            if peer_hit is not None
            else "any peer"
        )
        ports = describe_port(rule.ports[port_hit]) if port_hit is not None else "any port"
        port_path = f" ({path}.ports[{port_hit}])" if port_hit is not None else ""
        allowing.append(
            Reason(text=f"allowed: {what} on {ports}{port_path}", policy=policy.key, path=where)
        )
    if not policy.rules(direction):
        missing.append(
            Reason(
                text=f"has no {rules_field} rules: it allows nothing",
                policy=policy.key,
                path=f"spec.{rules_field}",
            )
        )
    return allowing, missing


def _judge(
    direction: Direction,
    subject: Endpoint,
    remote: Endpoint,
    flow: Flow,
    index: ClusterIndex,
    options: Options,
) -> Side:
    if not subject.is_policy_subject or subject.pod is None:
        what = "outside the cluster" if subject.kind is EndpointKind.EXTERNAL else "node traffic"
        return Side(
            direction=direction,
            allowed=True,
            reasons=(Reason(text=f"{subject.label} is {what}: no policy can select it"),),
        )
    policies = isolating_policies(subject.pod, direction, index.cluster.policies)
    if not policies:
        return Side(
            direction=direction,
            allowed=True,
            reasons=(
                Reason(
                    text=f"{subject.label} is not isolated for {direction.value.lower()}: "
                    f"no policy with policyType {direction.value} selects it"
                ),
            ),
        )
    allowing: list[Reason] = []
    missing: list[Reason] = []
    for policy in policies:
        yes, no = _rule_reasons(policy, direction, flow, remote, index, options)
        allowing += yes
        missing += no
    keys = tuple(p.key for p in policies)
    return Side(
        direction=direction,
        allowed=bool(allowing),
        isolated_by=keys,
        reasons=tuple(allowing) if allowing else tuple(missing),
    )


def _is_self(flow: Flow) -> bool:
    src, dst = flow.src, flow.dst
    if src.pod is not None and dst.pod is not None:
        return src.pod.key == dst.pod.key
    return src.kind is dst.kind and bool(src.ips) and src.ips == dst.ips


def _is_node_local(flow: Flow, options: Options) -> bool:
    return (
        options.allow_node_local
        and flow.src.kind is EndpointKind.NODE
        and flow.dst.kind is EndpointKind.POD
        and bool(flow.src.node)
        and flow.src.node == flow.dst.node
    )


def _exempt(direction: Direction, text: str) -> Side:
    return Side(direction=direction, allowed=True, reasons=(Reason(text=text),))


def decide(flow: Flow, index: ClusterIndex, options: Options | None = None) -> Decision:
    options = options or Options()
    notes: list[str] = []
    for end in (flow.src, flow.dst):
        if end.kind is EndpointKind.POD and flow_ip(end, options) is None:
            notes.append(
                f"{end.label} has no IP address: the verdict follows labels only, "
                "and no ipBlock can match it"
            )
    if _is_self(flow):
        text = "a pod always reaches itself"
        egress, ingress = _exempt(Direction.EGRESS, text), _exempt(Direction.INGRESS, text)
    else:
        egress = _judge(Direction.EGRESS, flow.src, flow.dst, flow, index, options)
        if _is_node_local(flow, options):
            ingress = _exempt(
                Direction.INGRESS,
                f"{flow.src.label} is the node of "
                f"{flow.dst.label}: traffic from a pod's own node is allowed",
            )
        else:
            ingress = _judge(Direction.INGRESS, flow.dst, flow.src, flow, index, options)
    verdict = Verdict.ALLOWED if egress.allowed and ingress.allowed else Verdict.DENIED
    return Decision(flow=flow, verdict=verdict, egress=egress, ingress=ingress, notes=tuple(notes))
