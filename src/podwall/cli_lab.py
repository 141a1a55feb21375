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

from podwall.cli_apiserver import api_server
from podwall.cli_common import say
from podwall.cli_lab_observe import lab_drops, lab_probe, lab_status
from podwall.inputs import read_documents
from podwall.lab import cluster, control
from podwall.lab.errors import LabError
from podwall.lab.netns import NETNS_PREFIX
from podwall.lab.state import check_environment, down, load_state, running_state, up
from podwall.lab.topology import BUNDLED, default_topology, load_topology
from podwall.model import NetworkPolicy
from podwall.semantics import Options

__all__ = ["lab_app"]


lab_app = typer.Typer(
    help="A local lab: pods as Linux network namespaces over two nodes, NetworkPolicies "
    "enforced by nftables, and real probes to prove it (needs root, iproute2, nftables).",
    no_args_is_help=True,
)


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
    """Build the lab: nodes, pods, servers, the lab API server and node agents.

    Pods get IPv4 and IPv6 addresses and a server on every port the topology declares; one
    `podwall agent` per node enforces what the lab API holds.
    """
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
    topology = state.known_topology()
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
    state = running_state()
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
    state = running_state()
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
    state = running_state()
    if kubeapi().uses_api(state):
        line = kubeapi().relabel(state, target, labels, namespace=namespace)
        kubeapi().wait_enforced(state)
    else:
        line = control.relabel(state, target, labels, namespace=namespace)
    say(line)


@lab_app.command("down")
def lab_down(
    prefix: Annotated[
        str, typer.Option("--prefix", help="Without a state file (lost, or another home's "
                          "lab), sweep the namespaces with this prefix")
    ] = NETNS_PREFIX,
) -> None:
    """Remove everything the lab made (namespaces, agents, state), even after a crash.

    The sweep by prefix spares other labs that are up: longer prefixes, and the same prefix
    held from another PODWALL_HOME.
    """
    removed = down(prefix=prefix)
    say(
        f"lab down: removed {len(removed.namespaces)} namespaces and stopped "
        f"{len(removed.agents)} agents"
    )
    if removed.spared:
        say(f"left {len(removed.spared)} namespaces of other labs that are up "
            f"({', '.join(removed.spared[:3])}{', ...' if len(removed.spared) > 3 else ''})")


@lab_app.command("restart")
def lab_restart(
    names: Annotated[
        list[str] | None,
        typer.Argument(help="api-server, or a node's name for its agent (default: every "
                       "service not running)"),
    ] = None,
) -> None:
    """Start the lab's API server or node agents again (stopping them first if running)."""
    state = running_state()
    started = cluster.restart_services(state, names or [])
    say(f"started: {', '.join(started) or 'nothing (every service runs)'}")


def kubeapi():
    from podwall.lab import kubeapi as module

    return module


lab_app.command("status")(lab_status)
lab_app.command("drops")(lab_drops)
lab_app.command("probe")(lab_probe)
lab_app.command("api-server")(api_server)
