"""Renderers for `podwall diff`: a rich table, a stable JSON document, and Markdown for PRs.

The JSON shape is a stable interface (see README):

    {"opened": [GROUP], "closed": [GROUP], "addedPods": [KEY], "removedPods": [KEY],
     "policies": {"added": [KEY], "removed": [KEY], "changed": [KEY]},
     "relabeledNamespaces": [NAME], "comparedPods": N, "ports": ["80/TCP", "8000-8100/TCP"]}
    GROUP = {"fromNamespace": NS, "toNamespace": NS, "ports": [RANGE], "connections": N,
             "pairs": [{"from": SET, "to": SET, "connections": N}], "policies": [KEY]}
    SET = {"labels": {K: V}, "count": N, "pods": [KEY]}

A group's `connections` counts (src, dst, port) cells; a pair's counts (src, dst) per port.
"""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from podwall.diff.group import ChangeGroup, DiffReport, PairChange, PodSet

__all__ = ["diff_data", "diff_markdown", "diff_notes", "diff_summary", "diff_view"]

_DIRECTIONS = (("opened", "Opened"), ("closed", "Closed"))


def _set_data(pods: PodSet) -> dict[str, Any]:
    return {"labels": pods.labels.to_dict(), "count": len(pods.pods), "pods": list(pods.pods)}


def _pair_data(pair: PairChange) -> dict[str, Any]:
    return {
        "from": _set_data(pair.source),
        "to": _set_data(pair.destination),
        "connections": pair.connections,
    }


def _group_data(group: ChangeGroup) -> dict[str, Any]:
    return {
        "fromNamespace": group.from_namespace,
        "toNamespace": group.to_namespace,
        "ports": list(group.ports),
        "connections": group.connections,
        "pairs": [_pair_data(p) for p in group.pairs],
        "policies": list(group.policies),
    }


def diff_data(report: DiffReport) -> dict[str, Any]:
    """The report as the documented JSON document."""
    return {
        "opened": [_group_data(g) for g in report.opened],
        "closed": [_group_data(g) for g in report.closed],
        "addedPods": list(report.added_pods),
        "removedPods": list(report.removed_pods),
        "policies": {
            "added": list(report.policies.added),
            "removed": list(report.policies.removed),
            "changed": list(report.policies.changed),
        },
        "relabeledNamespaces": list(report.relabeled_namespaces),
        "comparedPods": report.compared_pods,
        "ports": list(report.ports),
    }


def _total(groups: tuple[ChangeGroup, ...]) -> int:
    return sum(g.connections for g in groups)


def diff_summary(report: DiffReport) -> str:
    """One line: how many connections opened and closed, over what."""
    opened, closed = _total(report.opened), _total(report.closed)
    return (
        f"{opened} connection{'s' * (opened != 1)} opened, {closed} closed, "
        f"over {report.compared_pods} pods present on both sides and "
        f"{len(report.ports)} port range{'s' * (len(report.ports) != 1)}"
    )


def diff_notes(report: DiffReport) -> list[str]:
    """What the cell comparison does not cover, and the policy and namespace changes."""
    notes = []
    if report.added_pods or report.removed_pods:
        notes.append(
            f"{len(report.added_pods)} pods only in NEW and {len(report.removed_pods)} only in "
            "OLD are not compared connection by connection"
        )
    for label, keys in (
        ("pods added", report.added_pods),
        ("pods removed", report.removed_pods),
        ("policies added", report.policies.added),
        ("policies removed", report.policies.removed),
        ("policies changed", report.policies.changed),
        ("namespaces relabeled", report.relabeled_namespaces),
    ):
        if keys:
            notes.append(f"{label}: {', '.join(keys)}")
    return notes


def _side(pods: PodSet) -> str:
    return f"{pods.labels.render()}  ×{len(pods.pods)}"


def _table(title: str, groups: tuple[ChangeGroup, ...]) -> Table:
    table = Table(title=f"{title}: {_total(groups)} connections", title_justify="left")
    for column in ("from ns", "to ns", "ports", "from pods (labels ×count)", "to pods", "conns",
                   "policies"):
        table.add_column(column, overflow="fold")
    for group in groups:
        for n, pair in enumerate(group.pairs):
            head = (group.from_namespace, group.to_namespace, ", ".join(group.ports))
            tail = "\n".join(group.policies) or "-"
            table.add_row(
                *(head if n == 0 else ("", "", "")),
                _side(pair.source),
                _side(pair.destination),
                str(pair.connections),
                tail if n == 0 else "",
                end_section=n == len(group.pairs) - 1,
            )
    return table


def diff_view(report: DiffReport) -> RenderableType:
    """The terminal view: a summary line, notes, then a table per direction that changed."""
    parts: list[RenderableType] = [Text(diff_summary(report), style="bold")]
    parts += [Text(f"• {note}") for note in diff_notes(report)]
    for attr, title in _DIRECTIONS:
        groups = getattr(report, attr)
        if groups:
            parts.append(_table(title, groups))
    if not report.has_changes:
        parts.append(Text("No connection changes."))
    return Group(*parts)


def _md(text: str) -> str:
    """Code span safe inside a Markdown table cell."""
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def _md_table(title: str, groups: tuple[ChangeGroup, ...]) -> list[str]:
    lines = [
        f"### {title} ({_total(groups)} connections)",
        "",
        "| from | to | ports | connections | policies |",
        "|---|---|---|---:|---|",
    ]
    for group in groups:
        for pair in group.pairs:
            lines.append(
                f"| {_md(group.from_namespace)} {_md(pair.source.labels.render())} "
                f"×{len(pair.source.pods)} "
                f"| {_md(group.to_namespace)} {_md(pair.destination.labels.render())} "
                f"×{len(pair.destination.pods)} "
                f"| {', '.join(group.ports)} | {pair.connections} "
                f"| {', '.join(_md(p) for p in group.policies) or '-'} |"
            )
    return [*lines, ""]


def diff_markdown(report: DiffReport) -> str:
    """A pull-request comment: heading, summary, notes, a table per direction."""
    lines = ["## podwall diff", "", diff_summary(report) + ".", ""]
    lines += [f"- {note}" for note in diff_notes(report)]
    if lines[-1] != "":
        lines.append("")
    for attr, title in _DIRECTIONS:
        groups = getattr(report, attr)
        if groups:
            lines += _md_table(title, groups)
    if not report.has_changes:
        lines += ["No connection changes.", ""]
    return "\n".join(lines)
