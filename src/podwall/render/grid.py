"""One port's connectivity matrix as a plain SVG heatmap, drawn by podwall itself.

Pure and deterministic; no matplotlib, no script, no style sheet, no reference outside the
document (colours are presentation attributes, so a page's Content-Security-Policy never
blocks them). Every text from the input is escaped, so the element is safe to inline in HTML.

Rows are sources, columns destinations, pods grouped by namespace (in the order given; callers
pass pods sorted by `ns/name`). Up to `GRID_POD_LIMIT` pods there is one cell per pod pair, each
carrying `data-from`, `data-to` and `data-allowed` ("true"/"false"), so a script or a browser
test can find any cell; a pod's cell with itself is always allowed and drawn paler. Past the
limit, one cell per namespace pair is shaded by the share of allowed pod pairs, with
`data-allowed` the allowed pairs and `data-pairs` all of them. The root `<svg>` says which
(`data-detail="pods"|"namespaces"`).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import numpy as np

from podwall.render.layout import SVG_NAMESPACE

__all__ = ["GRID_COLORS", "GRID_POD_LIMIT", "namespace_spans", "render_grid_svg"]

GRID_POD_LIMIT = 120  # one cell per pod pair up to here (14,400 cells)
GRID_COLORS = {"allowed": "#5cb85c", "denied": "#d9534f", "self": "#b9e0b9", "some": "#f3e3a0"}
_TITLED_UP_TO = 40  # pods; beyond, cells carry no tooltip (the document would swell)
CELL = 12.0
BIG_CELL = 16.0  # for a few pods
NS_CELL = 28.0
FONT = 10
CHAR_W = 6.0
MARGIN = 8.0
TITLE_H = 22.0
BAND_H = 16.0  # the row of namespace names above the columns
LEGEND_H = 26.0


def _f(value: float) -> str:
    return f"{value:.1f}"


def namespace_spans(keys: Sequence[str]) -> list[tuple[str, int, int]]:
    """(namespace, first index, end index) of each run of one namespace."""
    spans: list[tuple[str, int, int]] = []
    for i, key in enumerate(keys):
        ns = key.split("/", 1)[0]
        if spans and spans[-1][0] == ns:
            spans[-1] = (ns, spans[-1][1], i + 1)
        else:
            spans.append((ns, i, i + 1))
    return spans


def _mix(share: float) -> str:
    """Denied red at 0, allowed green at 1; in between, from pale yellow (a few pairs) to
    green (most), so that "some" never looks like "none"."""
    if share <= 0:
        return GRID_COLORS["denied"]
    low, high = GRID_COLORS["some"], GRID_COLORS["allowed"]
    parts = [
        round(int(low[k : k + 2], 16) * (1 - share) + int(high[k : k + 2], 16) * share)
        for k in (1, 3, 5)
    ]
    return "#" + "".join(f"{p:02x}" for p in parts)


def _legend(y: float, x: float, detail: str) -> str:
    items = (
        [("allowed", "allowed"), ("denied", "denied"), ("self", "a pod with itself")]
        if detail == "pods"
        else [("allowed", "every pod pair allowed"), ("some", "some"), ("denied", "none")]
    )
    parts = []
    for kind, words in items:
        parts.append(
            f'<rect x="{_f(x)}" y="{_f(y)}" width="10" height="10" fill="{GRID_COLORS[kind]}"/>'
            f'<text x="{_f(x + 14)}" y="{_f(y + 5)}" dominant-baseline="middle" '
            f'font-size="{FONT}">{escape(words)}</text>'
        )
        x += 24 + CHAR_W * len(words)
    return '<g class="legend">' + "".join(parts) + "</g>"


def _frame(
    title: str, labels: Sequence[str], spans: list[tuple[str, int, int]], cell: float,
    detail: str,
) -> tuple[list[str], float, float, str]:
    """Labels, namespace bands and separators around a grid of len(labels) square cells:
    (svg parts, grid left, grid top, the document's opening tag)."""
    n = len(labels)
    ns_w = CHAR_W * max((len(ns) for ns, _, _ in spans), default=1) + 12 if detail == "pods" else 0
    name_w = CHAR_W * max((len(t) for t in labels), default=1) + 8
    x0 = MARGIN + ns_w + name_w
    y0 = MARGIN + TITLE_H + (BAND_H if detail == "pods" else 0) + name_w
    width = max(x0 + n * cell + MARGIN, MARGIN + CHAR_W * (len(title) + 2), 320.0)
    height = y0 + n * cell + LEGEND_H + MARGIN
    opening = (
        f'<svg xmlns="{SVG_NAMESPACE}" class="heatmap" data-detail="{detail}" '
        f'data-size="{n}" viewBox="0 0 {_f(width)} {_f(height)}" width="{_f(width)}" '
        f'height="{_f(height)}" font-family="sans-serif" role="img" '
        f'aria-label="{escape(title)}">'
    )
    parts = [
        f"<title>{escape(title)}</title>",
        f'<text class="title" x="{_f(MARGIN)}" y="{_f(MARGIN + 12)}" font-size="{FONT + 2}" '
        f'font-weight="bold">{escape(title)}</text>',
    ]
    for i, text in enumerate(labels):
        middle = i * cell + cell / 2
        parts.append(
            f'<text class="row-label" x="{_f(x0 - 4)}" y="{_f(y0 + middle)}" '
            f'text-anchor="end" dominant-baseline="middle" font-size="{FONT}">'
            f"{escape(text)}</text>"
            f'<text class="column-label" transform="translate({_f(x0 + middle)} {_f(y0 - 4)}) '
            f'rotate(-90)" dominant-baseline="middle" font-size="{FONT}">{escape(text)}</text>'
        )
    if detail == "pods":
        parts += _bands(spans, x0, y0, cell)
    parts.append(_legend(y0 + n * cell + 10, MARGIN, detail))
    return parts, x0, y0, opening


def _bands(spans: list[tuple[str, int, int]], x0: float, y0: float, cell: float) -> list[str]:
    """Namespace names beside the rows and above the columns."""
    parts = []
    for k, (ns, start, end) in enumerate(spans):
        tip = f"<title>{escape(ns)}</title>"
        fits = (end - start) * cell >= CHAR_W * len(ns) + 4  # else the rows name it
        above = (
            f'<text x="{_f(x0 + start * cell + 2)}" y="{_f(MARGIN + TITLE_H + 7)}" '
            f'dominant-baseline="middle" font-size="{FONT}" font-weight="bold" '
            f'fill="#475569">{escape(ns)}</text>'
            if fits else ""
        )
        parts.append(
            f'<g class="namespace" data-namespace="{escape(ns)}">'
            f'<rect x="{_f(x0 + start * cell)}" y="{_f(MARGIN + TITLE_H)}" '
            f'width="{_f((end - start) * cell)}" height="{BAND_H - 2:g}" '
            f'fill="{"#e2e8f0" if k % 2 else "#f1f5f9"}">{tip}</rect>{above}'
            f'<text x="{_f(MARGIN)}" y="{_f(y0 + start * cell + cell / 2)}" '
            f'dominant-baseline="middle" font-size="{FONT}" font-weight="bold" '
            f'fill="#475569">{escape(ns)}{tip}</text></g>'
        )
    return parts


def _separators(
    spans: list[tuple[str, int, int]], x0: float, y0: float, cell: float, n: int
) -> list[str]:
    """Lines between namespaces, drawn over the cells."""
    parts = []
    for _, start, _ in spans[1:]:
        at = start * cell
        parts.append(
            f'<path class="separator" d="M{_f(x0)} {_f(y0 + at)}H{_f(x0 + n * cell)}'
            f'M{_f(x0 + at)} {_f(y0)}V{_f(y0 + n * cell)}" stroke="#1f2933" stroke-width="1.2"/>'
        )
    return parts


def _pod_cells(
    keys: Sequence[str], allowed: np.ndarray, x0: float, y0: float, cell: float
) -> list[str]:
    titled = len(keys) <= _TITLED_UP_TO
    esc = [escape(k) for k in keys]
    cells = ['<g class="cells" stroke="#ffffff" stroke-width="0.5">']
    for i, src in enumerate(esc):
        y = _f(y0 + i * cell)
        for j, dst in enumerate(esc):
            ok = bool(allowed[i, j])
            kind = "self" if i == j else "allowed" if ok else "denied"
            tip = f"<title>{src} → {dst}: {'allowed' if ok else 'denied'}</title>" if titled else ""
            cells.append(
                f'<rect class="cell {kind}" x="{_f(x0 + j * cell)}" y="{y}" width="{cell:g}" '
                f'height="{cell:g}" fill="{GRID_COLORS[kind]}" data-from="{src}" '
                f'data-to="{dst}" data-allowed="{"true" if ok else "false"}">{tip}</rect>'
            )
    cells.append("</g>")
    return cells


def _namespace_counts(
    spans: list[tuple[str, int, int]], allowed: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Allowed pod pairs and all pod pairs between each two namespaces, self pairs left out."""
    starts = [start for _, start, _ in spans]
    sizes = np.array([end - start for _, start, end in spans], dtype=np.int64)
    off_diagonal = allowed.copy()
    np.fill_diagonal(off_diagonal, False)
    rows = np.add.reduceat(off_diagonal, starts, axis=0, dtype=np.int64)
    counts = np.add.reduceat(rows, starts, axis=1, dtype=np.int64)
    return counts, np.outer(sizes, sizes) - np.diag(sizes)


def _namespace_cells(
    spans: list[tuple[str, int, int]], allowed: np.ndarray, x0: float, y0: float
) -> list[str]:
    counts, totals = _namespace_counts(spans, allowed)
    names = [escape(ns) for ns, _, _ in spans]
    cells = ['<g class="cells" stroke="#ffffff" stroke-width="1">']
    for a, src in enumerate(names):
        for b, dst in enumerate(names):
            count, total = int(counts[a, b]), int(totals[a, b])
            share = count / total if total else 1.0
            cells.append(
                f'<rect class="cell" x="{_f(x0 + b * NS_CELL)}" y="{_f(y0 + a * NS_CELL)}" '
                f'width="{NS_CELL:g}" height="{NS_CELL:g}" fill="{_mix(share)}" '
                f'data-from="{src}" data-to="{dst}" data-allowed="{count}" '
                f'data-pairs="{total}"><title>{src} → {dst}: {count} of {total} pod pairs '
                "allowed</title></rect>"
            )
    cells.append("</g>")
    return cells


def render_grid_svg(keys: Sequence[str], allowed: np.ndarray, *, title: str) -> str:
    """An SVG document (no XML prolog, so it also inlines in HTML) of `allowed[i, j]`: may
    `keys[i]` (`ns/name`) connect to `keys[j]`."""
    if allowed.shape != (len(keys), len(keys)):
        raise ValueError("the grid must be square, one row and column per pod")
    spans = namespace_spans(keys)
    if len(keys) <= GRID_POD_LIMIT:
        labels = [k.split("/", 1)[-1] for k in keys]
        cell = BIG_CELL if len(keys) <= _TITLED_UP_TO else CELL
        parts, x0, y0, opening = _frame(title, labels, spans, cell, "pods")
        parts += _pod_cells(keys, allowed, x0, y0, cell)
        parts += _separators(spans, x0, y0, cell, len(keys))
    else:
        labels = [ns for ns, _, _ in spans]
        parts, x0, y0, opening = _frame(title, labels, spans, NS_CELL, "namespaces")
        parts += _namespace_cells(spans, allowed, x0, y0)
    return "\n".join([opening, *parts, "</svg>"]) + "\n"
