"""Running the lab API: seed its store from a topology, serve it, hand out a kubeconfig.

`ApiServer` serves on 127.0.0.1 (plain HTTP, optional bearer token) in a background thread,
for `podwall lab api-server` and for callers such as `podwall lab up`; `start()` returns once
the port accepts connections, `stop()` ends open watches and joins the thread. On start the
store gets whatever the topology has that it lacks: the system namespaces (`default`,
`kube-system`, `kube-public`, `kube-node-lease`), the topology's namespaces and its pods,
Running and Ready. What is already stored (label changes, policies) survives restarts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
import yaml

from podwall.apiserver.app import create_app
from podwall.apiserver.registry import Registry
from podwall.apiserver.resources import NAMESPACES, PODS
from podwall.apiserver.store import DEFAULT_HISTORY, Store
from podwall.apiserver.strategy import timestamp
from podwall.encode import encode_object
from podwall.lab.topology import Topology, topology_manifests
from podwall.model import NAMESPACE_NAME_LABEL, Cluster

__all__ = [
    "SYSTEM_NAMESPACES",
    "ApiServer",
    "kubeconfig",
    "seed_objects",
    "seed_store",
    "write_kubeconfig",
]

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
CONTEXT_NAME = "podwall-lab"
AGENT_IMAGE = "podwall/lab-agent"


def _namespace(name: str, labels: dict[str, str], uid: str, created: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": name,
            "uid": uid,
            "creationTimestamp": created,
            "labels": {**labels, NAMESPACE_NAME_LABEL: name},
        },
        "spec": {"finalizers": ["kubernetes"]},
        "status": {"phase": "Active"},
    }


def _pod(manifest: dict[str, Any], uid: str, created: str) -> dict[str, Any]:
    """A lab pod as the kubelet would report it: scheduled, running and ready."""
    spec = dict(manifest["spec"])
    containers = spec.get("containers") or [{"name": "main"}]
    spec["containers"] = [{**c, "image": AGENT_IMAGE} for c in containers]
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("schedulerName", "default-scheduler")
    status = {"phase": "Running", **manifest.get("status", {})}
    status["conditions"] = [
        {"type": t, "status": "True", "lastTransitionTime": created}
        for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
    ]
    status["containerStatuses"] = [
        {
            "name": c["name"],
            "image": AGENT_IMAGE,
            "imageID": "",
            "ready": True,
            "started": True,
            "restartCount": 0,
            "state": {"running": {"startedAt": created}},
        }
        for c in spec["containers"]
    ]
    status["startTime"] = created
    meta = {**manifest["metadata"], "uid": uid, "creationTimestamp": created}
    return {**manifest, "metadata": meta, "spec": spec, "status": status}


def seed_objects(
    source: Topology | Cluster, now: datetime, new_uid: Callable[[], str]
) -> list[tuple[str, dict[str, Any]]]:
    """(store key, object) for the system namespaces and the namespaces and pods of a lab
    topology, or of a podwall Cluster (as `assemble` reads one from manifests)."""
    created = timestamp(now)
    if isinstance(source, Topology):
        manifests = topology_manifests(source)
    else:
        manifests = [encode_object(o) for o in (*source.namespaces, *source.pods)]
    labels = {m["metadata"]["name"]: m["metadata"].get("labels") or {}
              for m in manifests if m["kind"] == "Namespace"}
    names = [*SYSTEM_NAMESPACES, *(n for n in labels if n not in SYSTEM_NAMESPACES)]
    out = [(NAMESPACES.key, _namespace(n, labels.get(n, {}), new_uid(), created)) for n in names]
    out += [(PODS.key, _pod(m, new_uid(), created)) for m in manifests if m["kind"] == "Pod"]
    return out


def seed_store(registry: Registry, source: Topology | Cluster) -> int:
    """Create what the store lacks of the topology (or Cluster); returns how many objects
    were created. Objects already stored are left as they are (their labels may have moved)."""
    created = 0
    for key, body in seed_objects(source, registry.clock(), registry.new_uid):
        meta = body["metadata"]
        if registry.store.get(key, meta.get("namespace", ""), meta["name"]) is None:
            registry.store.create(key, body)
            created += 1
    return created


def kubeconfig(server: str, *, token: str | None = None, namespace: str = "default") -> dict:
    user: dict[str, Any] = {"token": token} if token else {}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT_NAME, "cluster": {"server": server}}],
        "users": [{"name": CONTEXT_NAME, "user": user}],
        "contexts": [
            {
                "name": CONTEXT_NAME,
                "context": {"cluster": CONTEXT_NAME, "user": CONTEXT_NAME, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT_NAME,
        "preferences": {},
    }


def write_kubeconfig(
    path: str | Path, server: str, *, token: str | None = None, namespace: str = "default"
) -> Path:
    """A kubeconfig (mode 0600) whose current context is the lab API."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(kubeconfig(server, token=token, namespace=namespace), sort_keys=False)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    return path


class _Uvicorn(uvicorn.Server):
    """uvicorn minus its signal capture, which re-raises the signal after shutting down (exit
    143 on SIGTERM): ApiServer.handle_signals() installs handlers that end with exit 0."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ApiServer:
    """The lab API on `host:port` (0: an ephemeral port), backed by the SQLite file `db`."""

    def __init__(
        self,
        db: str | Path,
        *,
        topology: Topology | Cluster | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str | None = None,
        bookmark_interval: float = 60.0,
        history: int = DEFAULT_HISTORY,
        strict_cidr: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        new_uid: Callable[[], str] | None = None,
    ) -> None:
        self.store = Store(db, history=history)
        extra = {"new_uid": new_uid} if new_uid is not None else {}
        self.registry = Registry(self.store, clock=clock, strict_cidr=strict_cidr, **extra)
        if topology is not None:
            seed_store(self.registry, topology)
        self.host = host
        self.token = token
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit it: no 40 ms Nagle and delayed-ACK stall per response.
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._socket.bind((host, port))
        self._socket.listen(128)
        self.port = self._socket.getsockname()[1]
        self.app = create_app(
            self.registry,
            token=token,
            bookmark_interval=bookmark_interval,
            server_address=lambda: f"{self.host}:{self.port}",
        )
        config = uvicorn.Config(
            self.app, log_level="warning", lifespan="on", timeout_graceful_shutdown=2
        )
        self._server = _Uvicorn(config)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def write_kubeconfig(self, path: str | Path, namespace: str = "default") -> Path:
        return write_kubeconfig(path, self.url, token=self.token, namespace=namespace)

    def start(self, timeout: float = 10.0) -> ApiServer:
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, daemon=True,
            name=f"podwall-apiserver-{self.port}",
        )
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the lab API did not start on {self.url}")
            time.sleep(0.02)
        return self

    def handle_signals(self) -> None:
        """Make SIGINT and SIGTERM end serve_forever() gracefully: open watches end at once.
        Call it from the main thread, before announcing the server."""

        def stop(_signum: int, _frame: object) -> None:
            self._end_watches()
            self._server.should_exit = True

        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, stop)

    def _end_watches(self) -> None:
        self.app.state.notifier.closing = True
        self.app.state.notifier.notify()

    def serve_forever(self) -> None:
        """Serve in this thread until stopped (see handle_signals)."""
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self.store.close()

    def stop(self) -> None:
        self._end_watches()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._socket.close()
        self.store.close()

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
