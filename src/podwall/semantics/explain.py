"""Per pod, in plain words: which policies isolate it, which rules let traffic in and out,
and (from the matrix) which pods it can actually reach and be reached from, per port.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from podwall.model import DIRECTION_FIELDS, Cluster, Direction, Pod
from podwall.semantics.decide import isolating_policies
from podwall.semantics.matrix import Matrix
from podwall.semantics.rules import describe_peer, describe_port

__all__ = ["Allowance", "DirectionExplanation", "PodExplanation", "explain_pod"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Allowance:
    policy: str
    path: str
    peers: str
    ports: str


@dataclass(frozen=True, slots=True, kw_only=True)
class DirectionExplanation:
    direction: Direction
    isolated_by: tuple[str, ...]
    allowances: tuple[Allowance, ...]

    @property
    def isolated(self) -> bool:
        return bool(self.isolated_by)


@dataclass(frozen=True, slots=True, kw_only=True)
class PodExplanation:
    pod: str
    notes: tuple[str, ...]
    ingress: DirectionExplanation
    egress: DirectionExplanation
    reachable_from: dict[str, tuple[str, ...]]  # port key -> pods that may connect to it
    reaches: dict[str, tuple[str, ...]]  # port key -> pods it may connect to


def _direction(pod: Pod, cluster: Cluster, direction: Direction) -> DirectionExplanation:
    if pod.host_network:
        return DirectionExplanation(direction=direction, isolated_by=(), allowances=())
    policies = isolating_policies(pod, direction, cluster.policies)
    rules_field = DIRECTION_FIELDS[direction][0]
    allowances = []
    for policy in policies:
        for i, rule in enumerate(policy.rules(direction)):
            peers = (
                "any peer"
                if not rule.peers
                else "; ".join(describe_peer(p, policy.namespace) for p in rule.peers)
            )
            ports = (
                "any port" if not rule.ports else ", ".join(describe_port(p) for p in rule.ports)
            )
            allowances.append(
                Allowance(
                    policy=policy.key, path=f"spec.{rules_field}[{i}]", peers=peers, ports=ports
                )
            )
    return DirectionExplanation(
        direction=direction,
        isolated_by=tuple(p.key for p in policies),
        allowances=tuple(allowances),
    )


def _notes(pod: Pod) -> tuple[str, ...]:
    notes = []
    if pod.host_network:
        notes.append(
            "hostNetwork pod: its traffic is its node's; no policy selects it, "
            "and peers see it only through ipBlocks matching the node address"
        )
    if not pod.ips:
        notes.append("no IP address yet: verdicts follow labels only; no ipBlock matches it")
    return tuple(notes)


def explain_pod(pod: Pod, cluster: Cluster, matrix: Matrix) -> PodExplanation:
    i = matrix.pods.index(pod.key)
    served = {f"{p.container_port}/{p.protocol}" for p in pod.ports}  # inbound: its own ports
    others = np.array([k != pod.key for k in matrix.pods])
    names = np.array(matrix.pods, dtype=object)
    return PodExplanation(
        pod=pod.key,
        notes=_notes(pod),
        ingress=_direction(pod, cluster, Direction.INGRESS),
        egress=_direction(pod, cluster, Direction.EGRESS),
        reachable_from={
            k: tuple(names[grid[:, i] & others])
            for k, grid in matrix.allowed.items()
            if k in served or not served
        },
        reaches={k: tuple(names[grid[i, :] & others]) for k, grid in matrix.allowed.items()},
    )
