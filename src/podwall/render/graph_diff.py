"""A diff as a graph: connections opened (green) and closed (red, dashed), and the policies.

Pure. Nodes are the label sets of the grouped report (`DiffReport`), as its table shows them,
or namespaces past GROUP_LIMIT label sets; an edge is one pair of a change group, named by its
ports, its connections ((src, dst, port) cells, as the report counts them) and the changed
policies that select its pods.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from podwall.diff import ChangeGroup, DiffReport, PodSet, render_port_ranges
from podwall.render.graph import (
    GROUP_LIMIT,
    Detail,
    Edge,
    EdgeKind,
    Graph,
    Node,
    abbreviate,
    namespace_nodes,
)
from podwall.semantics import PortSpec

__all__ = ["diff_graph"]


def _set_id(pods: PodSet) -> str:
    return f"{pods.namespace}/{pods.labels.render()}"


def _expand(ranges: Iterable[str]) -> frozenset[PortSpec]:
    """`8000-8002/TCP` back to its ports, so that ranges of several groups merge exactly."""
    found = set()
    for text in ranges:
        numbers, _, protocol = text.partition("/")
        low, _, high = numbers.partition("-")
        found.update(PortSpec(n, protocol) for n in range(int(low), int(high or low) + 1))
    return frozenset(found)


def _diff_edge(
    kind: EdgeKind,
    ends: tuple[str, str],
    ports: frozenset[PortSpec],
    connections: int,
    policies: Sequence[str],
    every: frozenset[PortSpec],
) -> Edge:
    ranges = render_port_ranges(sorted(ports))
    if ports == every and len(ports) > 2:
        shown = f"all {len(ports)} ports"
    else:
        shown = ", ".join(abbreviate(ranges))
    plural = "s" * (connections != 1)
    return Edge(
        src=ends[0],
        dst=ends[1],
        kind=kind,
        ports=ranges,
        label="\n".join([f"{shown} ({connections} conn.)", *abbreviate(policies)]),
        note=f"{connections} connection{plural} {kind.value}; changed policies selecting "
        f"these pods: {', '.join(policies) or 'none'}",
    )


_Entries = list[tuple[EdgeKind, ChangeGroup]]


def _label_set_graph(
    entries: _Entries, sets: dict[str, tuple[str, str, set[str]]], every: frozenset[PortSpec]
) -> tuple[tuple[Node, ...], list[Edge]]:
    nodes = []
    for key, (namespace, labels, pods) in sorted(sets.items()):
        only = next(iter(pods)).split("/", 1)[1] if len(pods) == 1 else ""
        nodes.append(
            Node(
                id=key,
                namespace=namespace,
                label=only or f"{labels} ×{len(pods)}",
                members=tuple(sorted(pods)),
            )
        )
    edges = [
        _diff_edge(
            kind,
            (_set_id(pair.source), _set_id(pair.destination)),
            _expand(group.ports),
            pair.connections * len(_expand(group.ports)),
            group.policies,
            every,
        )
        for kind, group in entries
        for pair in group.pairs
    ]
    return tuple(nodes), edges


def _namespace_diff_graph(
    entries: _Entries, sets: dict[str, tuple[str, str, set[str]]], every: frozenset[PortSpec]
) -> tuple[tuple[Node, ...], list[Edge]]:
    members: dict[str, set[str]] = {}
    for namespace, _, pods in sets.values():
        members.setdefault(namespace, set()).update(pods)
    nodes = namespace_nodes(members)
    merged: dict[tuple[EdgeKind, str, str], tuple[frozenset[PortSpec], int, set[str]]] = {}
    for kind, group in entries:
        ports, count, policies = merged.get(
            (kind, group.from_namespace, group.to_namespace), (frozenset(), 0, set())
        )
        merged[(kind, group.from_namespace, group.to_namespace)] = (
            ports | _expand(group.ports),
            count + group.connections,
            policies | set(group.policies),
        )
    edges = [
        _diff_edge(kind, (a, b), ports, count, sorted(policies), every)
        for (kind, a, b), (ports, count, policies) in merged.items()
    ]
    return nodes, edges


def diff_graph(report: DiffReport, detail: Detail | None = None) -> Graph:
    """Opened and closed connections: a node per label set (as the grouped table has them), or
    per namespace past GROUP_LIMIT label sets; edges name ports, connections and policies."""
    entries: _Entries = [(EdgeKind.opened, g) for g in report.opened]
    entries += [(EdgeKind.closed, g) for g in report.closed]
    sets: dict[str, tuple[str, str, set[str]]] = {}
    for _, group in entries:
        for pair in group.pairs:
            for side in (pair.source, pair.destination):
                sets.setdefault(_set_id(side), (side.namespace, side.labels.render(), set()))
                sets[_set_id(side)][2].update(side.pods)
    if detail is None:
        detail = Detail.groups if len(sets) <= GROUP_LIMIT else Detail.namespaces
    build = _namespace_diff_graph if detail is Detail.namespaces else _label_set_graph
    nodes, edges = build(entries, sets, _expand(report.ports))
    opened = sum(g.connections for g in report.opened)
    closed = sum(g.connections for g in report.closed)
    title = f"podwall diff: {opened} connections opened (green), {closed} closed (red, dashed)"
    return Graph.build(title, detail, nodes, edges)
