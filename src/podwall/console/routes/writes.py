"""Routes changing a cluster's NetworkPolicies (editor): create, replace, delete one or many,
from YAML or from the form; and turning a form into its manifest without saving it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from podwall.console import auth, clusters, forms, history, writes
from podwall.console.deps import Caller, Db, Now
from podwall.console.errors import Unprocessable
from podwall.console.models import Role

__all__ = ["BulkDeleteIn", "BulkDeleteOut", "FormIn", "PolicyIn", "PolicyOut", "editor_change",
           "router"]

router = APIRouter(tags=["policies"])


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PolicyIn(_Model):
    """Exactly one of `yaml` (one NetworkPolicy) and `form`."""

    yaml: str | None = Field(default=None, max_length=1_000_000)
    form: forms.PolicyForm | None = None


class PolicyOut(_Model):
    manifest: dict[str, Any]
    yaml: str


class FormIn(_Model):
    form: forms.PolicyForm


class PolicyRef(_Model):
    namespace: str = Field(min_length=1, max_length=253)
    name: str = Field(min_length=1, max_length=253)


class FailedRef(PolicyRef):
    detail: str


class BulkDeleteIn(_Model):
    items: list[PolicyRef] = Field(max_length=1000)


class BulkDeleteOut(_Model):
    deleted: list[PolicyRef]
    failed: list[FailedRef]


def editor_change(request: Request, db: Db, caller: auth.Principal, cluster_name: str,
                  now: datetime) -> writes.Change:
    """The write's context, for a caller holding editor on the cluster (else 403)."""
    cluster = clusters.get_cluster(db, cluster_name)
    auth.require_role(db, caller, cluster, Role.editor)
    timeout = getattr(request.app.state, "write_timeout", writes.DEFAULT_TIMEOUT)
    return writes.Change(cluster=cluster, username=caller.username, now=now, timeout=timeout)


def _manifest(body: PolicyIn, namespace: str | None = None) -> dict[str, Any]:
    if (body.yaml is None) == (body.form is None):
        raise Unprocessable("give exactly one of `yaml` and `form`")
    if body.form is not None:
        return writes.form_manifest(body.form)
    return writes.yaml_manifest(body.yaml or "", namespace)


def _out(manifest: dict[str, Any]) -> PolicyOut:
    return PolicyOut(manifest=manifest, yaml=writes.editable_yaml(manifest))


@router.post("/clusters/{name}/policies", response_model=PolicyOut, status_code=201)
def create_policy(name: str, body: PolicyIn, request: Request, caller: Caller, db: Db,
                  now: Now) -> PolicyOut:
    change = editor_change(request, db, caller, name, now)
    return _out(writes.create_policy(db, change, _manifest(body)))


@router.put("/clusters/{name}/policies/{namespace}/{policy}", response_model=PolicyOut)
def replace_policy(name: str, namespace: str, policy: str, body: PolicyIn, request: Request,
                   caller: Caller, db: Db, now: Now) -> PolicyOut:
    """Replace the policy; from the form, its labels and annotations are kept."""
    change = editor_change(request, db, caller, name, now)
    replaced = writes.replace_policy(db, change, namespace, policy, _manifest(body, namespace),
                                     keep_metadata=body.form is not None)
    return _out(replaced)


@router.delete("/clusters/{name}/policies/{namespace}/{policy}", status_code=204)
def delete_policy(name: str, namespace: str, policy: str, request: Request, caller: Caller,
                  db: Db, now: Now) -> Response:
    writes.delete_policy(db, editor_change(request, db, caller, name, now), namespace, policy)
    return Response(status_code=204)


@router.post("/clusters/{name}/policies/delete", response_model=BulkDeleteOut)
def bulk_delete(name: str, body: BulkDeleteIn, request: Request, caller: Caller, db: Db,
                now: Now) -> BulkDeleteOut:
    """Delete each policy listed, each attempted on its own; which went and which did not."""
    change = editor_change(request, db, caller, name, now)
    deleted, failed = writes.bulk_delete(db, change, [(i.namespace, i.name) for i in body.items])
    return BulkDeleteOut(
        deleted=[PolicyRef(namespace=ns, name=n) for ns, n in deleted],
        failed=[FailedRef(namespace=ns, name=n, detail=why) for ns, n, why in failed])


@router.post("/forms/policy", response_model=PolicyOut)
def form_policy(body: FormIn, caller: Caller) -> PolicyOut:
    """The form's NetworkPolicy, not saved; 422 with every error (form paths for the form's
    own fields, the API server's messages for the rest)."""
    manifest = writes.form_manifest(body.form)
    return PolicyOut(manifest=manifest, yaml=history.render_yaml(manifest))
