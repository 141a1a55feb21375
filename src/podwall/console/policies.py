"""Policies of a cluster as its last sync read them, filtered; and validating YAML as
`podwall validate` does, with the API server's messages."""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from podwall.assemble import assemble
from podwall.console.errors import Unprocessable
from podwall.console.models import Cluster, ClusterObject
from podwall.errors import InputError
from podwall.inputs import read_documents
from podwall.validation import render_errors

__all__ = ["Validation", "list_policies", "parse_label_filter", "validate_yaml"]

POLICY_KIND = "NetworkPolicy"


@dataclass(frozen=True, slots=True, kw_only=True)
class Validation:
    valid: int
    invalid: int
    messages: tuple[str, ...]  # one per invalid object, rendered as kubectl shows a 422
    warnings: tuple[str, ...]
    summary: str


def parse_label_filter(text: str | None) -> dict[str, str | None]:
    """`app=web,tier` -> {app: web, tier: None (exists)}; 422 on an empty key."""
    wanted: dict[str, str | None] = {}
    for term in filter(None, (t.strip() for t in (text or "").split(","))):
        key, eq, value = term.partition("=")
        if not key.strip():
            raise Unprocessable(f"label filter {term!r}: empty key")
        wanted[key.strip()] = value.strip() if eq else None
    return wanted


def _has_labels(labels: Mapping[str, str], wanted: Mapping[str, str | None]) -> bool:
    return all(k in labels and (v is None or labels[k] == v) for k, v in wanted.items())


def list_policies(
    db: DbSession, cluster: Cluster, *, namespace: str | None = None, name: str | None = None,
    label: str | None = None,
) -> list[dict[str, Any]]:
    """The stored NetworkPolicy manifests; `name` matches a substring."""
    wanted = parse_label_filter(label)
    query = select(ClusterObject).where(
        ClusterObject.cluster_id == cluster.id, ClusterObject.kind == POLICY_KIND
    ).order_by(ClusterObject.namespace, ClusterObject.name)
    if namespace:
        query = query.where(ClusterObject.namespace == namespace)
    found = []
    for row in db.scalars(query):
        if name and name not in row.name:
            continue
        manifest = json.loads(row.manifest)
        if _has_labels(manifest.get("metadata", {}).get("labels") or {}, wanted):
            found.append(manifest)
    return found


def validate_yaml(
    text: str, *, namespace: str = "default", legacy_cidr: bool = False
) -> Validation:
    """Every error in `text` (YAML or JSON, multi-document), as `podwall validate` prints them."""
    try:
        documents = read_documents(["-"], stdin=io.StringIO(text))
    except InputError as err:
        raise Unprocessable(str(err).replace("-: ", "", 1)) from err
    loaded = assemble([(d.source, d.manifest) for d in documents], namespace,
                      strict_cidr=not legacy_cidr)
    messages = tuple(render_errors(i.kind, i.name, i.errors) for i in loaded.invalid)
    return Validation(
        valid=len(loaded.objects), invalid=len(loaded.invalid), messages=messages,
        warnings=loaded.warnings,
        summary=f"{len(loaded.objects)} valid, {len(loaded.invalid)} invalid",
    )
