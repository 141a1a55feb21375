"""`podwall diff`: which connections a change to the manifests opens and closes, and why."""

from podwall.diff.compare import (
    Blame,
    Changes,
    PolicyChanges,
    Units,
    blame_policies,
    compare,
    compare_policies,
    diff_ports,
)
from podwall.diff.group import (
    ChangeGroup,
    DiffReport,
    PairChange,
    PodSet,
    group_cells,
    group_changes,
    render_port_ranges,
    summarize,
)
from podwall.diff.report import diff_data, diff_markdown, diff_notes, diff_summary, diff_view

__all__ = [
    "Blame",
    "ChangeGroup",
    "Changes",
    "DiffReport",
    "PairChange",
    "PodSet",
    "PolicyChanges",
    "Units",
    "blame_policies",
    "compare",
    "compare_policies",
    "diff_data",
    "diff_markdown",
    "diff_notes",
    "diff_ports",
    "diff_summary",
    "diff_view",
    "group_cells",
    "group_changes",
    "render_port_ranges",
    "summarize",
]
