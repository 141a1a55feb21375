"""How wide one rule peer is: does it admit the outside, any namespace, or pods not yet created?

A peer is judged by what it says, not only by what it matches today (np-guard's view):
- ipBlock: the outside when it admits an address no cluster member holds (see `addresses`);
  with Calico's reading (ipBlocks match pods too), any pod of any namespace given an address
  in a declared cluster network it reaches into.
- namespaceSelector {}: every namespace, including those created later. With no or an empty
  podSelector that is `entire-cluster`; otherwise pods with those labels in any namespace.
- any other namespaceSelector admits namespaces created later with those labels, unless it
  pins `kubernetes.io/metadata.name` to names that all exist.
- in a fixed set of namespaces (the policy's own, or pinned names), a podSelector admits pods
  not yet created when it is absent or empty (every pod there), only excludes labels (NotIn,
  DoesNotExist: any new pod without them), or matches no current pod (any pod given those
  labels later). A podSelector naming labels current pods carry is taken as meant: new replicas
  of those workloads are expected, not exposure.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from podwall.exposure.addresses import Address, Network, admits_outside, cluster_overlap
from podwall.exposure.findings import ExposureKind
from podwall.model import NAMESPACE_NAME_LABEL, Cluster, LabelSelector, Peer, SelectorOperator
from podwall.semantics import ClusterIndex, Options
from podwall.semantics.rules import describe_peer
from podwall.semantics.table import EndpointTable

__all__ = [
    "ENTIRE_CLUSTER",
    "PeerContext",
    "PeerExposure",
    "everything",
    "judge_peer",
    "open_exposures",
]

ENTIRE_CLUSTER = "entire-cluster"
_OUT = ExposureKind.OUTSIDE
_ANY = ExposureKind.ANY_NAMESPACE
_NEW = ExposureKind.FUTURE_PODS
_NEGATIVE = (SelectorOperator.NOT_IN, SelectorOperator.DOES_NOT_EXIST)


@dataclass(frozen=True, slots=True, kw_only=True)
class PeerExposure:
    """One way a peer is wide; `field` is appended to the peer's path (`.namespaceSelector`)."""

    peer: str
    kinds: tuple[ExposureKind, ...]
    why: str
    field: str = ""


@dataclass(frozen=True, slots=True)
class PeerContext:
    """What judging peers reads: namespace names, current pods, addresses, built once."""

    options: Options
    namespaces: frozenset[str]
    table: EndpointTable
    networks: tuple[Network, ...]
    members: frozenset[Address]

    @classmethod
    def build(
        cls, cluster: Cluster, options: Options, networks: tuple[Network, ...]
    ) -> PeerContext:
        index = ClusterIndex.build(cluster)
        table = EndpointTable(cluster.pods, cluster, options, index)
        members = {*index.pod_by_ip, *index.node_by_ip}
        return cls(
            options,
            frozenset(ns.name for ns in cluster.namespaces),
            table,
            networks,
            frozenset(ipaddress.ip_address(ip) for ip in members),
        )


def everything(options: Options) -> str:
    """Every outside address of the families flows use."""
    return {4: "0.0.0.0/0", 6: "::/0"}.get(options.ip_family or 0, "0.0.0.0/0 and ::/0")


def open_exposures(why: str, options: Options) -> tuple[PeerExposure, ...]:
    """A pod nothing isolates, or a rule with no peers: everyone, inside and out (np-guard
    reports the two halves apart: the address space and `entire-cluster`)."""
    return (
        PeerExposure(peer=everything(options), kinds=(_OUT,), why=why),
        PeerExposure(peer=ENTIRE_CLUSTER, kinds=(_ANY, _NEW), why=why),
    )


def _pinned_names(selector: LabelSelector) -> frozenset[str] | None:
    """The namespace names a selector is limited to by their name label, if it is."""
    names: set[str] | None = None
    if NAMESPACE_NAME_LABEL in selector.match_labels:
        names = {selector.match_labels[NAMESPACE_NAME_LABEL]}
    for req in selector.match_expressions:
        if req.key == NAMESPACE_NAME_LABEL and req.operator == SelectorOperator.IN:
            names = set(req.values) if names is None else names & set(req.values)
    return None if names is None else frozenset(names)


def _single_name(selector: LabelSelector) -> str | None:
    """`X` when the selector is exactly `kubernetes.io/metadata.name: X`."""
    if selector.match_expressions or list(selector.match_labels) != [NAMESPACE_NAME_LABEL]:
        return None
    return selector.match_labels[NAMESPACE_NAME_LABEL]


def _namespaces_text(selector: LabelSelector) -> str:
    return _single_name(selector) or f"[namespace with {{{selector.render()}}}]"


def _pods_text(selector: LabelSelector | None) -> str:
    if selector is None or selector.is_empty:
        return "[all pods]"
    return f"[pod with {{{selector.render()}}}]"


def _only_excludes(selector: LabelSelector) -> bool:
    return not selector.match_labels and all(
        r.operator in _NEGATIVE for r in selector.match_expressions
    )


def _ip_block(peer: Peer, ctx: PeerContext) -> tuple[PeerExposure, ...]:
    block = peer.ip_block
    if block is None:
        return ()
    family = ctx.options.ip_family
    if family is not None and (":" in block.cidr) != (family == 6):
        return ()
    text = describe_peer(peer, "").removeprefix("addresses in ")
    found: list[PeerExposure] = []
    if admits_outside(block, ctx.networks, ctx.members):
        found.append(
            PeerExposure(
                peer=text,
                kinds=(_OUT,),
                why="ipBlock admits addresses outside the cluster",
                field=".ipBlock",
            )
        )
    overlap = cluster_overlap(block, ctx.networks) if ctx.options.ipblock_matches_cluster else ()
    if overlap:
        nets = ", ".join(str(n) for n in overlap)
        found.append(
            PeerExposure(
                peer=text,
                kinds=(_ANY, _NEW),
                why=f"ipBlock reaches into the cluster network {nets}: ipBlocks match pod "
                "addresses (Calico's reading), so any pod given an address there qualifies, "
                "whatever its namespace or labels",
                field=".ipBlock",
            )
        )
    return tuple(found)


def judge_peer(peer: Peer, policy_ns: str, ctx: PeerContext) -> tuple[PeerExposure, ...]:
    """Every way this peer is wide (none when it only admits pods that exist today)."""
    if peer.ip_block is not None:
        return _ip_block(peer, ctx)
    ns_sel, pod_sel = peer.namespace_selector, peer.pod_selector
    pods = _pods_text(pod_sel)
    if ns_sel is not None and ns_sel.is_empty:
        if pods == "[all pods]":
            why = "namespaceSelector {} with no podSelector restriction: every pod of every "
            return (
                PeerExposure(
                    peer=ENTIRE_CLUSTER,
                    kinds=(_ANY, _NEW),
                    why=why + "namespace, including namespaces created later",
                    field=".namespaceSelector",
                ),
            )
        return (
            PeerExposure(
                peer=f"[all namespaces]/{pods}",
                kinds=(_ANY, _NEW),
                why="namespaceSelector {} selects every namespace, including namespaces "
                "created later",
                field=".namespaceSelector",
            ),
        )
    if ns_sel is not None:
        wide_ns = _wide_namespaces(ns_sel, ctx)
        if wide_ns:
            return (
                PeerExposure(
                    peer=f"{_namespaces_text(ns_sel)}/{pods}",
                    kinds=(_NEW,),
                    why=wide_ns,
                    field=".namespaceSelector",
                ),
            )
    where = _namespaces_text(ns_sel) if ns_sel is not None else policy_ns
    wide_pods = _wide_pods(peer, policy_ns, where, ctx)
    if not wide_pods:
        return ()
    field = ".podSelector" if pod_sel is not None else ".namespaceSelector"
    return (PeerExposure(peer=f"{where}/{pods}", kinds=(_NEW,), why=wide_pods, field=field),)


def _wide_namespaces(selector: LabelSelector, ctx: PeerContext) -> str:
    """Why the selector admits namespaces created later ("" when it does not)."""
    names = _pinned_names(selector)
    if names is None:
        return (
            f"namespaceSelector {selector.render()} admits any namespace created later "
            "with these labels"
        )
    missing = sorted(names - ctx.namespaces)
    if missing:
        return (
            f"namespace {', '.join(missing)} is not in the input: pods created there later qualify"
        )
    return ""


def _wide_pods(peer: Peer, policy_ns: str, where: str, ctx: PeerContext) -> str:
    """Why the pod part admits pods not yet created in fixed namespaces ("" when it does not)."""
    selector = peer.pod_selector
    if selector is None or selector.is_empty:
        said = "no podSelector" if selector is None else "podSelector {}"
        return f"{said}: every pod in {where} qualifies, including pods created there later"
    if _only_excludes(selector):
        return (
            f"podSelector {selector.render()} only excludes labels: any new pod in {where} "
            "without them qualifies"
        )
    if not ctx.table.peer(peer, policy_ns).any():
        return (
            f"podSelector {selector.render()} matches no pod in the input: any pod given "
            f"these labels in {where} later qualifies"
        )
    return ""
