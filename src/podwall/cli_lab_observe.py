"""`podwall lab status|drops|probe`: what the running lab is, what its kernels denied, and what
real connections between its pods do (compared with the semantics core on `--compare`)."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from podwall.dataplane.names import object_suffix
from podwall.errors import EXIT_DENIED
from podwall.lab import cluster, control
from podwall.lab.errors import LabError
from podwall.lab.probe import probe
from podwall.lab.state import LabState, running_state
from podwall.model import Direction
from podwall.render.data import dump, write_matrix
from podwall.render.text import matrix_view
from podwall.semantics import (
    Options,
    compute_matrix,
    disagreements,
    isolating_policies,
    parse_port_spec,
)

__all__ = ["lab_drops", "lab_probe", "lab_status", "services_table"]

out = Console(highlight=False)


def lab_status(output: Annotated[str, typer.Option("-o", "--output")] = "table") -> None:
    """The lab's services, pods and policies.

    The API server and node agents (ready or not), then pods (addresses, labels, isolation,
    denied counts) and policies.
    """
    state = running_state()
    services = [_service_row(r) for r in state.services.values()]
    try:
        lab = control.desired_cluster(state)
    except LabError:
        if output == "table" and services:  # what runs and what does not, before the error
            out.print(services_table(state, services))
        raise
    counters = control.read_lab_counters(state)
    rows = []
    for pod in lab.pods:
        deny = {
            w: counters.get(pod.node_name, {}).get(f"deny_{w}_{object_suffix(pod.key)}", 0)
            for w in ("ingress", "egress")
        }
        rows.append(
            {
                "pod": pod.key,
                "node": pod.node_name,
                "ips": list(pod.ips),
                "labels": pod.labels.to_dict(),
                "ingressIsolatedBy": [
                    p.key for p in isolating_policies(pod, Direction.INGRESS, lab.policies)
                ],
                "egressIsolatedBy": [
                    p.key for p in isolating_policies(pod, Direction.EGRESS, lab.policies)
                ],
                "deniedIngress": deny["ingress"],
                "deniedEgress": deny["egress"],
            }
        )
    if output != "table":
        sys.stdout.write(
            dump({"pods": rows, "policies": [p.key for p in lab.policies],
                  "services": services}, output)
        )
        return
    if services:
        out.print(services_table(state, services))
    table = Table(
        title=f"lab: {len(rows)} pods, {len(lab.policies)} policies", title_justify="left"
    )
    for col in (
        "pod",
        "node",
        "IPs",
        "labels",
        "ingress isolated by",
        "egress isolated by",
        "denied in/out",
    ):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["pod"],
            r["node"],
            " ".join(r["ips"]),
            ",".join(f"{k}={v}" for k, v in r["labels"].items()),
            ", ".join(r["ingressIsolatedBy"]) or "open",
            ", ".join(r["egressIsolatedBy"]) or "open",
            f"{r['deniedIngress']}/{r['deniedEgress']}",
        )
    out.print(table)


def lab_drops(output: Annotated[str, typer.Option("-o", "--output")] = "table") -> None:
    """Denied new connections the kernels recorded in the last hour.

    Each with the policies that isolate the pod whose side denied it.
    """
    reports = control.read_lab_drops(running_state())
    rows = [
        {
            "node": r.node,
            "from": r.src,
            "to": r.dst,
            "port": r.flow.port,
            "protocol": r.flow.protocol,
            "deniedBy": r.flow.direction,
            "isolatedBy": list(r.isolated_by),
        }
        for r in reports
    ]
    if output != "table":
        sys.stdout.write(dump(rows, output))
        return
    table = Table(title=f"{len(rows)} denied flows", title_justify="left")
    for col in ("node", "from", "to", "port", "denied by", "isolated by"):
        table.add_column(col)
    for r in rows:
        side = f"{r['deniedBy']} of {r['from'] if r['deniedBy'] == 'egress' else r['to']}"
        table.add_row(
            r["node"],
            r["from"],
            r["to"],
            f"{r['port']}/{r['protocol']}",
            side,
            ", ".join(r["isolatedBy"]),
        )
    out.print(table)


def lab_probe(
    port: Annotated[
        list[str],
        typer.Option(
            "--port",
            "-p",
            help="PORT or PORT/PROTOCOL, repeatable (default: every port the lab serves)",
        ),
    ] = [],  # noqa: B006
    ip_family: Annotated[int, typer.Option("--ip-family", help="4 or 6")] = 4,
    output: Annotated[str, typer.Option("-o", "--output", help="table|json|yaml|csv")] = "table",
    compare: Annotated[
        bool,
        typer.Option(
            "--compare",
            help="Print every cell where the kernel and the semantics core disagree; exit 1 if any",
        ),
    ] = False,
    timeout: Annotated[float, typer.Option("--timeout", help="seconds per probe")] = 1.0,
) -> None:
    """Open real connections between every pod pair on every port; print what the kernel did."""
    state = running_state()
    ports = [parse_port_spec(p) for p in port] or None
    columns = (TextColumn("probing"), BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns, console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty()
    ) as bar:
        task = bar.add_task("probe", total=len(state.known_topology().pods))
        observed = probe(
            state,
            ports,
            ip_family=ip_family,
            timeout=timeout,
            progress=lambda _src: bar.advance(task),
        )
    if output == "table":
        for view in matrix_view(observed):
            out.print(view)
    else:
        write_matrix(observed, output, sys.stdout)
    if compare:
        options = control.lab_options(state)
        expected = compute_matrix(
            control.desired_cluster(state),
            list(observed.ports),
            Options(
                ipblock_matches_cluster=options.ipblock_matches_cluster,
                allow_node_local=options.allow_node_local,
                ip_family=ip_family,
            ),
        )
        wrong = disagreements(observed, expected)
        for line in wrong:
            sys.stderr.write(f"disagreement: kernel {line} by the core\n")
        cells = sum(g.size - len(observed.pods) for g in observed.allowed.values())
        sys.stderr.write(
            f"kernel and core {'agree' if not wrong else 'DISAGREE'} on "
            f"{cells - len(wrong)} of {cells} cells\n"
        )
        if wrong:
            raise typer.Exit(EXIT_DENIED)



def _service_row(record: cluster.ServiceRecord) -> dict:
    status = cluster.status_of(record)
    return {"name": status.name, "pid": status.pid, "url": status.url,
            "running": status.running, "ready": status.ready, "why": status.why}


def services_table(state: LabState, rows: list[dict]) -> Table:
    table = Table(title=f"cluster (kubeconfig: {cluster.kubeconfig_path(state)})",
                  title_justify="left")
    for col in ("service", "pid", "url", "state"):
        table.add_column(col)
    for r in rows:
        word = "ready" if r["ready"] else "running, not ready" if r["running"] else "stopped"
        table.add_row(r["name"], str(r["pid"]), r["url"],
                      word if r["ready"] or not r["running"] else f"{word}: {r['why']}")
    return table
