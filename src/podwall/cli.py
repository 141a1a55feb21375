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

from podwall.cli_agent import EPILOG as AGENT_EPILOG
from podwall.cli_agent import agent
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
    parse_port,
    parse_ports,
    pods_in_scope,
    say,
    warn,
)
from podwall.cli_console import serve
from podwall.cli_diff import diff
from podwall.cli_exposure import EPILOG as EXPOSURE_EPILOG
from podwall.cli_exposure import exposure
from podwall.cli_help import reflow_commands
from podwall.cli_lab import lab_app
from podwall.cli_lint import lint
from podwall.cli_matrix import matrix, matrix_with_progress
from podwall.cli_snapshot import snapshot
from podwall.cli_up import EPILOG as UP_EPILOG
from podwall.cli_up import up_command
from podwall.encode import encode_object
from podwall.errors import EXIT_DENIED, InputError, PodwallError
from podwall.render.data import (
    decision_csv,
    decision_data,
    dump,
    explanation_csv,
    explanation_data,
    matrix_data,
)
from podwall.render.text import (
    decision_view,
    declared_ports_view,
    explanation_view,
    isolation_view,
)
from podwall.semantics import (
    ClusterIndex,
    Flow,
    UnknownEndpoint,
    decide,
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
    "  podwall up                              # lab + console on :8080\n"
    "  podwall analyze                         # the bundled examples\n"
    "  podwall validate -f policies/ -o yaml   # as the API server stores them\n"
    "  podwall check -f cluster/ --from default/web --to default/db -p 6379\n"
    "  podwall matrix -f cluster/ -n apps -o png --out apps.png\n"
    "  podwall explain -f cluster/ default/db\n"
    "\nExit codes: 0 ok (check: allowed); 1 check denied or validate found invalid objects; "
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


app.command()(matrix)  # podwall.cli_matrix


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
    result = matrix_with_progress(loaded, parse_ports(port), options)
    if pod is not None:
        key = pod if "/" in pod else f"{namespace or 'default'}/{pod}"
        chosen = cluster.pod(key)
        if chosen is None:
            raise InputError(f"no pod {key!r} in the input")
        pods = [chosen]
    else:
        pods = pods_in_scope(loaded, namespace, all_namespaces)
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
    result = matrix_with_progress(loaded, None, options)
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
reflow_commands(app)


def main() -> None:
    """Entry point. Click reports usage errors itself (exit 2); podwall errors are ours."""
    try:
        app()
    except PodwallError as error:
        warn(f"error: {error}")
        sys.exit(error.exit_code)
