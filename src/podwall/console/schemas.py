"""The REST edge's request and response bodies (pydantic, extra="forbid").

Responses are built from the database rows field by field, so a cluster's kubeconfig can only
reach a client if a schema here names it, and none does.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from podwall.console.models import GlobalRole, Role

__all__ = [
    "ApiTokenOut",
    "AuditOut",
    "BindingIn",
    "ClusterIn",
    "ClusterOut",
    "Created",
    "LoginIn",
    "LoginOut",
    "MeOut",
    "PasswordIn",
    "PolicyList",
    "SyncOut",
    "TokenIn",
    "TokenOut",
    "UserIn",
    "UserOut",
    "ValidateIn",
    "ValidateOut",
]

_NAME = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(_In):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=1024)


class LoginOut(_Out):
    username: str
    csrf_token: str
    must_change_password: bool


class MeOut(_Out):
    username: str
    is_admin: bool
    via: str
    roles: dict[str, Role]  # cluster name -> role
    must_change_password: bool  # until it is changed, only /me and logging out answer


class PasswordIn(_In):
    current_password: str = Field(min_length=1, max_length=1024)
    new_password: str = Field(min_length=12, max_length=1024)


class UserIn(_In):
    username: str = Field(pattern=_NAME, max_length=128)
    password: str = Field(min_length=12, max_length=1024)
    role: GlobalRole = GlobalRole.user


class UserOut(_Out):
    username: str
    role: GlobalRole


class BindingIn(_In):
    role: Role


class TokenIn(_In):
    name: str = Field(min_length=1, max_length=128)


class TokenOut(_Out):
    name: str
    token: str  # shown once; only its digest is stored


class ApiTokenOut(_Out):
    id: int
    name: str
    created_at: datetime
    last_used_at: datetime | None


class ClusterIn(_In):
    name: str = Field(pattern=_NAME, max_length=128)
    kubeconfig: str = Field(min_length=1, max_length=1_000_000)
    context: str | None = Field(default=None, max_length=256)


class SyncOut(_Out):
    state: str  # "idle" (never run), "running", "succeeded" or "failed"
    step: str | None  # "namespaces", "pods", "networkpolicies", "storing"; where it failed
    progress: float = Field(ge=0, le=1)
    started_at: datetime | None
    finished_at: datetime | None


class ClusterOut(_Out):
    name: str
    context: str | None
    created_at: datetime
    last_sync_at: datetime | None
    last_sync_error: str | None
    state: str  # "never synced", "synced" or "unreachable"
    role: Role | None  # the caller's role on it
    counts: dict[str, int]  # kind -> objects in the last sync
    sync: SyncOut  # the last (or running) sync


class Created(_Out):
    created: str


class PolicyList(_Out):
    cluster: str
    last_sync_at: datetime | None
    items: list[dict[str, Any]]


class ValidateIn(_In):
    yaml: str = Field(max_length=10_000_000)
    namespace: str = "default"
    legacy_cidr: bool = False


class ValidateOut(_Out):
    valid: int
    invalid: int
    messages: list[str]
    warnings: list[str]
    summary: str


class AuditOut(_Out):
    at: datetime
    username: str
    action: str
    cluster: str | None
    object: str | None
    diff: str
