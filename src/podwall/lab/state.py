"""The lab's lifecycle and its memory: `up`, `down`, and the state file between them.

The state file (`$PODWALL_HOME/lab/state.json`, home `~/.podwall` by default) is written before
each resource is created (namespaces, then each agent as soon as its pid exists), so `down`
after a crash knows what to remove. Runtime files (agent sockets and logs) live under
`<home>/lab/run/`. `LabState.data` is free-form for callers (applied policies, label changes);
it is stored as the file's `objects`.

`down` is idempotent and needs no state file: it stops the recorded API server and node agents
(`cluster`), then the pod agents (only processes whose command line is a lab agent), deletes
the recorded namespaces, then sweeps any namespace left with the lab's prefix (`podwall-`: ours
by name), and removes the run dir, the API's database, the kubeconfig and the state file (the
logs under `<home>/lab/logs/` stay for a post-mortem). The sweep spares other labs that are up
(`registry`): those with a longer prefix, and one that holds the same prefix from another home.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from podwall.lab import cluster, network, registry, supervise
from podwall.lab.cluster import ServiceRecord
from podwall.lab.errors import LabEnvironmentError, LabError, LabSetupError, LabStateError
from podwall.lab.netns import NETNS_PREFIX, check_netns_name, list_namespaces
from podwall.lab.network import LabNames
from podwall.lab.supervise import AgentRecord
from podwall.lab.topology import (
    LabExternal,
    LabPod,
    Topology,
    default_topology,
    dump_topology,
    parse_topology,
)
from podwall.lab.wire import sctp_available

__all__ = [
    "AgentRecord",
    "LabState",
    "Removed",
    "check_environment",
    "down",
    "lab_home",
    "load_state",
    "running_state",
    "save_state",
    "up",
]

STATE_VERSION = 1
HOME_ENV = "PODWALL_HOME"
READY_TIMEOUT = 20.0
_TOOLS = {"ip": "iproute2", "nft": "nftables", "conntrack": "conntrack"}


@dataclass(slots=True, kw_only=True)
class LabState:
    home: Path
    prefix: str = NETNS_PREFIX
    topology: Topology | None = None
    namespaces: list[str] = field(default_factory=list)
    agents: dict[str, AgentRecord] = field(default_factory=dict)
    services: dict[str, ServiceRecord] = field(default_factory=dict)  # API server, node agents
    sctp: bool = False  # whether the kernel serves SCTP; probes of SCTP need it
    data: dict[str, Any] = field(default_factory=dict)  # free-form; the file's "objects"

    @property
    def path(self) -> Path:
        return self.home / "lab" / "state.json"

    @property
    def run_dir(self) -> Path:
        return self.home / "lab" / "run"

    @property
    def names(self) -> LabNames:
        return LabNames(self.prefix)

    @property
    def notices(self) -> list[str]:
        """What a user should hear about this lab (today: a kernel without SCTP)."""
        if self.sctp:
            return []
        return [
            "this kernel has no SCTP (socket(IPPROTO_SCTP) fails): the lab serves and "
            "probes TCP and UDP only"
        ]

    def known_topology(self) -> Topology:
        """The topology, or a LabError: only a half-written state file lacks one."""
        if self.topology is None:
            raise LabError(
                "the lab state has no topology: run `podwall lab down` and `up` again"
            )
        return self.topology

    def node_netns(self, node: str) -> str:
        """The namespace where node `node`'s ruleset goes (`ip netns exec NAME nft -f -`)."""
        return self.names.node(node)

    def endpoint(self, key: str) -> LabPod | LabExternal:
        """A pod by `ns/name` or an external host by name."""
        found = None
        if self.topology is not None:
            found = self.topology.pod(key) or self.topology.external(key)
        if found is None:
            raise LabError(f"{key!r} is neither a lab pod (ns/name) nor an external host")
        return found

    def record_namespaces(self, names: list[str]) -> None:
        for name in names:
            if check_netns_name(name) not in self.namespaces:
                self.namespaces.append(name)
        save_state(self)

    def record_agent(self, record: AgentRecord) -> None:
        self.agents[record.name] = record
        save_state(self)

    def record_service(self, record: ServiceRecord) -> None:
        self.services[record.name] = record
        save_state(self)


@dataclass(frozen=True, slots=True)
class Removed:
    """What `down` removed: agent pids stopped, namespaces deleted."""

    agents: tuple[int, ...]
    namespaces: tuple[str, ...]
    spared: tuple[str, ...] = ()  # namespaces matching the prefix that other labs own


def lab_home(home: str | Path | None = None) -> Path:
    """`home`, else $PODWALL_HOME, else ~/.podwall."""
    chosen = home or os.environ.get(HOME_ENV) or Path.home() / ".podwall"
    return Path(chosen).expanduser().absolute()


def save_state(state: LabState) -> None:
    """Write the state file atomically (a crash leaves the old file or the new one)."""
    state.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    document = {
        "version": STATE_VERSION,
        "prefix": state.prefix,
        "namespaces": state.namespaces,
        "agents": {k: asdict(v) for k, v in state.agents.items()},
        "services": {k: asdict(v) for k, v in state.services.items()},
        "topology": dump_topology(state.topology) if state.topology else None,
        "sctp": state.sctp,
        "objects": state.data,
    }
    tmp = state.path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, state.path)


def load_state(home: str | Path | None = None) -> LabState | None:
    """The lab's state, or None when no lab is recorded."""
    path = LabState(home=lab_home(home)).path
    try:
        document = json.loads(path.read_text())
        topology = document.get("topology")
        return LabState(
            home=lab_home(home),
            prefix=check_netns_name(document.get("prefix", NETNS_PREFIX)),
            topology=parse_topology(topology, str(path)) if topology else None,
            namespaces=[check_netns_name(n) for n in document.get("namespaces", [])],
            agents={k: AgentRecord(**v) for k, v in document.get("agents", {}).items()},
            services={
                k: ServiceRecord(**v) for k, v in document.get("services", {}).items()
            },
            sctp=bool(document.get("sctp", False)),
            data=document.get("objects", {}),
        )
    except FileNotFoundError:
        return None
    except (OSError, ValueError, TypeError, AttributeError, LabError) as err:
        raise LabStateError(
            f"cannot read the lab state {path}: {err} (`podwall lab down` still cleans up)"
        ) from err


def running_state(home: str | Path | None = None) -> LabState:
    """The lab that is up, with its topology: what every command but `up` and `down` needs."""
    state = load_state(home)
    if state is None or state.topology is None:
        raise LabError("no lab is up: run `podwall lab up` first")
    return state


def check_environment() -> None:
    """Refuse early, and say why, where the lab cannot work."""
    if os.geteuid() != 0:
        raise LabEnvironmentError(
            "podwall lab needs root: it creates network namespaces (run it with sudo)"
        )
    for tool, package in _TOOLS.items():
        if shutil.which(tool) is None:
            raise LabEnvironmentError(
                f"podwall lab needs the `{tool}` command: install {package} "
                f"(apt-get install {package})"
            )


def up(
    topology: Topology | None = None,
    *,
    home: str | Path | None = None,
    prefix: str = NETNS_PREFIX,
    ready_timeout: float = READY_TIMEOUT,
) -> LabState:
    """Build the lab and start its agents; on any failure remove what was made, then raise."""
    check_environment()
    topology = topology or default_topology()
    state = LabState(
        home=lab_home(home),
        prefix=check_netns_name(prefix),
        topology=topology,
        sctp=sctp_available(),
    )
    _refuse_existing(state)
    save_state(state)
    registry.register(state.prefix, state.home)
    try:
        network.build(topology, state)
        supervise.start_agents(state)
        supervise.wait_ready(state, ready_timeout)
    except BaseException as err:
        with contextlib.suppress(Exception):
            _remove(state, sweep=False)
        if isinstance(err, LabError | OSError):
            raise LabSetupError(f"lab up failed, and what it made is removed: {err}") from err
        raise
    return state


def _refuse_existing(state: LabState) -> None:
    recorded = load_state(state.home)
    if recorded is not None and (recorded.namespaces or recorded.agents or recorded.services):
        raise LabStateError(
            f"a lab is already up (state in {recorded.path}): run `podwall lab down` first"
        )
    owner = _other_owner(state)
    if owner is not None:
        raise LabStateError(
            f"the lab in {owner} uses the namespace prefix {state.prefix!r}: choose another "
            f"--prefix, or take it down (PODWALL_HOME={owner} podwall lab down)"
        )
    assert state.topology is not None
    wanted = network.lab_namespaces(state.topology, state.names)
    clash = sorted(set(wanted) & set(list_namespaces(state.prefix)))
    if clash:
        raise LabStateError(
            f"network namespaces already exist: {', '.join(clash)}; "
            "`podwall lab down` removes leftover podwall- namespaces"
        )


def down(
    state: LabState | None = None,
    *,
    home: str | Path | None = None,
    prefix: str = NETNS_PREFIX,
) -> Removed:
    """Stop agents, delete namespaces (recorded, then any with the prefix), forget the lab.

    Without `state`, the state file under `home` is read; without one, `prefix` says which
    namespaces to sweep.
    """
    if state is None:
        try:
            state = load_state(home)
        except LabStateError:
            state = None
        state = state or LabState(home=lab_home(home), prefix=check_netns_name(prefix))
    return _remove(state, sweep=True)


def _remove(state: LabState, *, sweep: bool) -> Removed:
    """Stop the lab's agents and delete its namespaces: the recorded ones, and with `sweep`
    any other carrying its prefix. A failed `up` does not sweep: it removes only what it made.
    """
    owner = _other_owner(state)
    matching = list_namespaces(state.prefix) if sweep else []
    if owner is None:
        swept, spared = registry.split_owned(state.prefix, matching)
    else:  # a stateless `down` where another home's lab holds the prefix: not ours to sweep
        swept, spared = [], matching
    namespaces = sorted(set(list_namespaces(NETNS_PREFIX)) & {*state.namespaces, *swept})
    services = cluster.stop_services(state.services.values())  # before their namespaces go
    recorded = [r.pid for r in state.agents.values() if supervise.is_agent(r.pid, r.socket)]
    pods = supervise.stop_agents([*recorded, *supervise.agent_pids_in(namespaces)])
    network.teardown(state, namespaces)
    shutil.rmtree(state.run_dir, ignore_errors=True)
    if services or state.services:
        cluster.forget_files(state)
    state.path.unlink(missing_ok=True)
    if owner is None:
        registry.unregister(state.prefix)
    state.namespaces.clear()
    state.agents.clear()
    state.services.clear()
    return Removed(
        agents=tuple([*services, *pods]),
        namespaces=tuple(namespaces),
        spared=tuple(n for n in spared if n not in namespaces),
    )


def _other_owner(state: LabState) -> Path | None:
    """The home of another lab that is up with this prefix, if any: one registered whose state
    file records a namespace that exists (a stale entry, e.g. after a reboot, is no lab)."""
    owner = registry.holder(state.prefix)
    if owner is None or owner == state.home:
        return None
    try:
        other = load_state(owner)
    except LabStateError:
        return owner  # unreadable: spare it rather than guess
    if other is None or not set(other.namespaces) & set(list_namespaces(state.prefix)):
        return None
    return owner
