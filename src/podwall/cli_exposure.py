"""The `podwall exposure` command: read input as every analysis command does, analyse exposure,
render it.

Registered by cli.py (`app.command(epilog=EPILOG)(exposure)`). This module does not import
podwall.cli, so cli.py may import it at the top without a cycle; the flags it shares with
`matrix` are declared alike. Exit codes: 0 done (exposure is a report, not a verdict); 2 bad
input or arguments (every invalid object is printed, nothing is analysed).
"""

from __future__ import annotations

import ipaddress
import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console

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
    parse_ports,
    warn,
)
from podwall.errors import InputError, PodwallError
from podwall.exposure import analyze_exposure, exposure_data, exposure_view
from podwall.model import Direction
from podwall.render.data import dump

__all__ = ["EPILOG", "DirectionChoice", "ExposureOutput", "exposure"]

EPILOG = (
    "Examples:\n\n"
    "  podwall exposure -f examples/             # every pod, both directions\n\n"
    "  podwall exposure -f cluster/ -n prod --direction ingress --port 443/TCP\n\n"
    "  podwall exposure -f cluster/ --cluster-cidr 10.244.0.0/16 -o yaml\n\n"
    "  kubectl get ns,pods,netpol -A -o yaml | podwall exposure -f - -o json\n\n"
    "Kinds: outside-cluster (an address no pod or node holds), any-namespace "
    "(namespaceSelector {}: namespaces created later too), future-pods (a selector admitting "
    "pods not created yet: every pod of a namespace, labels no current pod has, namespace "
    "labels a new namespace could carry). A pod no policy isolates is open to everyone."
)


class ExposureOutput(StrEnum):
    table = "table"
    json = "json"
    yaml = "yaml"


class DirectionChoice(StrEnum):
    ingress = "ingress"
    egress = "egress"
    both = "both"

    @property
    def directions(self) -> tuple[Direction, ...]:
        if self is DirectionChoice.ingress:
            return (Direction.INGRESS,)
        if self is DirectionChoice.egress:
            return (Direction.EGRESS,)
        return (Direction.INGRESS, Direction.EGRESS)


Ports = Annotated[
    list[str],
    typer.Option(
        "--port",
        "-p",
        help="PORT\\[/PROTOCOL], repeatable: report only exposure on these ports "
        "(default: each rule's ports as written).",
    ),
]
Directions = Annotated[
    DirectionChoice,
    typer.Option(
        "--direction",
        help="ingress: who may connect to each pod; egress: what each pod may connect to.",
    ),
]
ClusterCIDRs = Annotated[
    list[str],
    typer.Option(
        "--cluster-cidr",
        help="A pod, node or service CIDR, repeatable: addresses in it are inside the cluster "
        "(default: only addresses of pods and nodes in the input are).",
    ),
]
Output = Annotated[ExposureOutput, typer.Option("-o", "--output")]
IPBlock = Annotated[
    IPBlockMode,
    typer.Option(
        "--ipblock",
        help="calico: ipBlocks match pod and node IPs too (upstream e2e, Calico), so one "
        "reaching into a --cluster-cidr admits pods of any namespace; cilium: ipBlocks only "
        "match addresses outside the cluster.",
    ),
]
NodeTraffic = Annotated[
    bool,
    typer.Option(
        "--node-traffic/--no-node-traffic",
        help="Allow connections from a pod's own node (kubelet probes) whatever its ingress "
        "policies say; noted, never counted as exposure.",
    ),
]
Family = Annotated[
    int | None,
    typer.Option(
        "--ip-family",
        help="4 or 6: which address family flows use (ipBlocks of the other family are ignored).",
        min=4,
        max=6,
    ),
]


def _networks(texts: list[str]) -> list[str]:
    """`--cluster-cidr` values, canonical; a bad one is an input error (exit 2)."""
    networks = []
    for text in texts:
        try:
            networks.append(str(ipaddress.ip_network(text.strip(), strict=False)))
        except ValueError as error:
            raise InputError(f"--cluster-cidr {text!r}: not a CIDR ({error})") from error
    return networks




def exposure(
    files: Files = [],  # noqa: B006 - typer needs a literal default
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    namespace: Namespace = None,
    all_namespaces: AllNamespaces = False,
    port: Ports = [],  # noqa: B006
    direction: Directions = DirectionChoice.both,
    cluster_cidr: ClusterCIDRs = [],  # noqa: B006
    output: Output = ExposureOutput.table,
    legacy_cidr: LegacyCIDR = False,
    ipblock: IPBlock = IPBlockMode.calico,
    node_traffic: NodeTraffic = True,
    ip_family: Family = None,
) -> None:
    """Which pods are open wide: to outside the cluster, any namespace, or pods to come.

    Ingress: who can reach each pod from outside the cluster, from any namespace, or from pods
    that do not exist yet; egress: what each pod can reach that way. Each with the wide
    selector and the policy and field path that grant it.
    """
    try:
        options = options_from(ipblock, node_traffic, ip_family)
        ports = parse_ports(port)
        networks = _networks(cluster_cidr)
        live = ClusterSource(kubeconfig, context)
        loaded = load_input(files, namespace, legacy_cidr, cluster=live)
    except PodwallError as error:  # handled here too, so the command exits 2 in any app
        warn(f"error: {error}")
        raise typer.Exit(error.exit_code) from error
    scope = namespace if namespace and not all_namespaces else None
    report = analyze_exposure(
        loaded.cluster,
        options,
        networks=networks,
        ports=ports,
        directions=direction.directions,
        namespace=scope,
    )
    if output is ExposureOutput.table:
        Console(highlight=False).print(exposure_view(report))
    else:
        sys.stdout.write(dump(exposure_data(report), output.value))
