"""Routes for user management (global admins) and per-cluster role bindings."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import select

from podwall.console import audit, auth, clusters
from podwall.console.credentials import hash_password
from podwall.console.deps import Caller, Db, Now
from podwall.console.errors import Conflict, NotFound
from podwall.console.models import Role, RoleBinding, User
from podwall.console.schemas import BindingIn, Created, UserIn, UserOut

__all__ = ["router"]

router = APIRouter(tags=["users"])


@router.get("/users", response_model=list[UserOut])
def list_users(caller: Caller, db: Db) -> list[UserOut]:
    auth.require_admin(caller)
    return [UserOut(username=u.username, role=u.role)
            for u in db.scalars(select(User).order_by(User.username))]


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserIn, caller: Caller, db: Db, now: Now) -> UserOut:
    auth.require_admin(caller)
    if db.scalar(select(User.id).where(User.username == body.username)) is not None:
        raise Conflict(f"user {body.username!r} exists")
    db.add(User(username=body.username, password_hash=hash_password(body.password),
                role=body.role, must_change_password=False, created_at=now))
    audit.record(db, at=now, username=caller.username, action="user.create", object=body.username,
                 diff=f"role: {body.role}")
    return UserOut(username=body.username, role=body.role)


@router.put("/clusters/{name}/bindings/{username}", response_model=Created)
def bind_role(name: str, username: str, body: BindingIn, caller: Caller, db: Db,
              now: Now) -> Created:
    cluster = clusters.get_cluster(db, name)
    auth.require_role(db, caller, cluster, Role.admin)
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
