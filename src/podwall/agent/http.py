"""The agent's HTTP endpoints: /metrics (Prometheus text), /healthz and /readyz.

/healthz answers 200 while the process can do its job (the reconcile loop turns); /readyz
answers 200 once a good sync happened and while every watch is live, else 503 with the reason.
Why a plain stdlib server: three read-only GET endpoints on a loopback or node address need
nothing more, and it runs in a daemon thread beside the agent.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from podwall.agent.errors import ConfigError

__all__ = ["Check", "HealthServer", "parse_listen"]

Check = Callable[[], tuple[bool, str]]  # (ok, why)


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def parse_listen(text: str) -> tuple[str, int]:
    """`HOST:PORT` (`[::1]:9180` for IPv6) as a bind address."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or int(port) > 65535:
        raise ConfigError(f"--listen {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9180")
    return host.strip("[]") or "0.0.0.0", int(port)


class HealthServer:
    def __init__(
        self, address: tuple[str, int], registry: CollectorRegistry, *, health: Check,
        ready: Check,
    ) -> None:
        routes: dict[str, Callable[[], tuple[int, str, bytes]]] = {
            "/metrics": lambda: (200, CONTENT_TYPE_LATEST, generate_latest(registry)),
            "/healthz": lambda: _check(health),
            "/readyz": lambda: _check(ready),
        }

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                route = routes.get(self.path.split("?", 1)[0])
                status, kind, body = route() if route else (404, "text/plain", b"not found\n")
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_args: object) -> None:  # scrapes are not news
                return None

        server = _Server6 if ":" in address[0] else ThreadingHTTPServer
        try:
            self._server = server(address, Handler)
        except OSError as err:
            raise ConfigError(f"cannot listen on {address[0]}:{address[1]}: {err}") from err
        self._server.daemon_threads = True
        self.address = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name="http",
                                        daemon=True)

    def start(self) -> HealthServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _check(check: Check) -> tuple[int, str, bytes]:
    ok, why = check()
    return (200 if ok else 503), "text/plain; charset=utf-8", f"{why}\n".encode()
