"""The exposure report's types: what kind of exposure, to whom, on which ports, granted where.

One `Exposure` is one subject pod, one direction and one remote set (np-guard's wording:
`entire-cluster`, `[namespace with {team=x}]/[all pods]`, `0.0.0.0/0 except 10.0.0.0/8`), with
every rule that grants it (`Grant`: policy `ns/name`, field path, ports). Kinds are a closed set,
ordered from widest to narrowest, so reports sort and summarise alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from podwall.model import Direction

__all__ = ["ALL_PORTS", "Exposure", "ExposureKind", "ExposureReport", "Grant", "merge_ports"]

ALL_PORTS = "all ports"


class ExposureKind(StrEnum):
    OUTSIDE = "outside-cluster"
    ANY_NAMESPACE = "any-namespace"
    FUTURE_PODS = "future-pods"

    @property
    def words(self) -> str:
        return _WORDS[self]

    @property
    def rank(self) -> int:
        return list(ExposureKind).index(self)


_WORDS = {
    ExposureKind.OUTSIDE: "outside the cluster",
    ExposureKind.ANY_NAMESPACE: "any namespace",
    ExposureKind.FUTURE_PODS: "pods that do not exist yet",
}


def merge_ports(port_sets: list[tuple[str, ...]]) -> tuple[str, ...]:
    """Union of port lists in first-seen order; () means every port and absorbs the rest."""
    if any(not ports for ports in port_sets):
        return ()
    merged: dict[str, None] = {}
    for ports in port_sets:
        merged.update(dict.fromkeys(ports))
    return tuple(merged)


@dataclass(frozen=True, slots=True, kw_only=True)
class Grant:
    """Where an exposure comes from; no policy means the pod is not isolated at all."""

    policy: str = ""
    path: str = ""
    ports: tuple[str, ...] = ()  # () = every port

    def render(self) -> str:
        return f"{self.policy} {self.path}".strip() if self.policy else "no policy"


@dataclass(frozen=True, slots=True, kw_only=True)
class Exposure:
    pod: str
    direction: Direction
    peer: str
    kinds: tuple[ExposureKind, ...]
    why: str
    grants: tuple[Grant, ...]

    @property
    def ports(self) -> tuple[str, ...]:
        return merge_ports([g.ports for g in self.grants])

    @property
    def ports_text(self) -> str:
        return ", ".join(self.ports) or ALL_PORTS

    @property
    def isolated(self) -> bool:
        """False when no policy isolates the pod in this direction (it is open to everyone)."""
        return any(g.policy for g in self.grants)

    def render(self) -> str:
        """np-guard's line: `pod <= peer : ports` for ingress, `pod => peer : ports` for egress."""
        arrow = "<=" if self.direction is Direction.INGRESS else "=>"
        return f"{self.pod} {arrow} {self.peer} : {self.ports_text}"

    def sort_key(self) -> tuple[object, ...]:
        return (self.direction is Direction.EGRESS, min(k.rank for k in self.kinds), self.peer)


@dataclass(frozen=True, slots=True, kw_only=True)
class ExposureReport:
    """Every exposure of the pods in scope, grouped by pod in input order, plus notes."""

    pods: tuple[str, ...]
    directions: tuple[Direction, ...]
    exposures: tuple[Exposure, ...]
    notes: tuple[str, ...] = ()

    def kinds_by_pod(self, direction: Direction) -> dict[str, frozenset[ExposureKind]]:
        """Per pod in scope, the kinds of exposure it has in this direction (one pass)."""
        found: dict[str, set[ExposureKind]] = {pod: set() for pod in self.pods}
        for e in self.exposures:
            if e.direction is direction:
                found.setdefault(e.pod, set()).update(e.kinds)
        return {pod: frozenset(kinds) for pod, kinds in found.items()}

    def counts(self, direction: Direction) -> dict[ExposureKind, int]:
        """Per kind, how many pods in scope have at least one exposure of it."""
        by_pod = self.kinds_by_pod(direction).values()
        return {kind: sum(kind in kinds for kinds in by_pod) for kind in ExposureKind}
