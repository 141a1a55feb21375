"""Results for people (`-o table`, the default), as rich renderables."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from podwall.model import Pod
from podwall.semantics import Decision, Matrix, PodExplanation, Side
from podwall.semantics.explain import DirectionExplanation

__all__ = [
    "decision_text",
    "decision_view",
    "declared_ports_view",
    "explanation_text",
    "explanation_view",
    "isolation_view",
    "matrix_view",
]

_YES = Text("✓", style="bold green")
_NO = Text("✗", style="bold red")


def _side_lines(title: str, side: Side) -> list[Text]:
    verdict = Text("allowed", style="green") if side.allowed else Text("denied", style="red")
    head = Text.assemble((f"{title}: ", "bold"), verdict)
    if side.isolated_by:
        head.append(f"  (isolated by {', '.join(side.isolated_by)})", style="dim")
    lines = [head]
    for reason in side.reasons:
        where = f"{reason.policy} {reason.path}: " if reason.policy else ""
        lines.append(Text(f"  • {where}{reason.text}"))
    return lines


def _decision_parts(decision: Decision) -> tuple[Text, list[Text]]:
    """The panel's title and its lines."""
    flow = decision.flow
    verdict = Text(
        decision.verdict.value.upper(), style="bold green" if decision.allowed else "bold red"
    )
    lines = [
        *_side_lines(f"egress of {flow.src.label}", decision.egress),
        *_side_lines(f"ingress of {flow.dst.label}", decision.ingress),
        *(Text(f"note: {note}", style="yellow") for note in decision.notes),
    ]
    return Text.assemble(verdict, f"  {flow.render()}"), lines


def decision_view(decision: Decision) -> RenderableType:
    title, lines = _decision_parts(decision)
    return Panel(Group(*lines), title=title, title_align="left")


def decision_text(decision: Decision) -> str:
    """`decision_view`'s words as plain text, without its frame or wrapping: the title line,
    then one line per line of the panel (for a web page or a JSON field)."""
    title, lines = _decision_parts(decision)
    return "\n".join(t.plain for t in (title, *lines))


def matrix_view(matrix: Matrix) -> list[RenderableType]:
    """One table per port: rows are sources, numbered columns are destinations."""
    views: list[RenderableType] = []
    for spec in matrix.ports:
        grid = matrix.allowed[spec.key]
        table = Table(title=f"{spec.key}: may the row connect to the column?", title_justify="left")
        table.add_column("#", justify="right", style="dim")
        table.add_column("from \\ to")
        for j in range(len(matrix.pods)):
            table.add_column(str(j + 1), justify="center")
        for i, pod in enumerate(matrix.pods):
            table.add_row(
                str(i + 1), pod, *(_YES if grid[i, j] else _NO for j in range(len(matrix.pods)))
            )
        allowed = int(grid.sum()) - len(matrix.pods)
        pairs = len(matrix.pods) * (len(matrix.pods) - 1)
        table.caption = f"{allowed} of {pairs} ordered pairs allowed (a pod always reaches itself)"
        views.append(table)
    return views


def _direction_view(d: DirectionExplanation, peers_word: str) -> list[Text]:
    name = d.direction.value.lower()
    if not d.isolated:
        return [
            Text(f"{d.direction.value}: open (no policy isolates it for {name})", style="green")
        ]
    lines = [Text(f"{d.direction.value}: isolated by {', '.join(d.isolated_by)}", style="yellow")]
    if not d.allowances:
        lines.append(Text(f"  • no rule allows any {name}: all {name} is denied", style="red"))
    for a in d.allowances:
        lines.append(Text(f"  • {peers_word} {a.peers} on {a.ports}  ({a.policy} {a.path})"))
    return lines


def _reach_lines(label: str, by_port: dict[str, tuple[str, ...]]) -> list[Text]:
    lines: list[Text] = []
    for port, pods in by_port.items():
        shown = ", ".join(pods[:12]) + (f", … ({len(pods)} in all)" if len(pods) > 12 else "")
        lines.append(Text(f"  {port}: {label} {shown or 'no other pod'}"))
    return lines


def _explanation_lines(e: PodExplanation) -> list[Text]:
    return [
        *(Text(f"note: {n}", style="yellow") for n in e.notes),
        *_direction_view(e.ingress, "from"),
        *_reach_lines("reachable from", e.reachable_from),
        *_direction_view(e.egress, "to"),
        *_reach_lines("reaches", e.reaches),
    ]


def explanation_view(explanations: Sequence[PodExplanation]) -> list[RenderableType]:
    return [
        Panel(Group(*_explanation_lines(e)), title=e.pod, title_align="left")
        for e in explanations
    ]


def explanation_text(explanation: PodExplanation) -> str:
    """One pod's `explanation_view` as plain text without frame or wrapping: the pod, then the
    panel's lines."""
    lines = _explanation_lines(explanation)
    return "\n".join([explanation.pod, *(t.plain for t in lines)])


def isolation_view(explanations: Sequence[PodExplanation], pods: Sequence[Pod]) -> Table:
    """Per pod: its address, what isolates it each way, and how many pods it reaches."""
    table = Table(title="Pods and what isolates them", title_justify="left")
    for name in ("pod", "node", "IP", "ingress isolated by", "egress isolated by"):
        table.add_column(name)
    for e, pod in zip(explanations, pods, strict=True):
        ip = pod.ips[0] if pod.ips else "-"
        if pod.host_network:
            ip += " (hostNetwork)"
        table.add_row(
            e.pod,
            pod.node_name or "-",
            ip,
            ", ".join(e.ingress.isolated_by) or Text("open", style="green"),
            ", ".join(e.egress.isolated_by) or Text("open", style="green"),
        )
    return table


def declared_ports_view(matrix: Matrix, pods: Sequence[Pod]) -> Table:
    """One grid for all ports: may the row reach the column on the ports the column declares?"""
    table = Table(
        title="Who can talk to whom, on the ports each destination declares",
        title_justify="left",
        caption="✓ all declared ports · ✗ none · n/m some",
    )
    table.add_column("#", justify="right", style="dim")
    table.add_column("from \\ to")
    for j in range(len(pods)):
        table.add_column(str(j + 1), justify="center")
    keys = [[f"{p.container_port}/{p.protocol}" for p in pod.ports] for pod in pods]
    for i, src in enumerate(pods):
        cells: list[Text] = []
        for j in range(len(pods)):
            wanted = [k for k in keys[j] if k in matrix.allowed]
            ok = sum(bool(matrix.allowed[k][i, j]) for k in wanted)
            if i == j or not wanted:
                cells.append(Text("-", style="dim"))
            elif ok == len(wanted):
                cells.append(_YES)
            elif ok == 0:
                cells.append(_NO)
            else:
                cells.append(Text(f"{ok}/{len(wanted)}", style="yellow"))
        table.add_row(str(i + 1), src.key, *cells)
    return table
