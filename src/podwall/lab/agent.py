"""A lab pod's agent: serves the pod's ports, and probes other endpoints when asked.

Run inside a pod's (or external host's) namespace:

    ip netns exec podwall-pod-x-a python -m podwall.lab.agent --name x/a \\
        --socket <home>/lab/run/pod-x-a.sock --listen '[[80, "TCP"], [80, "UDP"]]'

Serving: every port on `::` with IPV6_V6ONLY off (IPv4 and IPv6 on one socket). TCP and SCTP
accept, write the pod's name and close; UDP answers each probe datagram with the pod's name. SCTP is
served only when the kernel has it (`sctp_available`); `ping` says whether it does.

Control: one JSON line per connection on the UNIX socket (which works across namespaces):
`{"op": "ping"}` -> `{"name", "pid", "sctp", "serving"}`, and
`{"probes": [{"ip", "port", "protocol"}], "timeout": 1.0, "concurrency": 64}` ->
`{"results": [{"ok", "outcome", "reply", "ms"}]}` in request order. A probe is ok when the
connection is made and the reply read (TCP, SCTP) or a reply arrives (UDP) within the timeout.
Outcomes: connected, timeout (what a dropping data plane gives), refused, unreachable, error,
unsupported. SIGTERM or SIGINT stops the agent; it writes only its socket.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import ipaddress
import json
import os
import signal
import socket
import sys
from collections.abc import Sequence
from typing import Any, cast

from podwall.lab.wire import AGENT_MODULE, MAX_LINE, sctp_available

__all__ = ["main", "probe_one", "run_probes", "serve"]

MAX_CONCURRENCY = 512
UDP_RESEND = 0.25  # seconds between UDP retries within one probe's timeout
PROBE_PAYLOAD = b"podwall probe\n"
_PROTO = {
    "TCP": (socket.SOCK_STREAM, 0),
    "UDP": (socket.SOCK_DGRAM, 0),
    "SCTP": (socket.SOCK_STREAM, socket.IPPROTO_SCTP),
}
_UNREACHABLE = {errno.EHOSTUNREACH, errno.ENETUNREACH}


class _StreamReply(asyncio.Protocol):
    def __init__(self, reply: bytes) -> None:
        self.reply = reply

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.WriteTransport, transport)
        stream.write(self.reply)
        stream.close()


class _DatagramReply(asyncio.DatagramProtocol):
    def __init__(self, reply: bytes) -> None:
        self.reply = reply
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        # Only probes get a reply: two agents can never bounce datagrams at each other.
        if self.transport is not None and data.startswith(PROBE_PAYLOAD):
            self.transport.sendto(self.reply, addr)


def _listening_socket(protocol: str, port: int) -> socket.socket:
    kind, proto = _PROTO[protocol]
    sock = socket.socket(socket.AF_INET6, kind, proto)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("::", port))
    if kind == socket.SOCK_STREAM:
        sock.listen(256)
    sock.setblocking(False)
    return sock


async def _serve_ports(name: str, ports: Sequence[tuple[int, str]], sctp: bool) -> list[Any]:
    """Listen on every port; returns what must be closed at exit."""
    loop = asyncio.get_running_loop()
    reply = f"{name}\n".encode()
    handles: list[Any] = []
    for port, protocol in ports:
        if protocol == "SCTP" and not sctp:
            continue
        sock = _listening_socket(protocol, port)
        if protocol == "UDP":
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _DatagramReply(reply), sock=sock
            )
            handles.append(transport)
        else:
            handles.append(await loop.create_server(lambda: _StreamReply(reply), sock=sock))
    return handles


def _family(ip: str) -> socket.AddressFamily:
    """The socket family of an IP literal (never a name: a lab agent does no DNS lookups)."""
    return socket.AF_INET6 if ipaddress.ip_address(ip).version == 6 else socket.AF_INET


async def _stream_probe(ip: str, port: int, protocol: str) -> str:
    loop = asyncio.get_running_loop()
    with socket.socket(_family(ip), socket.SOCK_STREAM, _PROTO[protocol][1]) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (ip, port))
        return (await loop.sock_recv(sock, 256)).decode(errors="replace").strip()


async def _datagram_probe(ip: str, port: int) -> str:
    loop = asyncio.get_running_loop()
    with socket.socket(_family(ip), socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (ip, port))
        while True:  # resend until a reply, or the caller's timeout cancels us
            sock.send(PROBE_PAYLOAD)
            with contextlib.suppress(TimeoutError):
                data = await asyncio.wait_for(loop.sock_recv(sock, 256), UDP_RESEND)
                return data.decode(errors="replace").strip()


async def probe_one(probe: dict[str, Any], timeout: float, sctp: bool) -> dict[str, Any]:
    """One connection attempt, classified; never raises for network outcomes."""
    loop = asyncio.get_running_loop()
    start = loop.time()
    ip, port, protocol = probe["ip"], int(probe["port"]), probe["protocol"]
    outcome, reply = "connected", ""
    try:
        if protocol == "SCTP" and not sctp:
            outcome = "unsupported"
        else:
            async with asyncio.timeout(timeout):
                if protocol == "UDP":
                    reply = await _datagram_probe(ip, port)
                else:
                    reply = await _stream_probe(ip, port, protocol)
    except TimeoutError:
        outcome = "timeout"
    except ConnectionRefusedError:
        outcome = "refused"
    except OSError as err:
        outcome = "unreachable" if err.errno in _UNREACHABLE else f"error: {err.strerror}"
    except ValueError as err:
        outcome = f"error: {err}"
    ms = round((loop.time() - start) * 1000, 1)
    return {"ok": outcome == "connected", "outcome": outcome, "reply": reply, "ms": ms}


async def run_probes(request: dict[str, Any], sctp: bool) -> dict[str, Any]:
    """All of a request's probes, `concurrency` at a time, results in request order."""
    timeout = min(max(float(request.get("timeout", 1.0)), 0.01), 60.0)
    limit = asyncio.Semaphore(min(max(int(request.get("concurrency", 64)), 1), MAX_CONCURRENCY))

    async def bounded(probe: dict[str, Any]) -> dict[str, Any]:
        async with limit:
            return await probe_one(probe, timeout, sctp)

    results = await asyncio.gather(*(bounded(p) for p in request["probes"]))
    return {"results": list(results)}


async def _control(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, info: dict[str, Any]
) -> None:
    try:
        request = json.loads(await reader.readline())
        if "probes" in request:
            answer = await run_probes(request, info["sctp"])
        elif request.get("op") == "ping":
            answer = info
        else:
            answer = {"error": f"unknown request {request!r}"}
    except (ValueError, KeyError, TypeError) as err:
        answer = {"error": f"bad request: {err}"}
    writer.write(json.dumps(answer).encode() + b"\n")
    with contextlib.suppress(OSError):
        await writer.drain()
    writer.close()


async def serve(name: str, socket_path: str, ports: Sequence[tuple[int, str]]) -> None:
    """Serve until SIGTERM/SIGINT; the control socket appears only once every port listens."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    sctp = sctp_available()
    handles = await _serve_ports(name, ports, sctp)
    info = {
        "name": name,
        "pid": os.getpid(),
        "sctp": sctp,
        "serving": [[p, proto] for p, proto in ports if proto != "SCTP" or sctp],
    }
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    control = await asyncio.start_unix_server(
        lambda r, w: _control(r, w, info), path=socket_path, limit=MAX_LINE
    )
    os.chmod(socket_path, 0o600)
    try:
        await stop.wait()
    finally:
        control.close()
        for handle in handles:
            handle.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=AGENT_MODULE, description=__doc__.split("\n")[0])
    parser.add_argument("--name", required=True, help="what replies say (ns/pod or host name)")
    parser.add_argument("--socket", required=True, help="control socket path")
    parser.add_argument("--listen", default="[]", help='JSON list of [port, "TCP|UDP|SCTP"]')
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    ports = [(int(port), str(proto)) for port, proto in json.loads(args.listen)]
    try:
        asyncio.run(serve(args.name, args.socket, ports))
    except OSError as err:
        print(f"{AGENT_MODULE} {args.name}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
