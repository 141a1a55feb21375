"""`podwall matrix`: who may connect to whom, for every pod pair and port, as a table, data,
or a picture (heatmap, DOT graph, self-contained HTML); `matrix_with_progress` is shared with
`explain` and `analyze`."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from podwall.assemble import Loaded
from podwall.cli_common import (
    AllNamespaces,
    ClusterSource,
    Family,
    Files,
    IPBlock,
    IPBlockMode,
    Kubeconfig,
    KubeContext,
    LegacyCIDR,
    Namespace,
    NodeTraffic,
    load_input,
    options_from,
    parse_ports,
    pods_in_scope,
    warn,
)
from podwall.model import Pod
from podwall.render.data import write_matrix
from podwall.render.text import matrix_view
from podwall.semantics import Matrix, Options, PortSpec, compute_matrix, declared_ports

__all__ = ["MatrixOutput", "matrix", "matrix_with_progress"]

out = Console(highlight=False)


class MatrixOutput(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    csv = "csv"
    png = "png"
    svg = "svg"
    dot = "dot"
    html = "html"


def matrix(
    files: Files = [],  # noqa: B006
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    port: Annotated[
        list[str],
        typer.Option(
            "--port", "-p", help="PORT or PORT/PROTOCOL, repeatable (default: every declared port)"
        ),
    ] = [],  # noqa: B006
    namespace: Namespace = None,
    all_namespaces: AllNamespaces = False,
    output: Annotated[MatrixOutput, typer.Option("-o", "--output")] = MatrixOutput.table,
    out_file: Annotated[
        Path | None,
        typer.Option("--out", help="Write to this file instead of stdout (png/svg/dot/html)."),
    ] = None,
    legacy_cidr: LegacyCIDR = False,
    ipblock: IPBlock = IPBlockMode.calico,
    node_traffic: NodeTraffic = True,
    ip_family: Family = None,
) -> None:
    """Who may connect to whom, for every pod pair and port."""
    options = options_from(ipblock, node_traffic, ip_family)
    ports = parse_ports(port)
    live = ClusterSource(kubeconfig, context)
    loaded = load_input(files, namespace, legacy_cidr, cluster=live)
    chosen = pods_in_scope(loaded, namespace, all_namespaces)
    result = matrix_with_progress(loaded, ports, options, chosen)
    _emit_matrix(result, output, out_file)


def matrix_with_progress(
    loaded: Loaded, ports: list[PortSpec] | None, options: Options, pods: list[Pod] | None = None
) -> Matrix:
    """The matrix, with a progress bar on stderr when it is a terminal and the work is large."""
    chosen = ports or list(declared_ports(loaded.cluster.pods))
    size = len(pods if pods is not None else loaded.cluster.pods)
    if not sys.stderr.isatty() or size * size * len(chosen) < 50_000_000:
        return compute_matrix(loaded.cluster, chosen, options, pods)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
        task = progress.add_task(f"matrix of {size} pods", total=len(chosen))
        return compute_matrix(
            loaded.cluster, chosen, options, pods, on_port=lambda _port: progress.advance(task)
        )


def _picture(result: Matrix, output: MatrixOutput) -> bytes:
    """A heatmap (png/svg), Graphviz DOT, or a self-contained HTML page with both pictures."""
    if output is MatrixOutput.dot:
        from podwall.render.graph import matrix_graph, render_dot

        return render_dot(matrix_graph(result)).encode("utf-8")
    if output is MatrixOutput.html:
        from podwall.render.page import render_matrix_page  # matplotlib loads only when drawn

        return render_matrix_page(result).encode("utf-8")
    from podwall.render.heatmap import render_heatmap  # matplotlib loads only when drawn

    return render_heatmap(result, output.value)


def _emit_matrix(result: Matrix, output: MatrixOutput, out_file: Path | None) -> None:
    if output is MatrixOutput.table:
        for view in matrix_view(result):
            out.print(view)
        return
    if output in (MatrixOutput.png, MatrixOutput.svg, MatrixOutput.dot, MatrixOutput.html):
        payload = _picture(result, output)
        if out_file is None:
            sys.stdout.buffer.write(payload)
            sys.stdout.flush()
        else:
            out_file.write_bytes(payload)
            warn(f"wrote {out_file}")
        return
    if out_file is None:
        write_matrix(result, output.value, sys.stdout)
        return
    with out_file.open("w", encoding="utf-8") as stream:
        write_matrix(result, output.value, stream)
    warn(f"wrote {out_file}")
