"""`-o html`: one self-contained page with the heatmap and the graph, viewable with no network.

Everything is inline: the CSS, matplotlib's heatmap SVG (prolog, metadata and namespace URLs
removed, element ids prefixed so several drawings share a page) and podwall's own graph SVG
(`render.layout`). There is no script: the port picker is radio buttons and CSS. A
Content-Security-Policy forbids every fetch, so even a stray reference could not load anything.
Every text from the input is escaped (html.escape). Equal input gives equal bytes.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from html import escape

import numpy as np

from podwall.diff import ChangeGroup, Changes, DiffReport, PodSet, diff_notes, diff_summary
from podwall.render.graph import EDGE_COLORS, EdgeKind, matrix_graph
from podwall.render.graph_diff import diff_graph
from podwall.render.heatmap import CHANGE_COLORS, render_changes_heatmap, render_heatmap
from podwall.render.layout import render_graph_svg
from podwall.semantics import Matrix, PortSpec

__all__ = ["changed_cells", "render_diff_page", "render_matrix_page"]

_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
_EDGE_LABELS_UP_TO = 40  # a diff graph writes its edge labels when it has this many edges or fewer
_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:1.5rem;color:#1f2933}
h1{font-size:1.4rem;margin:0 0 .5rem}h2{font-size:1.1rem;margin:1.6rem 0 .5rem}
.summary{font-weight:bold}.notes{margin:.3rem 0;padding-left:1.2rem}
.legend{display:flex;flex-wrap:wrap;gap:.4rem 1.4rem;font-size:.9rem;margin:.8rem 0}
.swatch,.dot,.line{display:inline-block;vertical-align:middle;margin-right:.35em}
.swatch{width:.9em;height:.9em;border:1px solid #999}
.dot{width:.75em;height:.75em;border-radius:50%;border:1.5px solid #334155}
.line{width:2.2em;border-top:2px solid}
.picker>input{margin-left:.9rem}.picker>label{cursor:pointer}
.view{display:none;margin-top:.8rem}
.pictures{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start}
figure{margin:0;overflow:auto;max-width:100%;max-height:92vh}
svg.heatmap{max-width:100%;height:auto}
figcaption{font-size:.85rem;color:#52606d;margin-top:.3rem}
table{border-collapse:collapse;font-size:.9rem}
th,td{border:1px solid #cbd2d9;padding:.25rem .5rem;text-align:left;vertical-align:top}
td.num{text-align:right}
tr.opened td:first-child{color:#2e7d32;font-weight:bold}
tr.closed td:first-child{color:#c62828;font-weight:bold}
""".strip()


def _inline_svg(svg: bytes, ident: str) -> str:
    """Matplotlib's SVG as an element of the page: no XML prolog, DOCTYPE, metadata or
    namespace URLs (HTML needs none), ids prefixed with `ident`, its stylesheet scoped to it."""
    text = svg.decode("utf-8")
    text = text[text.index("<svg") :]
    text = re.sub(r"\s*<metadata>.*?</metadata>", "", text, flags=re.DOTALL)
    text = re.sub(r'\s+xmlns(?::\w+)?="[^"]*"', "", text)
    text = re.sub(r'\bid="([^"]+)"', rf'id="{ident}-\1"', text)
    text = re.sub(r"url\(#([^)]+)\)", rf"url(#{ident}-\1)", text)
    text = re.sub(r'href="#([^"]+)"', rf'href="#{ident}-\1"', text)
    text = text.replace('<style type="text/css">*{', f'<style type="text/css">#{ident} *{{')
    return text.replace("<svg", f'<svg id="{ident}" class="heatmap"', 1).strip()


def _legend(items: Sequence[str]) -> str:
    return '<div class="legend">' + "".join(f"<span>{i}</span>" for i in items) + "</div>"


def _swatch(color: str, text: str) -> str:
    return f'<span class="swatch" style="background:{color}"></span>{escape(text)}'


def _line(kind: EdgeKind, text: str) -> str:
    style = "dashed" if kind is EdgeKind.closed else "solid"
    return (
        f'<span class="line" style="border-top-style:{style};border-color:'
        f'{EDGE_COLORS[kind]}"></span>{escape(text)}'
    )


def _nodes_legend() -> list[str]:
    return [
        '<span class="dot" style="background:#ffffff"></span>a pod (grey circle: its namespace)',
        '<span class="dot" style="background:#dfe7f2"></span>pods that behave alike, '
        "or a namespace (hover for the pods)",
    ]


def _picker(views: Sequence[tuple[str, str]]) -> list[str]:
    """Radio buttons, one per view, and the views: CSS shows the checked one's."""
    parts = ['<div class="picker">', "Port:"]
    parts += [
        f'<input type="radio" name="port" id="pick-{i}"{" checked" * (i == 0)}>'
        f'<label for="pick-{i}">{escape(name)}</label>'
        for i, (name, _) in enumerate(views)
    ]
    parts += [
        f'<section class="view" id="view-{i}">{body}</section>' for i, (_, body) in enumerate(views)
    ]
    return [*parts, "</div>"]


def _document(title: str, body: Sequence[str], views: int) -> str:
    shown = "".join(f"#pick-{i}:checked~#view-{i}{{display:block}}" for i in range(views))
    head = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title>",
        f"<style>\n{_CSS}\n{shown}\n</style>",
        "</head>",
        "<body>",
    ]
    return "\n".join([*head, *body, "</body>", "</html>", ""])


def _figure(svg: str, caption: str) -> str:
    return f"<figure>{svg}<figcaption>{escape(caption)}</figcaption></figure>"


# ---- the matrix --------------------------------------------------------------------------------


def _matrix_view(whole: Matrix, spec: PortSpec, index: int) -> str:
    """One port: the heatmap and the graph side by side."""
    matrix = Matrix(pods=whole.pods, ports=(spec,), allowed={spec.key: whole.allowed[spec.key]})
    n = len(matrix.pods)
    allowed = int(matrix.allowed[spec.key].sum()) - n  # a pod always reaches itself
    graph = matrix_graph(matrix)
    return "\n".join(
        [
            f"<p>{allowed} of {n * (n - 1)} ordered pairs of distinct pods may connect on "
            f"{escape(spec.key)}.</p>",
            '<div class="pictures">',
            _figure(
                _inline_svg(render_heatmap(matrix, "svg"), f"heatmap-{index}"),
                "Heatmap: may the row connect to the column?",
            ),
            _figure(
                render_graph_svg(graph, ident=f"graph-{index}"),
                f"Graph, one node per {graph.detail.value.rstrip('s')}: an arrow for every "
                "allowed connection between distinct pods (hover for details).",
            ),
            "</div>",
        ]
    )


def render_matrix_page(matrix: Matrix, *, title: str = "podwall matrix") -> str:
    """The matrix as a page: per port (picked with radio buttons), its heatmap and graph."""
    namespaces = {key.split("/", 1)[0] for key in matrix.pods}
    body = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="summary">{len(matrix.pods)} pods in {len(namespaces)} namespaces, '
        f"{len(matrix.ports)} ports.</p>",
        _legend(
            [
                _swatch("#5cb85c", "allowed"),
                _swatch("#d9534f", "denied"),
                _line(EdgeKind.allowed, "may connect (arrow: source to destination)"),
                *_nodes_legend(),
            ]
        ),
    ]
    views = [(s.key, _matrix_view(matrix, s, i)) for i, s in enumerate(matrix.ports) if matrix.pods]
    if views:
        body += _picker(views)
    else:
        body.append(
            "<p>Nothing to draw: no pods, or no ports (no pod declares one; give --port).</p>"
        )
    return _document(title, body, len(views))


# ---- a diff ------------------------------------------------------------------------------------


def changed_cells(changes: Changes) -> tuple[tuple[str, ...], dict[str, np.ndarray]]:
    """The pods some change touches (sorted), and per port that changed their cells coded 0
    unchanged, 1 opened, 2 closed. Read from the sparse unit-pair cells, and only touched pods
    are expanded: a change is usually narrow, a cluster need not be."""
    count = max(changes.unit_count, 1)
    touched = np.zeros(changes.unit_count, dtype=bool)
    for flat in (*changes.opened_cells.values(), *changes.closed_cells.values()):
        touched[flat // count] = True
        touched[flat % count] = True
    keys = changes.pod_keys
    units = np.flatnonzero(touched)  # compact index of each touched unit
    compact = np.full(changes.unit_count, -1, dtype=np.intp)
    compact[units] = np.arange(len(units))
    chosen = sorted(np.flatnonzero(touched[changes.unit_of_pod]).tolist(), key=keys.__getitem__)
    of_pod = compact[changes.unit_of_pod[np.array(chosen, dtype=np.intp)]]
    grids: dict[str, np.ndarray] = {}
    for spec in changes.ports:
        codes = np.zeros((len(units), len(units)), dtype=np.int8)
        for code, cells in ((1, changes.opened_cells), (2, changes.closed_cells)):
            flat = cells.get(spec.key, np.zeros(0, dtype=np.intp))
            codes[compact[flat // count], compact[flat % count]] = code
        if codes.any():
            expanded = codes[np.ix_(of_pod, of_pod)]
            np.fill_diagonal(expanded, 0)  # a pod never changes towards itself
            grids[spec.key] = expanded
    return tuple(keys[i] for i in chosen), grids


def _pod_set(pods: PodSet) -> str:
    return (
        f'<td title="{escape(" ".join(pods.pods))}">{escape(pods.labels.render())} '
        f"×{len(pods.pods)}</td>"
    )


def _table(report: DiffReport) -> list[str]:
    head = (
        "change",
        "from ns",
        "from pods (labels ×count)",
        "to ns",
        "to pods",
        "ports",
        "connections",
        "policies",
    )
    rows = ["<table>", "<tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr>"]
    groups: list[tuple[str, ChangeGroup]] = [("opened", g) for g in report.opened]
    groups += [("closed", g) for g in report.closed]
    for kind, group in groups:
        rows += [
            f'<tr class="{kind}"><td>{kind}</td><td>{escape(group.from_namespace)}</td>'
            f"{_pod_set(pair.source)}<td>{escape(group.to_namespace)}</td>"
            f"{_pod_set(pair.destination)}<td>{escape(', '.join(group.ports))}</td>"
            f'<td class="num">{pair.connections}</td>'
            f"<td>{escape(', '.join(group.policies) or '-')}</td></tr>"
            for pair in group.pairs
        ]
    return [*rows, "</table>"]


def _diff_head(title: str, report: DiffReport) -> list[str]:
    """Title, summary line, notes (what the cells do not cover) and the legend."""
    body = [f"<h1>{escape(title)}</h1>", f'<p class="summary">{escape(diff_summary(report))}.</p>']
    notes = diff_notes(report)
    if notes:
        body += ['<ul class="notes">', *(f"<li>{escape(n)}</li>" for n in notes), "</ul>"]
    legend = [
        _swatch(CHANGE_COLORS[1], "opened"),
        _swatch(CHANGE_COLORS[2], "closed"),
        _swatch(CHANGE_COLORS[0], "unchanged"),
        _line(EdgeKind.opened, "opened"),
        _line(EdgeKind.closed, "closed"),
        '<span class="dot" style="background:#ffffff"></span>pods of one label set',
    ]
    return [*body, _legend(legend)]


def render_diff_page(changes: Changes, report: DiffReport, *, title: str = "podwall diff") -> str:
    """The diff as a page: changed cells per port (heatmap), the graph of changed connections,
    and the grouped table."""
    body = _diff_head(title, report)
    pods, grids = changed_cells(changes)
    if not grids:
        body.append("<p>No connection changes.</p>")
        return _document(title, body, 0)
    views = [
        (
            key,
            _figure(
                _inline_svg(render_changes_heatmap(pods, {key: grid}, "svg"), f"heatmap-{i}"),
                "Changed cells among the pods a change touches (row to column).",
            ),
        )
        for i, (key, grid) in enumerate(grids.items())
    ]
    graph = diff_graph(report)
    labels = len(graph.edges) <= _EDGE_LABELS_UP_TO
    body += [
        "<h2>Changed cells</h2>",
        *_picker(views),
        "<h2>Changed connections</h2>",
        _figure(
            render_graph_svg(graph, ident="graph-diff", edge_labels=labels),
            "Green: opened; red, dashed: closed; labels give ports, connections and "
            "the changed policies selecting the pods (hover for details).",
        ),
        "<h2>Grouped changes</h2>",
        *_table(report),
    ]
    return _document(title, body, len(views))
