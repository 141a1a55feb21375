"""The history of a cluster's policy changes: who changed which policy when, how, and whether
the change may still be reverted.

Every policy write made through the console is one audit entry: its action (`policy.create`,
`policy.update`, `policy.delete`, `policy.revert`), the object as `ns/name`, a unified diff of
the YAML before and after, and both manifests (JSON, without the fields the API server owns:
resourceVersion, uid, creationTimestamp, generation, managedFields) in `before_manifest` and
`after_manifest`; None is "did not exist". An entry may be reverted while nobody has reverted
it and the policy is, as far as the history knows, still in the entry's after-state; the
revert itself (in `writes`) checks the cluster's live state too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from podwall.console import audit
from podwall.console.errors import NotFound
from podwall.console.models import AuditEntry

__all__ = [
    "POLICY_ACTIONS",
    "SERVER_FIELDS",
    "HistoryItem",
    "get_entry",
    "list_history",
    "manifests",
    "object_key",
    "record_change",
    "render_yaml",
    "same_state",
    "strip_server_fields",
]

SERVER_FIELDS = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields",
                 "selfLink")
POLICY_ACTIONS = ("policy.create", "policy.update", "policy.delete", "policy.revert")
Manifest = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class HistoryItem:
    id: int
    at: datetime
    username: str
    action: str
    object: str
    diff: str
    revertable: bool
    reverted_by: int | None


def strip_server_fields(manifest: Mapping[str, Any] | None) -> Manifest | None:
    """The manifest without what the API server sets (and without an empty status)."""
    if manifest is None:
        return None
    meta = {k: v for k, v in (manifest.get("metadata") or {}).items() if k not in SERVER_FIELDS}
    out = {k: v for k, v in manifest.items() if k != "metadata" and not (k == "status" and not v)}
    return {**out, "metadata": meta}


def render_yaml(manifest: Mapping[str, Any] | None) -> str:
    return "" if manifest is None else yaml.safe_dump(dict(manifest), sort_keys=True)


def object_key(manifest: Mapping[str, Any]) -> str:
    meta = manifest.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name', '')}"


def _state(manifest: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    """What a revert must find unchanged: identity, labels, annotations and spec."""
    if manifest is None:
        return None
    meta = manifest.get("metadata") or {}
    return (meta.get("namespace") or "default", meta.get("name"), meta.get("labels") or {},
            meta.get("annotations") or {}, manifest.get("spec") or {})


def same_state(a: Mapping[str, Any] | None, b: Mapping[str, Any] | None) -> bool:
    return _state(a) == _state(b)


def record_change(
    db: DbSession, *, at: datetime, username: str, cluster: str, action: str, key: str,
    before: Mapping[str, Any] | None, after: Mapping[str, Any] | None,
) -> AuditEntry:
    """One audited policy write; `before`/`after` as the API server had and returned them."""
    before, after = strip_server_fields(before), strip_server_fields(after)
    entry = audit.record(db, at=at, username=username, action=action, cluster=cluster,
                         object=key, diff=audit.render_diff(render_yaml(before),
                                                            render_yaml(after), key))
    entry.before_manifest = None if before is None else json.dumps(before, sort_keys=True)
    entry.after_manifest = None if after is None else json.dumps(after, sort_keys=True)
    db.flush()  # the entry's id, for reverted_by
    return entry


def manifests(entry: AuditEntry) -> tuple[Manifest | None, Manifest | None]:
    """(before, after) of a policy entry."""
    load = lambda text: None if text is None else json.loads(text)  # noqa: E731
    return load(entry.before_manifest), load(entry.after_manifest)


def get_entry(db: DbSession, cluster: str, entry_id: int) -> AuditEntry:
    entry = db.get(AuditEntry, entry_id)
    if entry is None or entry.cluster != cluster or entry.action not in POLICY_ACTIONS:
        raise NotFound(f"no policy change #{entry_id} in the history of cluster {cluster}")
    return entry


def list_history(
    db: DbSession, cluster: str, *, namespace: str | None = None, name: str | None = None,
    limit: int = 200,
) -> list[HistoryItem]:
    """The cluster's policy changes, newest first; `namespace` and `name` filter exactly."""
    query = select(AuditEntry).where(AuditEntry.cluster == cluster,
                                     AuditEntry.action.in_(POLICY_ACTIONS))
    if namespace:
        query = query.where(AuditEntry.object.startswith(f"{namespace}/", autoescape=True))
    if name:
        query = query.where(AuditEntry.object.endswith(f"/{name}", autoescape=True))
    entries = db.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)).all()
    latest = _latest_after(db, cluster, {e.object for e in entries if e.object})
    return [HistoryItem(id=e.id, at=e.at, username=e.username, action=e.action,
                        object=e.object or "", diff=e.diff, reverted_by=e.reverted_by,
                        revertable=_is_revertable(e, latest))
            for e in entries]


def _latest_after(db: DbSession, cluster: str, keys: set[str]) -> dict[str, Manifest | None]:
    """For each object, its after-state in the newest entry: its state as far as we know."""
    if not keys:
        return {}
    newest = select(func.max(AuditEntry.id)).where(
        AuditEntry.cluster == cluster, AuditEntry.action.in_(POLICY_ACTIONS),
        AuditEntry.object.in_(keys)).group_by(AuditEntry.object)
    rows = db.scalars(select(AuditEntry).where(AuditEntry.id.in_(newest))).all()
    return {row.object or "": manifests(row)[1] for row in rows}


def _is_revertable(entry: AuditEntry, latest: Mapping[str, Manifest | None]) -> bool:
    if entry.reverted_by is not None or entry.object not in latest:
        return False
    before, after = manifests(entry)
    return (before is not None or after is not None) and same_state(after, latest[entry.object])
