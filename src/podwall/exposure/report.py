"""The exposure report for people (rich text) and for machines (one JSON/YAML document).

Pure: a report in, a renderable or plain data out, stable for equal input. The text follows
np-guard's layout: one section per direction (`pod <= peer : ports` for ingress, `=>` for
egress) with the why and the granting rule under each line, the pods nothing isolates listed
apart, then a table of which kinds of exposure each pod has.
"""

from __future__ import annotations

from typing import Any

from rich import box
from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.table import Table
from rich.text import Text

from podwall.exposure.findings import ALL_PORTS, Exposure, ExposureKind, ExposureReport
from podwall.model import Direction

__all__ = ["exposure_data", "exposure_view"]

_TITLES = {
    Direction.INGRESS: "Ingress exposure: who beyond the pods in the input may connect",
    Direction.EGRESS: "Egress exposure: what beyond the pods in the input a pod may reach",
}
_REMOTE = {Direction.INGRESS: "from", Direction.EGRESS: "to"}
_STYLE = {
    ExposureKind.OUTSIDE: "bold red",
    ExposureKind.ANY_NAMESPACE: "yellow",
    ExposureKind.FUTURE_PODS: "cyan",
}
_SHORT = {
    ExposureKind.OUTSIDE: "outside",
    ExposureKind.ANY_NAMESPACE: "any ns",
    ExposureKind.FUTURE_PODS: "future",
}


def _kinds_text(exposure: Exposure) -> Text:
    text = Text()
    for i, kind in enumerate(exposure.kinds):
        text.append(", " if i else "")
        text.append(kind.words, style=_STYLE[kind])
    return text


def _indented(*lines: Text) -> Padding:
    """Lines under an entry, indented so that wrapped text stays under its entry."""
    return Padding(Group(*lines), (0, 0, 0, 4))


def _exposure_view(e: Exposure) -> RenderableType:
    """np-guard's line (`pod <= peer : ports`), then the kinds and why, then each grant."""
    arrow = "<=" if e.direction is Direction.INGRESS else "=>"
    head = Text.assemble((e.pod, "bold"), f" {arrow} ", (e.peer, "bold"), f" : {e.ports_text}")
    why = _kinds_text(e).append(f" — {e.why}")
    grants = [
        Text(
            f"granted by {g.policy} {g.path}"
            + (f" ({', '.join(g.ports) or ALL_PORTS})" if len(e.grants) > 1 else ""),
            style="dim",
        )
        for g in e.grants
    ]
    return Group(head, _indented(why, *grants))


def _open_view(rows: list[Exposure], direction: Direction) -> list[RenderableType]:
    """Pods nothing isolates, grouped by why: np-guard's "not protected" list."""
    by_why: dict[str, dict[str, None]] = {}
    peers: dict[str, None] = {}
    for e in rows:
        by_why.setdefault(e.why, {})[e.pod] = None
        peers[e.peer] = None
    if not by_why:
        return []
    head = Text(f"open for {direction.value.lower()}", style="bold red")
    head.append(f" — exposed to everything ({', '.join(peers)}) on every port:")
    views: list[RenderableType] = [head]
    for why, pods in by_why.items():
        views.append(_indented(Text(", ".join(pods), style="bold"), Text(why, style="dim")))
    return views


def _direction_view(report: ExposureReport, direction: Direction) -> list[RenderableType]:
    rows = [e for e in report.exposures if e.direction is direction]
    head = Text(_TITLES[direction], style="bold underline")
    if not rows:
        return [head, Text("none: every pod is isolated and every rule is narrow", style="green")]
    granted = [_exposure_view(e) for e in rows if e.isolated]
    return [head, *granted, *_open_view([e for e in rows if not e.isolated], direction), Text()]


def _mark(kinds: frozenset[ExposureKind], kind: ExposureKind) -> Text:
    return Text("✓", style=_STYLE[kind]) if kind in kinds else Text("-", style="dim")


def _summary_table(report: ExposureReport) -> Table:
    table = Table(
        title="Exposure per pod", title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False
    )
    table.add_column("pod", overflow="fold")
    by_direction = {d: report.kinds_by_pod(d) for d in report.directions}
    for d in report.directions:
        for kind in ExposureKind:
            table.add_column(f"{_REMOTE[d]}\n{_SHORT[kind]}", justify="center")
    for pod in report.pods:
        cells = [_mark(by_direction[d][pod], k) for d in report.directions for k in ExposureKind]
        table.add_row(pod, *cells)
    return table


def _counts_lines(report: ExposureReport) -> list[Text]:
    lines = []
    for d in report.directions:
        counts = report.counts(d)
        words = ", ".join(f"{counts[k]} {_REMOTE[d]} {k.words}" for k in ExposureKind)
        pods = f"{len(report.pods)} pod" + ("s" if len(report.pods) != 1 else "")
        lines.append(Text(f"{d.value}: of {pods}, {words}"))
    return lines


def exposure_view(report: ExposureReport) -> RenderableType:
    """Each direction's exposures (who, why, ports, which rule), then the per-pod summary."""
    parts: list[RenderableType] = []
    if report.pods:
        parts += [v for d in report.directions for v in _direction_view(report, d)]
        parts += [_summary_table(report), *_counts_lines(report)]
    parts += [Text(f"note: {note}", style="yellow") for note in report.notes]
    return Group(*parts)


def _exposure_data(e: Exposure) -> dict[str, Any]:
    return {
        "pod": e.pod,
        "peer": e.peer,
        "kinds": [k.value for k in e.kinds],
        "ports": list(e.ports) or [ALL_PORTS],
        "why": e.why,
        "isolated": e.isolated,
        "grantedBy": [
            {"policy": g.policy, "path": g.path, "ports": list(g.ports) or [ALL_PORTS]}
            for g in e.grants
            if g.policy
        ],
    }


def _sorted_kinds(kinds: frozenset[ExposureKind]) -> list[str]:
    return [k.value for k in sorted(kinds, key=lambda k: k.rank)]


def exposure_data(report: ExposureReport) -> dict[str, Any]:
    """`{summary, pods, ingress, egress, notes}`; each direction present only when analysed."""
    names = {d: d.value.lower() for d in report.directions}
    by_direction = {d: report.kinds_by_pod(d) for d in report.directions}
    data: dict[str, Any] = {
        "summary": {
            "pods": len(report.pods),
            **{
                names[d]: {k.value: n for k, n in report.counts(d).items()}
                for d in report.directions
            },
        },
        "pods": [
            {"pod": pod, **{names[d]: _sorted_kinds(by_direction[d][pod]) for d in names}}
            for pod in report.pods
        ],
    }
    for d in report.directions:
        data[names[d]] = [_exposure_data(e) for e in report.exposures if e.direction is d]
    data["notes"] = list(report.notes)
    return data
