"""What a change to the manifests does to connectivity: the cells it opens and the cells it closes.

Pure. Both sides are judged over the pods present on both sides (by `ns/name`) and the same
ports: a cell is opened when NEW allows it and OLD did not, closed the other way round. Pods
present on one side only cannot be compared cell by cell; they are listed as added or removed.
Policies are compared by `ns/name` and spec.

Speed, in two steps. Pods the matrix treats alike on BOTH sides form one unit, so the diff is
units x units, never pods x pods. And only what the change reaches is computed (see
`podwall.diff.reach`): the rows of sources and the columns of destinations whose verdicts can
differ, on each side with `ClassMatrix.block`; every other cell is equal on both sides by
construction. Changed cells stay sparse, as flat unit-pair indices `a * unit_count + b`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from podwall.diff.reach import Blame, Reach, UnitClasses, blame_units, reach_units
from podwall.model import Cluster, Labels, Namespace, NetworkPolicy, Pod
from podwall.semantics import Options, PortSpec, declared_ports
from podwall.semantics.matrix import ClassMatrix

__all__ = [
    "Blame",
    "Changes",
    "PolicyChanges",
    "Units",
    "blame_policies",
    "compare",
    "compare_policies",
    "diff_ports",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyChanges:
    """Policy keys (`ns/name`) added, removed, or kept with a different spec."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()

    @property
    def keys(self) -> frozenset[str]:
        return frozenset(self.added + self.removed + self.changed)


@dataclass(frozen=True, slots=True, kw_only=True)
class Units:
    """One side's view of the units: each unit's (namespace, labels) and its pods' keys."""

    labels: tuple[tuple[str, Labels], ...]
    members: tuple[tuple[str, ...], ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Changes:
    """Everything `podwall diff` reports, before grouping.

    `opened_cells[port.key]`: sorted flat indices `a * unit_count + b` of the unit pairs where
    NEW allows pods of unit a -> (other) pods of unit b and OLD did not; `closed_cells` the
    other way round. A pair is listed only if it stands for at least one pod pair (a one-pod
    unit never pairs with itself). `pods_old` and `pods_new` hold the compared pods (same keys,
    same order), each as its side declares it; `unit_of_pod[i]` is pod i's unit. `blame`: per
    unit, the changed policies selecting it (see `blame_policies`).
    """

    old: Cluster
    new: Cluster
    pods_old: tuple[Pod, ...]
    pods_new: tuple[Pod, ...]
    unit_of_pod: np.ndarray
    ports: tuple[PortSpec, ...]
    opened_cells: dict[str, np.ndarray]
    closed_cells: dict[str, np.ndarray]
    added_pods: tuple[str, ...]
    removed_pods: tuple[str, ...]
    policies: PolicyChanges
    blame: Blame
    relabeled_namespaces: tuple[str, ...] = ()

    @property
    def pod_keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.pods_new)

    @property
    def unit_count(self) -> int:
        return int(self.unit_of_pod.max()) + 1 if len(self.unit_of_pod) else 0

    @property
    def opened(self) -> dict[str, np.ndarray]:
        """`opened_cells` as dense unit x unit grids: unit_count² bytes a port, small inputs."""
        return {key: self._dense(flat) for key, flat in self.opened_cells.items()}

    @property
    def closed(self) -> dict[str, np.ndarray]:
        """`closed_cells` as dense unit x unit grids."""
        return {key: self._dense(flat) for key, flat in self.closed_cells.items()}

    def _dense(self, flat: np.ndarray) -> np.ndarray:
        grid = np.zeros(self.unit_count * self.unit_count, dtype=bool)
        grid[flat] = True
        return grid.reshape(self.unit_count, self.unit_count)

    def sizes(self) -> np.ndarray:
        """Pods per unit."""
        return np.bincount(self.unit_of_pod, minlength=self.unit_count).astype(np.int64)

    def weights(self) -> np.ndarray:
        """Per unit pair, how many (src, dst) pod pairs one unit-level cell stands for."""
        sizes = self.sizes()
        return np.outer(sizes, sizes) - np.diag(sizes)  # a pod never changes towards itself

    def units(self, side: str) -> Units:
        """Units with OLD's or NEW's labels (closed cells are shown as they were)."""
        pods = self.pods_old if side == "old" else self.pods_new
        members: list[list[str]] = [[] for _ in range(self.unit_count)]
        labels: list[tuple[str, Labels]] = [("", Labels())] * self.unit_count
        for pod, unit in zip(pods, self.unit_of_pod.tolist(), strict=True):
            if not members[unit]:
                labels[unit] = (pod.namespace, pod.labels)
            members[unit].append(pod.key)
        return Units(labels=tuple(labels), members=tuple(tuple(m) for m in members))

    def cells(self, which: str) -> set[tuple[str, str, str]]:
        """Every (src, dst, port key) opened or closed, pod by pod: for tests and small inputs."""
        grids = self.opened_cells if which == "opened" else self.closed_cells
        keys = self.pod_keys
        members: list[list[int]] = [[] for _ in range(self.unit_count)]
        for i, unit in enumerate(self.unit_of_pod.tolist()):
            members[unit].append(i)
        found: set[tuple[str, str, str]] = set()
        for port, flat in grids.items():
            for a, b in zip(*np.divmod(flat, max(self.unit_count, 1)), strict=True):
                found |= {
                    (keys[i], keys[j], port) for i in members[a] for j in members[b] if i != j
                }
        return found


def _spec(policy: NetworkPolicy) -> tuple[object, ...]:
    return (policy.pod_selector, policy.ingress, policy.egress, policy.policy_types)


def compare_policies(
    old: Sequence[NetworkPolicy], new: Sequence[NetworkPolicy]
) -> PolicyChanges:
    """Compare by key and spec; metadata (labels, annotations) changes nothing that matters."""
    before = {p.key: p for p in old}
    after = {p.key: p for p in new}
    return PolicyChanges(
        added=tuple(sorted(after.keys() - before.keys())),
        removed=tuple(sorted(before.keys() - after.keys())),
        changed=tuple(
            sorted(k for k in before.keys() & after.keys() if _spec(before[k]) != _spec(after[k]))
        ),
    )


def _relabeled(old: Sequence[Namespace], new: Sequence[Namespace]) -> tuple[str, ...]:
    """Namespaces on both sides whose labels differ: they move namespaceSelectors silently."""
    before = {n.name: n.labels for n in old}
    return tuple(sorted(n.name for n in new if n.name in before and before[n.name] != n.labels))


def diff_ports(old: Cluster, new: Cluster) -> tuple[PortSpec, ...]:
    """The default columns: every port some pod declares on either side."""
    return tuple(sorted(set(declared_ports(old.pods)) | set(declared_ports(new.pods))))


def _units(before: np.ndarray, after: np.ndarray) -> tuple[np.ndarray, UnitClasses]:
    """Pods in one class on both sides share a unit, numbered in first-seen order: (unit of
    each pod, each unit's class on each side)."""
    ids: dict[tuple[int, int], int] = {}
    unit_of_pod = np.empty(len(before), dtype=np.intp)
    for i, pair in enumerate(zip(before.tolist(), after.tolist(), strict=True)):
        unit_of_pod[i] = ids.setdefault(pair, len(ids))
    pairs = np.array(list(ids), dtype=np.intp).reshape(len(ids), 2)
    return unit_of_pod, UnitClasses(old=pairs[:, 0].copy(), new=pairs[:, 1].copy())


def _flat(changed: np.ndarray, rows: np.ndarray, cols: np.ndarray, count: int) -> np.ndarray:
    """A block's changed cells as flat unit pairs; `rows`, `cols`: the block's units."""
    r, c = np.nonzero(changed)
    return rows[r] * count + cols[c]


def _changed_cells(
    sides: tuple[ClassMatrix, ClassMatrix],
    units: UnitClasses,
    reach: Reach,
    port: PortSpec,
    sizes: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """(opened, closed) flat unit pairs on one port, from the reached rows and columns only:
    block A is reached sources x every unit, block B the other sources x reached destinations.
    A one-pod unit's pair with itself stands for no pod pair and is dropped."""
    before, after = sides
    count = len(units.old)
    rest = np.flatnonzero(~reach.is_row)
    blocks = (
        (
            before.block(port, rows=units.old[reach.rows])[:, units.old],
            after.block(port, rows=units.new[reach.rows])[:, units.new],
            reach.rows,
            np.arange(count),
        ),
        (
            before.block(port, cols=units.old[reach.cols])[units.old[rest]],
            after.block(port, cols=units.new[reach.cols])[units.new[rest]],
            rest,
            reach.cols,
        ),
    )
    found = []
    for gained in (True, False):
        flat = np.concatenate(
            [_flat(new > old if gained else old > new, r, c, count) for old, new, r, c in blocks]
        )
        src, dst = np.divmod(flat, max(count, 1))
        found.append(np.sort(flat[(src != dst) | (sizes[src] > 1)]))
    return found[0], found[1]


def compare(
    old: Cluster,
    new: Cluster,
    ports: Sequence[PortSpec] | None = None,
    options: Options | None = None,
) -> Changes:
    """Which connections the change from OLD to NEW opens and closes, on `ports`."""
    options = options or Options()
    chosen = tuple(diff_ports(old, new) if ports is None else ports)
    old_by_key = {p.key: p for p in old.pods}
    new_by_key = {p.key: p for p in new.pods}
    pods_new = tuple(p for p in new.pods if p.key in old_by_key)
    pods_old = tuple(old_by_key[p.key] for p in pods_new)
    sides = (ClassMatrix(old, options, pods_old), ClassMatrix(new, options, pods_new))
    unit_of_pod, units = _units(sides[0].of_pod, sides[1].of_pod)
    reach = reach_units((old, new), (pods_old, pods_new), sides, units, unit_of_pod)
    sizes = np.bincount(unit_of_pod, minlength=len(units.old))
    cells = {p.key: _changed_cells(sides, units, reach, p, sizes) for p in chosen}
    policies = compare_policies(old.policies, new.policies)
    return Changes(
        old=old,
        new=new,
        pods_old=pods_old,
        pods_new=pods_new,
        unit_of_pod=unit_of_pod,
        ports=chosen,
        opened_cells={key: found[0] for key, found in cells.items()},
        closed_cells={key: found[1] for key, found in cells.items()},
        added_pods=tuple(sorted(new_by_key.keys() - old_by_key.keys())),
        removed_pods=tuple(sorted(old_by_key.keys() - new_by_key.keys())),
        policies=policies,
        relabeled_namespaces=_relabeled(old.namespaces, new.namespaces),
        blame=blame_units(
            (old, new),
            (policies.removed + policies.changed, policies.added + policies.changed),
            sides,
            units,
        ),
    )


def blame_policies(changes: Changes) -> Blame:
    """Per unit, which changed policies select its pods on either side: those that can have
    opened or closed its connections (as a destination for ingress, as a source for egress)."""
    return changes.blame
