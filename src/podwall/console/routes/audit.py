"""Routes for the audit log."""

from __future__ import annotations

from fastapi import APIRouter

from podwall.console import audit, auth
from podwall.console.deps import Caller, Db
from podwall.console.schemas import AuditOut

__all__ = ["router"]

router = APIRouter(tags=["audit"])


@router.get("/audit", response_model=list[AuditOut])
def list_audit(caller: Caller, db: Db, cluster: str | None = None,
               limit: int = 200) -> list[AuditOut]:
    auth.require_admin(caller)
    return [AuditOut(at=e.at, username=e.username, action=e.action, cluster=e.cluster,
                     object=e.object, diff=e.diff)
            for e in audit.list_audit(db, cluster=cluster, limit=min(limit, 1000))]
