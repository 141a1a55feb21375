"""`podwall lab ...`: real pods in network namespaces on this machine, enforced by nftables.

Needs root, iproute2 and nftables. Everything the lab makes is named `podwall-...` and recorded
in `~/.podwall/lab/state.json` ($PODWALL_HOME), so `podwall lab down` removes it all, even
after a crash. By default the lab runs as a cluster: a lab API server (kubeconfig in
`<home>/lab/kubeconfig`) and one `podwall agent` per node enforce; `apply`, `delete` and `label`
write to the API and return once every agent enforces the change.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from podwall.cli_apiserver import api_server
from podwall.cli_common import say
from podwall.dataplane.names import object_suffix
from podwall.errors import EXIT_DENIED
from podwall.inputs import read_documents
from podwall.lab import cluster, control
from podwall.lab.errors import LabError
from podwall.lab.netns import NETNS_PREFIX
from podwall.lab.probe import probe
from podwall.lab.state import LabState, check_environment, down, load_state, up
from podwall.lab.topology import BUNDLED, Topology, default_topology, load_topology
from podwall.model import Direction, NetworkPolicy
from podwall.render.data import dump, write_matrix
from podwall.render.text import matrix_view
from podwall.semantics import (
    Options,
    compute_matrix,
    disagreements,
    isolating_policies,
    parse_port_spec,
)

__all__ = ["lab_app"]


lab_app = typer.Typer(
    help="A local lab: pods as Linux network namespaces over two nodes, NetworkPolicies "
    "enforced by nftables, and real probes to prove it (needs root, iproute2, nftables).",
    no_args_is_help=True,
)
out = Console(highlight=False)


def _state() -> LabState:
    state = load_state()
    if state is None or state.topology is None:
        raise LabError("no lab is up: run `podwall lab up` first")
    return state


def _topology(state: LabState) -> Topology:
    if state.topology is None:
        raise LabError("the lab state has no topology: `podwall lab down` and `up` again")
    return state.topology


def _documents(files: list[str]) -> list[dict]:
    if not files:
        raise LabError("give one or more -f FILE|DIR|-")
    return [d.manifest for d in read_documents(files)]


@lab_app.command("up")
def lab_up(
    topology: Annotated[
        Path | None,
        typer.Option(
            "-f",
            "--filename",
            help="Topology YAML (default: upstream's e2e model, x/y/z × a/b/c over 2 nodes)",
        ),
    ] = None,
    bundled: Annotated[
        str | None,
        typer.Option(
            "--topology",
            help="A bundled topology: upstream-e2e (the default) or "
            "examples (the cluster of examples/, for `lab apply -f examples/policies/`)",
        ),
    ] = None,
    ipblock: Annotated[str, typer.Option("--ipblock", help="calico | cilium")] = "calico",
    node_traffic: Annotated[bool, typer.Option("--node-traffic/--no-node-traffic")] = True,
    agents: Annotated[
        bool,
        typer.Option("--agents/--no-agents", help="Run the lab API server and one `podwall "
                     "agent` per node (default); --no-agents: the CLI applies nft itself"),
    ] = True,
    prefix: Annotated[
        str, typer.Option("--prefix", help="Name prefix of the lab's network namespaces "
                          "(starts with podwall-; lets two labs run side by side)"),
    ] = NETNS_PREFIX,
) -> None:
    """Build the lab: nodes, pods with IPv4 and IPv6, a server on every declared port, the
    lab API server and a node agent per node."""
    if ipblock not in ("calico", "cilium"):
        raise LabError("--ipblock must be calico or cilium")
    if topology is not None and bundled is not None:
        raise LabError("give either -f FILE or --topology NAME, not both")
    if bundled is not None:
        topology = BUNDLED / f"{bundled}.yaml"
        if not topology.is_file():
            names = ", ".join(sorted(p.stem for p in BUNDLED.glob("*.yaml")))
            raise LabError(f"no bundled topology {bundled!r} (there are: {names})")
    check_environment()
    if load_state() is not None:
        raise LabError("a lab is already up: `podwall lab down` first")
    state = up(load_topology(topology) if topology else default_topology(), prefix=prefix)
    options = Options(ipblock_matches_cluster=ipblock == "calico", allow_node_local=node_traffic)
    try:
        control.set_options(state, options)
        if agents:
            cluster.start_cluster(state, options)
        else:
            control.enforce(state)
    except BaseException:
        down(state)
        raise
    topology = _topology(state)
    for notice in state.notices:
        say(f"notice: {notice}")
    say(
        f"lab up: {len(topology.nodes)} nodes, {len(topology.pods)} pods, "
        f"ipBlock mode {ipblock}, node traffic {'allowed' if node_traffic else 'judged'}"
    )
    if agents:
        api = state.services[cluster.API_SERVICE]
        say(f"lab API at {api.url}, {len(topology.nodes)} node agents ready; kubeconfig:")
        sys.stdout.write(f"{cluster.kubeconfig_path(state)}\n")  # the last line: scripts read it


@lab_app.command("apply")
def lab_apply(
    files: Annotated[list[str], typer.Option("-f", "--filename")] = [],  # noqa: B006
    namespace: Annotated[str, typer.Option("-n", "--namespace")] = "default",
    flush_conntrack: Annotated[
        bool,
        typer.Option(
            "--flush-conntrack",
            help="Also cut established connections, so they are judged "
            "again (by default they survive a policy change, as on nft/iptables plugins)",
        ),
    ] = False,
) -> None:
    """Create or update NetworkPolicies in the lab, as `kubectl apply -f` does."""
    state = _state()
    if kubeapi().uses_api(state):
        loaded = control.validate_policies(_documents(files), namespace)
        policies = [p for p in loaded.objects if isinstance(p, NetworkPolicy)]
        lines = kubeapi().apply_policies(state, policies)
        kubeapi().wait_enforced(state)
    else:
        lines = control.apply_objects(state, _documents(files), namespace)
    for line in lines:
        say(line)
    if flush_conntrack:
        control.flush_connections(state)


@lab_app.command("delete")
def lab_delete(
    files: Annotated[list[str], typer.Option("-f", "--filename")] = [],  # noqa: B006
    namespace: Annotated[str, typer.Option("-n", "--namespace")] = "default",
) -> None:
    """Delete the NetworkPolicies named in FILE, as `kubectl delete -f` does."""
    state = _state()
    if kubeapi().uses_api(state):
        lines = kubeapi().delete_policies(state, _documents(files), namespace)
        kubeapi().wait_enforced(state)
    else:
        lines = control.delete_objects(state, _documents(files), namespace)
    for line in lines:
        say(line)


@lab_app.command("label")
def lab_label(
    target: Annotated[str, typer.Argument(help="NS/POD (or a namespace with --namespace)")],
    labels: Annotated[list[str], typer.Argument(help="key=value to set, key- to remove")],
    namespace: Annotated[bool, typer.Option("--namespace", help="label a namespace")] = False,
) -> None:
    """Change a pod's or a namespace's labels; enforcement follows at once."""
    state = _state()
    if kubeapi().uses_api(state):
        line = kubeapi().relabel(state, target, labels, namespace=namespace)
        kubeapi().wait_enforced(state)
    else:
        line = control.relabel(state, target, labels, namespace=namespace)
    say(line)


@lab_app.command("status")
def lab_status(output: Annotated[str, typer.Option("-o", "--output")] = "table") -> None:
    """The API server and node agents (ready or not), then pods (addresses, labels,
    isolation, denied counts) and policies."""
    state = _state()
    services = [_service_row(r) for r in state.services.values()]
    try:
        lab = control.desired_cluster(state)
    except LabError:
        if output == "table" and services:  # what runs and what does not, before the error
            out.print(_services_table(state, services))
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
        out.print(_services_table(state, services))
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


@lab_app.command("drops")
def lab_drops(output: Annotated[str, typer.Option("-o", "--output")] = "table") -> None:
    """Denied new connections the kernel recorded (last hour), with the policies that isolate
    the pod whose side denied them."""
    reports = control.read_lab_drops(_state())
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


@lab_app.command("probe")
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
    state = _state()
    ports = [parse_port_spec(p) for p in port] or None
    columns = (TextColumn("probing"), BarColumn(), MofNCompleteColumn())
    with Progress(
        *columns, console=Console(stderr=True), transient=True, disable=not sys.stderr.isatty()
    ) as bar:
        task = bar.add_task("probe", total=len(_topology(state).pods))
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


@lab_app.command("down")
def lab_down() -> None:
    """Remove everything the lab made (namespaces, agents, state), even after a crash."""
    removed = down()
    say(
        f"lab down: removed {len(removed.namespaces)} namespaces and stopped "
        f"{len(removed.agents)} agents"
    )


@lab_app.command("restart")
def lab_restart(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="api-server, or a node's name for its agent (default: every "
                       "service not running)"),
    ] = None,
) -> None:
    """Start the lab's API server or node agents again (stopping them first if running)."""
    state = _state()
    started = cluster.restart_services(state, names or [])
    say(f"started: {', '.join(started) or 'nothing (every service runs)'}")


def _service_row(record: cluster.ServiceRecord) -> dict:
    status = cluster.status_of(record)
    return {"name": status.name, "pid": status.pid, "url": status.url,
            "running": status.running, "ready": status.ready, "why": status.why}


def _services_table(state: LabState, rows: list[dict]) -> Table:
    table = Table(title=f"cluster (kubeconfig: {cluster.kubeconfig_path(state)})",
                  title_justify="left")
    for col in ("service", "pid", "url", "state"):
        table.add_column(col)
    for r in rows:
        word = "ready" if r["ready"] else "running, not ready" if r["running"] else "stopped"
        table.add_row(r["name"], str(r["pid"]), r["url"],
                      word if r["ready"] or not r["running"] else f"{word}: {r['why']}")
    return table


def kubeapi():
    from podwall.lab import kubeapi as module

    return module


lab_app.command("api-server")(api_server)
