"""`podwall serve`: the console alone (REST API under /api/v1, OpenAPI at /openapi.json).

Migrates the database at start; on the first run prints the admin's one-time password once.
"""

from __future__ import annotations

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
    """Serve the console: manage clusters' NetworkPolicies through a JSON REST API."""
    import uvicorn  # an edge import: only `serve` pays for the web stack

    from podwall.console import create_console
    from podwall.console.db import default_database_url

    console = create_console(database or default_database_url(), secure_cookies=False)
    if console.admin_password is not None:
        say(f"Created user admin with one-time password: {console.admin_password}")
        say("(shown only now; log in and create your own users and API tokens)")
    say(f"podwall console on http://{host}:{port} (API docs: /docs, /openapi.json)")
    uvicorn.run(console.app, host=host, port=port, log_level="warning")
