"""Registered clusters: registering by kubeconfig and context, deleting, and synchronising.

The kubeconfig stays in the database; for a sync it is written to a private (0600) temporary
file for `podwall.kube.read_cluster`, then removed. A sync that fails keeps the objects of the
last good one and records the error, so an unreachable cluster is a state, never a crash.

`Syncs` runs syncs in the background: at most one per cluster (claimed by one conditional
UPDATE, so two requests cannot both start one), each in a worker thread with its own database
session, reporting its step and progress in the cluster's row, and each with a deadline: a
cluster that does not answer in time fails the sync ("timed out after N s"); the read left
behind is abandoned at its next step. `sync_cluster` is the same sync inline, without deadline.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

import yaml
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session as DbSession
from sqlalchemy.orm import sessionmaker

from podwall.console import audit
from podwall.console.errors import Conflict, NotFound, Unprocessable
from podwall.console.models import Cluster, ClusterObject
from podwall.errors import PodwallError
from podwall.kube import ClusterSource, Progress, read_cluster

__all__ = [
    "SYNC_FAILED",
    "SYNC_IDLE",
    "SYNC_RUNNING",
    "SYNC_SUCCEEDED",
    "ReadCluster",
    "Syncs",
    "delete_cluster",
    "end_interrupted_syncs",
    "get_cluster",
    "list_clusters",
    "register_cluster",
    "repoint_cluster",
    "stale_before",
    "sync_cluster",
]

SYNC_IDLE, SYNC_RUNNING, SYNC_SUCCEEDED, SYNC_FAILED = "idle", "running", "succeeded", "failed"
STORING = "storing"  # the step after reading: namespaces, pods, networkpolicies, storing
_READ_SHARE = 0.9  # of the progress bar; storing is the rest
_GRACE = 10.0  # seconds past the deadline a waiting request gives the worker to finish
_log = logging.getLogger(__name__)

Manifests = list[tuple[str, dict[str, Any]]]
Outcome = Manifests | str  # what the cluster listed, or why it could not


class ReadCluster(Protocol):
    def __call__(self, source: ClusterSource, *, progress: Progress | None = None) -> Manifests:
        ...


def list_clusters(db: DbSession) -> Sequence[Cluster]:
    return db.scalars(select(Cluster).order_by(Cluster.name)).all()


def get_cluster(db: DbSession, name: str) -> Cluster:
    found = db.scalar(select(Cluster).where(Cluster.name == name))
    if found is None:
        raise NotFound(f"no cluster named {name!r}")
    return found


def register_cluster(
    db: DbSession, *, name: str, kubeconfig: str, context: str | None, username: str,
    now: datetime,
) -> Cluster:
    check_kubeconfig(kubeconfig, context)
    if db.scalar(select(Cluster.id).where(Cluster.name == name)) is not None:
        raise Conflict(f"a cluster named {name!r} is already registered")
    cluster = Cluster(name=name, kubeconfig=kubeconfig, context=context, created_at=now)
    db.add(cluster)
    audit.record(db, at=now, username=username, action="cluster.register", cluster=name,
                 object=f"context {context or 'current'}")
    return cluster


def repoint_cluster(
    db: DbSession, cluster: Cluster, *, kubeconfig: str, username: str, now: datetime
) -> bool:
    """Give a registered cluster a new kubeconfig (e.g. the lab's new address); False when it
    already has this one."""
    check_kubeconfig(kubeconfig, cluster.context)
    if cluster.kubeconfig == kubeconfig:
        return False
    cluster.kubeconfig = kubeconfig
    audit.record(db, at=now, username=username, action="cluster.update", cluster=cluster.name,
                 object="kubeconfig")
    return True


def check_kubeconfig(text: str, context: str | None) -> None:
    """A kubeconfig that parses and names the context (or has a current one), else 422."""
    try:
        config = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise Unprocessable(f"kubeconfig is not valid YAML: {err}") from err
    if not isinstance(config, dict) or not isinstance(config.get("contexts"), list):
        raise Unprocessable("kubeconfig has no contexts")
    names = [c.get("name") for c in config["contexts"] if isinstance(c, dict)]
    wanted = context or config.get("current-context")
    if not wanted:
        raise Unprocessable("kubeconfig has no current-context: give a context")
    if wanted not in names:
        raise Unprocessable(f"context {wanted!r} is not in the kubeconfig (it has: "
                            f"{', '.join(map(str, names)) or 'none'})")


@contextmanager
def _private_kubeconfig(text: str) -> Iterator[str]:
    fd, path = tempfile.mkstemp(prefix="podwall-console-", suffix=".kubeconfig")  # mode 0600
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        yield path
    finally:
        os.unlink(path)


def delete_cluster(db: DbSession, cluster: Cluster, *, username: str, now: datetime) -> None:
    """Forget the cluster: its synced objects and role bindings go with it (ON DELETE CASCADE);
    a sync still running finds it gone and stores nothing."""
    db.execute(delete(Cluster).where(Cluster.id == cluster.id))
    audit.record(db, at=now, username=username, action="cluster.delete", cluster=cluster.name,
                 object=f"context {cluster.context or 'current'}")


def sync_cluster(
    db: DbSession, cluster: Cluster, *, username: str, now: datetime,
    read: ReadCluster = read_cluster,
) -> Cluster:
    """Replace the cluster's stored objects with what it lists now, or record why not; inline,
    without a deadline (`Syncs` runs it in the background)."""
    cluster.sync_state, cluster.sync_step, cluster.sync_progress = SYNC_RUNNING, None, 0.0
    cluster.sync_started_at, cluster.sync_finished_at = now, None
    _finish(db, cluster, _read_objects(cluster.kubeconfig, cluster.context, read, None),
            username=username, now=now)
    return cluster


def end_interrupted_syncs(db: DbSession, now: datetime, identity: str,
                          deadline: float) -> None:
    """At start: fail the syncs left "running" by a console that stopped. Those recorded under
    this console's identity (its address is bound: no console that holds it still runs), or
    under none, were cut off; another console's sync is left to run unless it is older than
    any sync can be (`stale_before`)."""
    db.execute(update(Cluster).where(
        Cluster.sync_state == SYNC_RUNNING,
        or_(Cluster.sync_owner.is_(None), Cluster.sync_owner == identity,
            Cluster.sync_started_at < stale_before(now, deadline)),
    ).values(sync_state=SYNC_FAILED, sync_finished_at=now,
             last_sync_error="interrupted: the console stopped during the sync"))


def stale_before(now: datetime, deadline: float) -> datetime:
    """A sync started before this has outlived its deadline twice: its console has stopped."""
    return now - timedelta(seconds=2 * deadline + _GRACE)


def _read_objects(kubeconfig: str, context: str | None, read: ReadCluster,
                  progress: Progress | None) -> Outcome:
    with _private_kubeconfig(kubeconfig) as path:
        try:
            return read(ClusterSource(path, context), progress=progress)
        except Exception as err:  # any failure of a remote cluster is its state, not ours
            reason = str(err) if isinstance(err, PodwallError) else f"{type(err).__name__}: {err}"
            return reason.replace(path, "<kubeconfig>")


def _finish(db: DbSession, cluster: Cluster, outcome: Outcome, *, username: str,
            now: datetime) -> None:
    cluster.sync_finished_at = now
    if isinstance(outcome, str):
        cluster.sync_state, cluster.last_sync_error = SYNC_FAILED, outcome
        audit.record(db, at=now, username=username, action="cluster.sync.failed",
                     cluster=cluster.name, diff=outcome)
        return
    db.execute(delete(ClusterObject).where(ClusterObject.cluster_id == cluster.id))
    for _source, manifest in outcome:
        meta = manifest.get("metadata", {})
        db.add(ClusterObject(cluster_id=cluster.id, kind=manifest["kind"],
                             namespace=meta.get("namespace", ""), name=meta.get("name", ""),
                             manifest=json.dumps(manifest, sort_keys=True)))
    cluster.sync_state, cluster.sync_step, cluster.sync_progress = SYNC_SUCCEEDED, None, 1.0
    cluster.last_sync_at, cluster.last_sync_error = now, None
    audit.record(db, at=now, username=username, action="cluster.sync", cluster=cluster.name,
                 object=f"{len(outcome)} objects")


class _Abandoned(Exception):
    """Raised into a read that outlived its deadline, at its next step."""


@dataclass(eq=False)
class Syncs:
    """The console's background syncs (one per cluster at a time), each with a deadline."""

    sessions: sessionmaker[DbSession]
    clock: Callable[[], datetime]
    read: ReadCluster = read_cluster
    deadline: float = 30.0  # seconds
    identity: str = ""  # this console's, recorded with each sync it runs
    _running: dict[int, threading.Event] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self, db: DbSession, cluster: Cluster, *, username: str) -> bool:
        """Claim the cluster's sync and start it; False when one runs already. Commits `db`
        (the claim must be visible before the worker starts) and refreshes `cluster`."""
        now = self.clock()
        claimed = db.execute(update(Cluster).where(
            Cluster.id == cluster.id,
            or_(Cluster.sync_state != SYNC_RUNNING,
                Cluster.sync_started_at < stale_before(now, self.deadline)),
        ).values(sync_state=SYNC_RUNNING, sync_step=None, sync_progress=0.0,
                 sync_started_at=now, sync_finished_at=None, sync_owner=self.identity)).rowcount
        db.commit()
        db.refresh(cluster)
        if not claimed:
            return False
        done = threading.Event()
        with self._lock:
            self._running[cluster.id] = done
        threading.Thread(target=self._run, args=(cluster.id, username, done), daemon=True,
                         name=f"podwall-sync-{cluster.name}").start()
        return True

    def wait(self, cluster_id: int) -> None:
        """Until this console's sync of the cluster ends (it has a deadline)."""
        with self._lock:
            done = self._running.get(cluster_id)
        if done is not None:
            done.wait(self.deadline + _GRACE)

    def wait_all(self) -> None:
        """Until every sync this console started has ended (tests, before dropping the DB)."""
        with self._lock:
            running = list(self._running.values())
        for done in running:
            done.wait(self.deadline + _GRACE)

    def _run(self, cluster_id: int, username: str, done: threading.Event) -> None:
        try:
            outcome = self._read_with_deadline(cluster_id)
            if not isinstance(outcome, str):
                self._report(cluster_id, STORING, _READ_SHARE)
            self._store(cluster_id, outcome, username)
        except Exception as err:  # a worker never dies leaving its cluster "running"
            _log.exception("sync of cluster id %s", cluster_id)
            self._give_up(cluster_id, f"the console failed: {type(err).__name__}", username)
        finally:
            with self._lock:
                if self._running.get(cluster_id) is done:
                    del self._running[cluster_id]
            done.set()

    def _read_with_deadline(self, cluster_id: int) -> Outcome:
        with self.sessions() as db:
            cluster = db.get(Cluster, cluster_id)
            if cluster is None:
                return "the cluster was deleted"
            kubeconfig, context = cluster.kubeconfig, cluster.context
        finished, abandoned = threading.Event(), threading.Event()
        outcome: list[Outcome] = ["the read ended without a result"]

        def progress(step: str, fraction: float) -> None:
            if abandoned.is_set():
                raise _Abandoned(step)
            self._report(cluster_id, step, _READ_SHARE * fraction)

        def read() -> None:
            try:
                outcome[0] = _read_objects(kubeconfig, context, self.read, progress)
            finally:
                finished.set()

        threading.Thread(target=read, daemon=True, name=f"podwall-read-{cluster_id}").start()
        if finished.wait(self.deadline):
            return outcome[0]
        abandoned.set()
        return f"timed out after {self.deadline:g} s"

    def _report(self, cluster_id: int, step: str, progress: float) -> None:
        with self.sessions.begin() as db:
            db.execute(update(Cluster).where(
                Cluster.id == cluster_id, Cluster.sync_state == SYNC_RUNNING,
            ).values(sync_step=step, sync_progress=min(max(progress, 0.0), 1.0)))

    def _store(self, cluster_id: int, outcome: Outcome, username: str) -> None:
        with self.sessions.begin() as db:
            cluster = db.get(Cluster, cluster_id)
            if cluster is not None:  # else deleted while it synced
                _finish(db, cluster, outcome, username=username, now=self.clock())

    def _give_up(self, cluster_id: int, reason: str, username: str) -> None:
        try:
            self._store(cluster_id, reason, username)
        except Exception:
            _log.exception("recording the failed sync of cluster id %s", cluster_id)
