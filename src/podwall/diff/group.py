"""Grouping changed cells so a person can read them: by namespaces, label sets and port ranges.

Pure. Raw (src, dst, port) cells are unreadable past a handful, and pods of one workload change
together. So cells are grouped by (source namespace, destination namespace), within that by
pairs of label sets (pods sharing all labels), and ports whose changes are identical share one
group, with consecutive numbers merged into ranges (`8000-8100/TCP`).

Speed: counting works on the changed unit pairs only (one sort and a `bincount`), never on the
unit x unit grid. Each port's pairs are split by namespace pair first, and a part equal to one
already seen (most are: ports change alike) is counted once, so the Python work is one entry per
distinct pair of label sets, not per port.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from podwall.diff.compare import Changes, PolicyChanges, Units, blame_policies
from podwall.model import Labels
from podwall.semantics import PortSpec

__all__ = [
    "ChangeGroup",
    "DiffReport",
    "PairChange",
    "PodSet",
    "group_cells",
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


# (src class, dst class, src units, dst units, connections), in (src class, dst class) order
_Entry = tuple[int, int, tuple[int, ...], tuple[int, ...], int]


def _members(group: np.ndarray, unit: np.ndarray, count: int, groups: int) -> list[tuple[int, ...]]:
    """Per group id, its distinct units in ascending order."""
    g, u = np.divmod(np.unique(group.astype(np.int64) * count + unit), count)
    bounds = np.searchsorted(g, np.arange(groups + 1)).tolist()
    units = u.tolist()
    return [tuple(units[bounds[i] : bounds[i + 1]]) for i in range(groups)]


def _entries(
    segments: Sequence[np.ndarray],
    weigh: Callable[[np.ndarray], np.ndarray],
    of_unit: np.ndarray,
    count: int,
) -> list[list[_Entry]]:
    """Per segment (changed unit pairs, flat `a * count + b`), its pairs summed per label class
    pair, all segments in one sort of their cells: never a pass over the unit x unit grid."""
    flat = np.concatenate(segments)
    segment = np.repeat(np.arange(len(segments)), [len(s) for s in segments])
    weight = weigh(flat)
    keep = weight > 0
    src, dst = np.divmod(flat[keep], count)
    classes = int(of_unit.max()) + 1
    key = (segment[keep] * classes + of_unit[src]) * classes + of_unit[dst]
    keys, inverse = np.unique(key, return_inverse=True)
    totals = np.bincount(inverse, weights=weight[keep], minlength=len(keys)).astype(np.int64)
    srcs = _members(inverse, src, count, len(keys))
    dsts = _members(inverse, dst, count, len(keys))
    found: list[list[_Entry]] = [[] for _ in segments]
    for i, (k, total) in enumerate(zip(keys.tolist(), totals.tolist(), strict=True)):
        seg, pair = divmod(k, classes * classes)
        found[seg].append((pair // classes, pair % classes, srcs[i], dsts[i], total))
    return found


def group_changes(
    grids: Mapping[str, np.ndarray],
    ports: Sequence[PortSpec],
    units: Units,
    weights: np.ndarray,
    blame: Mapping[str, Sequence[frozenset[str]]],
) -> tuple[ChangeGroup, ...]:
    """Group one direction's changes given as dense grids (`grids[port.key]`, unit x unit).

    `weights[a, b]`: pod pairs one cell of units a, b stands for. `blame["egress"][u]` /
    `blame["ingress"][u]`: the changed policies selecting unit u as a source / destination; a
    group names those of its sources and destinations.
    """
    flat_weights = np.asarray(weights).ravel()
    cells = {key: np.flatnonzero(grid) for key, grid in grids.items()}
    return _group_all(cells, ports, units, lambda flat: flat_weights[flat], blame)


def group_cells(
    cells: Mapping[str, np.ndarray],
    ports: Sequence[PortSpec],
    units: Units,
    sizes: np.ndarray,
    blame: Mapping[str, Sequence[frozenset[str]]],
) -> tuple[ChangeGroup, ...]:
    """`group_changes` for sparse changes: `cells[port.key]` holds flat unit pairs
    `a * unit_count + b` (as `Changes.opened_cells`), `sizes[u]` the pods of unit u."""
    count = len(units.labels)

    def weigh(flat: np.ndarray) -> np.ndarray:
        src, dst = np.divmod(flat, max(count, 1))
        return sizes[src] * sizes[dst] - np.where(src == dst, sizes[src], 0)

    return _group_all(cells, ports, units, weigh, blame)


def _split(
    flat: np.ndarray, ns_of_unit: np.ndarray, namespaces: int, count: int
) -> list[tuple[int, np.ndarray]]:
    """One port's cells by namespace pair (code: source * namespaces + destination), each part
    in ascending order."""
    src, dst = np.divmod(flat, count)
    codes = ns_of_unit[src] * namespaces + ns_of_unit[dst]
    order = np.argsort(codes, kind="stable")
    flat, codes = flat[order], codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]]).tolist()
    ends = [*starts[1:], len(flat)]
    return [(int(codes[a]), flat[a:b]) for a, b in zip(starts, ends, strict=True)]


# per port that changed: (port, [(namespace pair code, part id)])
_PortParts = list[tuple[PortSpec, list[tuple[int, int]]]]


def _parts(
    cells: Mapping[str, np.ndarray],
    ports: Sequence[PortSpec],
    ns_of_unit: np.ndarray,
    namespaces: int,
) -> tuple[list[np.ndarray], _PortParts]:
    """Every port's cells split by namespace pair, equal parts kept once: ports mostly change
    alike, and a port that differs usually differs in a few namespace pairs only."""
    part_ids: dict[tuple[int, bytes], int] = {}
    parts: list[np.ndarray] = []
    split: dict[bytes, list[tuple[int, int]]] = {}  # a port's cells -> its coded parts
    per_port: _PortParts = []
    for spec in ports:
        flat = cells.get(spec.key)
        if flat is None or not len(flat):
            continue
        fingerprint = flat.tobytes()
        if fingerprint not in split:
            split[fingerprint] = []
            for code, part in _split(flat, ns_of_unit, namespaces, len(ns_of_unit)):
                part_id = part_ids.setdefault((code, part.tobytes()), len(parts))
                if part_id == len(parts):
                    parts.append(part)
                split[fingerprint].append((code, part_id))
        per_port.append((spec, split[fingerprint]))
    return parts, per_port


def _group_all(
    cells: Mapping[str, np.ndarray],
    ports: Sequence[PortSpec],
    units: Units,
    weigh: Callable[[np.ndarray], np.ndarray],
    blame: Mapping[str, Sequence[frozenset[str]]],
) -> tuple[ChangeGroup, ...]:
    """Count each distinct part once; within a namespace pair, ports whose entries are equal
    share a group."""
    of_unit, classes = _label_classes(units)
    names = sorted({namespace for namespace, _ in classes})
    code_of = {name: i for i, name in enumerate(names)}
    ns_of_class = np.array([code_of[namespace] for namespace, _ in classes], dtype=np.intp)
    parts, per_port = _parts(cells, ports, ns_of_class[of_unit], len(names))
    entries = _entries(parts, weigh, of_unit, len(units.labels)) if parts else []
    entry_ids: dict[tuple[_Entry, ...], int] = {}
    of_part = [entry_ids.setdefault(tuple(found), len(entry_ids)) for found in entries]
    by_namespaces: dict[int, dict[int, list[PortSpec]]] = defaultdict(lambda: defaultdict(list))
    for spec, coded in per_port:
        for code, part_id in coded:
            if entries[part_id]:  # a part whose cells all weigh nothing changes nothing
                by_namespaces[code][of_part[part_id]].append(spec)
    builder = _Builder(units=units, classes=classes, blame=blame)
    all_entries = list(entry_ids)
    groups = [
        builder.group((names[code // len(names)], names[code % len(names)]), all_entries[e], specs)
        for code, same in by_namespaces.items()
        for e, specs in same.items()
    ]
    return tuple(sorted(groups, key=lambda g: (g.from_namespace, g.to_namespace, g.ports)))


@dataclass(slots=True, kw_only=True)
class _Builder:
    """Builds groups, making each pod set, label text and policy union once: the same sources
    and destinations recur across many groups."""

    units: Units
    classes: list[tuple[str, Labels]]
    blame: Mapping[str, Sequence[frozenset[str]]]
    pod_sets: dict[tuple[int, tuple[int, ...]], PodSet] = field(default_factory=dict)
    texts: dict[int, str] = field(default_factory=dict)
    blamed: dict[tuple[str, tuple[int, ...]], frozenset[str]] = field(default_factory=dict)

    def pod_set(self, cls: int, chosen: tuple[int, ...]) -> PodSet:
        key = (cls, chosen)
        if key not in self.pod_sets:
            namespace, labels = self.classes[cls]
            pods = sorted(k for u in chosen for k in self.units.members[u])
            self.pod_sets[key] = PodSet(namespace=namespace, labels=labels, pods=tuple(pods))
        return self.pod_sets[key]

    def text(self, cls: int) -> str:
        if cls not in self.texts:
            self.texts[cls] = self.classes[cls][1].render()
        return self.texts[cls]

    def policies(self, direction: str, chosen: tuple[int, ...]) -> frozenset[str]:
        key = (direction, chosen)
        if key not in self.blamed:
            per_unit = self.blame[direction]
            self.blamed[key] = frozenset().union(*(per_unit[u] for u in chosen))
        return self.blamed[key]

    def group(
        self, ns_pair: tuple[str, str], entries: tuple[_Entry, ...], specs: list[PortSpec]
    ) -> ChangeGroup:
        ordered = sorted(entries, key=lambda e: (self.text(e[0]), self.text(e[1])))
        policies: set[str] = set()
        for _, _, srcs, dsts, _ in ordered:
            policies |= self.policies("egress", srcs) | self.policies("ingress", dsts)
        return ChangeGroup(
            from_namespace=ns_pair[0],
            to_namespace=ns_pair[1],
            ports=render_port_ranges(specs),
            pairs=tuple(
                PairChange(
                    source=self.pod_set(a, srcs),
                    destination=self.pod_set(b, dsts),
                    connections=connections,
                )
                for a, b, srcs, dsts, connections in ordered
            ),
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
    sizes = changes.sizes()
    return DiffReport(
        opened=group_cells(changes.opened_cells, changes.ports, changes.units("new"), sizes, blame),
        closed=group_cells(changes.closed_cells, changes.ports, changes.units("old"), sizes, blame),
        added_pods=changes.added_pods,
        removed_pods=changes.removed_pods,
        policies=changes.policies,
        relabeled_namespaces=changes.relabeled_namespaces,
        compared_pods=len(changes.pods_new),
        ports=render_port_ranges(changes.ports),
    )
