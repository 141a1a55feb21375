"""The lab as a cluster: its API server and one node agent per node, as background processes.

`start_cluster` starts `podwall lab api-server` (SQLite at `<home>/lab/api.db`, seeded from
the lab's topology, on a free loopback port) which writes `<home>/lab/kubeconfig`, then one
`podwall agent` per node, enforcing in that node's network namespace; it returns once every
agent answers /readyz. Each process runs in its own session (it outlives the CLI that started
it), logs to `<home>/lab/logs/<name>.log`, and is recorded in the state file as soon as its pid
exists, so `podwall lab down` stops it even after a crash. A process is recognised by its
command line (the podwall subcommand and its recorded port), never by pid alone.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from podwall.lab.errors import LabError, LabSetupError
from podwall.lab.topology import dump_topology

if TYPE_CHECKING:
    from podwall.lab.state import LabState
    from podwall.semantics import Options

__all__ = [
    "API_SERVICE",
    "ServiceRecord",
    "ServiceStatus",
    "agent_service",
    "forget_files",
    "kubeconfig_path",
    "restart_services",
    "start_cluster",
    "status_of",
    "stop_services",
]

API_SERVICE = "api-server"
AGENT_PREFIX = "agent/"
READY_TIMEOUT = 30.0
_STOP_GRACE = 3.0
_HOST = "127.0.0.1"


@dataclass(slots=True, kw_only=True)
class ServiceRecord:
    """One background process as the state file remembers it."""

    name: str  # "api-server" or "agent/<node>"
    port: int
    log: str
    argv: list[str]
    pid: int = 0

    @property
    def url(self) -> str:
        return f"http://{_HOST}:{self.port}"


@dataclass(frozen=True, slots=True)
class ServiceStatus:
    name: str
    pid: int
    url: str
    running: bool
    ready: bool
    why: str


def agent_service(node: str) -> str:
    return f"{AGENT_PREFIX}{node}"


def kubeconfig_path(state: LabState) -> Path:
    return state.home / "lab" / "kubeconfig"


def _lab_dir(state: LabState) -> Path:
    return state.home / "lab"


def forget_files(state: LabState) -> None:
    """Remove the cluster's database, kubeconfig and topology copy (logs stay)."""
    lab = _lab_dir(state)
    for name in ("api.db", "api.db-wal", "api.db-shm", "topology.yaml"):
        (lab / name).unlink(missing_ok=True)
    kubeconfig_path(state).unlink(missing_ok=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((_HOST, 0))
        return int(s.getsockname()[1])


def _podwall() -> str:
    beside = Path(sys.executable).parent / "podwall"
    found = str(beside) if beside.is_file() else shutil.which("podwall")
    if found is None:
        raise LabSetupError("cannot find the `podwall` command to start the lab's services")
    return found


def _api_record(state: LabState, port: int) -> ServiceRecord:
    lab = _lab_dir(state)
    topology = lab / "topology.yaml"
    argv = [_podwall(), "lab", "api-server", "--db", str(lab / "api.db"), "--port", str(port),
            "--host", _HOST, "--topology", str(topology),
            "--kubeconfig-out", str(kubeconfig_path(state))]
    return ServiceRecord(name=API_SERVICE, port=port, argv=argv,
                         log=str(lab / "logs" / "api-server.log"))


def _agent_record(state: LabState, node: str, port: int, options: Options) -> ServiceRecord:
    argv = [_podwall(), "agent", "--node", node, "--kubeconfig", str(kubeconfig_path(state)),
            "--netns", state.node_netns(node), "--listen", f"{_HOST}:{port}",
            "--ipblock", "calico" if options.ipblock_matches_cluster else "cilium",
            "--node-traffic" if options.allow_node_local else "--no-node-traffic",
            "--max-backoff", "1"]
    return ServiceRecord(name=agent_service(node), port=port, argv=argv,
                         log=str(_lab_dir(state) / "logs" / f"agent-{node}.log"))


def _spawn(state: LabState, record: ServiceRecord) -> None:
    """Start `record`'s process detached, and record its pid at once."""
    Path(record.log).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(record.log, "ab") as log:
        proc = subprocess.Popen(record.argv, stdin=subprocess.DEVNULL, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    record.pid = proc.pid
    state.record_service(record)


def start_cluster(state: LabState, options: Options, timeout: float = READY_TIMEOUT) -> None:
    """Start the API server, then every node's agent; return once all are ready."""
    assert state.topology is not None
    lab = _lab_dir(state)
    lab.mkdir(parents=True, exist_ok=True, mode=0o700)
    (lab / "topology.yaml").write_text(yaml.safe_dump(dump_topology(state.topology)))
    (lab / "api.db").unlink(missing_ok=True)  # a new lab starts from its topology
    api = _api_record(state, _free_port())
    _spawn(state, api)
    _wait_ready([api], timeout, also=lambda: kubeconfig_path(state).is_file())
    agents = [_agent_record(state, n.name, _free_port(), options) for n in state.topology.nodes]
    for record in agents:
        _spawn(state, record)
    _wait_ready(agents, timeout)


def restart_services(state: LabState, names: Iterable[str], timeout: float = READY_TIMEOUT
                     ) -> list[str]:
    """Stop (if running) and start again the named services, on their recorded ports; with
    no names, start those not running. Returns the names started."""
    wanted = list(names) or [r.name for r in state.services.values() if not _is_ours(r)]
    records = []
    for name in wanted:
        record = state.services.get(name) or state.services.get(agent_service(name))
        if record is None:
            known = ", ".join(sorted(state.services)) or "none"
            raise LabError(f"no lab service {name!r} (there are: {known})")
        records.append(record)
    stop_services(records)
    for record in sorted(records, key=lambda r: r.name != API_SERVICE):  # the API first
        _spawn(state, record)
    _wait_ready(records, timeout)
    return [r.name for r in records]


def _readyz(record: ServiceRecord) -> tuple[bool, str]:
    try:
        with urllib.request.urlopen(f"{record.url}/readyz", timeout=1.0) as answer:
            return answer.status == 200, answer.read().decode(errors="replace").strip()
    except urllib.error.HTTPError as err:
        return False, err.read().decode(errors="replace").strip()
    except (OSError, ValueError) as err:
        return False, str(getattr(err, "reason", err))


def _wait_ready(records: list[ServiceRecord], timeout: float, also=lambda: True) -> None:
    deadline = time.monotonic() + timeout
    pending = list(records)
    while pending:
        for record in list(pending):
            if not _is_ours(record):
                raise LabSetupError(f"{record.name} exited at start:\n{_tail(record.log)}")
            if _readyz(record)[0] and also():
                pending.remove(record)
        if pending and time.monotonic() > deadline:
            names = ", ".join(r.name for r in pending)
            raise LabSetupError(f"not ready within {timeout:.0f}s: {names}; last log lines:\n"
                                + _tail(pending[0].log))
        if pending:
            time.sleep(0.05)


def status_of(record: ServiceRecord) -> ServiceStatus:
    running = _is_ours(record)
    ready, why = _readyz(record) if running else (False, "not running")
    return ServiceStatus(record.name, record.pid, record.url, running, ready, why)


def _tail(path: str, lines: int = 15) -> str:
    try:
        return "\n".join(Path(path).read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _is_ours(record: ServiceRecord) -> bool:
    """Whether the recorded pid is still this service (same command line, zombies excluded)."""
    if record.pid <= 0:
        return False
    try:
        raw = Path(f"/proc/{record.pid}/cmdline").read_bytes()
        stat = Path(f"/proc/{record.pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[-1].split()[0] == "Z":
        return False
    argv = [part.decode(errors="replace") for part in raw.split(b"\0") if part]
    return argv[-len(record.argv[1:]):] == record.argv[1:]


def stop_services(records: Iterable[ServiceRecord]) -> list[int]:
    """SIGTERM the live ones, SIGKILL those alive after a grace; the pids stopped."""
    live = [r for r in records if _is_ours(r)]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for record in live:
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.pid, sig)
        deadline = time.monotonic() + _STOP_GRACE
        while any(_is_ours(r) for r in live) and time.monotonic() < deadline:
            time.sleep(0.02)
        if not any(_is_ours(r) for r in live):
            break
    return sorted(r.pid for r in live)
