"""Presenting results: rich views for people, plain data for tools, heatmaps for eyes.

`heatmap` is not imported here: matplotlib loads only when a picture is drawn.
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
from podwall.render.text import (
    decision_view,
    declared_ports_view,
    explanation_view,
    isolation_view,
    matrix_view,
)

__all__ = [
    "decision_csv",
    "decision_data",
    "decision_view",
    "declared_ports_view",
    "dump",
    "explanation_csv",
    "explanation_data",
    "explanation_view",
    "isolation_view",
    "matrix_data",
    "matrix_view",
    "write_matrix",
]
