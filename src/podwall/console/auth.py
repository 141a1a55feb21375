"""Who is asking and what they may do: logins, sessions, API tokens, CSRF and per-cluster roles.

A request is authenticated by exactly one of: a session cookie (state-changing requests must
also echo the session's CSRF token in `X-CSRF-Token`), or `Authorization: Bearer <API token>`
(scripts; no CSRF, since browsers never attach bearer tokens on their own). A global admin holds
every role on every cluster; anyone else holds what their role binding on that cluster grants.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session as DbSession

from podwall.console import audit
from podwall.console.credentials import (
    API_TOKEN_PREFIX,
    digest_token,
    hash_password,
    is_password,
    new_password,
    new_token,
)
from podwall.console.errors import Forbidden, Unauthenticated
from podwall.console.models import (
    ApiToken,
    Cluster,
    GlobalRole,
    Role,
    RoleBinding,
    Session,
    User,
)

__all__ = [
    "ADMIN_USERNAME",
    "SESSION_LIFETIME",
    "Principal",
    "authenticate",
    "create_api_token",
    "ensure_admin",
    "log_in",
    "log_out",
    "require_admin",
    "require_role",
    "role_on",
]

ADMIN_USERNAME = "admin"
SESSION_LIFETIME = timedelta(hours=12)
_RANK = {Role.viewer: 1, Role.editor: 2, Role.admin: 3}  # precedence in one table
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    user_id: int
    username: str
    is_admin: bool
    via: str  # "session" or "token"


def _aware(moment: datetime) -> datetime:
    """SQLite hands datetimes back naive; every stored time is UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def ensure_admin(db: DbSession, now: datetime) -> str | None:
    """On the first run, create `admin` with a random one-time password and return it."""
    if db.scalar(select(User.id).limit(1)) is not None:
        return None
    password = new_password()
    db.add(User(username=ADMIN_USERNAME, password_hash=hash_password(password),
                role=GlobalRole.admin, must_change_password=True, created_at=now))
    audit.record(db, at=now, username="system", action="user.create", object=ADMIN_USERNAME)
    return password


def log_in(db: DbSession, username: str, password: str, now: datetime) -> tuple[str, str]:
    """(session token, CSRF token) for the right password; a failure is audited, then 401."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None or not is_password(password, user.password_hash):
        audit.record(db, at=now, username=username, action="login.failed")
        db.commit()
        raise Unauthenticated("wrong username or password")
    token, csrf = new_token(), new_token()
    db.add(Session(user_id=user.id, token_hash=digest_token(token), csrf_token=csrf,
                   created_at=now, expires_at=now + SESSION_LIFETIME))
    audit.record(db, at=now, username=username, action="login")
    return token, csrf


def log_out(db: DbSession, principal: Principal, session_token: str | None, now: datetime) -> None:
    if session_token:
        found = db.scalar(select(Session).where(Session.token_hash == digest_token(session_token)))
        if found is not None:
            db.delete(found)
    audit.record(db, at=now, username=principal.username, action="logout")


def create_api_token(db: DbSession, principal: Principal, name: str, now: datetime) -> str:
    token = new_token(API_TOKEN_PREFIX)
    db.add(ApiToken(user_id=principal.user_id, name=name, token_hash=digest_token(token),
                    created_at=now))
    audit.record(db, at=now, username=principal.username, action="token.create", object=name)
    return token


def authenticate(
    db: DbSession, *, method: str, session_token: str | None, csrf_header: str | None,
    authorization: str | None, now: datetime,
) -> Principal:
    """The caller, or Unauthenticated (401); a cookie session without CSRF on a change: 403."""
    scheme, _, bearer = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and bearer:
        return _by_token(db, bearer.strip(), now)
    if session_token:
        digest = digest_token(session_token)
        session = db.scalar(select(Session).where(Session.token_hash == digest))
        if session is not None and _aware(session.expires_at) > now:
            if method in _UNSAFE_METHODS and not hmac.compare_digest(
                (csrf_header or "").encode(), session.csrf_token.encode()
            ):
                raise Forbidden("missing or wrong X-CSRF-Token header")
            return _principal(db.get_one(User, session.user_id), "session")
    raise Unauthenticated("log in first: POST /api/v1/session, or send an API token")


def _by_token(db: DbSession, token: str, now: datetime) -> Principal:
    found = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest_token(token)))
    if found is None:
        raise Unauthenticated("unknown API token")
    found.last_used_at = now
    return _principal(db.get_one(User, found.user_id), "token")


def _principal(user: User, via: str) -> Principal:
    return Principal(user_id=user.id, username=user.username,
                     is_admin=user.role == GlobalRole.admin, via=via)


def role_on(db: DbSession, principal: Principal, cluster: Cluster) -> Role | None:
    if principal.is_admin:
        return Role.admin
    role = db.scalar(select(RoleBinding.role).where(
        RoleBinding.user_id == principal.user_id, RoleBinding.cluster_id == cluster.id))
    return Role(role) if role else None


def require_role(db: DbSession, principal: Principal, cluster: Cluster, needed: Role) -> None:
    held = role_on(db, principal, cluster)
    if held is None or _RANK[held] < _RANK[needed]:
        raise Forbidden(
            f"{principal.username} needs role {needed} on cluster {cluster.name} "
            f"(holds {held or 'none'})"
        )


def require_admin(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden(f"{principal.username} is not an administrator")
