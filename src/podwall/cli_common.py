"""The command line's shared edge: reading input as every command does, plain messages, and the
options several commands take. One place, so `matrix`, `lint` and `diff` read input alike."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from podwall.assemble import Loaded, assemble
from podwall.errors import InputError, InvalidObjects
from podwall.inputs import read_documents
from podwall.kube import KUBE_PREFIX, ClusterSource, is_cluster_reference, read_cluster
from podwall.model import Pod
from podwall.semantics import Options, PortSpec, parse_port_spec

__all__ = ["ClusterSource", "IPBlockMode", "load_input", "parse_port", "parse_ports", "say", "warn"]


Kubeconfig = Annotated[
    str | None,
    typer.Option(
        "--kubeconfig",
        help="Read a live cluster with this kubeconfig (default without -f: $KUBECONFIG, "
        "then ~/.kube/config).",
    ),
]
KubeContext = Annotated[
    str | None, typer.Option("--context", help="Kubeconfig context (default: the current one).")
]


class IPBlockMode(StrEnum):
    calico = "calico"
    cilium = "cilium"


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


Files = Annotated[
    list[str],
    typer.Option(
        "-f", "--filename", help="File, directory (read recursively) or - for stdin; repeatable."
    ),
]
Namespace = Annotated[
    str | None,
    typer.Option(
        "-n", "--namespace", help="Namespace for objects that name none; limits the pods shown."
    ),
]
AllNamespaces = Annotated[
    bool,
    typer.Option(
        "-A", "--all-namespaces", help="Show pods of every namespace (the default without -n)."
    ),
]
LegacyCIDR = Annotated[
    bool,
    typer.Option(
        "--legacy-cidr",
        help="Accept CIDRs as API servers before StrictIPCIDRValidation did "
        "(host bits set, leading zeros).",
    ),
]


def options_from(ipblock: IPBlockMode, node_traffic: bool, family: int | None) -> Options:
    """The core's Options from the flags every analysis command shares."""
    if family not in (None, 4, 6):
        raise InputError("--ip-family must be 4 or 6")
    return Options(
        ipblock_matches_cluster=ipblock is IPBlockMode.calico,
        allow_node_local=node_traffic,
        ip_family=family,
    )


def say(text: str) -> None:
    """Plain text to stdout, never wrapped: error lines must stay byte-exact."""
    sys.stdout.write(text + "\n")


def warn(text: str) -> None:
    sys.stderr.write(text + "\n")


def load_input(
    files: list[str],
    namespace: str | None,
    legacy_cidr: bool,
    *,
    require_valid: bool = True,
    cluster: ClusterSource | None = None,
) -> Loaded:
    """Read `-f` arguments (files, directories, `-`, or `kube:[CONTEXT]` for a live cluster;
    with none, the cluster of `cluster` or of the default kubeconfig), validate as the API
    server would, tell notices and warnings on stderr; invalid objects stop the command
    (exit 2) unless the caller reports them itself."""
    pairs: list[tuple[str, dict]] = []
    paths = [f for f in files if not is_cluster_reference(f)]
    for ref in (f for f in files if is_cluster_reference(f)):
        context = ref[len(KUBE_PREFIX) :] or (cluster.context if cluster else None)
        pairs += read_cluster(ClusterSource(cluster.kubeconfig if cluster else None, context))
    if not files:
        pairs += read_cluster(cluster or ClusterSource())
    if paths:
        pairs += [(d.source, d.manifest) for d in read_documents(paths)]
    loaded = assemble(
        pairs,
        default_ns=namespace or "default",
        strict_cidr=not legacy_cidr,
    )
    for notice in loaded.notices:
        warn(f"notice: {notice}")
    for warning in loaded.warnings:
        warn(f"warning: {warning}")
    if require_valid and loaded.invalid:
        raise InvalidObjects(list(loaded.invalid))
    return loaded


def parse_port(text: str) -> PortSpec:
    """One `--port` value (`80`, `53/UDP`); a bad one is an input error (exit 2)."""
    try:
        return parse_port_spec(text)
    except ValueError as error:
        raise InputError(f"--port {error}") from error


def parse_ports(texts: list[str]) -> list[PortSpec] | None:
    """Repeated `--port` values; None when none were given (the command's default)."""
    return [parse_port(t) for t in texts] or None


def pods_in_scope(loaded: Loaded, namespace: str | None, all_ns: bool) -> list[Pod]:
    """The pods `-n` names (all of them with -A or without -n)."""
    pods = list(loaded.cluster.pods)
    if namespace and not all_ns:
        pods = [p for p in pods if p.namespace == namespace]
    return pods
