"""Which rows and columns of the diff a change can reach, and which changed policies to blame.

Pure. A cell (src, dst) of one port is allowed when src's egress allows it and dst's ingress
does. Src's egress verdicts depend only on the policies selecting src and on dst as their peer;
dst's ingress verdicts only on the policies selecting dst and on src as their peer. So a cell can
differ between OLD and NEW only if
- a policy present on one side only (by namespace and spec) selects src for egress, or dst for
  ingress, on its side; or
- src or dst itself differs: labels, addresses, ports, node, hostNetwork, its namespace's labels.
Sources of the first kind and units of the second are the rows to compute; destinations of the
first kind and units of the second the columns. Every other cell is the same on both sides, so
a change of a few policies costs a few rows and columns, not the whole matrix twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from podwall.model import Cluster, Direction, Labels, NetworkPolicy, Pod
from podwall.semantics.matrix import ClassMatrix

__all__ = ["Blame", "Reach", "UnitClasses", "blame_units", "reach_units"]

# "egress" / "ingress" -> per unit, the changed policies selecting it in that direction
Blame = dict[str, tuple[frozenset[str], ...]]


@dataclass(frozen=True, slots=True, kw_only=True)
class UnitClasses:
    """Each unit's class in OLD's `ClassMatrix` and in NEW's."""

    old: np.ndarray
    new: np.ndarray


@dataclass(frozen=True, slots=True, kw_only=True)
class Reach:
    """Units whose rows (as sources) and columns (as destinations) may differ."""

    is_row: np.ndarray
    is_col: np.ndarray

    @property
    def rows(self) -> np.ndarray:
        return np.flatnonzero(self.is_row)

    @property
    def cols(self) -> np.ndarray:
        return np.flatnonzero(self.is_col)


def _meaning(policy: NetworkPolicy) -> tuple[object, ...]:
    """All that a policy's verdicts depend on (its name and metadata do not matter)."""
    return (policy.namespace, policy.pod_selector, policy.ingress, policy.egress,
            policy.policy_types)


def _one_sided(
    old: Sequence[NetworkPolicy], new: Sequence[NetworkPolicy]
) -> tuple[list[NetworkPolicy], list[NetworkPolicy]]:
    """Policies whose namespace and spec only OLD has, and those only NEW has."""
    before, after = {_meaning(p) for p in old}, {_meaning(p) for p in new}
    return (
        [p for p in old if _meaning(p) not in after],
        [p for p in new if _meaning(p) not in before],
    )


def _moved(
    clusters: tuple[Cluster, Cluster], pods: tuple[Sequence[Pod], Sequence[Pod]],
    unit_of_pod: np.ndarray, count: int,
) -> np.ndarray:
    """Units with a pod that differs between the sides, itself or its namespace's labels."""
    before = {n.name: n.labels for n in clusters[0].namespaces}
    after = {n.name: n.labels for n in clusters[1].namespaces}
    moved = np.zeros(count, dtype=bool)
    for old, new, unit in zip(*pods, unit_of_pod.tolist(), strict=True):
        if old != new or before.get(old.namespace, Labels()) != after.get(new.namespace, Labels()):
            moved[unit] = True
    return moved


def _selected(
    side: ClassMatrix, classes: np.ndarray, policies: Sequence[NetworkPolicy], d: Direction
) -> np.ndarray:
    """policies x units: which units each policy of direction `d` selects (as `selects`)."""
    none = np.zeros(side.size, dtype=bool)
    found = [side.table.subjects(p) if p.has_type(d) else none for p in policies]
    return np.array(found, dtype=bool).reshape(len(policies), side.size)[:, classes]


def reach_units(
    clusters: tuple[Cluster, Cluster],
    pods: tuple[Sequence[Pod], Sequence[Pod]],
    sides: tuple[ClassMatrix, ClassMatrix],
    units: UnitClasses,
    unit_of_pod: np.ndarray,
) -> Reach:
    """The rows and columns to compute on both sides (see the module docstring)."""
    moved = _moved(clusters, pods, unit_of_pod, len(units.old))
    only_old, only_new = _one_sided(clusters[0].policies, clusters[1].policies)

    def reached(d: Direction) -> np.ndarray:
        return (
            moved
            | _selected(sides[0], units.old, only_old, d).any(axis=0)
            | _selected(sides[1], units.new, only_new, d).any(axis=0)
        )

    return Reach(is_row=reached(Direction.EGRESS), is_col=reached(Direction.INGRESS))


def _key_sets(selected: np.ndarray, keys: Sequence[str]) -> tuple[frozenset[str], ...]:
    """Per unit (column), the keys of the policies (rows) selecting it; equal sets shared."""
    known: dict[bytes, frozenset[str]] = {}
    found = []
    for column in np.ascontiguousarray(selected.T):
        fingerprint = column.tobytes()
        if fingerprint not in known:
            known[fingerprint] = frozenset(keys[i] for i in np.flatnonzero(column))
        found.append(known[fingerprint])
    return tuple(found)


def blame_units(
    clusters: tuple[Cluster, Cluster],
    changed: tuple[Sequence[str], Sequence[str]],
    sides: tuple[ClassMatrix, ClassMatrix],
    units: UnitClasses,
) -> Blame:
    """Per unit, the changed policies selecting its pods on either side, each side's version
    on that side: those that can have opened or closed its connections (as a source for egress,
    as a destination for ingress). `changed`: the keys whose OLD and whose NEW versions count."""
    before = [p for p in clusters[0].policies if p.key in set(changed[0])]
    after = [p for p in clusters[1].policies if p.key in set(changed[1])]
    keys = [p.key for p in before + after]
    blame: Blame = {}
    for name, d in (("egress", Direction.EGRESS), ("ingress", Direction.INGRESS)):
        selected = np.concatenate(
            [_selected(sides[0], units.old, before, d), _selected(sides[1], units.new, after, d)]
        )
        blame[name] = _key_sets(selected, keys)
    return blame
