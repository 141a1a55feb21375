"""Routes for a cluster's NetworkPolicies: listing (from the last sync) and validating YAML."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from podwall.console import auth, clusters, policies
from podwall.console.deps import Caller, Db
from podwall.console.models import Role
from podwall.console.schemas import PolicyList, ValidateIn, ValidateOut

__all__ = ["router"]

router = APIRouter(tags=["policies"])


@router.get("/clusters/{name}/policies", response_model=PolicyList)
def list_policies(
    name: str, caller: Caller, db: Db, namespace: str | None = None,
    policy_name: Annotated[str | None, Query(alias="name", description="part of the name")] = None,
    label: str | None = None,
) -> PolicyList:
    cluster = clusters.get_cluster(db, name)
    auth.require_role(db, caller, cluster, Role.viewer)
    items = policies.list_policies(db, cluster, namespace=namespace, name=policy_name,
                                   label=label)
    return PolicyList(cluster=name, last_sync_at=cluster.last_sync_at, items=items)


@router.post("/validate", response_model=ValidateOut)
def validate(body: ValidateIn, caller: Caller) -> ValidateOut:
    result = policies.validate_yaml(body.yaml, namespace=body.namespace,
                                    legacy_cidr=body.legacy_cidr)
    return ValidateOut(valid=result.valid, invalid=result.invalid, messages=list(result.messages),
                       warnings=list(result.warnings), summary=result.summary)
