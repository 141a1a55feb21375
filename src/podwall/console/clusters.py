"""Registered clusters: registering by kubeconfig and context, and synchronising their objects.

The kubeconfig stays in the database; for a sync it is written to a private (0600) temporary
file for `podwall.kube.read_cluster`, then removed. A sync that fails keeps the objects of the
last good one and records the error, so an unreachable cluster is a state, never a crash.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import yaml
from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DbSession

from podwall.console import audit
from podwall.console.errors import Conflict, NotFound, Unprocessable
from podwall.console.models import Cluster, ClusterObject
from podwall.errors import PodwallError
from podwall.kube import ClusterSource, read_cluster

__all__ = ["ReadCluster", "get_cluster", "list_clusters", "register_cluster", "sync_cluster"]

ReadCluster = Callable[[ClusterSource], list[tuple[str, dict[str, Any]]]]


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


def sync_cluster(
    db: DbSession, cluster: Cluster, *, username: str, now: datetime,
    read: ReadCluster = read_cluster,
) -> Cluster:
    """Replace the cluster's stored objects with what it lists now, or record why not."""
    with _private_kubeconfig(cluster.kubeconfig) as path:
        try:
            manifests = read(ClusterSource(path, cluster.context))
        except Exception as err:  # any failure of a remote cluster is its state, not ours
            reason = str(err) if isinstance(err, PodwallError) else f"{type(err).__name__}: {err}"
            cluster.last_sync_error = reason.replace(path, "<kubeconfig>")
            audit.record(db, at=now, username=username, action="cluster.sync.failed",
                         cluster=cluster.name, diff=cluster.last_sync_error)
            return cluster
    db.execute(delete(ClusterObject).where(ClusterObject.cluster_id == cluster.id))
    for _source, manifest in manifests:
        meta = manifest.get("metadata", {})
        db.add(ClusterObject(cluster_id=cluster.id, kind=manifest["kind"],
                             namespace=meta.get("namespace", ""), name=meta.get("name", ""),
                             manifest=json.dumps(manifest, sort_keys=True)))
    cluster.last_sync_at, cluster.last_sync_error = now, None
    audit.record(db, at=now, username=username, action="cluster.sync", cluster=cluster.name,
                 object=f"{len(manifests)} objects")
    return cluster
