"""The audit log: one row per failed login and per change, with who, when, where and a diff."""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from podwall.console.models import AuditEntry

__all__ = ["list_audit", "record", "render_diff"]


def record(
    db: Session, *, at: datetime, username: str, action: str, cluster: str | None = None,
    object: str | None = None, diff: str = "",
) -> AuditEntry:
    entry = AuditEntry(at=at, username=username, action=action, cluster=cluster, object=object,
                       diff=diff)
    db.add(entry)
    return entry


def render_diff(before: str, after: str, name: str) -> str:
    """A unified diff of two texts, as the audit history shows changes."""
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 f"a/{name}", f"b/{name}")
    return "".join(lines)


def list_audit(
    db: Session, *, cluster: str | None = None, limit: int = 200
) -> Sequence[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if cluster is not None:
        query = query.where(AuditEntry.cluster == cluster)
    return db.scalars(query).all()
