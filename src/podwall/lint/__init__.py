"""`podwall lint`: the NetworkPolicy mistakes users make most, each with a stable code, the
object and field path, what goes wrong in practice, and a concrete fix.

Pure: checks read a Cluster and return Findings; `report` renders them as text.
"""

from podwall.lint.engine import CHECKS, ignored_codes, lint_cluster
from podwall.lint.findings import CODES, IGNORE_ANNOTATION, CodeInfo, Finding, Severity
from podwall.lint.report import render_json, render_junit, render_sarif, render_table, summary

__all__ = [
    "CHECKS",
    "CODES",
    "IGNORE_ANNOTATION",
    "CodeInfo",
    "Finding",
    "Severity",
    "ignored_codes",
    "lint_cluster",
    "render_json",
    "render_junit",
    "render_sarif",
    "render_table",
    "summary",
]
