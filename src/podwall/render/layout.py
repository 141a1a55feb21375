"""A `Graph` drawn as inline SVG by podwall itself, so a page needs neither Graphviz nor a script.

Pure and deterministic. Namespaces are circles on one ring, in name order, each with its nodes
on a smaller ring inside (a lone node sits at the centre); at namespace detail each namespace is
a single node. Names sit outside: a namespace's above its circle (no node sits at a ring's
top), a node's away from its ring's centre. Edges bend to their right, so A->B and B->A stay
apart; a node's own loop (pods of one group) points inward, away from its label. Hovering shows
each element's details (an SVG <title>), so labels can stay short.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from podwall.render.graph import EDGE_COLORS, Detail, Edge, EdgeKind, Graph, Node, abbreviate

__all__ = ["SVG_NAMESPACE", "render_graph_svg"]

NODE_R = 6.0
GROUP_R = 9.0  # a node standing for several pods
ARC = 44.0  # room along a namespace ring per node
LABELLED_ARC = 160.0  # the same when edges carry labels, which need room between the nodes
LABEL_CHARS = 26  # longer labels are cut in the drawing; the tooltip has them whole
CHAR_W = 6.0  # px per character at FONT px
FONT = 11
GAP = 28.0  # between namespaces, labels included
LOOP = 38.0  # how far a node's own loop reaches
SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # a name, never fetched


@dataclass(frozen=True, slots=True)
class _Place:
    x: float
    y: float
    r: float
    out: tuple[float, float]  # unit vector away from the namespace centre: where the label goes


@dataclass(frozen=True, slots=True)
class _Ring:
    x: float
    y: float
    radius: float


def _f(value: float) -> str:
    return f"{value:.1f}".replace("-0.0", "0.0")


def _cut(text: str) -> str:
    return text if len(text) <= LABEL_CHARS else text[: LABEL_CHARS - 1] + "…"


def _radius(node: Node) -> float:
    return GROUP_R if len(node.members) > 1 else NODE_R


def _big_ring(extents: Sequence[float], gap: float) -> float:
    """Radius of the ring of namespace centres: neighbours, labels included, must not touch."""
    k = len(extents)
    if k < 2:
        return 0.0
    needs = [extents[i] + extents[(i + 1) % k] + gap for i in range(k)]
    return max(needs) / 2 if k == 2 else max(needs) / (2 * math.sin(math.pi / k))


def _layout(graph: Graph, arc: float) -> tuple[dict[str, _Ring], dict[str, _Place], float]:
    """Namespace rings, node places, and the half-width of the square that holds them."""
    by_ns = {ns: [n for n in graph.nodes if n.namespace == ns] for ns in graph.namespaces}
    longest = max((len(_cut(n.label)) for n in graph.nodes), default=0)
    label_room = CHAR_W * longest + 14
    inner = {
        ns: 0.0 if len(m) == 1 else max(len(m) * arc / math.tau, 24.0) for ns, m in by_ns.items()
    }
    radius = {ns: inner[ns] + GROUP_R + 12 for ns in by_ns}
    names = list(by_ns)
    big = _big_ring([radius[ns] + label_room for ns in names], GAP + arc)
    rings: dict[str, _Ring] = {}
    places: dict[str, _Place] = {}
    for i, ns in enumerate(names):
        theta = -math.pi / 2 + math.tau * i / len(names)
        ring = _Ring(big * math.cos(theta), big * math.sin(theta), radius[ns])
        rings[ns] = ring
        for j, node in enumerate(by_ns[ns]):
            phi = -math.pi / 2 + math.tau * (j + 0.5) / len(by_ns[ns])  # none at the top
            out = (math.cos(phi), math.sin(phi)) if inner[ns] else (0.0, 1.0)
            places[node.id] = _Place(
                ring.x + inner[ns] * out[0], ring.y + inner[ns] * out[1], _radius(node), out
            )
    half = max((abs(r.x) + r.radius + label_room for r in rings.values()), default=60.0)
    half = max(half, max((abs(r.y) + r.radius + label_room for r in rings.values()), default=60))
    return rings, places, half + 24


def _edge_path(a: _Place, b: _Place) -> tuple[str, float, float]:
    """An arc from a to b bending to its right, trimmed to the node circles; and its midpoint."""
    if a is b:
        ox, oy = (-a.out[0], -a.out[1]) if a.out != (0.0, 1.0) else (1.0, 0.0)  # off the label
        turn = 0.55
        c1 = (ox * math.cos(turn) - oy * math.sin(turn), ox * math.sin(turn) + oy * math.cos(turn))
        c2 = (ox * math.cos(turn) + oy * math.sin(turn), -ox * math.sin(turn) + oy * math.cos(turn))
        start = (a.x + a.r * c1[0], a.y + a.r * c1[1])
        end = (a.x + (a.r + 2) * c2[0], a.y + (a.r + 2) * c2[1])
        p1 = (a.x + LOOP * c1[0], a.y + LOOP * c1[1])
        p2 = (a.x + LOOP * c2[0], a.y + LOOP * c2[1])
        path = (
            f"M{_f(start[0])} {_f(start[1])} C{_f(p1[0])} {_f(p1[1])} "
            f"{_f(p2[0])} {_f(p2[1])} {_f(end[0])} {_f(end[1])}"
        )
        return path, a.x + 0.8 * LOOP * ox, a.y + 0.8 * LOOP * oy
    dx, dy = b.x - a.x, b.y - a.y
    length = math.hypot(dx, dy) or 1.0
    bend = min(0.18 * length, 80.0)
    cx, cy = (a.x + b.x) / 2 - dy / length * bend, (a.y + b.y) / 2 + dx / length * bend

    def toward(p: _Place, gap: float) -> tuple[float, float]:
        ux, uy = cx - p.x, cy - p.y
        norm = math.hypot(ux, uy) or 1.0
        return p.x + ux / norm * gap, p.y + uy / norm * gap

    (sx, sy), (ex, ey) = toward(a, a.r), toward(b, b.r + 2)
    path = f"M{_f(sx)} {_f(sy)} Q{_f(cx)} {_f(cy)} {_f(ex)} {_f(ey)}"
    return path, 0.25 * a.x + 0.5 * cx + 0.25 * b.x, 0.25 * a.y + 0.5 * cy + 0.25 * b.y


def _markers(ident: str, kinds: Sequence[EdgeKind]) -> list[str]:
    return [
        f'<marker id="{ident}-{kind.value}" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="7" markerHeight="7" orient="auto">'
        f'<path d="M0 0L10 5L0 10z" fill="{EDGE_COLORS[kind]}"/></marker>'
        for kind in kinds
    ]


def _edge_svg(edge: Edge, places: dict[str, _Place], ident: str, opacity: float) -> str:
    path, _, _ = _edge_path(places[edge.src], places[edge.dst])
    dash = ' stroke-dasharray="6 4"' if edge.kind is EdgeKind.closed else ""
    tip = escape(f"{edge.src} → {edge.dst}\n{edge.tooltip}")
    return (
        f'<path class="edge {edge.kind.value}" data-from="{escape(edge.src)}" '
        f'data-to="{escape(edge.dst)}" d="{path}" fill="none" '
        f'stroke="{EDGE_COLORS[edge.kind]}" stroke-width="1.4" stroke-opacity="{opacity}"{dash} '
        f'marker-end="url(#{ident}-{edge.kind.value})"><title>{tip}</title></path>'
    )


def _edge_label_svg(edge: Edge, places: dict[str, _Place]) -> str:
    _, x, y = _edge_path(places[edge.src], places[edge.dst])
    lines = edge.label.split("\n")
    spans = "".join(
        f'<tspan x="{_f(x)}" dy="{0 if i == 0 else FONT}">{escape(line)}</tspan>'
        for i, line in enumerate(lines)
    )
    top = _f(y - FONT * (len(lines) - 1) / 2)
    text = f'<text y="{top}" text-anchor="middle" font-size="{FONT - 1}"'
    return (  # a white halo first, then the text: readable over edges in any renderer
        f'<g class="edge-label">{text} fill="#ffffff" stroke="#ffffff" stroke-width="3">'
        f'{spans}</text>{text} fill="{EDGE_COLORS[edge.kind]}">{spans}</text></g>'
    )


def _node_hooks(node: Node) -> str:
    """Attributes a page's script or a browser test can find the node by: `data-node` (its id),
    `data-members` (how many pods it stands for) and, for a node that is one pod, `data-pod`."""
    hooks = f'data-node="{escape(node.id)}" data-members="{len(node.members)}"'
    if node.members == (node.id,):
        hooks += f' data-pod="{escape(node.id)}"'
    return hooks


def _node_svg(node: Node, place: _Place) -> str:
    ox, oy = place.out
    gap = place.r + 4
    anchor = "start" if ox > 0.3 else "end" if ox < -0.3 else "middle"
    baseline = "middle" if abs(ox) > 0.3 else "hanging" if oy > 0 else "auto"
    tip = escape("\n".join(abbreviate(node.members, 30)))
    fill = "#dfe7f2" if len(node.members) > 1 else "#ffffff"
    return (
        f'<g class="node" {_node_hooks(node)}>'
        f'<circle cx="{_f(place.x)}" cy="{_f(place.y)}" r="{_f(place.r)}" '
        f'fill="{fill}" stroke="#334155" stroke-width="1.2"><title>{tip}</title></circle>'
        f'<text x="{_f(place.x + ox * gap)}" y="{_f(place.y + oy * gap)}" '
        f'text-anchor="{anchor}" dominant-baseline="{baseline}" font-size="{FONT}">'
        f"{escape(_cut(node.label))}<title>{tip}</title></text></g>"
    )


def _namespace_svg(name: str, ring: _Ring) -> str:
    """A grey circle, named above (no node sits at the top of a ring, so no label is there)."""
    y = ring.y - ring.radius - 8
    return (
        f'<g class="namespace"><circle cx="{_f(ring.x)}" cy="{_f(ring.y)}" '
        f'r="{_f(ring.radius)}" fill="#f4f6f8" stroke="#9aa5b1"/>'
        f'<text x="{_f(ring.x)}" y="{_f(y)}" text-anchor="middle" dominant-baseline="middle" '
        f'font-size="{FONT + 1}" font-weight="bold" fill="#475569">{escape(name)}</text></g>'
    )


def render_graph_svg(
    graph: Graph, *, ident: str, edge_labels: bool = False, standalone: bool = False
) -> str:
    """An `<svg class="graph">` element for an HTML page. `ident` prefixes its element ids, so
    several drawings share a page; `edge_labels` writes each edge's label beside it;
    `standalone` adds the SVG namespace, for a document served as image/svg+xml."""
    xmlns = f' xmlns="{SVG_NAMESPACE}"' if standalone else ""
    if not graph.nodes:
        return (
            f'<svg class="graph"{xmlns} viewBox="0 0 240 40" width="240" height="40">'
            '<text x="8" y="24" font-size="12">nothing to draw</text></svg>'
        )
    rings, places, half = _layout(graph, LABELLED_ARC if edge_labels else ARC)
    kinds = sorted({e.kind for e in graph.edges}, key=lambda k: k.value)
    opacity = 0.9 if len(graph.edges) <= 30 else 0.6 if len(graph.edges) <= 300 else 0.3
    size = _f(2 * half)
    parts = [
        f'<svg class="graph"{xmlns} id="{ident}" viewBox="{_f(-half)} {_f(-half)} {size} {size}" '
        f'width="{size}" height="{size}" font-family="sans-serif" role="img" '
        f'aria-label="{escape(graph.title)}">',
        f"<title>{escape(graph.title)}</title>",
        "<defs>",
        *_markers(ident, kinds),
        "</defs>",
    ]
    if graph.detail is not Detail.namespaces:
        parts += [_namespace_svg(ns, rings[ns]) for ns in graph.namespaces]
    parts += [_edge_svg(e, places, ident, opacity) for e in graph.edges]
    parts += [_node_svg(n, places[n.id]) for n in graph.nodes]
    if edge_labels:
        parts += [_edge_label_svg(e, places) for e in graph.edges]
    return "\n".join([*parts, "</svg>"])
