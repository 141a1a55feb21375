"""The matrix as a picture: one heatmap per port, pods grouped by namespace.

Also the diff's picture: the same grid coloured by change (unchanged, opened, closed).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib
import numpy as np
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

from podwall.render.grid import namespace_spans
from podwall.semantics import Matrix

__all__ = ["CHANGE_COLORS", "render_changes_heatmap", "render_heatmap"]

_COLORS = ListedColormap(["#d9534f", "#5cb85c"])  # denied, allowed
CHANGE_COLORS = ("#eeeeee", "#5cb85c", "#d9534f")  # cell codes 0 unchanged, 1 opened, 2 closed


def _label_axes(ax: Axes, pods: tuple[str, ...], spans: list[tuple[str, int, int]]) -> None:
    """Namespace borders, and pod names (or namespace names, past 60 pods) on both axes."""
    n = len(pods)
    for _, start, _ in spans[1:]:
        ax.axhline(start - 0.5, color="black", linewidth=1.2)
        ax.axvline(start - 0.5, color="black", linewidth=1.2)
    if n <= 60:
        ax.set_xticks(range(n), pods, rotation=90, fontsize=7)
        ax.set_yticks(range(n), pods, fontsize=7)
    else:
        centers = [(start + end - 1) / 2 for _, start, end in spans]
        ax.set_xticks(centers, [ns for ns, _, _ in spans], rotation=90, fontsize=7)
        ax.set_yticks(centers, [ns for ns, _, _ in spans], fontsize=7)
    ax.set_xlabel("destination")
    ax.set_ylabel("source")


def _draw(
    pods: tuple[str, ...],
    panels: Sequence[tuple[str, np.ndarray]],
    colors: ListedColormap,
    fmt: str,
) -> bytes:
    """One panel per (title, grid of colour codes); deterministic bytes."""
    n = len(pods)
    side = min(max(4.0, 0.28 * n + 2.5), 30.0)
    fig = Figure(figsize=(side * max(1, len(panels)), side))
    axes = fig.subplots(1, max(1, len(panels)), squeeze=False)
    spans = namespace_spans(pods)
    for ax, (title, grid) in zip(axes[0], panels, strict=False):
        ax.imshow(grid, cmap=colors, vmin=0, vmax=colors.N - 1, interpolation="nearest")
        ax.set_title(title, fontsize=10)
        _label_axes(ax, pods, spans)
    fig.tight_layout()
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}  # same input, same bytes
    with matplotlib.rc_context({"svg.hashsalt": "podwall"}):  # stable SVG element ids
        fig.savefig(buffer, format=fmt, dpi=110, bbox_inches="tight", metadata=metadata)
    return buffer.getvalue()


def render_heatmap(matrix: Matrix, fmt: str) -> bytes:
    """PNG or SVG bytes; rows are sources, columns destinations, green means allowed."""
    panels = [
        (f"{spec.key}: row may connect to column", matrix.allowed[spec.key])
        for spec in matrix.ports or ()
    ]
    return _draw(matrix.pods, panels, _COLORS, fmt)


def render_changes_heatmap(pods: tuple[str, ...], grids: dict[str, np.ndarray], fmt: str) -> bytes:
    """PNG or SVG bytes of changed cells, a panel per port key: `grids[key][i, j]` is 0
    (unchanged), 1 (opened) or 2 (closed) for pods[i] -> pods[j]."""
    panels = [(f"{key}: change from row to column", grid) for key, grid in grids.items()]
    return _draw(pods, panels, ListedColormap(list(CHANGE_COLORS)), fmt)
