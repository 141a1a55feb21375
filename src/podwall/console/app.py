"""The console's factory: database, migrations, first admin, and the app with every router.

`create_console(url)` opens the database, migrates it to the newest schema, creates the first
admin on an empty database (its one-time password is returned, for `podwall serve` to print
once) and returns the app. The JSON REST API lives under /api/v1 (FastAPI, so /openapi.json
documents it); every route but logging in needs a caller (401), each cluster route a role on
that cluster (403).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import Engine
from sqlalchemy.orm import sessionmaker

from podwall.console import auth, clusters
from podwall.console.db import DEFAULT_DATABASE, create_database_engine, migrate
from podwall.console.deps import console_error
from podwall.console.errors import ConsoleError
from podwall.console.probes import Prober
from podwall.console.routes import ROUTERS
from podwall.console.ui import mount_ui
from podwall.kube import read_cluster

__all__ = ["Clock", "Console", "create_console"]

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class Console:
    app: FastAPI
    engine: Engine
    admin_password: str | None  # set only on the run that created the admin


def create_console(
    database_url: str = DEFAULT_DATABASE, *, clock: Clock | None = None,
    read: clusters.ReadCluster = read_cluster, secure_cookies: bool = False,
    sync_deadline: float = 30.0, probers: Mapping[str, Prober] | None = None,
    identity: str | None = None,
) -> Console:
    """`identity` names this console among those sharing the database (`podwall.serving`:
    host and bound address); by default this machine's name."""
    clock = clock or (lambda: datetime.now(UTC))
    identity = identity or socket.gethostname()
    engine = create_database_engine(database_url)
    migrate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    with sessions.begin() as db:
        password = auth.ensure_admin(db, clock())
        clusters.end_interrupted_syncs(db, clock(), identity, sync_deadline)
    app = FastAPI(title="podwall console", version="1",
                  description="Manage NetworkPolicies across clusters.")
    app.state.sessions, app.state.clock, app.state.read = sessions, clock, read
    app.state.secure_cookies = secure_cookies
    app.state.probers = dict(probers or {})  # cluster name -> real packets (the lab's)
    app.state.syncs = clusters.Syncs(sessions, clock, read, sync_deadline, identity)
    app.add_exception_handler(ConsoleError, console_error)  # type: ignore[arg-type]
    for router in ROUTERS:
        app.include_router(router, prefix="/api/v1")
    mount_ui(app)  # the browser UI at /
    return Console(app=app, engine=engine, admin_password=password)
