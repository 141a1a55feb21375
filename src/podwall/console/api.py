"""The console's JSON REST API (FastAPI, so /openapi.json documents it) and its factory.

`create_console(url)` opens the database, migrates it to the newest schema, creates the first
admin on an empty database (its one-time password is returned, for `podwall serve` to print
once) and returns the app. Every route but logging in needs a caller (401), and each cluster
route a role on that cluster (403).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from podwall.console import audit, auth, clusters, policies
from podwall.console.credentials import hash_password
from podwall.console.db import DEFAULT_DATABASE, create_database_engine, migrate
from podwall.console.errors import Conflict, ConsoleError, NotFound, Unauthenticated
from podwall.console.models import Cluster, ClusterObject, RoleBinding, User
from podwall.console.models import Role as RoleName
from podwall.console.schemas import (
    AuditOut,
    BindingIn,
    ClusterIn,
    ClusterOut,
    Created,
    LoginIn,
    LoginOut,
    MeOut,
    PolicyList,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    ValidateIn,
    ValidateOut,
)
from podwall.kube import read_cluster

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "SESSION_COOKIE", "Console", "create_console"]

SESSION_COOKIE = "podwall_session"
CSRF_COOKIE = "podwall_csrf"  # readable by the page's script, echoed in CSRF_HEADER
CSRF_HEADER = "X-CSRF-Token"

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Console:
    app: FastAPI
    engine: Engine
    admin_password: str | None  # set only on the run that created the admin


def create_console(
    database_url: str = DEFAULT_DATABASE, *, clock: Clock | None = None,
    read: clusters.ReadCluster = read_cluster, secure_cookies: bool = False,
) -> Console:
    clock = clock or (lambda: datetime.now(UTC))
    engine = create_database_engine(database_url)
    migrate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as db:
        password = auth.ensure_admin(db, clock())
    app = FastAPI(title="podwall console", version="1",
                  description="Manage NetworkPolicies across clusters.")
    app.state.sessions, app.state.clock, app.state.read = sessions, clock, read
    app.state.secure_cookies = secure_cookies
    app.add_exception_handler(ConsoleError, _console_error)  # type: ignore[arg-type]
    app.include_router(router, prefix="/api/v1")
    return Console(app=app, engine=engine, admin_password=password)


def _console_error(_request: Request, error: ConsoleError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthenticated) else None
    return JSONResponse({"detail": str(error)}, status_code=error.status, headers=headers)


def _db(request: Request) -> Iterator[DbSession]:
    with request.app.state.sessions() as db:
        try:
            yield db
            db.commit()
        except Exception:
            db.rollback()
            raise


def _now(request: Request) -> datetime:
    return request.app.state.clock()


Db = Annotated[DbSession, Depends(_db)]
Now = Annotated[datetime, Depends(_now)]


def _principal(
    request: Request, db: Db, now: Now,
    session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
    csrf: Annotated[str | None, Header(alias=CSRF_HEADER)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> auth.Principal:
    return auth.authenticate(db, method=request.method, session_token=session, csrf_header=csrf,
                             authorization=authorization, now=now)


Caller = Annotated[auth.Principal, Depends(_principal)]
router = APIRouter()


@router.post("/session", response_model=LoginOut, tags=["session"])
def log_in(body: LoginIn, request: Request, response: Response, db: Db, now: Now) -> LoginOut:
    token, csrf = auth.log_in(db, body.username, body.password, now)
    secure = request.app.state.secure_cookies
    max_age = int(auth.SESSION_LIFETIME.total_seconds())
    response.set_cookie(SESSION_COOKIE, token, max_age=max_age, httponly=True, samesite="strict",
                        secure=secure, path="/")
    response.set_cookie(CSRF_COOKIE, csrf, max_age=max_age, httponly=False, samesite="strict",
                        secure=secure, path="/")
    user = db.scalar(select(User).where(User.username == body.username))
    return LoginOut(username=body.username, csrf_token=csrf,
                    must_change_password=bool(user and user.must_change_password))


@router.delete("/session", status_code=204, tags=["session"])
def log_out(
    caller: Caller, response: Response, db: Db, now: Now,
    session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None,
) -> None:
    auth.log_out(db, caller, session, now)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.get("/me", response_model=MeOut, tags=["session"])
def me(caller: Caller, db: Db) -> MeOut:
    roles = {}
    for cluster in clusters.list_clusters(db):
        role = auth.role_on(db, caller, cluster)
        if role is not None:
            roles[cluster.name] = role
    return MeOut(username=caller.username, is_admin=caller.is_admin, via=caller.via, roles=roles)


@router.post("/tokens", response_model=TokenOut, status_code=201, tags=["session"])
def create_token(body: TokenIn, caller: Caller, db: Db, now: Now) -> TokenOut:
    return TokenOut(name=body.name, token=auth.create_api_token(db, caller, body.name, now))


@router.get("/users", response_model=list[UserOut], tags=["users"])
def list_users(caller: Caller, db: Db) -> list[UserOut]:
    auth.require_admin(caller)
    return [UserOut(username=u.username, role=u.role)
            for u in db.scalars(select(User).order_by(User.username))]


@router.post("/users", response_model=UserOut, status_code=201, tags=["users"])
def create_user(body: UserIn, caller: Caller, db: Db, now: Now) -> UserOut:
    auth.require_admin(caller)
    if db.scalar(select(User.id).where(User.username == body.username)) is not None:
        raise Conflict(f"user {body.username!r} exists")
    db.add(User(username=body.username, password_hash=hash_password(body.password),
                role=body.role, must_change_password=False, created_at=now))
    audit.record(db, at=now, username=caller.username, action="user.create", object=body.username,
                 diff=f"role: {body.role}")
    return UserOut(username=body.username, role=body.role)


@router.put("/clusters/{name}/bindings/{username}", response_model=Created, tags=["users"])
def bind_role(name: str, username: str, body: BindingIn, caller: Caller, db: Db,
              now: Now) -> Created:
    cluster = clusters.get_cluster(db, name)
    auth.require_role(db, caller, cluster, RoleName.admin)
    user = db.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user named {username!r}")
    binding = db.scalar(select(RoleBinding).where(RoleBinding.user_id == user.id,
                                                  RoleBinding.cluster_id == cluster.id))
    before = binding.role if binding else "none"
    if binding is None:
        binding = RoleBinding(user_id=user.id, cluster_id=cluster.id, role=body.role)
        db.add(binding)
    binding.role = body.role
    audit.record(db, at=now, username=caller.username, action="binding.set", cluster=name,
                 object=f"user {username}", diff=f"role: {before} -> {body.role}")
    return Created(created=f"{username} is {body.role} on {name}")


def _cluster_out(db: DbSession, caller: auth.Principal, cluster: Cluster) -> ClusterOut:
    counts = {kind: n for kind, n in db.execute(
        select(ClusterObject.kind, func.count()).where(ClusterObject.cluster_id == cluster.id)
        .group_by(ClusterObject.kind))}
    state = ("unreachable" if cluster.last_sync_error
             else "synced" if cluster.last_sync_at else "never synced")
    return ClusterOut(name=cluster.name, context=cluster.context, created_at=cluster.created_at,
                      last_sync_at=cluster.last_sync_at, last_sync_error=cluster.last_sync_error,
                      state=state, role=auth.role_on(db, caller, cluster), counts=counts)


@router.get("/clusters", response_model=list[ClusterOut], tags=["clusters"])
def list_clusters(caller: Caller, db: Db) -> list[ClusterOut]:
    visible = [c for c in clusters.list_clusters(db) if auth.role_on(db, caller, c) is not None]
    return [_cluster_out(db, caller, c) for c in visible]


@router.post("/clusters", response_model=ClusterOut, status_code=201, tags=["clusters"])
def register_cluster(body: ClusterIn, caller: Caller, db: Db, now: Now) -> ClusterOut:
    auth.require_admin(caller)
    cluster = clusters.register_cluster(db, name=body.name, kubeconfig=body.kubeconfig,
                                        context=body.context, username=caller.username, now=now)
    db.flush()
    return _cluster_out(db, caller, cluster)


@router.get("/clusters/{name}", response_model=ClusterOut, tags=["clusters"])
def get_cluster(name: str, caller: Caller, db: Db) -> ClusterOut:
    cluster = clusters.get_cluster(db, name)
    auth.require_role(db, caller, cluster, RoleName.viewer)
    return _cluster_out(db, caller, cluster)


@router.post("/clusters/{name}/sync", response_model=ClusterOut, tags=["clusters"])
def sync_cluster(name: str, request: Request, caller: Caller, db: Db, now: Now) -> ClusterOut:
    cluster = clusters.get_cluster(db, name)
    auth.require_role(db, caller, cluster, RoleName.editor)
    clusters.sync_cluster(db, cluster, username=caller.username, now=now,
                          read=request.app.state.read)
    db.flush()
    return _cluster_out(db, caller, cluster)


@router.get("/clusters/{name}/policies", response_model=PolicyList, tags=["policies"])
def list_policies(
    name: str, caller: Caller, db: Db, namespace: str | None = None,
    policy_name: Annotated[str | None, Query(alias="name", description="part of the name")] = None,
    label: str | None = None,
) -> PolicyList:
    cluster = clusters.get_cluster(db, name)
    auth.require_role(db, caller, cluster, RoleName.viewer)
    items = policies.list_policies(db, cluster, namespace=namespace, name=policy_name,
                                   label=label)
    return PolicyList(cluster=name, last_sync_at=cluster.last_sync_at, items=items)


@router.post("/validate", response_model=ValidateOut, tags=["policies"])
def validate(body: ValidateIn, caller: Caller) -> ValidateOut:
    result = policies.validate_yaml(body.yaml, namespace=body.namespace,
                                    legacy_cidr=body.legacy_cidr)
    return ValidateOut(valid=result.valid, invalid=result.invalid, messages=list(result.messages),
                       warnings=list(result.warnings), summary=result.summary)


@router.get("/audit", response_model=list[AuditOut], tags=["audit"])
def list_audit(caller: Caller, db: Db, cluster: str | None = None,
               limit: int = 200) -> list[AuditOut]:
    auth.require_admin(caller)
    return [AuditOut(at=e.at, username=e.username, action=e.action, cluster=e.cluster,
                     object=e.object, diff=e.diff)
            for e in audit.list_audit(db, cluster=cluster, limit=min(limit, 1000))]
