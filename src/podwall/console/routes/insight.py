"""Routes for understanding a cluster (viewer role), on its stored objects: the matrix (JSON
and SVG heatmap), the graph (JSON and SVG), explaining a flow or a pod, previewing a change and
linting. The work is `console.insight` and `console.proposal`; this module reads the stored
objects, keeps the analysed states, and shapes the HTTP answers.

Analysed states are kept per digest of the stored objects (the last sync's, or as writes
updated them), so repeated requests on an unchanged cluster share one class matrix and one lint
run; a changed object changes the digest, so nothing stale is ever served.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from podwall.console import auth, clusters
from podwall.console.deps import Caller, Db
from podwall.console.insight import (
    Insight,
    explain_flow,
    explain_pod_data,
    graph_data,
    graph_svg,
    lint_state,
    matrix_data,
    matrix_svg,
    parse_port,
    state_digest,
)
from podwall.console.models import ClusterObject, Role
from podwall.console.proposal import apply_proposal, lint_data, parse_proposal, preview
from podwall.semantics import PortSpec

__all__ = ["analysed", "router"]

router = APIRouter(tags=["insight"])

_CACHED_STATES = 8
_SVG_HEADERS = {  # the picture opened on its own: nothing may load or run
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
    "X-Content-Type-Options": "nosniff",
}


class _States:
    """The last few analysed states, by digest of their stored objects."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._states: OrderedDict[str, Insight] = OrderedDict()

    def get(self, digest: str, build: Callable[[], Insight]) -> Insight:
        with self._lock:
            if digest in self._states:
                self._states.move_to_end(digest)
                return self._states[digest]
        state = build()  # outside the lock: other clusters need not wait
        with self._lock:
            state = self._states.setdefault(digest, state)
            while len(self._states) > self._size:
                self._states.popitem(last=False)
        return state


_STATES = _States(_CACHED_STATES)


def analysed(db: DbSession, caller: auth.Principal, name: str,
             needed: Role = Role.viewer) -> Insight:
    """The cluster's stored objects analysed, for a caller holding at least `needed`."""
    cluster = clusters.get_cluster(db, name)
    auth.require_role(db, caller, cluster, needed)
    rows = db.execute(
        select(ClusterObject.kind, ClusterObject.namespace, ClusterObject.name,
               ClusterObject.manifest).where(ClusterObject.cluster_id == cluster.id)
    ).all()
    stored = [tuple(row) for row in rows]
    return _STATES.get(
        state_digest(stored),
        lambda: Insight.from_manifests([json.loads(row[3]) for row in stored]),
    )


def _namespaces(values: list[str] | None) -> list[str]:
    """`?namespace=a&namespace=b` or `?namespace=a,b`; empty values are ignored."""
    return [n.strip() for v in values or [] for n in v.split(",") if n.strip()]


Port = Annotated[int | None, Query(description="destination port; none: each destination's "
                                   "declared ports")]
Protocol = Annotated[str | None, Query(description="TCP (default), UDP or SCTP")]
Namespaces = Annotated[list[str] | None, Query(alias="namespace",
                                               description="only pods of these namespaces")]


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class MatrixPod(_Out):
    id: str
    namespace: str
    name: str
    labels: dict[str, str]


class MatrixOut(_Out):
    port: int | None
    protocol: str | None
    title: str
    ports: list[str]  # every port some pod declares (a port picker's choices)
    namespaces: list[str]
    pods: list[MatrixPod]
    allowed: list[list[bool]]  # [from][to]
    warnings: list[str]
    can_probe: bool  # the cluster has a prober: POST /clusters/{name}/probe


class GraphGroup(_Out):
    namespace: str
    pods: list[str]


class GraphNode(_Out):
    id: str
    namespace: str
    label: str
    pods: list[str]


class GraphEdge(_Out):
    from_: str = Field(alias="from")
    to: str
    ports: list[str]
    label: str


class GraphOut(_Out):
    port: int | None
    protocol: str | None
    title: str
    detail: str  # pods | groups | namespaces: what a node stands for
    groups: list[GraphGroup]
    nodes: list[GraphNode]
    edges: list[GraphEdge]


class ReasonOut(_Out):
    direction: str
    allowed: bool
    policy: str
    path: str
    text: str


class SideOut(_Out):
    allowed: bool
    isolated_by: list[str]


class ExplainOut(_Out):
    verdict: str
    from_: str = Field(alias="from")
    to: str
    port: int
    protocol: str
    reasons: list[ReasonOut]
    egress: SideOut
    ingress: SideOut
    notes: list[str]
    text: str  # as `podwall check` prints it, without the frame


class PodExplainOut(_Out):
    pod: str
    port: int | None
    protocol: str | None
    isolated_ingress: bool
    isolated_egress: bool
    policies: list[str]
    reachable_from: list[str]
    can_reach: list[str]
    ingress: dict[str, Any]
    egress: dict[str, Any]
    notes: list[str]
    text: str  # as `podwall explain NS/POD` prints it, without the frame


class PolicyRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    namespace: str = Field(min_length=1, max_length=253)
    name: str = Field(min_length=1, max_length=253)


class ProposalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    yaml: str = Field(default="", max_length=10_000_000)
    delete: list[PolicyRef] = Field(default_factory=list)
    namespace: str = "default"  # for objects that name none
    legacy_cidr: bool = False


class CellOut(_Out):
    from_: str = Field(alias="from")
    to: str
    port: int
    protocol: str


class FindingOut(_Out):
    code: str
    title: str
    severity: str
    kind: str
    name: str
    policy: str
    path: str
    message: str
    fix: str
    new: bool


class PreviewOut(_Out):
    opened: list[CellOut]
    closed: list[CellOut]
    opened_count: int
    closed_count: int
    truncated: bool  # more cells changed than are listed; the counts are exact
    summary: str
    policies: dict[str, list[str]]
    diff: dict[str, Any]  # `podwall diff -o json`
    findings: list[FindingOut]  # lint findings the change adds
    warnings: list[str]


class LintOut(_Out):
    findings: list[FindingOut]
    summary: dict[str, int]
    skipped: list[str]


def _svg(text: str) -> Response:
    return Response(content=text, media_type="image/svg+xml", headers=_SVG_HEADERS)


@router.get("/clusters/{name}/matrix", response_model=MatrixOut)
def matrix(name: str, request: Request, caller: Caller, db: Db, port: Port = None,
           protocol: Protocol = None, namespace: Namespaces = None) -> Response:
    data = matrix_data(analysed(db, caller, name), parse_port(port, protocol),
                       _namespaces(namespace))
    data["can_probe"] = name in request.app.state.probers  # POST .../probe: real packets
    return Response(content=json.dumps(data, separators=(",", ":")),
                    media_type="application/json")  # big grids: skip per-cell validation


@router.get("/clusters/{name}/matrix.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}}})
def matrix_picture(name: str, caller: Caller, db: Db, port: Port = None,
                   protocol: Protocol = None, namespace: Namespaces = None) -> Response:
    return _svg(matrix_svg(analysed(db, caller, name), parse_port(port, protocol),
                           _namespaces(namespace)))


@router.get("/clusters/{name}/graph", response_model=GraphOut)
def graph(name: str, caller: Caller, db: Db, port: Port = None, protocol: Protocol = None,
          namespace: Namespaces = None) -> dict:
    return graph_data(analysed(db, caller, name), parse_port(port, protocol),
                      _namespaces(namespace))


@router.get("/clusters/{name}/graph.svg", response_class=Response,
            responses={200: {"content": {"image/svg+xml": {}}}})
def graph_picture(name: str, caller: Caller, db: Db, port: Port = None,
                  protocol: Protocol = None, namespace: Namespaces = None) -> Response:
    return _svg(graph_svg(analysed(db, caller, name), parse_port(port, protocol),
                          _namespaces(namespace)))


@router.get("/clusters/{name}/explain", response_model=ExplainOut)
def explain(
    name: str, caller: Caller, db: Db,
    source: Annotated[str, Query(alias="from", description="NS/POD or an IP address")],
    destination: Annotated[str, Query(alias="to", description="NS/POD or an IP address")],
    port: Annotated[int, Query()], protocol: Protocol = None,
) -> dict:
    spec = parse_port(port, protocol) or PortSpec(port)  # a port is given: never None
    return explain_flow(analysed(db, caller, name), source, destination, spec)


@router.get("/clusters/{name}/pods/{namespace}/{pod}/explain", response_model=PodExplainOut)
def explain_pod(name: str, namespace: str, pod: str, caller: Caller, db: Db,
                port: Port = None, protocol: Protocol = None) -> dict:
    return explain_pod_data(analysed(db, caller, name), f"{namespace}/{pod}",
                            parse_port(port, protocol))


@router.post("/clusters/{name}/preview", response_model=PreviewOut)
def preview_change(name: str, body: ProposalIn, caller: Caller, db: Db) -> dict:
    insight = analysed(db, caller, name)
    proposal = parse_proposal(body.yaml, [(d.namespace, d.name) for d in body.delete],
                              namespace=body.namespace, legacy_cidr=body.legacy_cidr)
    return preview(insight, proposal)


@router.post("/clusters/{name}/lint", response_model=LintOut)
def lint(name: str, caller: Caller, db: Db, body: ProposalIn | None = None) -> dict:
    """Findings on the cluster as it is, or with the proposal applied (`new` marks findings
    the proposal adds)."""
    insight = analysed(db, caller, name)
    if body is None or (not body.yaml.strip() and not body.delete):
        return lint_data(insight.lint())
    proposal = parse_proposal(body.yaml, [(d.namespace, d.name) for d in body.delete],
                              namespace=body.namespace, legacy_cidr=body.legacy_cidr)
    return lint_data(lint_state(apply_proposal(insight.cluster, proposal)), insight.lint())
