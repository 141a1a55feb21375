"""`podwall up`: the lab, its API and agents, and the console with the lab registered, at once.

Owns the order things start and stop in, and what the user is told. (1) The console's address
is bound first: a busy port fails (exit 3) before anything starts. (2) The cluster: a lab that
is up (its API server ready) is reused; else, as root with ip, nft and conntrack, the lab is
built from the topology (`examples`, as `podwall lab up --topology examples`) under
`$PODWALL_HOME/lab` (home `~/.podwall`); else the reason is printed and the lab API server alone
runs in this process (the topology's pods; policies stored, not enforced; `<home>/up/`, fresh
each run as a new lab is). (3) The console on its database (default `<home>/console.db`),
migrated, with the cluster "lab" registered (re-pointed when the lab's address changed) and
synced. (4) Last: the URL, admin and its one-time password (first run, or
`--reset-admin-password`), how to stop. (5) SIGINT/SIGTERM stops the console and the in-process
API, and takes down a lab this run started (unless `--keep-lab`); a reused lab stays up.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from podwall.cli_common import say, warn
from podwall.errors import PodwallError
from podwall.lab import cluster
from podwall.lab.errors import LabEnvironmentError, LabError, LabStateError
from podwall.lab.netns import NETNS_PREFIX
from podwall.lab.state import LabState, check_environment, down, lab_home, load_state, up
from podwall.lab.topology import Topology, resolve_topology
from podwall.semantics import Matrix, PortSpec
from podwall.serving import EXIT_PORT_BUSY, bind, open_console, serve

if TYPE_CHECKING:
    from sqlalchemy.orm import Session as DbSession
    from sqlalchemy.orm import sessionmaker

__all__ = ["EPILOG", "EXIT_PORT_BUSY", "LAB_CLUSTER", "UpError", "up_command"]

EXIT_INTERRUPTED = 130  # as shells report a SIGINT: stopped before the console served
LAB_CLUSTER = "lab"
LAB_CONTEXT = "podwall-lab"  # the current context of every kubeconfig the lab API writes
SYSTEM_USER = "system"

EPILOG = (
    "Examples:\n\n  sudo podwall up        # the lab enforced by nftables, and the console\n\n"
    "  podwall up --port 9090   # not root: the console and the lab API, nothing enforced\n\n"
    "  podwall up --database postgresql://podwall@db/podwall --keep-lab\n\n"
    "Exit codes: 0 stopped by Ctrl-C or SIGTERM; 2 something could not start (the message says "
    "what; what this run started is removed); 3 the console's address is in use; 130 "
    "interrupted before the console served."
)


class UpError(PodwallError):
    """`podwall up` cannot start (exit 2)."""


class _Stop(BaseException):
    """SIGTERM while starting: unwind like Ctrl-C, so what was started is removed."""

    @classmethod
    def raise_it(cls, _signum: int, _frame: object) -> None:
        raise cls


@dataclass(slots=True)
class LabRun:
    """The cluster this run serves the console: a lab (started or reused), or the API alone."""

    kubeconfig: Path
    summary: str
    state: LabState | None = None  # the lab network, when one runs
    started: bool = False  # this run started the lab: it takes it down
    api: Any = None  # the in-process ApiServer, when there is no lab network


def _reuse_lab() -> LabRun | None:
    """The lab already up, when its API server answers; None when no lab is recorded."""
    state = load_state()
    if state is None:
        return None
    api = state.services.get(cluster.API_SERVICE)
    if api is None:
        raise LabStateError("the lab that is up has no API server (`lab up --no-agents`): "
                            "`podwall lab down`, then `podwall up` again")
    status = cluster.status_of(api)
    if not status.ready:
        raise LabStateError(f"a lab is recorded in {state.path} but its API server is not ready "
                            f"({status.why}): `podwall lab restart` or `podwall lab down`")
    pods = len(state.topology.pods) if state.topology else 0
    return LabRun(kubeconfig=cluster.kubeconfig_path(state), state=state,
                  summary=f"reusing the lab that is up ({pods} pods, API {api.url}); "
                  "it stays up when this stops")


def _start_lab(topology: Topology, prefix: str) -> LabRun:
    """`podwall lab up`: network namespaces, the lab API server, one agent per node."""
    from podwall.lab import control
    from podwall.semantics import Options

    check_environment()
    state = up(topology, prefix=prefix)
    try:
        options = Options(ipblock_matches_cluster=True, allow_node_local=True)
        control.set_options(state, options)
        cluster.start_cluster(state, options)
    except BaseException:
        down(state)
        raise
    for notice in state.notices:
        say(f"notice: {notice}")
    return LabRun(kubeconfig=cluster.kubeconfig_path(state), state=state, started=True,
                  summary=f"lab up: {len(topology.nodes)} nodes, {len(topology.pods)} pods in "
                  f"network namespaces, NetworkPolicies enforced by nftables "
                  f"(API {state.services[cluster.API_SERVICE].url})")


def _api_alone(topology: Topology) -> LabRun:
    """The lab API server in this process: the topology's pods, nothing enforced."""
    from podwall.apiserver import ApiServer  # the web stack loads only here

    where = lab_home() / "up"
    shutil.rmtree(where, ignore_errors=True)  # each run starts from the topology, as labs do
    where.mkdir(parents=True, mode=0o700)
    server = ApiServer(where / "api.db", topology=topology).start()
    path = server.write_kubeconfig(where / "kubeconfig")
    return LabRun(kubeconfig=path, api=server,
                  summary=f"lab API serving {len(topology.pods)} pods at {server.url}, "
                  "without enforcement (policies are stored and analysed, not enforced)")


def _open_lab(lab: bool | None, topology: Topology, prefix: str) -> LabRun:
    """Reuse, start, or (saying why) do without the lab network, as `--lab/--no-lab` asks."""
    if lab is False:
        say("no lab network: --no-lab")
        return _api_alone(topology)
    reused = _reuse_lab()
    if reused is not None:
        return reused
    try:
        return _start_lab(topology, prefix)
    except LabError as err:
        if lab is True:
            raise
        say(f"no lab network: {err}")
        if isinstance(err, LabEnvironmentError):
            say("  (the lab needs root, iproute2, nftables and conntrack; running without it)")
    return _api_alone(topology)


def _close_lab(run: LabRun, keep: bool) -> str:
    if run.api is not None:
        run.api.stop()
        shutil.rmtree(lab_home() / "up", ignore_errors=True)
        return "lab API stopped"
    if run.state is None or not run.started:
        return "the lab that was up before is left up (`podwall lab down` removes it)"
    if keep:
        return "lab left up (--keep-lab): `podwall lab down` removes it"
    removed = down(run.state)
    return (f"lab down: removed {len(removed.namespaces)} namespaces and stopped "
            f"{len(removed.agents)} processes")


def _default_database() -> str:
    from podwall.console.db import default_database_url

    return default_database_url()


def _lab_prober(state: LabState) -> Callable[[PortSpec], Matrix]:
    """Real packets between the lab's pods on one port, for the console's "probe" button."""
    from podwall.lab.probe import probe

    return lambda port: probe(state, ports=[port])


def _open_console(database: str, run: LabRun, sock: socket.socket) -> Any:
    """The console on `database`, migrated, probing the lab when a lab network runs."""
    probers = {LAB_CLUSTER: _lab_prober(run.state)} if run.state is not None else {}
    return open_console(database, sock, secure_cookies=False, probers=probers)


def _register_lab(db: DbSession, kubeconfig: str, now: datetime) -> str:
    """Register the cluster "lab", or point it at the lab's current address."""
    from sqlalchemy import select

    from podwall.console import clusters
    from podwall.console.models import Cluster

    found = db.scalar(select(Cluster).where(Cluster.name == LAB_CLUSTER))
    if found is None:
        clusters.register_cluster(db, name=LAB_CLUSTER, kubeconfig=kubeconfig, context=None,
                                  username=SYSTEM_USER, now=now)
        return "registered"
    if f"current-context: {LAB_CONTEXT}" not in found.kubeconfig:
        raise UpError(f"a cluster named {LAB_CLUSTER!r} is registered and is not podwall's lab: "
                      "rename it in the console, or use another --database")
    if clusters.repoint_cluster(db, found, kubeconfig=kubeconfig, username=SYSTEM_USER, now=now):
        return "registered (new address)"
    return "already registered"


def _sync_lab(db: DbSession, now: datetime) -> str:
    """Sync the cluster "lab" now; a line saying what it holds, or why the sync failed."""
    from sqlalchemy import func, select

    from podwall.console import clusters
    from podwall.console.models import ClusterObject

    found = clusters.get_cluster(db, LAB_CLUSTER)
    clusters.sync_cluster(db, found, username=SYSTEM_USER, now=now)
    if found.last_sync_error:
        return f"sync failed: {found.last_sync_error}"
    counts = dict(db.execute(select(ClusterObject.kind, func.count())
                             .where(ClusterObject.cluster_id == found.id)
                             .group_by(ClusterObject.kind)).all())
    return (f"synced: {counts.get('Namespace', 0)} namespaces, {counts.get('Pod', 0)} pods, "
            f"{counts.get('NetworkPolicy', 0)} NetworkPolicies")


def _admin_lines(db: DbSession, password: str | None) -> list[str]:
    from sqlalchemy import select

    from podwall.console import auth
    from podwall.console.models import User

    if password is not None:
        return [f"  user:     {auth.ADMIN_USERNAME}",
                f"  password: {password}",
                "            (one-time: shown only now; you choose a new one at the first login)"]
    pending = db.scalar(select(User.must_change_password)
                        .where(User.username == auth.ADMIN_USERNAME))
    when = ("its one-time password was printed on the first run" if pending
            else "with the password you chose")
    return [f"  user:     {auth.ADMIN_USERNAME} ({when}; lost it? "
            "podwall up --reset-admin-password)"]


def _prepare_console(sessions: sessionmaker, run: LabRun, created: str | None,
                     reset: bool) -> list[str]:
    """Register and sync the lab; the admin's lines for the final message."""
    from podwall.console import auth

    now = datetime.now(UTC)
    with sessions.begin() as db:
        registered = _register_lab(db, run.kubeconfig.read_text(), now)
    with sessions.begin() as db:
        synced = _sync_lab(db, now)
    say(f"cluster {LAB_CLUSTER}: {registered}, {synced}")
    with sessions.begin() as db:
        password = (auth.reset_password(db, auth.ADMIN_USERNAME, by=SYSTEM_USER, now=now)
                    if reset and created is None else created)
        return _admin_lines(db, password)


def _final_lines(host: str, port: int, run: LabRun, admin: list[str], keep: bool) -> list[str]:
    if run.started and not keep:
        stopping = "takes the lab down too (--keep-lab keeps it)"
    elif run.started:
        stopping = "leaves the lab up (--keep-lab): `podwall lab down` removes it"
    else:
        stopping = "stops the console" + (" and the lab API" if run.api is not None else "")
    return [
        f"kubectl: export KUBECONFIG={run.kubeconfig}",
        "",
        f"podwall console: http://{f'[{host}]' if ':' in host else host}:{port}",
        *admin,
        f"  stop:     Ctrl-C (or kill -TERM {os.getpid()}): {stopping}",
    ]


def up_command(
    host: Annotated[str, typer.Option("--host", help="The console's address")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="The console's TCP port")] = 8080,
    database: Annotated[str, typer.Option(
        "--database", help="The console's SQLAlchemy URL, e.g. postgresql://user@host/podwall "
        "(default: sqlite:///$PODWALL_HOME/console.db, home ~/.podwall)")] = "",
    lab: Annotated[bool | None, typer.Option(
        "--lab/--no-lab", help="Default: build the lab network when root with nft, ip and "
        "conntrack, else say why and serve the lab API alone (nothing enforced). --lab: fail "
        "(exit 2) when the lab cannot be built; --no-lab: the lab API alone, even as root")] = None,
    topology: Annotated[str, typer.Option(
        "--topology", help="The lab's pods: a bundled topology (examples, upstream-e2e) or a "
        "topology YAML file")] = "examples",
    keep_lab: Annotated[bool, typer.Option("--keep-lab", help="On stop, leave the lab up")] = False,
    reset_admin_password: Annotated[bool, typer.Option("--reset-admin-password", help="Print "
        "a new one-time password for admin (its sessions end)")] = False,
    prefix: Annotated[str, typer.Option(
        "--prefix", help="Name prefix of the lab's network namespaces (starts with podwall-)")
    ] = NETNS_PREFIX,
) -> None:
    """Start everything: the lab, its API and agents, and the console with the lab registered.

    Then open the URL it prints, log in as admin and manage the lab's policies; Ctrl-C stops."""
    chosen = resolve_topology(topology)
    sock = bind(host, port)
    signal.signal(signal.SIGTERM, _Stop.raise_it)
    run: LabRun | None = None
    interrupted = False
    try:
        run = _open_lab(lab, chosen, prefix)
        say(run.summary)
        console = _open_console(database or _default_database(), run, sock)
        admin = _prepare_console(console.app.state.sessions, run, console.admin_password,
                                 reset_admin_password)
        for line in _final_lines(host, port, run, admin, keep_lab):
            say(line)
        sys.stdout.flush()
        serve(console.app, sock)
    except (KeyboardInterrupt, _Stop):
        warn("interrupted while starting: removing what was started")
        interrupted = True
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):  # a stop stops: no second Ctrl-C mid-way
            signal.signal(signum, signal.SIG_IGN)
        sock.close()
        if run is not None:
            say(f"stopped: {_close_lab(run, keep_lab)}")
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if interrupted:
        raise typer.Exit(EXIT_INTERRUPTED)
