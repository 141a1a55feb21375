"""Grouping changed cells so a person can read them: by namespaces, label sets and port ranges.

Pure. Raw (src, dst, port) cells are unreadable past a handful, and pods of one workload change
together. So cells are grouped by (source namespace, destination namespace), within that by
pairs of label sets (pods sharing all labels), and ports whose changes are identical share one
group, with consecutive numbers merged into ranges (`8000-8100/TCP`). Counting uses numpy
`reduceat` over pods sorted by label set, so the cost is one pass over the changed rows and
columns, not a Python loop over cells.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from podwall.diff.compare import Changes, PolicyChanges, Units, blame_policies
from podwall.model import Labels
from podwall.semantics import PortSpec

__all__ = [
    "ChangeGroup",
    "DiffReport",
    "PairChange",
    "PodSet",
    "group_changes",
    "render_port_ranges",
    "summarize",
]


@dataclass(frozen=True, slots=True, kw_only=True)
class PodSet:
    """The pods of one label set in one namespace that a change touches."""

    namespace: str
    labels: Labels
    pods: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PairChange:
    """Connections from one label set to another that changed (on each port of the group).

    `connections` counts (src, dst) pod pairs, never a pod with itself: it is less than
    len(source.pods) * len(destination.pods) when the sets overlap or only some pairs changed.
    """

    source: PodSet
    destination: PodSet
    connections: int


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeGroup:
    from_namespace: str
    to_namespace: str
    ports: tuple[str, ...]
    pairs: tuple[PairChange, ...]
    policies: tuple[str, ...]

    @property
    def connections(self) -> int:
        """Changed (src, dst, port) cells in the group: per-port connections times ports."""
        return sum(p.connections for p in self.pairs) * _port_count(self.ports)


def _port_count(ranges: Sequence[str]) -> int:
    total = 0
    for text in ranges:
        numbers = text.partition("/")[0]
        low, _, high = numbers.partition("-")
        total += int(high or low) - int(low) + 1
    return total


def render_port_ranges(ports: Sequence[PortSpec]) -> tuple[str, ...]:
    """`80/TCP`, `8000-8100/TCP`: consecutive numbers of one protocol merged."""
    runs: list[list[int | str]] = []
    for spec in sorted(ports, key=lambda s: (s.protocol, s.port)):
        last = runs[-1] if runs else None
        if last is not None and last[2] == spec.protocol and last[1] == spec.port - 1:
            last[1] = spec.port
        else:
            runs.append([spec.port, spec.port, spec.protocol])
    ordered = sorted(runs, key=lambda r: (r[0], r[2]))
    return tuple(
        f"{low}/{proto}" if low == high else f"{low}-{high}/{proto}" for low, high, proto in ordered
    )


def _label_classes(units: Units) -> tuple[np.ndarray, list[tuple[str, Labels]]]:
    """Each unit's (namespace, labels) class, and the classes in first-seen order."""
    ids: dict[tuple[str, Labels], int] = {}
    of_unit = np.empty(len(units.labels), dtype=np.intp)
    for u, key in enumerate(units.labels):
        of_unit[u] = ids.setdefault(key, len(ids))
    return of_unit, list(ids)


def _blocks(index: np.ndarray, of_unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`index` sorted by class, and where each class's block starts."""
    ordered = index[np.argsort(of_unit[index], kind="stable")]
    classes = of_unit[ordered]
    starts = np.flatnonzero(np.r_[True, classes[1:] != classes[:-1]])
    return ordered, starts


# (src class, dst class) -> (src units, dst units, connections)
_PortPairs = dict[tuple[int, int], tuple[tuple[int, ...], tuple[int, ...], int]]


def _pairs_on_port(grid: np.ndarray, weights: np.ndarray, of_unit: np.ndarray) -> _PortPairs:
    """One port's changed pod pairs (`grid` times `weights`), summed per label class pair.

    Only changed rows and columns are cut out before counting: a change is usually narrow."""
    rows, row_starts = _blocks(np.flatnonzero(grid.any(axis=1)), of_unit)
    cols, col_starts = _blocks(np.flatnonzero(grid.any(axis=0)), of_unit)
    cut = np.ix_(rows, cols)
    sub = np.where(grid[cut], weights[cut], 0)
    per_src_class = np.add.reduceat(sub, row_starts, axis=0)  # src classes x dst units
    per_dst_class = np.add.reduceat(sub, col_starts, axis=1)  # src units x dst classes
    totals = np.add.reduceat(per_src_class, col_starts, axis=1)  # src classes x dst classes
    row_ends = np.r_[row_starts[1:], len(rows)]
    col_ends = np.r_[col_starts[1:], len(cols)]
    found: _PortPairs = {}
    for a, b in zip(*np.nonzero(totals), strict=True):
        r0, r1, c0, c1 = row_starts[a], row_ends[a], col_starts[b], col_ends[b]
        srcs = rows[r0:r1][per_dst_class[r0:r1, b] > 0]
        dsts = cols[c0:c1][per_src_class[a, c0:c1] > 0]
        key = (int(of_unit[rows[r0]]), int(of_unit[cols[c0]]))
        found[key] = (tuple(srcs.tolist()), tuple(dsts.tolist()), int(totals[a, b]))
    return found


def group_changes(
    grids: Mapping[str, np.ndarray],
    ports: Sequence[PortSpec],
    units: Units,
    weights: np.ndarray,
    blame: Mapping[str, Sequence[frozenset[str]]],
) -> tuple[ChangeGroup, ...]:
    """Group one direction's changes (`grids[port.key]`, unit x unit).

    `weights[a, b]`: pod pairs one cell of units a, b stands for. `blame["egress"][u]` /
    `blame["ingress"][u]`: the changed policies selecting unit u as a source / destination; a
    group names those of its sources and destinations.
    """
    of_unit, classes = _label_classes(units)
    by_namespaces: dict[tuple[str, str], dict[tuple[object, ...], list[PortSpec]]]
    by_namespaces = defaultdict(lambda: defaultdict(list))
    for spec in ports:
        grid = grids.get(spec.key)
        if grid is None or not grid.any():
            continue
        per_ns: dict[tuple[str, str], list[tuple[object, ...]]] = defaultdict(list)
        pairs = _pairs_on_port(grid, weights, of_unit)
        for (a, b), value in sorted(pairs.items()):
            per_ns[(classes[a][0], classes[b][0])].append((a, b, *value))
        for ns_pair, entries in per_ns.items():
            by_namespaces[ns_pair][tuple(entries)].append(spec)
    groups = [
        _group(ns_pair, entries, specs, units, classes, blame)
        for ns_pair, same in by_namespaces.items()
        for entries, specs in same.items()
    ]
    return tuple(sorted(groups, key=lambda g: (g.from_namespace, g.to_namespace, g.ports)))


def _pod_set(namespace: str, labels: Labels, chosen: Sequence[int], units: Units) -> PodSet:
    pods = sorted(key for u in chosen for key in units.members[u])
    return PodSet(namespace=namespace, labels=labels, pods=tuple(pods))


def _group(
    ns_pair: tuple[str, str],
    entries: tuple[object, ...],
    specs: list[PortSpec],
    units: Units,
    classes: list[tuple[str, Labels]],
    blame: Mapping[str, Sequence[frozenset[str]]],
) -> ChangeGroup:
    pairs: list[PairChange] = []
    policies: set[str] = set()
    for a, b, srcs, dsts, connections in entries:  # type: ignore[misc]
        pairs.append(
            PairChange(
                source=_pod_set(ns_pair[0], classes[a][1], srcs, units),
                destination=_pod_set(ns_pair[1], classes[b][1], dsts, units),
                connections=connections,
            )
        )
        for u in srcs:
            policies |= blame["egress"][u]
        for u in dsts:
            policies |= blame["ingress"][u]
    pairs.sort(key=lambda p: (p.source.labels.render(), p.destination.labels.render()))
    return ChangeGroup(
        from_namespace=ns_pair[0],
        to_namespace=ns_pair[1],
        ports=render_port_ranges(specs),
        pairs=tuple(pairs),
        policies=tuple(sorted(policies)),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffReport:
    """What the renderers show: grouped changes plus what could not be compared cell by cell."""

    opened: tuple[ChangeGroup, ...]
    closed: tuple[ChangeGroup, ...]
    added_pods: tuple[str, ...]
    removed_pods: tuple[str, ...]
    policies: PolicyChanges
    relabeled_namespaces: tuple[str, ...]
    compared_pods: int
    ports: tuple[str, ...]

    @property
    def has_changes(self) -> bool:
        return bool(self.opened or self.closed or self.added_pods or self.removed_pods)


def summarize(changes: Changes) -> DiffReport:
    """Group both directions: opened cells under NEW's labels, closed ones under OLD's."""
    blame = blame_policies(changes)
    weights = changes.weights()
    return DiffReport(
        opened=group_changes(changes.opened, changes.ports, changes.units("new"), weights, blame),
        closed=group_changes(changes.closed, changes.ports, changes.units("old"), weights, blame),
        added_pods=changes.added_pods,
        removed_pods=changes.removed_pods,
        policies=changes.policies,
        relabeled_namespaces=changes.relabeled_namespaces,
        compared_pods=len(changes.pods_new),
        ports=render_port_ranges(changes.ports),
    )
