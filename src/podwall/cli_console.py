"""`podwall serve`: the console alone (REST API under /api/v1, OpenAPI at /openapi.json).

Binds its address first (a busy one fails at once, exit 3), migrates the database, and on the
first run prints the admin's one-time password once.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from podwall.cli_common import say

__all__ = ["serve"]


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port")] = 8080,
    database: Annotated[
        str,
        typer.Option("--database", help="SQLAlchemy URL, e.g. postgresql://user@host/podwall "
                     "(default: sqlite:///$PODWALL_HOME/console.db, home ~/.podwall)"),
    ] = "",
) -> None:
    """Serve the console: manage clusters' NetworkPolicies through a JSON REST API.

    Exit codes: 0 stopped by Ctrl-C or SIGTERM; 2 the console could not start (its database
    cannot be opened); 3 the address is in use (checked before anything else).
    """
    from podwall.console.db import default_database_url  # the web stack: only `serve` pays
    from podwall.serving import bind, open_console
    from podwall.serving import serve as serve_on

    sock = bind(host, port)
    try:
        console = open_console(database or default_database_url(), sock, secure_cookies=False)
        if console.admin_password is not None:
            say(f"Created user admin with one-time password: {console.admin_password}")
            say("(shown only now; log in and create your own users and API tokens)")
        say(f"podwall console on http://{host}:{port} (API docs: /docs, /openapi.json)")
        sys.stdout.flush()
        serve_on(console.app, sock)
    finally:
        sock.close()
