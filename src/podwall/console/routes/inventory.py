"""Routes reading a cluster's objects as its last sync (and the console's own writes since)
stored them: namespaces, pods, and one policy with its YAML and form (viewer)."""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from podwall.console import auth, clusters, forms, writes
from podwall.console.deps import Caller, Db
from podwall.console.models import ClusterObject, Role

__all__ = ["NamespaceOut", "PodOut", "PolicyDetail", "router"]

router = APIRouter(tags=["inventory"])


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NamespaceOut(_Out):
    name: str
    labels: dict[str, str]


class PodOut(_Out):
    namespace: str
    name: str
    labels: dict[str, str]
    ip: str | None


class PolicyDetail(_Out):
    manifest: dict[str, Any]
    yaml: str  # to edit: without the server's fields but for resourceVersion
    form: forms.PolicyForm | None  # None: the form cannot express this policy


def _stored(db: Db, cluster_id: int, kind: str, namespace: str | None = None
            ) -> list[dict[str, Any]]:
    query = select(ClusterObject.manifest).where(
        ClusterObject.cluster_id == cluster_id, ClusterObject.kind == kind)
    if namespace:
        query = query.where(ClusterObject.namespace == namespace)
    return [json.loads(m) for m in db.scalars(
        query.order_by(ClusterObject.namespace, ClusterObject.name))]


@router.get("/clusters/{name}/namespaces", response_model=list[NamespaceOut])
def list_namespaces(name: str, caller: Caller, db: Db) -> list[NamespaceOut]:
    cluster = clusters.get_cluster(db, name)
    auth.require_role(db, caller, cluster, Role.viewer)
    return [NamespaceOut(name=m["metadata"]["name"], labels=m["metadata"].get("labels") or {})
            for m in _stored(db, cluster.id, "Namespace")]


@router.get("/clusters/{name}/pods", response_model=list[PodOut])
def list_pods(name: str, caller: Caller, db: Db, namespace: str | None = None) -> list[PodOut]:
    cluster = clusters.get_cluster(db, name)
    auth.require_role(db, caller, cluster, Role.viewer)
    return [PodOut(namespace=m["metadata"].get("namespace", ""), name=m["metadata"]["name"],
                   labels=m["metadata"].get("labels") or {},
                   ip=(m.get("status") or {}).get("podIP"))
            for m in _stored(db, cluster.id, "Pod", namespace)]


@router.get("/clusters/{name}/policies/{namespace}/{policy}", response_model=PolicyDetail)
def get_policy(name: str, namespace: str, policy: str, caller: Caller, db: Db) -> PolicyDetail:
    cluster = clusters.get_cluster(db, name)
    auth.require_role(db, caller, cluster, Role.viewer)
    manifest = writes.stored_policy(db, cluster, namespace, policy)
    return PolicyDetail(manifest=manifest, yaml=writes.editable_yaml(manifest),
                        form=forms.manifest_to_form(manifest))
