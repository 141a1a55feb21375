"""The `podwall` command: kubectl-like flags over the semantics core.

Exit codes scripts can use: 0 success (check: allowed); 1 check denied, or validate found
invalid objects; 2 bad input or arguments (nothing is analysed when any object is invalid).
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from podwall.assemble import Loaded
from podwall.cli_agent import EPILOG as AGENT_EPILOG
from podwall.cli_agent import agent
from podwall.cli_common import (
    AllNamespaces,
    ClusterSource,
    Files,
    IPBlockMode,
    Kubeconfig,
    KubeContext,
    LegacyCIDR,
    Namespace,
    load_input,
    options_from,
    parse_port,
    parse_ports,
    say,
    warn,
)
from podwall.cli_console import serve
from podwall.cli_diff import diff
from podwall.cli_exposure import EPILOG as EXPOSURE_EPILOG
from podwall.cli_exposure import exposure
from podwall.cli_lab import lab_app
from podwall.cli_lint import lint
from podwall.cli_snapshot import snapshot
from podwall.cli_up import EPILOG as UP_EPILOG
from podwall.cli_up import up_command
from podwall.encode import encode_object
from podwall.errors import EXIT_DENIED, InputError, PodwallError
from podwall.model import Pod
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
from podwall.semantics import (
    ClusterIndex,
    Flow,
    Matrix,
    Options,
    PortSpec,
    UnknownEndpoint,
    compute_matrix,
    decide,
    declared_ports,
    explain_pod,
)
from podwall.validation import render_errors

__all__ = ["app", "main"]

EXAMPLES = Path(__file__).parent / "examples"

app = typer.Typer(
    name="podwall",
    help="Kubernetes NetworkPolicy exactly as Kubernetes means it: validate policies, decide "
    "and explain any flow, and compute who can talk to whom; enforce policies with nftables "
    "(lab, agent) and manage them in a web console (up, serve).\n\n"
    "Input is whatever kubectl prints: -f FILE|DIR|- (YAML or JSON, multi-document, Lists), "
    "e.g. kubectl get ns,pods,networkpolicies -A -o yaml | podwall matrix -f -",
    epilog="Examples:\n\n"
    "  podwall up                                        # lab + console, http://127.0.0.1:8080\n\n"
    "  podwall analyze                                   # the bundled examples\n\n"
    "  podwall validate -f policies/ -o yaml             # as the API server stores them\n\n"
    "  podwall check -f cluster/ --from default/frontend --to default/db --port 6379/TCP\n\n"
    "  podwall matrix -f cluster/ -n apps -o png --out apps.png\n\n"
    "  podwall explain -f cluster/ default/db\n\n"
    "Exit codes: 0 ok (check: allowed); 1 check denied or validate found invalid objects; "
    "2 bad input or arguments.",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)
out = Console(highlight=False)  # rich renderables (tables, panels)


class Output(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    csv = "csv"


class DocumentOutput(StrEnum):
    """For commands whose result is a document, not rows."""

    table = "table"
    json = "json"
    yaml = "yaml"


class MatrixOutput(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"
    csv = "csv"
    png = "png"
    svg = "svg"
    dot = "dot"
    html = "html"


IPBlock = Annotated[
    IPBlockMode,
    typer.Option(
        "--ipblock",
        help="calico: ipBlocks match pod and node IPs too (upstream e2e, Calico); "
        "cilium: ipBlocks only match addresses outside the cluster.",
    ),
]
NodeTraffic = Annotated[
    bool,
    typer.Option(
        "--node-traffic/--no-node-traffic",
        help="Allow connections from a pod's own node "
        "(kubelet probes) whatever its ingress policies say.",
    ),
]
Family = Annotated[
    int | None,
    typer.Option(
        "--ip-family",
        help="4 or 6: which address of dual-stack pods flows use (default: each pod's primary IP).",
        min=4,
        max=6,
    ),
]




def _pods_in_scope(loaded: Loaded, namespace: str | None, all_ns: bool) -> list[Pod]:
    pods = list(loaded.cluster.pods)
    if namespace and not all_ns:
        pods = [p for p in pods if p.namespace == namespace]
    return pods


@app.command()
def validate(
    files: Files = [],  # noqa: B006 - typer needs a literal default
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    namespace: Namespace = None,
    output: Annotated[
        DocumentOutput,
        typer.Option(
            "-o",
            "--output",
            help="table: errors only; "
            "json|yaml: the objects as the API server stores "
            "them after defaulting.",
        ),
    ] = DocumentOutput.table,
    legacy_cidr: LegacyCIDR = False,
) -> None:
    """Check objects as the API server would; print every error. Exit 1 if any is invalid."""
    loaded = load_input(
        files, namespace, legacy_cidr, require_valid=False,
        cluster=ClusterSource(kubeconfig, context),
    )
    for invalid in loaded.invalid:
        message = render_errors(invalid.kind, invalid.name, invalid.errors)
        say(message) if output is DocumentOutput.table else warn(message)
    if output is DocumentOutput.table:
        say(f"{len(loaded.objects)} valid, {len(loaded.invalid)} invalid")
    elif not loaded.invalid:
        items = [encode_object(o) for o in loaded.objects]
        data = items[0] if len(items) == 1 else {"apiVersion": "v1", "kind": "List", "items": items}
        sys.stdout.write(dump(data, output.value))
    if loaded.invalid:
        raise typer.Exit(EXIT_DENIED)


@app.command()
def check(
    source: Annotated[str, typer.Option("--from", help="NS/POD, POD (in -n) or an IP")],
    destination: Annotated[str, typer.Option("--to", help="NS/POD, POD or an IP")],
    port: Annotated[
        str, typer.Option("--port", "-p", help="PORT or PORT/PROTOCOL (TCP, UDP or SCTP)")
    ],
    files: Files = [],  # noqa: B006
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    namespace: Namespace = None,
    output: Annotated[Output, typer.Option("-o", "--output")] = Output.table,
    legacy_cidr: LegacyCIDR = False,
    ipblock: IPBlock = IPBlockMode.calico,
    node_traffic: NodeTraffic = True,
    ip_family: Family = None,
) -> None:
    """May SOURCE open a connection to DESTINATION on PORT, and why? Exit 0 allowed, 1 denied."""
    options = options_from(ipblock, node_traffic, ip_family)
    spec = parse_port(port)
    live = ClusterSource(kubeconfig, context)
    loaded = load_input(files, namespace, legacy_cidr, cluster=live)
    index = ClusterIndex.build(loaded.cluster)
    try:
        flow = Flow(
            src=index.resolve(source, namespace or "default"),
            dst=index.resolve(destination, namespace or "default"),
            protocol=spec.protocol,
            port=spec.port,
        )
    except UnknownEndpoint as error:
        raise InputError(str(error)) from error
    decision = decide(flow, index, options)
    if output is Output.table:
        out.print(decision_view(decision))
    elif output is Output.csv:
        sys.stdout.write(decision_csv(decision))
    else:
        sys.stdout.write(dump(decision_data(decision), output.value))
    if not decision.allowed:
        raise typer.Exit(EXIT_DENIED)


@app.command()
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
    chosen = _pods_in_scope(loaded, namespace, all_namespaces)
    result = _matrix_with_progress(loaded, ports, options, chosen)
    _emit_matrix(result, output, out_file)


def _matrix_with_progress(
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


@app.command()
def explain(
    pod: Annotated[str | None, typer.Argument(help="POD or NS/POD (default: every pod)")] = None,
    files: Files = [],  # noqa: B006
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    namespace: Namespace = None,
    all_namespaces: AllNamespaces = False,
    port: Annotated[
        list[str], typer.Option("--port", "-p", help="PORT or PORT/PROTOCOL, repeatable")
    ] = [],  # noqa: B006
    output: Annotated[Output, typer.Option("-o", "--output")] = Output.table,
    legacy_cidr: LegacyCIDR = False,
    ipblock: IPBlock = IPBlockMode.calico,
    node_traffic: NodeTraffic = True,
    ip_family: Family = None,
) -> None:
    """Per pod, in plain words: what isolates it, who may reach it, what it may reach."""
    options = options_from(ipblock, node_traffic, ip_family)
    live = ClusterSource(kubeconfig, context)
    loaded = load_input(files, namespace, legacy_cidr, cluster=live)
    cluster = loaded.cluster
    result = _matrix_with_progress(loaded, parse_ports(port), options)
    if pod is not None:
        key = pod if "/" in pod else f"{namespace or 'default'}/{pod}"
        chosen = cluster.pod(key)
        if chosen is None:
            raise InputError(f"no pod {key!r} in the input")
        pods = [chosen]
    else:
        pods = _pods_in_scope(loaded, namespace, all_namespaces)
    explanations = [explain_pod(p, cluster, result) for p in pods]
    if output is Output.table:
        for view in explanation_view(explanations):
            out.print(view)
    elif output is Output.csv:
        sys.stdout.write(explanation_csv(explanations))
    else:
        sys.stdout.write(dump(explanation_data(explanations), output.value))


@app.command()
def analyze(
    files: Annotated[
        list[str],
        typer.Option(
            "-f", "--filename", help="File, directory or -; default: the bundled examples/."
        ),
    ] = [],  # noqa: B006
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    namespace: Namespace = None,
    output: Annotated[DocumentOutput, typer.Option("-o", "--output")] = DocumentOutput.table,
    legacy_cidr: LegacyCIDR = False,
    ipblock: IPBlock = IPBlockMode.calico,
    node_traffic: NodeTraffic = True,
    ip_family: Family = None,
) -> None:
    """The whole picture: what was read, what isolates each pod, who can talk to whom."""
    options = options_from(ipblock, node_traffic, ip_family)
    live = kubeconfig is not None or context is not None
    sources = files or ([] if live else [str(EXAMPLES)])
    cluster_source = ClusterSource(kubeconfig, context)
    loaded = load_input(sources, namespace, legacy_cidr, cluster=cluster_source)
    cluster = loaded.cluster
    result = _matrix_with_progress(loaded, None, options)
    explanations = [explain_pod(p, cluster, result) for p in cluster.pods]
    if output is not DocumentOutput.table:
        data = {
            "namespaces": [n.name for n in cluster.namespaces],
            "policies": [p.key for p in cluster.policies],
            "pods": explanation_data(explanations),
            "matrix": matrix_data(result),
        }
        sys.stdout.write(dump(data, output.value))
        return
    say(
        f"Read {len(cluster.namespaces)} namespaces, {len(cluster.pods)} pods and "
        f"{len(cluster.policies)} NetworkPolicies from {', '.join(sources)}: all valid."
    )
    out.print(isolation_view(explanations, list(cluster.pods)))
    out.print(declared_ports_view(result, list(cluster.pods)))
    say(
        "Next: podwall explain -f ... NS/POD · podwall check -f ... --from A --to B "
        "--port 80/TCP · podwall matrix -f ... -o png --out matrix.png"
    )


# After the core commands, so `podwall --help` lists them in the order people need them.
app.command()(lint)
app.command()(diff)
app.command(epilog=EXPOSURE_EPILOG)(exposure)
app.command()(snapshot)
app.add_typer(lab_app, name="lab")
app.command(epilog=AGENT_EPILOG)(agent)
app.command()(serve)  # the console (podwall.cli_console)
app.command("up", epilog=UP_EPILOG)(up_command)  # lab + console (podwall.cli_up)


def main() -> None:
    """Entry point. Click reports usage errors itself (exit 2); podwall errors are ours."""
    try:
        app()
    except PodwallError as error:
        warn(f"error: {error}")
        sys.exit(error.exit_code)
