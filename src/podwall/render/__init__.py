"""Presenting results: rich views for people, plain data for tools, pictures for eyes.

`heatmap` and `page` are not imported here: matplotlib loads only when a picture is drawn. The
graph (`graph`, `graph_diff`: the model and DOT; `layout`: its SVG drawing) needs no matplotlib,
nor does `grid` (one port's matrix as a plain SVG heatmap with hooks for scripts, for the console).
"""

from podwall.render.data import (
    decision_csv,
    decision_data,
    dump,
    explanation_csv,
    explanation_data,
    matrix_data,
    write_matrix,
)
from podwall.render.graph import Detail, Edge, EdgeKind, Graph, Node, matrix_graph, render_dot
from podwall.render.graph_diff import diff_graph
from podwall.render.grid import render_grid_svg
from podwall.render.layout import render_graph_svg
from podwall.render.text import (
    decision_text,
    decision_view,
    declared_ports_view,
    explanation_text,
    explanation_view,
    isolation_view,
    matrix_view,
)

__all__ = [
    "Detail",
    "Edge",
    "EdgeKind",
    "Graph",
    "Node",
    "decision_csv",
    "decision_data",
    "decision_text",
    "decision_view",
    "declared_ports_view",
    "diff_graph",
    "dump",
    "explanation_csv",
    "explanation_data",
    "explanation_text",
    "explanation_view",
    "isolation_view",
    "matrix_data",
    "matrix_graph",
    "matrix_view",
    "render_dot",
    "render_graph_svg",
    "render_grid_svg",
    "write_matrix",
]
