"""The lab's agent processes: start one per pod and external host, wait for them, stop them.

An agent is recognised by its command line (`-m podwall.lab.agent`), so `down` never signals a
process that merely reused a recorded pid. Agents run in their own session, so they outlive the
`podwall lab up` that started them; their output goes to `<run dir>/<name>.log`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from podwall.lab import netns
from podwall.lab.errors import LabError, LabSetupError
from podwall.lab.topology import LabExternal, LabPod
from podwall.lab.wire import AGENT_MODULE, request

if TYPE_CHECKING:
    from podwall.lab.state import LabState

__all__ = ["AgentRecord", "agent_pids_in", "is_agent", "start_agents", "stop_agents", "wait_ready"]


@dataclass(slots=True, kw_only=True)
class AgentRecord:
    """One agent as the state file remembers it."""

    name: str  # the endpoint it serves: "ns/pod", or an external host's name
    netns: str
    socket: str
    log: str
    pid: int = 0


MAX_SOCKET_PATH = 107  # sun_path is 108 bytes with its terminating NUL
_STOP_GRACE = 2.0
_children: dict[int, subprocess.Popen[bytes]] = {}  # agents this process started, to reap


def _listen_ports(state: LabState, endpoint: LabPod | LabExternal) -> list[list[object]]:
    assert state.topology is not None
    ports = endpoint.ports if isinstance(endpoint, LabPod) else state.topology.served_ports()
    return [[p.port, p.protocol] for p in ports]


def _record(state: LabState, endpoint: LabPod | LabExternal) -> AgentRecord:
    names = state.names
    if isinstance(endpoint, LabPod):
        space = names.pod(endpoint.namespace, endpoint.name)
    else:
        space = names.external(endpoint.name)
    tail = space.removeprefix(state.prefix)
    sock = state.run_dir / f"{tail}.sock"
    if len(os.fsencode(sock)) > MAX_SOCKET_PATH:
        raise LabSetupError(
            f"control socket path {sock} is longer than {MAX_SOCKET_PATH} bytes: "
            "set PODWALL_HOME to a shorter directory"
        )
    return AgentRecord(
        name=endpoint.key, netns=space, socket=str(sock), log=str(state.run_dir / f"{tail}.log")
    )


def start_agents(state: LabState) -> None:
    """Start every agent; each pid is recorded (and saved) as soon as it exists."""
    assert state.topology is not None
    state.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    for endpoint in (*state.topology.pods, *state.topology.externals):
        record = _record(state, endpoint)
        argv = [
            sys.executable,
            "-m",
            AGENT_MODULE,
            "--name",
            record.name,
            "--socket",
            record.socket,
            "--listen",
            json.dumps(_listen_ports(state, endpoint)),
        ]
        with open(record.log, "wb") as log:
            proc = netns.spawn_in(record.netns, argv, log, env)
        _children[proc.pid] = proc
        record.pid = proc.pid
        state.record_agent(record)


def wait_ready(state: LabState, timeout: float) -> None:
    """Return once every agent answers a ping; raise with its log if one dies or stays silent."""
    asyncio.run(_wait_all(list(state.agents.values()), timeout))


async def _wait_all(records: list[AgentRecord], timeout: float) -> None:
    await asyncio.gather(*(_wait_one(r, timeout) for r in records))


async def _wait_one(record: AgentRecord, timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        if _has_exited(record):
            raise LabSetupError(f"agent of {record.name} exited at start:\n{_tail(record.log)}")
        with contextlib.suppress(OSError, TimeoutError, ValueError):
            answer = await request(record.socket, {"op": "ping"}, timeout=0.5)
            if answer.get("pid") == record.pid:
                return
        if loop.time() > deadline:
            raise LabSetupError(
                f"agent of {record.name} did not answer within {timeout:.0f}s:\n{_tail(record.log)}"
            )
        await asyncio.sleep(0.05)


def _has_exited(record: AgentRecord) -> bool:
    """Has the agent died? For our own child, ask the process itself: while `ip netns exec`
    execs the agent, /proc/<pid>/cmdline reads empty for an instant, which `is_agent` would
    take for a death."""
    child = _children.get(record.pid)
    if child is not None:
        return child.poll() is not None
    return not is_agent(record.pid, record.socket)


def _tail(path: str, lines: int = 20) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def is_agent(pid: int, socket_path: str | None = None) -> bool:
    """Whether `pid` is a live lab agent (serving `socket_path`, when given)."""
    argv = _cmdline(pid) if pid > 0 else []
    is_ours = any(a == "-m" and b == AGENT_MODULE for a, b in itertools.pairwise(argv))
    return is_ours and (socket_path is None or socket_path in argv)


def agent_pids_in(namespaces: Iterable[str]) -> list[int]:
    """Agents living in these lab namespaces (whoever started them)."""
    pids: set[int] = set()
    for name in namespaces:
        with contextlib.suppress(LabError):  # the namespace is already gone
            pids |= {pid for pid in netns.namespace_pids(name) if is_agent(pid)}
    return sorted(pids)


def stop_agents(pids: Iterable[int]) -> list[int]:
    """SIGTERM the agents among `pids`, SIGKILL those still alive after a grace; reap ours."""
    targets = [pid for pid in set(pids) if is_agent(pid)]
    for pid in targets:
        _signal(pid, signal.SIGTERM)
    _wait_gone(targets, _STOP_GRACE)
    for pid in targets:
        if is_agent(pid):
            _signal(pid, signal.SIGKILL)
    _wait_gone(targets, _STOP_GRACE)
    for pid in list(_children):
        if _children[pid].poll() is not None or pid in targets:
            with contextlib.suppress(subprocess.TimeoutExpired):
                _children.pop(pid).wait(timeout=_STOP_GRACE)
    return sorted(targets)


def _signal(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, sig)


def _wait_gone(pids: list[int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(is_agent(p) for p in pids) and time.monotonic() < deadline:
        for pid in pids:  # reap our own children so they do not linger as zombies
            if pid in _children:
                _children[pid].poll()
        time.sleep(0.02)
