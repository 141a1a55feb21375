"""What every route needs, as FastAPI dependencies: a database session, the clock, the caller.

A route that declares `caller: Caller` cannot run without a logged-in user (401) and, for a
change through a cookie session, the CSRF header (403); `ConsoleError`s become JSON errors
with their HTTP status.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Annotated

from fastapi import Cookie, Depends, Header, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session as DbSession

from podwall.console import auth
from podwall.console.errors import ConsoleError, Unauthenticated

__all__ = [
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "SESSION_COOKIE",
    "Caller",
    "Db",
    "Now",
    "SessionCookie",
    "console_error",
]

SESSION_COOKIE = "podwall_session"
CSRF_COOKIE = "podwall_csrf"  # readable by the page's script, echoed in CSRF_HEADER
CSRF_HEADER = "X-CSRF-Token"


def console_error(_request: Request, error: ConsoleError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthenticated) else {}
    return JSONResponse({"detail": str(error), **error.extra}, status_code=error.status,
                        headers={**headers, **error.headers} or None)


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


Db = Annotated[DbSession, Depends(_db, scope="function")]  # commit before the response goes
Now = Annotated[datetime, Depends(_now)]
SessionCookie = Annotated[str | None, Cookie(alias=SESSION_COOKIE)]


def _principal(
    request: Request, db: Db, now: Now, session: SessionCookie = None,
    csrf: Annotated[str | None, Header(alias=CSRF_HEADER)] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> auth.Principal:
    caller = auth.authenticate(db, method=request.method, session_token=session,
                               csrf_header=csrf, authorization=authorization, now=now)
    auth.require_password_changed(caller, request.scope.get("endpoint"))
    return caller


Caller = Annotated[auth.Principal, Depends(_principal)]
