"""Routes for registered clusters: registering, reading, deleting and synchronising."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from podwall.console import auth, clusters
from podwall.console.deps import Caller, Db, Now
from podwall.console.models import Cluster, ClusterObject, Role
from podwall.console.schemas import ClusterIn, ClusterOut, SyncOut

__all__ = ["cluster_out", "router"]

router = APIRouter(tags=["clusters"])


def cluster_out(db: DbSession, caller: auth.Principal, cluster: Cluster) -> ClusterOut:
    counts = {kind: n for kind, n in db.execute(
        select(ClusterObject.kind, func.count()).where(ClusterObject.cluster_id == cluster.id)
        .group_by(ClusterObject.kind))}
    state = ("unreachable" if cluster.last_sync_error
             else "synced" if cluster.last_sync_at else "never synced")
    sync = SyncOut(state=cluster.sync_state, step=cluster.sync_step,
                   progress=cluster.sync_progress, started_at=cluster.sync_started_at,
                   finished_at=cluster.sync_finished_at)
    return ClusterOut(name=cluster.name, context=cluster.context, created_at=cluster.created_at,
                      last_sync_at=cluster.last_sync_at, last_sync_error=cluster.last_sync_error,
                      state=state, role=auth.role_on(db, caller, cluster), counts=counts,
                      sync=sync)


@router.get("/clusters", response_model=list[ClusterOut])
def list_clusters(caller: Caller, db: Db) -> list[ClusterOut]:
    visible = [c for c in clusters.list_clusters(db) if auth.role_on(db, caller, c) is not None]
    return [cluster_out(db, caller, c) for c in visible]


@router.post("/clusters", response_model=ClusterOut, status_code=201)
def register_cluster(body: ClusterIn, caller: Caller, db: Db, now: Now) -> ClusterOut:
    auth.require_admin(caller)
    cluster = clusters.register_cluster(db, name=body.name, kubeconfig=body.kubeconfig,
                                        context=body.context, username=caller.username, now=now)
    db.flush()
    return cluster_out(db, caller, cluster)


@router.get("/clusters/{name}", response_model=ClusterOut)
def get_cluster(name: str, caller: Caller, db: Db) -> ClusterOut:
    cluster = clusters.get_cluster(db, name)
    auth.require_role(db, caller, cluster, Role.viewer)
    return cluster_out(db, caller, cluster)


@router.delete("/clusters/{name}", status_code=204)
def delete_cluster(name: str, caller: Caller, db: Db, now: Now) -> None:
    """Forget the cluster, its synced objects and role bindings (global admins)."""
    auth.require_admin(caller)
    clusters.delete_cluster(db, clusters.get_cluster(db, name), username=caller.username,
                            now=now)


@router.post("/clusters/{name}/sync", response_model=ClusterOut, status_code=202,
             responses={200: {"model": ClusterOut, "description": "?wait=true: it has ended"}})
def sync_cluster(name: str, request: Request, response: Response, caller: Caller, db: Db,
                 wait: bool = False) -> ClusterOut:
    """Start a sync in the background (202, sync.state "running"); one already running is
    answered as is. With `?wait=true`, answer when it has ended (200; it has a deadline)."""
    cluster = clusters.get_cluster(db, name)
    auth.require_role(db, caller, cluster, Role.editor)
    syncs: clusters.Syncs = request.app.state.syncs
    syncs.start(db, cluster, username=caller.username)
    if wait:
        syncs.wait(cluster.id)
        db.refresh(cluster)
        if cluster.sync_state != clusters.SYNC_RUNNING:
            response.status_code = 200
    return cluster_out(db, caller, cluster)
