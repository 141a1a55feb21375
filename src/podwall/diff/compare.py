"""What a change to the manifests does to connectivity: the cells it opens and the cells it closes.

Pure. Both sides are computed with `compute_matrix` over the pods present on both sides (by
`ns/name`) and the same ports, so a cell is opened when NEW allows it and OLD did not
(`new & ~old`) and closed the other way round. Pods present on one side only cannot be compared
cell by cell; they are listed as added or removed. Policies are compared by `ns/name` and spec.

Speed: pods that `compute_matrix` treats alike on BOTH sides form one unit; each side's matrix
is computed over one pod per unit (plus a small matrix over a second pod of each unit, for the
value between two distinct pods of one unit). The diff is then units x units, not pods x pods,
and `cells()` expands it to pods when asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from podwall.model import Cluster, Direction, Labels, Namespace, NetworkPolicy, Pod
from podwall.semantics import (
    ClusterIndex,
    Options,
    PortSpec,
    compute_matrix,
    declared_ports,
    isolating_policies,
)

# The matrix's own notion of pods no policy can tell apart: the diff must split no finer and no
# coarser. Private to semantics.matrix; it should become a public `pod_classes` there.
from podwall.semantics.matrix import group_pods as matrix_classes

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

# "egress" / "ingress" -> per unit, the changed policies selecting it in that direction
Blame = dict[str, tuple[frozenset[str], ...]]


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

    `opened[port.key][a, b]`: NEW allows pods of unit a -> (other) pods of unit b and OLD did
    not; `closed` the other way round. `pods_old` and `pods_new` hold the compared pods (same
    keys, same order), each as its side declares it; `unit_of_pod[i]` is pod i's unit.
    """

    old: Cluster
    new: Cluster
    pods_old: tuple[Pod, ...]
    pods_new: tuple[Pod, ...]
    unit_of_pod: np.ndarray
    ports: tuple[PortSpec, ...]
    opened: dict[str, np.ndarray]
    closed: dict[str, np.ndarray]
    added_pods: tuple[str, ...]
    removed_pods: tuple[str, ...]
    policies: PolicyChanges
    relabeled_namespaces: tuple[str, ...] = ()

    @property
    def pod_keys(self) -> tuple[str, ...]:
        return tuple(p.key for p in self.pods_new)

    @property
    def unit_count(self) -> int:
        return int(self.unit_of_pod.max()) + 1 if len(self.unit_of_pod) else 0

    def weights(self) -> np.ndarray:
        """Per unit pair, how many (src, dst) pod pairs one unit-level cell stands for."""
        sizes = np.bincount(self.unit_of_pod, minlength=self.unit_count).astype(np.int32)
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
        grids = self.opened if which == "opened" else self.closed
        keys = self.pod_keys
        found: set[tuple[str, str, str]] = set()
        for port, grid in grids.items():
            expanded = grid[self.unit_of_pod][:, self.unit_of_pod]
            np.fill_diagonal(expanded, False)
            found |= {(keys[i], keys[j], port) for i, j in zip(*np.nonzero(expanded), strict=True)}
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


def _units(
    old: Cluster, new: Cluster, pods_old: Sequence[Pod], pods_new: Sequence[Pod], options: Options
) -> tuple[np.ndarray, list[int], list[int]]:
    """Pods alike for the matrix on both sides share a unit: (unit of each pod, first pod of
    each unit, second pod of each unit that has one, or -1)."""
    before = matrix_classes(pods_old, old, options, ClusterIndex.build(old))[0]
    after = matrix_classes(pods_new, new, options, ClusterIndex.build(new))[0]
    ids: dict[tuple[int, int], int] = {}
    unit_of_pod = np.empty(len(pods_new), dtype=np.intp)
    firsts: list[int] = []
    seconds: list[int] = []
    for i, pair in enumerate(zip(before.tolist(), after.tolist(), strict=True)):
        unit = ids.setdefault(pair, len(ids))
        if unit == len(firsts):
            firsts.append(i)
            seconds.append(-1)
        elif seconds[unit] < 0:
            seconds[unit] = i
        unit_of_pod[i] = unit
    return unit_of_pod, firsts, seconds


def _unit_matrix(
    cluster: Cluster,
    ports: Sequence[PortSpec],
    options: Options,
    pods: Sequence[Pod],
    units: tuple[list[int], list[int]],
) -> dict[str, np.ndarray]:
    """Unit x unit allowed grids from two matrices: one over a pod per unit, and one over the
    (first, second) pods of units with two or more, whose cell is the value between two
    distinct pods of a unit (the first matrix's diagonal only says "a pod to itself")."""
    firsts, seconds = units
    result = compute_matrix(cluster, ports, options, [pods[i] for i in firsts])
    multi = [u for u, second in enumerate(seconds) if second >= 0]
    pairs = [pods[firsts[u]] for u in multi] + [pods[seconds[u]] for u in multi]
    within = compute_matrix(cluster, ports, options, pairs)
    count = np.arange(len(multi))
    for key, grid in result.allowed.items():
        grid[multi, multi] = within.allowed[key][count, count + len(multi)]
    return result.allowed


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
    unit_of_pod, firsts, seconds = _units(old, new, pods_old, pods_new, options)
    before = _unit_matrix(old, chosen, options, pods_old, (firsts, seconds))
    after = _unit_matrix(new, chosen, options, pods_new, (firsts, seconds))
    return Changes(
        old=old,
        new=new,
        pods_old=pods_old,
        pods_new=pods_new,
        unit_of_pod=unit_of_pod,
        ports=chosen,
        opened={k: np.greater(after[k], before[k]) for k in after},  # new and not old
        closed={k: np.greater(before[k], after[k]) for k in after},
        added_pods=tuple(sorted(new_by_key.keys() - old_by_key.keys())),
        removed_pods=tuple(sorted(old_by_key.keys() - new_by_key.keys())),
        policies=compare_policies(old.policies, new.policies),
        relabeled_namespaces=_relabeled(old.namespaces, new.namespaces),
    )


def _versions(changes: Changes) -> tuple[tuple[NetworkPolicy, ...], tuple[NetworkPolicy, ...]]:
    """The changed policies as OLD has them, and as NEW has them."""
    gone = set(changes.policies.removed + changes.policies.changed)
    came = set(changes.policies.added + changes.policies.changed)
    return (
        tuple(p for p in changes.old.policies if p.key in gone),
        tuple(p for p in changes.new.policies if p.key in came),
    )


def blame_policies(changes: Changes) -> Blame:
    """Per unit, which changed policies select its pods on either side: those that can have
    opened or closed its connections (as a destination for ingress, as a source for egress).
    Pods of a unit share namespace and labels on both sides, so one pod answers for all."""
    before, after = _versions(changes)
    reps: dict[int, int] = {}
    for i, unit in enumerate(changes.unit_of_pod.tolist()):
        reps.setdefault(unit, i)
    egress: list[frozenset[str]] = []
    ingress: list[frozenset[str]] = []
    for unit in range(changes.unit_count):
        old_pod, new_pod = changes.pods_old[reps[unit]], changes.pods_new[reps[unit]]
        for direction, found in ((Direction.EGRESS, egress), (Direction.INGRESS, ingress)):
            found.append(
                frozenset(
                    p.key
                    for pod, versions in ((old_pod, before), (new_pod, after))
                    for p in isolating_policies(pod, direction, versions)
                )
            )
    return {"egress": tuple(egress), "ingress": tuple(ingress)}
