"""Who may talk to whom as a graph: one model (`Graph`), the matrix as one, and DOT text.

Pure. The same `Graph` (from `matrix_graph` here, or `graph_diff.diff_graph`) feeds the DOT
writer here and the SVG drawing in `render.layout`, so the two pictures always agree.

A drawing stops being readable long before a cluster stops growing, so size decides the detail
(`Detail`), chosen by `choose_detail` unless the caller names one:

- pods: one node per pod, up to POD_LIMIT pods;
- groups: pods of one namespace that behave identically (the same row and column on every port,
  and the same value between each other) share one node: `web-* ×12` when their names share a
  prefix, else `api-0 +14`; up to GROUP_LIMIT nodes;
- namespaces: one node per namespace; an edge names the ports on which every pod pair is
  allowed, and those on which only some are (`80/TCP 3/12`).

Nodes sit in `subgraph cluster_<namespace>` (except at namespace detail). A pod's connection to
itself is always allowed and never drawn. Output is sorted: equal input, equal bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from podwall.diff import render_port_ranges
from podwall.semantics import Matrix

__all__ = [
    "EDGE_COLORS",
    "GROUP_LIMIT",
    "POD_LIMIT",
    "Detail",
    "Edge",
    "EdgeKind",
    "Graph",
    "Node",
    "abbreviate",
    "behaviour_classes",
    "choose_detail",
    "matrix_graph",
    "namespace_nodes",
    "render_dot",
]

POD_LIMIT = 40  # one node per pod up to here
GROUP_LIMIT = 80  # one node per behaviour group (or label set, for a diff) up to here
SHOWN_ITEMS = 3  # an edge label names up to this many port ranges or policies
_SHOWN_MEMBERS = 20  # a tooltip names up to this many pods


class Detail(StrEnum):
    pods = "pods"
    groups = "groups"
    namespaces = "namespaces"


class EdgeKind(StrEnum):
    allowed = "allowed"
    opened = "opened"
    closed = "closed"


EDGE_COLORS = {EdgeKind.allowed: "#4a6fa5", EdgeKind.opened: "#2e7d32", EdgeKind.closed: "#c62828"}


@dataclass(frozen=True, slots=True, kw_only=True)
class Node:
    """A pod, a group of pods, a label set, or a namespace: `members` are the pods it stands for."""

    id: str
    namespace: str
    label: str
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class Edge:
    """`ports`: the exact port ranges on which the edge holds (namespaces: for every pair)."""

    src: str
    dst: str
    kind: EdgeKind
    ports: tuple[str, ...]
    label: str
    note: str = ""

    @property
    def tooltip(self) -> str:
        return f"ports: {', '.join(self.ports) or '-'}" + (f"\n{self.note}" if self.note else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class Graph:
    title: str
    detail: Detail
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]

    @classmethod
    def build(
        cls, title: str, detail: Detail, nodes: Iterable[Node], edges: Iterable[Edge]
    ) -> Graph:
        """A graph with nodes and edges sorted, so that equal input renders to equal bytes."""
        return cls(
            title=title,
            detail=detail,
            nodes=tuple(sorted(nodes, key=lambda n: n.id)),
            edges=tuple(sorted(edges, key=lambda e: (e.kind.value, e.src, e.dst, e.ports))),
        )

    @property
    def namespaces(self) -> tuple[str, ...]:
        return tuple(sorted({n.namespace for n in self.nodes}))


def abbreviate(items: Sequence[str], limit: int = SHOWN_ITEMS) -> list[str]:
    """The first `limit` items, and how many more there are: labels must stay short."""
    return [*items[:limit], f"+{len(items) - limit} more"] if len(items) > limit else list(items)


def namespace_nodes(members: Mapping[str, Iterable[str]]) -> tuple[Node, ...]:
    """One node per namespace, standing for its pods."""
    nodes = []
    for name, keys in sorted(members.items()):
        pods = tuple(sorted(keys))
        label = f"{name} ({len(pods)} pod{'s' * (len(pods) != 1)})"
        nodes.append(Node(id=name, namespace=name, label=label, members=pods))
    return tuple(nodes)


# ---- the matrix as a graph ---------------------------------------------------------------------


def _namespace(key: str) -> str:
    return key.split("/", 1)[0]


def _row_ids(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row, an id shared by equal rows, and how many rows share it (hashing the bytes is
    far faster than sorting wide rows)."""
    ids: dict[bytes, int] = {}
    found = np.fromiter(
        (ids.setdefault(row.tobytes(), len(ids)) for row in rows), dtype=np.intp, count=len(rows)
    )
    return found, np.bincount(found)[found]


def _port_classes(grid: np.ndarray) -> np.ndarray:
    """Per pod, a class id shared by the pods alike on this port.

    Pods i, j are alike when their rows and columns agree off {i, j} and grid[i, j] == grid[j, i]
    == c. Setting the diagonal to c makes their rows and columns equal outright, and only one c
    can work for a pod, so: each pod's class under c=False if that has company, else under True.
    """
    rows, columns = np.ascontiguousarray(grid), np.ascontiguousarray(grid.T)  # C order: fast
    keys = []
    for value in (False, True):
        packed = []
        for cells in (rows.copy(), columns.copy()):
            np.fill_diagonal(cells, value)
            packed.append(np.packbits(cells, axis=1))
        keys.append(_row_ids(np.hstack(packed)))
    (under_false, company), (under_true, _) = keys
    return np.where(company > 1, under_false, under_true + len(grid))


def behaviour_classes(matrix: Matrix) -> np.ndarray:
    """Per pod, its class: pods of one namespace that no port of the matrix tells apart."""
    if not matrix.pods:
        return np.zeros(0, dtype=np.intp)
    namespaces = np.unique([_namespace(k) for k in matrix.pods], return_inverse=True)[1]
    columns = [namespaces.reshape(-1)]
    columns += [_port_classes(matrix.allowed[spec.key]) for spec in matrix.ports]
    return _row_ids(np.ascontiguousarray(np.stack(columns, axis=1)))[0]


def choose_detail(matrix: Matrix) -> Detail:
    if len(matrix.pods) <= POD_LIMIT:
        return Detail.pods
    if int(behaviour_classes(matrix).max()) + 1 <= GROUP_LIMIT:
        return Detail.groups
    return Detail.namespaces


def _port_label(ranges: tuple[str, ...], specs: int, every: int) -> str:
    if specs == every and every > 2:
        return f"all {every} ports"
    return ", ".join(ranges) if len(ranges) <= SHOWN_ITEMS else f"{specs} ports"


def _members(classes: np.ndarray, pods: tuple[str, ...]) -> list[tuple[str, ...]]:
    found: dict[int, list[str]] = {}
    for cls, key in zip(classes.tolist(), pods, strict=True):
        found.setdefault(cls, []).append(key)
    return sorted(tuple(sorted(keys)) for keys in found.values())


def _shared_prefix(names: Sequence[str]) -> str:
    """The longest prefix of every name: that of the first and last in sorted order."""
    first, last = min(names), max(names)
    size = 0
    while size < len(first) and first[size] == last[size]:
        size += 1
    return first[:size]


def _class_nodes(matrix: Matrix, classes: np.ndarray) -> tuple[Node, ...]:
    """A node per class: per pod (each pod its own class) or per behaviour group."""
    nodes = []
    for keys in _members(classes, matrix.pods):
        names = [key.split("/", 1)[1] for key in keys]
        shared = _shared_prefix(names)
        if len(keys) == 1:
            label = names[0]
        elif len(shared) > 1:
            label = f"{shared}* ×{len(keys)}"  # the replicas of one workload: web-* ×20
        else:
            label = f"{names[0]} +{len(keys) - 1}"
        nodes.append(Node(id=keys[0], namespace=_namespace(keys[0]), label=label, members=keys))
    return tuple(nodes)


def _class_edges(matrix: Matrix, nodes: tuple[Node, ...]) -> tuple[Edge, ...]:
    """Between two nodes, the ports allowed from one member to the other (alike members make
    it exact for all); a node's own loop, between two distinct members."""
    at = {key: i for i, key in enumerate(matrix.pods)}
    firsts = np.array([at[n.members[0]] for n in nodes], dtype=np.intp)
    seconds = np.array([at[n.members[-1]] for n in nodes], dtype=np.intp)
    multi = np.array([len(n.members) > 1 for n in nodes], dtype=bool)
    grids = []
    for spec in matrix.ports:
        grid = matrix.allowed[spec.key][np.ix_(firsts, firsts)].copy()
        np.fill_diagonal(grid, matrix.allowed[spec.key][firsts, seconds] & multi)
        grids.append(grid)
    if not grids:
        return ()
    stacked = np.stack(grids)  # ports x nodes x nodes
    edges = []
    for a, b in zip(*np.nonzero(stacked.any(axis=0)), strict=True):
        specs = [s for s, on in zip(matrix.ports, stacked[:, a, b], strict=True) if on]
        ranges = render_port_ranges(specs)
        label = _port_label(ranges, len(specs), len(matrix.ports))
        edges.append(
            Edge(src=nodes[a].id, dst=nodes[b].id, kind=EdgeKind.allowed, ports=ranges, label=label)
        )
    return tuple(edges)


def _namespace_counts(matrix: Matrix) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Namespaces, and per port the allowed pod pairs between each two (ports x ns x ns), and
    the pairs there are (a pod with itself left out)."""
    names, of_pod = np.unique([_namespace(k) for k in matrix.pods], return_inverse=True)
    of_pod = of_pod.reshape(-1)
    order = np.argsort(of_pod, kind="stable")
    sizes = np.bincount(of_pod, minlength=len(names))
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    ordered = bool((order == np.arange(len(order))).all())  # pods come sorted by key, usually
    counts = []
    for spec in matrix.ports:
        grid = (
            matrix.allowed[spec.key] if ordered else matrix.allowed[spec.key][np.ix_(order, order)]
        )
        rows = np.add.reduceat(grid, starts, axis=0, dtype=np.int32)  # namespaces x pods
        counts.append(np.add.reduceat(rows, starts, axis=1, dtype=np.int32))
    allowed = np.stack(counts) - np.diag(sizes)[None] if counts else np.zeros((0, 0, 0))
    return [str(n) for n in names], allowed, np.outer(sizes, sizes) - np.diag(sizes)


def _namespace_edge(matrix: Matrix, src: str, dst: str, counts: np.ndarray, total: int) -> Edge:
    """Ports where every pair is allowed name the edge; the others say how many pairs are."""
    every = len(matrix.ports)
    full = [s for s, c in zip(matrix.ports, counts.tolist(), strict=True) if c == total]
    ranges = render_port_ranges(full)
    parts = [_port_label(ranges, len(full), every)] if full else []
    notes = []
    for count in sorted({c for c in counts.tolist() if 0 < c < total}, reverse=True):
        specs = [s for s, c in zip(matrix.ports, counts.tolist(), strict=True) if c == count]
        some = render_port_ranges(specs)
        parts.append(f"{count}/{total} on {_port_label(some, len(specs), every)}")
        notes.append(f"{count} of {total} pod pairs on {', '.join(some)}")
    return Edge(
        src=src,
        dst=dst,
        kind=EdgeKind.allowed,
        ports=ranges,
        label=", ".join(abbreviate(parts)),
        note="\n".join(notes),
    )


def _namespace_graph(matrix: Matrix) -> tuple[tuple[Node, ...], tuple[Edge, ...]]:
    names, allowed, totals = _namespace_counts(matrix)
    members: dict[str, list[str]] = {n: [] for n in names}
    for key in matrix.pods:
        members[_namespace(key)].append(key)
    nodes = namespace_nodes(members)
    pairs = zip(*np.nonzero(allowed.any(axis=0)), strict=True) if len(allowed) else iter(())
    edges = tuple(
        _namespace_edge(matrix, names[a], names[b], allowed[:, a, b], int(totals[a, b]))
        for a, b in pairs
    )
    return nodes, edges


def matrix_graph(matrix: Matrix, detail: Detail | None = None) -> Graph:
    """The allowed connections of a matrix, at the given detail (default: by size)."""
    detail = detail or choose_detail(matrix)
    if detail is Detail.namespaces:
        nodes, edges = _namespace_graph(matrix)
    else:
        classes = (
            np.arange(len(matrix.pods)) if detail is Detail.pods else behaviour_classes(matrix)
        )
        nodes = _class_nodes(matrix, classes)
        edges = _class_edges(matrix, nodes) if nodes else ()
    title = (
        f"podwall matrix: {len(matrix.pods)} pods, {len(matrix.ports)} ports "
        f"(one node per {detail.value.rstrip('s')})"
    )
    return Graph.build(title, detail, nodes, edges)


# ---- DOT -----------------------------------------------------------------------------------------


def _quote(text: str) -> str:
    """A DOT double-quoted string; newlines become DOT's centred line break."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def _node_dot(node: Node) -> str:
    shown = abbreviate(node.members, _SHOWN_MEMBERS)
    extra = ", peripheries=2" if len(node.members) > 1 else ""
    return (
        f"{_quote(node.id)} [label={_quote(node.label)}, "
        f"tooltip={_quote(chr(10).join(shown))}{extra}];"
    )


def _edge_dot(edge: Edge) -> str:
    color = EDGE_COLORS[edge.kind]
    style = ", style=dashed" if edge.kind is EdgeKind.closed else ""
    return (
        f"{_quote(edge.src)} -> {_quote(edge.dst)} [label={_quote(edge.label)}, "
        f'tooltip={_quote(edge.tooltip)}, color="{color}", fontcolor="{color}"{style}];'
    )


def render_dot(graph: Graph) -> str:
    """Graphviz DOT (`dot -Tsvg`), a `subgraph cluster_<ns>` per namespace unless the nodes are
    namespaces themselves."""
    lines = [
        "digraph podwall {",
        f"  graph [label={_quote(graph.title)}, labelloc=t, rankdir=LR, fontname=Helvetica];",
        '  node [shape=box, style="rounded,filled", fillcolor="#ffffff", fontname=Helvetica, '
        "fontsize=10];",
        "  edge [fontname=Helvetica, fontsize=9];",
    ]
    if graph.detail is Detail.namespaces:
        lines += [f"  {_node_dot(n)}" for n in graph.nodes]
    for namespace in graph.namespaces if graph.detail is not Detail.namespaces else ():
        lines += [
            f"  subgraph {_quote('cluster_' + namespace)} {{",
            f'    graph [label={_quote(namespace)}, style="rounded,filled", '
            'fillcolor="#f4f6f8", color="#9aa5b1"];',
            *(f"    {_node_dot(n)}" for n in graph.nodes if n.namespace == namespace),
            "  }",
        ]
    lines += [f"  {_edge_dot(e)}" for e in graph.edges]
    return "\n".join([*lines, "}"]) + "\n"
