"""The `podwall diff OLD NEW` command: connections a change opens and closes.

Registered by cli.py (`app.command()(diff)`). This module does not import podwall.cli, so that
cli.py may import it at the top without a cycle; the few flags it shares are declared alike.
Exit codes: 0 done (with --exit-code: nothing changed); 1 with --exit-code, something changed;
2 bad input or arguments (every invalid object is printed, nothing is compared).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

from podwall.cli_common import (
    ClusterSource,
    IPBlockMode,
    Kubeconfig,
    KubeContext,
    load_input,
    parse_ports,
    warn,
)
from podwall.diff import (
    Changes,
    DiffReport,
    compare,
    diff_data,
    diff_markdown,
    diff_view,
    summarize,
)
from podwall.errors import EXIT_DENIED, PodwallError
from podwall.model import Cluster
from podwall.render.data import dump
from podwall.semantics import Options

__all__ = ["DiffOutput", "diff"]


class DiffOutput(StrEnum):
    table = "table"
    json = "json"
    md = "md"
    dot = "dot"
    html = "html"


def _picture(changes: Changes, report: DiffReport, output: DiffOutput) -> bytes:
    """Graphviz DOT of the changed connections, or the self-contained HTML page."""
    if output is DiffOutput.dot:
        from podwall.render.graph import render_dot
        from podwall.render.graph_diff import diff_graph

        return render_dot(diff_graph(report)).encode("utf-8")
    from podwall.render.page import render_diff_page  # matplotlib loads only when drawn

    return render_diff_page(changes, report).encode("utf-8")


def _load_side(path: str, legacy_cidr: bool, live: ClusterSource) -> Cluster:
    """One side, read and validated as every analysis command does (invalid: exit 2)."""
    return load_input([path], None, legacy_cidr, cluster=live).cluster


Side = Annotated[
    str,
    typer.Argument(
        help="A file, a directory (read recursively), or kube: / kube:CONTEXT for a live cluster."
    ),
]
Ports = Annotated[
    list[str],
    typer.Option(
        "--port",
        "-p",
        help="PORT or PORT/PROTOCOL, repeatable (default: every port declared on either side)",
    ),
]
Output = Annotated[
    DiffOutput,
    typer.Option(
        "-o",
        "--output",
        help="table, json (stable), md (PR comment), dot (Graphviz) or html (a self-contained "
        "page: heatmap of changed cells, graph, table).",
    ),
]
ExitCode = Annotated[
    bool,
    typer.Option(
        "--exit-code",
        help="Exit 1 when a connection opens or closes or a pod comes or "
        "goes, as `git diff --exit-code`.",
    ),
]
LegacyCIDR = Annotated[
    bool, typer.Option("--legacy-cidr", help="Accept CIDRs as older API servers did.")
]
IPBlock = Annotated[
    IPBlockMode,
    typer.Option(
        "--ipblock",
        help="calico: ipBlocks match pod and node IPs too; cilium: only outside addresses.",
    ),
]
NodeTraffic = Annotated[
    bool,
    typer.Option(
        "--node-traffic/--no-node-traffic",
        help="Allow connections from a pod's own node whatever its ingress policies say.",
    ),
]


def diff(
    old: Side,
    new: Side,
    port: Ports = [],  # noqa: B006 - typer needs a literal default
    output: Output = DiffOutput.table,
    exit_code: ExitCode = False,
    legacy_cidr: LegacyCIDR = False,
    ipblock: IPBlock = IPBlockMode.calico,
    node_traffic: NodeTraffic = True,
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
) -> None:
    """Which connections going from OLD to NEW opens and closes, and the policies behind them."""
    try:
        options = Options(
            ipblock_matches_cluster=ipblock is IPBlockMode.calico, allow_node_local=node_traffic
        )
        ports = parse_ports(port)
        live = ClusterSource(kubeconfig, context)
        changes = compare(
            _load_side(old, legacy_cidr, live), _load_side(new, legacy_cidr, live), ports, options
        )
        report = summarize(changes)
    except PodwallError as error:  # handled here too, so the command exits 2 in any app
        warn(f"error: {error}")
        raise typer.Exit(error.exit_code) from error
    if output is DiffOutput.table:
        Console(highlight=False).print(diff_view(report))
    elif output is DiffOutput.json:
        sys.stdout.write(dump(diff_data(report), "json"))
    elif output is DiffOutput.md:
        sys.stdout.write(diff_markdown(report))
    else:
        sys.stdout.buffer.write(_picture(changes, report, output))
        sys.stdout.flush()
    if exit_code and report.has_changes:
        raise typer.Exit(EXIT_DENIED)
