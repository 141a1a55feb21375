"""`podwall serve` as a user runs it: a real process on a free port, a real SQLite file, real
HTTP. It binds its address first (busy: exit 3), prints the first-run password, serves the API,
and stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from conftest import free_port, wait_for

pytestmark = pytest.mark.cli


def _serve(tmp_path: Path, port: int, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        ["podwall", "serve", "--port", str(port), "--database",
         f"sqlite:///{tmp_path / 'console.db'}", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PODWALL_HOME": str(tmp_path)},
    )


def test_serve_prints_the_password_serves_and_stops_on_sigterm(tmp_path: Path):
    port = free_port()
    console = _serve(tmp_path, port)
    try:
        assert console.stdout is not None
        first = console.stdout.readline()
        assert first.startswith("Created user admin with one-time password: "), first
        password = first.rsplit(" ", 1)[1].strip()
        console.stdout.readline()  # "(shown only now; ...)"
        assert console.stdout.readline() == (
            f"podwall console on http://127.0.0.1:{port} (API docs: /docs, /openapi.json)\n")
        url = f"http://127.0.0.1:{port}"
        wait_for("the console to answer", lambda: _answers(url))
        with httpx.Client(base_url=url) as client:
            login = client.post("/api/v1/session", json={"username": "admin",
                                                         "password": password})
            assert login.status_code == 200, login.text
            assert login.json()["must_change_password"] is True

        busy = _serve(tmp_path, port)
        _, err = busy.communicate(timeout=60)
        assert busy.returncode == 3, err
        assert f"cannot serve the console on 127.0.0.1:{port}" in err
    finally:
        console.send_signal(signal.SIGTERM)
        console.communicate(timeout=30)
    assert console.returncode == 0


def test_serve_on_a_database_it_cannot_open_exits_2(tmp_path: Path):
    nowhere = f"postgresql://podwall@127.0.0.1:{free_port()}/podwall"  # nothing listens there
    ran = subprocess.run(
        ["podwall", "serve", "--port", str(free_port()), "--database", nowhere],
        capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PODWALL_HOME": str(tmp_path)},
    )
    assert ran.returncode == 2, ran.stderr
    assert "error: cannot open the console's database:" in ran.stderr


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/openapi.json", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_bound_socket_says_tcp_so_asyncio_disables_nagle():
    """asyncio sets TCP_NODELAY on accepted sockets only when the listening socket's proto is
    IPPROTO_TCP; with proto 0, Nagle and delayed ACKs held each response about 40 ms."""
    from podwall.serving import bind

    sock = bind("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert sock.family == socket.AF_INET and sock.type == socket.SOCK_STREAM
    finally:
        sock.close()
