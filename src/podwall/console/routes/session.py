"""Routes for the caller themself: logging in and out, who am I, their password, API tokens."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from sqlalchemy import select

from podwall.console import auth, clusters
from podwall.console.deps import CSRF_COOKIE, SESSION_COOKIE, Caller, Db, Now, SessionCookie
from podwall.console.models import User
from podwall.console.schemas import (
    ApiTokenOut,
    LoginIn,
    LoginOut,
    MeOut,
    PasswordIn,
    TokenIn,
    TokenOut,
)

__all__ = ["router"]

router = APIRouter(tags=["session"])


@router.post("/session", response_model=LoginOut)
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


@router.delete("/session", status_code=204)
@auth.open_before_password_change
def log_out(caller: Caller, response: Response, db: Db, now: Now,
            session: SessionCookie = None) -> None:
    auth.log_out(db, caller, session, now)
    response.delete_cookie(SESSION_COOKIE, path="/")
    response.delete_cookie(CSRF_COOKIE, path="/")


@router.get("/me", response_model=MeOut)
@auth.open_before_password_change
def me(caller: Caller, db: Db) -> MeOut:
    roles = {}
    for cluster in clusters.list_clusters(db):
        role = auth.role_on(db, caller, cluster)
        if role is not None:
            roles[cluster.name] = role
    return MeOut(username=caller.username, is_admin=caller.is_admin, via=caller.via, roles=roles,
                 must_change_password=caller.must_change_password)


@router.post("/me/password", status_code=204)
@auth.open_before_password_change
def change_password(body: PasswordIn, caller: Caller, db: Db, now: Now,
                    session: SessionCookie = None) -> None:
    """Change the caller's password; their other sessions end (this one stays)."""
    auth.change_password(db, caller, current=body.current_password, new=body.new_password,
                         session_token=session, now=now)


@router.post("/tokens", response_model=TokenOut, status_code=201)
def create_token(body: TokenIn, caller: Caller, db: Db, now: Now) -> TokenOut:
    return TokenOut(name=body.name, token=auth.create_api_token(db, caller, body.name, now))


@router.get("/tokens", response_model=list[ApiTokenOut])
def list_tokens(caller: Caller, db: Db) -> list[ApiTokenOut]:
    """The caller's own API tokens (never the tokens themselves: only their digests are kept)."""
    return [ApiTokenOut(id=t.id, name=t.name, created_at=t.created_at,
                        last_used_at=t.last_used_at) for t in auth.list_api_tokens(db, caller)]


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: int, caller: Caller, db: Db, now: Now) -> None:
    """Revoke one of the caller's tokens; a global admin may revoke anyone's."""
    auth.revoke_api_token(db, caller, token_id, now)
