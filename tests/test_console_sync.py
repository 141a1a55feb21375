"""Background syncs, on real SQLite and PostgreSQL: the lab API server is the cluster, reached
through a real HTTP gate (a loopback proxy) that can hold a list request, so a test can watch a
sync mid-way, run into its deadline, or delete its cluster under it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from conftest import wait_for
from console_support import ConsoleEnv, admin_console
from podwall.console import create_console
from podwall.console.models import ClusterObject
from podwall.kube import ClusterSource, read_cluster

NAMESPACES = "/api/v1/namespaces"
PODS = "/api/v1/pods"
POLICIES = "/apis/networking.k8s.io/v1/networkpolicies"
UNREACHABLE = "http://127.0.0.1:9"  # loopback, nothing listens: refused at once
_HOLD_AT_MOST = 60.0  # seconds a held request waits for its release, so nothing hangs forever


class Gate:
    """A real HTTP proxy on 127.0.0.1 in front of `upstream`; a held path waits until released."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.held: dict[str, threading.Event] = {}
        self.arrived: list[str] = []
        gate = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                gate.arrived.append(path)
                if path in gate.held:
                    gate.held[path].wait(_HOLD_AT_MOST)
                answer = httpx.get(gate.upstream + self.path, headers={
                    "Authorization": self.headers.get("Authorization", ""),
                    "Accept": "application/json"})
                self.send_response(answer.status_code)
                self.send_header("Content-Type", answer.headers.get("content-type", ""))
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def hold(self, path: str) -> None:
        self.held[path] = threading.Event()

    def release(self) -> None:
        for event in self.held.values():
            event.set()

    def waiting_at(self, path: str) -> int:
        return self.arrived.count(path)


@pytest.fixture
def gate(lab_kubeconfig: str) -> Iterator[Gate]:
    upstream = yaml.safe_load(lab_kubeconfig)["clusters"][0]["cluster"]["server"]
    gate = Gate(upstream)
    thread = threading.Thread(target=gate.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield gate
    finally:
        gate.release()
        gate.server.shutdown()
        gate.server.server_close()


def _through(kubeconfig: str, server: str) -> str:
    """The kubeconfig, its cluster's server replaced (the gate, or an unreachable address)."""
    config = yaml.safe_load(kubeconfig)
    config["clusters"][0]["cluster"]["server"] = server
    return yaml.safe_dump(config)


def _register(env: ConsoleEnv, kubeconfig: str, name: str = "lab") -> None:
    response = env.client.post("/api/v1/clusters", json={"name": name, "kubeconfig": kubeconfig})
    assert response.status_code == 201, response.text


def _cluster(env: ConsoleEnv, name: str = "lab") -> dict[str, Any]:
    return env.client.get(f"/api/v1/clusters/{name}").json()


def _sync_state(env: ConsoleEnv, name: str = "lab") -> str:
    return _cluster(env, name)["sync"]["state"]


@pytest.mark.parametrize(
    ("held", "step", "progress"),
    [
        pytest.param(NAMESPACES, "namespaces", 0.0, id="reading namespaces, nothing done"),
        pytest.param(PODS, "pods", 0.3, id="reading pods, a third of the reading done"),
        pytest.param(POLICIES, "networkpolicies", 0.6, id="reading policies, two thirds done"),
    ],
)
def test_a_sync_runs_in_the_background_and_shows_its_step_and_progress(
    console_env: ConsoleEnv, lab_kubeconfig: str, gate: Gate, held: str, step: str,
    progress: float,
):
    _register(console_env, _through(lab_kubeconfig, gate.url))
    gate.hold(held)
    started = console_env.client.post("/api/v1/clusters/lab/sync")
    assert started.status_code == 202, started.text
    assert started.json()["sync"]["state"] == "running"
    assert started.json()["sync"]["started_at"] and started.json()["sync"]["finished_at"] is None
    wait_for(f"the sync to read {step}", lambda: _cluster(console_env)["sync"]["step"] == step)
    assert _cluster(console_env)["sync"]["progress"] == pytest.approx(progress)
    assert _cluster(console_env)["state"] == "never synced"
    gate.release()
    wait_for("the sync to end", lambda: _sync_state(console_env) != "running")
    done = _cluster(console_env)
    assert done["sync"] == {**done["sync"], "state": "succeeded", "step": None, "progress": 1.0}
    assert done["sync"]["finished_at"] and done["state"] == "synced"
    assert done["counts"]["NetworkPolicy"] == 1 and done["counts"]["Pod"] > 0


def test_a_sync_asked_for_while_one_runs_is_that_one(
    console_env: ConsoleEnv, lab_kubeconfig: str, gate: Gate
):
    _register(console_env, _through(lab_kubeconfig, gate.url))
    gate.hold(NAMESPACES)
    with ThreadPoolExecutor(4) as pool:  # four at once: one claim wins, the others see it
        answers = list(pool.map(
            lambda _: TestClient(console_env.client.app, headers=console_env.client.headers,
                                 cookies=console_env.client.cookies)
            .post("/api/v1/clusters/lab/sync"), range(4)))
    assert [a.status_code for a in answers] == [202] * 4
    assert len({a.json()["sync"]["started_at"] for a in answers}) == 1
    wait_for("the sync to ask for namespaces", lambda: gate.waiting_at(NAMESPACES) >= 1)
    again = console_env.client.post("/api/v1/clusters/lab/sync")
    assert again.status_code == 202
    assert again.json()["sync"]["started_at"] == answers[0].json()["sync"]["started_at"]
    gate.release()
    wait_for("the sync to end", lambda: _sync_state(console_env) != "running")
    assert console_env.client.post("/api/v1/clusters/lab/sync?wait=true").status_code == 200
    assert gate.waiting_at(NAMESPACES) == 2  # the four made one sync, the last one another


@pytest.mark.parametrize(
    ("wait", "status"),
    [pytest.param(True, 200, id="?wait=true answers when it has failed"),
     pytest.param(False, 202, id="without wait, at once")],
)
def test_a_cluster_that_does_not_answer_in_time_is_unreachable(
    console_database_url: str, lab_kubeconfig: str, gate: Gate, wait: bool, status: int
):
    gate.hold(PODS)
    with admin_console(console_database_url, sync_deadline=0.5) as env:
        _register(env, _through(lab_kubeconfig, gate.url))
        answer = env.client.post("/api/v1/clusters/lab/sync", params={"wait": wait})
        assert answer.status_code == status, answer.text
        assert env.client.get("/api/v1/clusters").status_code == 200  # the console answers
        wait_for("the deadline", lambda: _sync_state(env) != "running")
        cluster = _cluster(env)
        assert cluster["sync"]["state"] == "failed" and cluster["sync"]["step"] == "pods"
        assert cluster["state"] == "unreachable"
        assert cluster["last_sync_error"] == "timed out after 0.5 s"
        gate.release()
        retried = env.client.post("/api/v1/clusters/lab/sync?wait=true").json()
        assert retried["state"] == "synced" and retried["sync"]["state"] == "succeeded"


@pytest.mark.parametrize("wait", [True, False], ids=["?wait=true", "in the background"])
def test_a_refused_connection_fails_the_sync_at_its_first_step(
    console_env: ConsoleEnv, lab_kubeconfig: str, wait: bool
):
    _register(console_env, _through(lab_kubeconfig, UNREACHABLE))
    console_env.client.post("/api/v1/clusters/lab/sync", params={"wait": wait})
    wait_for("the sync to fail", lambda: _sync_state(console_env) != "running")
    cluster = _cluster(console_env)
    assert cluster["sync"]["state"] == "failed" and cluster["sync"]["step"] == "namespaces"
    assert cluster["state"] == "unreachable"
    assert cluster["last_sync_error"].startswith("cannot list Namespaces from <kubeconfig>")
    actions = [e["action"] for e in console_env.client.get("/api/v1/audit").json()]
    assert actions[0] == "cluster.sync.failed"


def test_a_failed_sync_keeps_the_objects_of_the_last_good_one(
    console_env: ConsoleEnv, lab_kubeconfig: str
):
    _register(console_env, lab_kubeconfig)
    good = console_env.client.post("/api/v1/clusters/lab/sync?wait=true").json()
    _register(console_env, _through(lab_kubeconfig, UNREACHABLE), "gone")
    gone = console_env.client.post("/api/v1/clusters/gone/sync?wait=true").json()
    assert gone["counts"] == {} and gone["last_sync_at"] is None
    again = console_env.client.post("/api/v1/clusters/lab/sync?wait=true").json()
    assert again["counts"] == good["counts"] and again["sync"]["state"] == "succeeded"


def test_a_cluster_deleted_while_it_syncs_stays_deleted(
    console_env: ConsoleEnv, lab_kubeconfig: str, gate: Gate
):
    _register(console_env, _through(lab_kubeconfig, gate.url))
    gate.hold(PODS)
    assert console_env.client.post("/api/v1/clusters/lab/sync").status_code == 202
    wait_for("the sync to read pods", lambda: gate.waiting_at(PODS) == 1)
    assert console_env.client.delete("/api/v1/clusters/lab").status_code == 204
    gate.release()
    console_env.console.app.state.syncs.wait_all()
    assert console_env.client.get("/api/v1/clusters").json() == []
    with DbSession(console_env.console.engine) as db:
        assert db.scalar(select(func.count()).select_from(ClusterObject)) == 0


def test_a_sync_cut_off_by_a_restart_is_failed_not_running_forever(
    console_env: ConsoleEnv, lab_kubeconfig: str, gate: Gate
):
    _register(console_env, _through(lab_kubeconfig, gate.url))
    gate.hold(NAMESPACES)
    console_env.client.post("/api/v1/clusters/lab/sync")
    restarted = create_console(console_env.url)
    try:
        with TestClient(restarted.app, cookies=console_env.client.cookies) as client:
            cluster = client.get("/api/v1/clusters/lab").json()
    finally:
        restarted.engine.dispose()
    assert cluster["sync"]["state"] == "failed"
    assert cluster["last_sync_error"] == "interrupted: the console stopped during the sync"


def test_another_console_starting_leaves_this_ones_sync_running(
    console_env: ConsoleEnv, lab_kubeconfig: str, gate: Gate
):
    """Consoles sharing a database (PostgreSQL, for teams): one starting up interrupts only
    the syncs recorded under its own identity (its address: no running console holds it)."""
    _register(console_env, _through(lab_kubeconfig, gate.url))
    gate.hold(NAMESPACES)
    console_env.client.post("/api/v1/clusters/lab/sync")
    wait_for("the sync to read namespaces", lambda: gate.waiting_at(NAMESPACES) == 1)
    neighbour = create_console(console_env.url, identity="elsewhere 127.0.0.1:9999")
    try:
        with TestClient(neighbour.app, cookies=console_env.client.cookies) as client:
            assert client.get("/api/v1/clusters/lab").json()["sync"]["state"] == "running"
    finally:
        neighbour.engine.dispose()
    gate.release()
    console_env.console.app.state.syncs.wait_all()
    cluster = console_env.client.get("/api/v1/clusters/lab").json()
    assert cluster["sync"]["state"] == "succeeded", cluster
    assert cluster["last_sync_error"] is None


def test_a_sync_older_than_any_sync_can_be_is_interrupted_by_any_console(
    console_env: ConsoleEnv, lab_kubeconfig: str, gate: Gate
):
    _register(console_env, _through(lab_kubeconfig, gate.url))
    gate.hold(NAMESPACES)
    console_env.client.post("/api/v1/clusters/lab/sync")
    wait_for("the sync to read namespaces", lambda: gate.waiting_at(NAMESPACES) == 1)
    later = datetime.now(UTC) + timedelta(seconds=2 * 30 + 11)  # twice the deadline, + grace
    neighbour = create_console(console_env.url, identity="elsewhere 127.0.0.1:9999",
                               clock=lambda: later)
    try:
        with TestClient(neighbour.app, cookies=console_env.client.cookies) as client:
            cluster = client.get("/api/v1/clusters/lab").json()
    finally:
        neighbour.engine.dispose()
        gate.release()
        console_env.console.app.state.syncs.wait_all()
    assert cluster["sync"]["state"] == "failed"
    assert cluster["last_sync_error"] == "interrupted: the console stopped during the sync"


def test_read_cluster_reports_each_step_and_stops_when_told(lab_kubeconfig: str, tmp_path: Path):
    path = tmp_path / "lab.kubeconfig"
    path.write_text(lab_kubeconfig)
    steps: list[tuple[str, float]] = []
    manifests = read_cluster(ClusterSource(str(path)),
                             progress=lambda step, done: steps.append((step, done)))
    assert steps == [("namespaces", 0.0), ("pods", pytest.approx(1 / 3)),
                     ("networkpolicies", pytest.approx(2 / 3))]
    assert {m["kind"] for _, m in manifests} == {"Namespace", "Pod", "NetworkPolicy"}
    assert read_cluster(ClusterSource(str(path))) == manifests  # progress is optional

    def stop_at_pods(step: str, _done: float) -> None:
        if step == "pods":
            raise InterruptedError(step)

    with pytest.raises(InterruptedError):
        read_cluster(ClusterSource(str(path)), progress=stop_at_pods)
