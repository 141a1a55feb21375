"""The agent's control protocol, as both sides see it: where the agent lives, how to ask it.

One JSON line per connection on the agent's UNIX socket, one JSON line back (see `agent`).
Kept apart from `agent` so that importing the lab never imports the agent's entry module.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

__all__ = ["AGENT_MODULE", "MAX_LINE", "request", "sctp_available"]

AGENT_MODULE = "podwall.lab.agent"
MAX_LINE = 32 * 1024 * 1024  # bytes in one request or answer line


def sctp_available() -> bool:
    """Whether this kernel can open SCTP sockets (many, and this lab's CI, cannot)."""
    try:
        socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP).close()
    except OSError:
        return False
    return True


async def request(socket_path: str, payload: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Send one request to an agent and return its answer (raises OSError or TimeoutError)."""
    async with asyncio.timeout(timeout):
        reader, writer = await asyncio.open_unix_connection(socket_path, limit=MAX_LINE)
        try:
            writer.write(json.dumps(payload).encode() + b"\n")
            await writer.drain()
            line = await reader.readline()
        finally:
            writer.close()
    if not line:
        raise ConnectionResetError(f"agent at {socket_path} closed the connection")
    return json.loads(line)
