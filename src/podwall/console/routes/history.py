"""Routes for a cluster's policy history: the changes, with diffs (viewer), and reverting one
(editor)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict

from podwall.console import auth, clusters, history, writes
from podwall.console.deps import Caller, Db, Now
from podwall.console.models import Role
from podwall.console.routes.writes import editor_change

__all__ = ["HistoryOut", "RevertOut", "router"]

router = APIRouter(tags=["history"])


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class HistoryOut(_Out):
    id: int
    at: datetime
    username: str
    action: str  # policy.create, policy.update, policy.delete or policy.revert
    object: str  # namespace/name
    diff: str  # unified diff of the YAML before and after
    revertable: bool
    reverted_by: int | None  # the id of the entry that reverted it


class RevertOut(_Out):
    manifest: dict[str, Any] | None  # the policy as restored; None: it was deleted


@router.get("/clusters/{name}/history", response_model=list[HistoryOut])
def list_history(name: str, caller: Caller, db: Db, namespace: str | None = None,
                 policy: str | None = Query(default=None, alias="name"),
                 limit: int = Query(default=200, ge=1, le=1000)) -> list[HistoryOut]:
    cluster = clusters.get_cluster(db, name)
    auth.require_role(db, caller, cluster, Role.viewer)
    items = history.list_history(db, cluster.name, namespace=namespace, name=policy,
                                 limit=limit)
    return [HistoryOut(id=i.id, at=i.at, username=i.username, action=i.action, object=i.object,
                       diff=i.diff, revertable=i.revertable, reverted_by=i.reverted_by)
            for i in items]


@router.post("/clusters/{name}/history/{entry_id}/revert", response_model=RevertOut)
def revert(name: str, entry_id: int, request: Request, caller: Caller, db: Db,
           now: Now) -> RevertOut:
    """Restore the policy as it was before the change; 409 if it changed since."""
    change = editor_change(request, db, caller, name, now)
    return RevertOut(manifest=writes.revert_change(db, change, entry_id))
