"""Serving the console on a socket bound before anything else starts.

Binding first makes a busy address fail at once (exit 3), and makes the console's address its
identity: while a console holds host:port, no other console on this machine has it, so a
console starting on an address knows that any sync recorded under that address belongs to a
console that has stopped (`console_identity`, `clusters.end_interrupted_syncs`).
"""

from __future__ import annotations

import contextlib
import signal
import socket
from typing import Any

from podwall.errors import PodwallError

__all__ = [
    "EXIT_PORT_BUSY", "PortBusy", "ServeError", "bind", "console_identity", "open_console",
    "serve",
]

EXIT_PORT_BUSY = 3


class ServeError(PodwallError):
    """The console cannot start (exit 2)."""


class PortBusy(ServeError):
    exit_code = EXIT_PORT_BUSY


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on host:port, or PortBusy before anything else is started."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named, not 0: asyncio sets TCP_NODELAY only on sockets whose proto says TCP;
    # without it Nagle meets delayed ACKs and every response waits about 40 ms.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(128)
    except OSError as err:
        sock.close()
        raise PortBusy(
            f"cannot serve the console on {host}:{port}: {err.strerror or err} (is `podwall up` "
            f"or `podwall serve` already running? choose another with --port)"
        ) from err
    return sock


def console_identity(sock: socket.socket) -> str:
    """This machine and the bound address: unique among the consoles running now."""
    host, port = sock.getsockname()[:2]
    return f"{socket.gethostname()} {host}:{port}"


def open_console(database: str, sock: socket.socket, **options: Any) -> Any:
    """`create_console` on `database` under this socket's identity; a database that cannot be
    opened is a ServeError saying why (exit 2), not a traceback."""
    from sqlalchemy.exc import SQLAlchemyError  # the web stack loads only when serving

    from podwall.console import create_console

    try:
        return create_console(database, identity=console_identity(sock), **options)
    except SQLAlchemyError as err:
        reason = getattr(err, "orig", None) or err
        raise ServeError(f"cannot open the console's database: {reason}") from err


def serve(app: Any, sock: socket.socket) -> None:
    """uvicorn on the bound socket until SIGINT or SIGTERM (a second one forces the exit)."""
    import uvicorn

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):  # ours below; uvicorn's would re-raise the signal at exit
            yield

    server = Server(uvicorn.Config(app, log_level="warning", timeout_graceful_shutdown=3))

    def stop(_signum: int, _frame: object) -> None:
        server.force_exit = server.should_exit
        server.should_exit = True

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    server.run(sockets=[sock])
    if not server.started:
        raise ServeError("the console did not start (see the messages above)")
