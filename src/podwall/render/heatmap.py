"""The matrix as a picture: one heatmap per port, pods grouped by namespace."""

from __future__ import annotations

import io

import matplotlib
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure  # no pyplot: no global state, no display needed

from podwall.semantics import Matrix

__all__ = ["render_heatmap"]

_COLORS = ListedColormap(["#d9534f", "#5cb85c"])  # denied, allowed


def _namespace_spans(pods: tuple[str, ...]) -> list[tuple[str, int, int]]:
    spans: list[tuple[str, int, int]] = []
    for i, key in enumerate(pods):
        ns = key.split("/", 1)[0]
        if spans and spans[-1][0] == ns:
            spans[-1] = (ns, spans[-1][1], i + 1)
        else:
            spans.append((ns, i, i + 1))
    return spans


def render_heatmap(matrix: Matrix, fmt: str) -> bytes:
    """PNG or SVG bytes; rows are sources, columns destinations, green means allowed."""
    n = len(matrix.pods)
    ports = matrix.ports or ()
    side = min(max(4.0, 0.28 * n + 2.5), 30.0)
    fig = Figure(figsize=(side * max(1, len(ports)), side))
    axes = fig.subplots(1, max(1, len(ports)), squeeze=False)
    spans = _namespace_spans(matrix.pods)
    show_names = n <= 60
    for ax, spec in zip(axes[0], ports, strict=False):
        ax.imshow(matrix.allowed[spec.key], cmap=_COLORS, vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(f"{spec.key}: row may connect to column", fontsize=10)
        for _, start, _ in spans[1:]:
            ax.axhline(start - 0.5, color="black", linewidth=1.2)
            ax.axvline(start - 0.5, color="black", linewidth=1.2)
        if show_names:
            ax.set_xticks(range(n), matrix.pods, rotation=90, fontsize=7)
            ax.set_yticks(range(n), matrix.pods, fontsize=7)
        else:
            centers = [(start + end - 1) / 2 for _, start, end in spans]
            ax.set_xticks(centers, [ns for ns, _, _ in spans], rotation=90, fontsize=7)
            ax.set_yticks(centers, [ns for ns, _, _ in spans], fontsize=7)
        ax.set_xlabel("destination")
        ax.set_ylabel("source")
    fig.tight_layout()
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {}  # same input, same bytes
    with matplotlib.rc_context({"svg.hashsalt": "podwall"}):  # stable SVG element ids
        fig.savefig(buffer, format=fmt, dpi=110, bbox_inches="tight", metadata=metadata)
    return buffer.getvalue()
