"""Who is asking and what they may do: logins, sessions, API tokens, CSRF and per-cluster roles.

A request is authenticated by exactly one of: a session cookie (state-changing requests must
also echo the session's CSRF token in `X-CSRF-Token`), or `Authorization: Bearer <API token>`
(scripts; no CSRF, since browsers never attach bearer tokens on their own). A global admin holds
every role on every cluster; anyone else holds what their role binding on that cluster grants.

A user who must change their password (the first-run admin) may only do that, look at /me and
log out. Five failed logins (or password changes) for one username within 15 minutes, since
its last good login, refuse further tries with 429 until the oldest of them is 15 minutes old;
the failures are counted from the audit log, so every instance of the console agrees.
"""

from __future__ import annotations

import hmac
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import delete, func, select
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
from podwall.console.errors import (
    Forbidden,
    NotFound,
    TooManyRequests,
    Unauthenticated,
    Unprocessable,
)
from podwall.console.models import (
    ApiToken,
    AuditEntry,
    Cluster,
    GlobalRole,
    Role,
    RoleBinding,
    Session,
    User,
)

__all__ = [
    "ADMIN_USERNAME",
    "CHANGE_PASSWORD_FIRST",
    "LOGIN_FAILURES_ALLOWED",
    "LOGIN_FAILURE_WINDOW",
    "SESSION_LIFETIME",
    "Principal",
    "authenticate",
    "change_password",
    "create_api_token",
    "ensure_admin",
    "list_api_tokens",
    "log_in",
    "log_out",
    "open_before_password_change",
    "require_admin",
    "require_password_changed",
    "require_role",
    "reset_password",
    "revoke_api_token",
    "role_on",
    "wait_in_words",
]

ADMIN_USERNAME = "admin"
SESSION_LIFETIME = timedelta(hours=12)
LOGIN_FAILURES_ALLOWED = 5
LOGIN_FAILURE_WINDOW = timedelta(minutes=15)
CHANGE_PASSWORD_FIRST = "change your password first: POST /api/v1/me/password"
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
_FAILURES = ("login.failed", "password.change.failed")  # audit actions the throttle counts
_OPEN_BEFORE_PASSWORD_CHANGE: set[Callable[..., Any]] = set()  # route endpoints, see below
_RANK = {Role.viewer: 1, Role.editor: 2, Role.admin: 3}  # precedence in one table
_UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Principal:
    user_id: int
    username: str
    is_admin: bool
    via: str  # "session" or "token"
    must_change_password: bool = False


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
    """(session token, CSRF token) for the right password; a failure is audited, then 401;
    too many recent failures: 429 before the password is even looked at."""
    _refuse_if_throttled(db, username, now)
    user = db.scalar(select(User).where(User.username == username))
    if user is None or not is_password(password, user.password_hash):
        audit.record(db, at=now, username=username, action="login.failed")
        db.commit()
        raise Unauthenticated("wrong username or password")
    db.execute(delete(Session).where(Session.expires_at <= now))
    token, csrf = new_token(), new_token()
    db.add(Session(user_id=user.id, token_hash=digest_token(token), csrf_token=csrf,
                   created_at=now, expires_at=now + SESSION_LIFETIME))
    audit.record(db, at=now, username=username, action="login")
    return token, csrf


def _refuse_if_throttled(db: DbSession, username: str, now: datetime) -> None:
    """429 (audited) when the username has LOGIN_FAILURES_ALLOWED recent failures."""
    window_start = now - LOGIN_FAILURE_WINDOW
    last_login = db.scalar(select(func.max(AuditEntry.id)).where(
        AuditEntry.username == username, AuditEntry.action == "login",
        AuditEntry.at > window_start))
    failures = db.scalars(
        select(AuditEntry.at).where(
            AuditEntry.username == username, AuditEntry.action.in_(_FAILURES),
            AuditEntry.at > window_start, AuditEntry.id > (last_login or 0))
        .order_by(AuditEntry.id.desc()).limit(LOGIN_FAILURES_ALLOWED)
    ).all()
    if len(failures) < LOGIN_FAILURES_ALLOWED:
        return
    wait = max(1, math.ceil((failures[-1] + LOGIN_FAILURE_WINDOW - now).total_seconds()))
    minutes = LOGIN_FAILURE_WINDOW.total_seconds() / 60
    audit.record(db, at=now, username=username, action="login.throttled",
                 diff=f"{len(failures)} failed logins within {minutes:g} minutes")
    db.commit()
    raise TooManyRequests(f"Too many failed logins for {username!r}: try again in "
                          f"{wait_in_words(wait)}.", headers={"Retry-After": str(wait)})


def wait_in_words(seconds: int) -> str:
    """`Retry-After` as a person reads it: 45 -> "45 seconds", 900 -> "15 minutes"."""
    if seconds < 60:
        return f"{seconds} second{'s' * (seconds != 1)}"
    minutes = math.ceil(seconds / 60)
    return f"{minutes} minute{'s' * (minutes != 1)}"


def change_password(
    db: DbSession, principal: Principal, *, current: str, new: str, session_token: str | None,
    now: datetime,
) -> None:
    """Set a new password (the current one must be given), end the user's other sessions."""
    _refuse_if_throttled(db, principal.username, now)
    user = db.get_one(User, principal.user_id)
    if not is_password(current, user.password_hash):
        audit.record(db, at=now, username=principal.username, action="password.change.failed")
        db.commit()
        raise Forbidden("the current password is wrong")
    if new == current:
        raise Unprocessable("the new password must differ from the current one")
    user.password_hash, user.must_change_password = hash_password(new), False
    others = delete(Session).where(Session.user_id == user.id)
    if session_token and principal.via == "session":
        others = others.where(Session.token_hash != digest_token(session_token))
    db.execute(others)
    audit.record(db, at=now, username=principal.username, action="password.change",
                 object=f"user {principal.username}")


def reset_password(db: DbSession, username: str, *, by: str, now: datetime) -> str:
    """A new one-time password for `username` (changed at the next login); their sessions end.

    For an operator at the server (`podwall up --reset-admin-password`), not for the API."""
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    password = new_password()
    user.password_hash, user.must_change_password = hash_password(password), True
    db.execute(delete(Session).where(Session.user_id == user.id))
    audit.record(db, at=now, username=by, action="user.password.reset", object=username)
    return password


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


def list_api_tokens(db: DbSession, principal: Principal) -> Sequence[ApiToken]:
    return db.scalars(select(ApiToken).where(ApiToken.user_id == principal.user_id)
                      .order_by(ApiToken.id)).all()


def revoke_api_token(db: DbSession, principal: Principal, token_id: int, now: datetime) -> None:
    """Delete one of the caller's tokens (a global admin: anyone's); others' are not found."""
    token = db.get(ApiToken, token_id)
    if token is None or not (principal.is_admin or token.user_id == principal.user_id):
        raise NotFound(f"no API token with id {token_id}")
    owner = db.get_one(User, token.user_id).username
    db.delete(token)
    audit.record(db, at=now, username=principal.username, action="token.revoke",
                 object=token.name if owner == principal.username else f"{owner}/{token.name}")


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
        if session is not None and session.expires_at > now:
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
                     is_admin=user.role == GlobalRole.admin, via=via,
                     must_change_password=user.must_change_password)


def open_before_password_change(endpoint: Endpoint) -> Endpoint:
    """Mark a route's endpoint as usable by a user who must change their password first (only
    logging out, GET /me and changing the password are)."""
    _OPEN_BEFORE_PASSWORD_CHANGE.add(endpoint)
    return endpoint


def require_password_changed(principal: Principal, endpoint: object) -> None:
    """403 on every route but the few a user who must change their password may use."""
    if principal.must_change_password and endpoint not in _OPEN_BEFORE_PASSWORD_CHANGE:
        raise Forbidden(CHANGE_PASSWORD_FIRST)


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
