"""The console's security, on real SQLite and PostgreSQL: the first-run admin's password change,
API tokens (list, revoke), login throttling (fake clock), expired sessions, deleting clusters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from console_support import ConsoleEnv, log_in
from podwall.console import Console, create_console
from podwall.console.auth import CHANGE_PASSWORD_FIRST, wait_in_words
from podwall.console.models import AuditEntry, ClusterObject, RoleBinding, Session
from podwall.console.routes import ROUTERS

START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
USER_PASSWORD = "vera-password-1234"
NEW_PASSWORD = "a-brand-new-password"
OPEN_BEFORE_PASSWORD_CHANGE = {("POST", "/api/v1/session"), ("DELETE", "/api/v1/session"),
                               ("GET", "/api/v1/me"), ("POST", "/api/v1/me/password")}


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def at(self, minutes: float) -> None:
        self.now = START + timedelta(minutes=minutes)


@dataclass
class Fresh:
    """A console on its first run: nobody logged in, the admin's one-time password unchanged."""

    console: Console
    client: TestClient
    clock: FakeClock
    password: str

    def count(self, query) -> int:  # type: ignore[no-untyped-def]
        with DbSession(self.console.engine) as db:
            return db.scalar(query) or 0

    def actions(self) -> list[str]:
        with DbSession(self.console.engine) as db:
            return list(db.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


@pytest.fixture
def fresh(console_database_url: str) -> Iterator[Fresh]:
    clock = FakeClock()
    console = create_console(console_database_url, clock=clock)
    assert console.admin_password
    try:
        with TestClient(console.app) as client:
            yield Fresh(console, client, clock, console.admin_password)
    finally:
        console.engine.dispose()


def _api_routes() -> list[tuple[str, str]]:
    """Every (method, path) of the REST API, with sample path parameters."""
    samples = {"{name}": "lab", "{username}": "vera", "{token_id}": "1", "{ns}": "default",
               "{namespace}": "default", "{id}": "1"}
    found = []
    for router in ROUTERS:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            path = "/api/v1" + route.path
            for placeholder, value in samples.items():
                path = path.replace(placeholder, value)
            path = "/".join("x" if p.startswith("{") else p for p in path.split("/"))
            found += [(method, path) for method in sorted(route.methods)]
    return sorted(set(found) - OPEN_BEFORE_PASSWORD_CHANGE)


@pytest.mark.parametrize(("method", "path"), _api_routes())
def test_the_first_run_admin_must_change_its_password_before_anything_else(
    fresh: Fresh, method: str, path: str
):
    log_in(fresh.client, "admin", fresh.password)
    response = fresh.client.request(method, path, json={})
    assert response.status_code == 403, response.text
    assert response.json() == {"detail": CHANGE_PASSWORD_FIRST}


def test_before_the_change_the_admin_may_look_at_itself_change_the_password_and_log_out(
    fresh: Fresh,
):
    login = fresh.client.post("/api/v1/session",
                              json={"username": "admin", "password": fresh.password})
    assert login.json()["must_change_password"] is True
    log_in(fresh.client, "admin", fresh.password)
    assert fresh.client.get("/api/v1/me").json()["must_change_password"] is True
    changed = fresh.client.post("/api/v1/me/password", json={
        "current_password": fresh.password, "new_password": NEW_PASSWORD})
    assert changed.status_code == 204, changed.text
    assert fresh.client.get("/api/v1/me").json()["must_change_password"] is False
    assert fresh.client.get("/api/v1/clusters").status_code == 200
    assert fresh.client.delete("/api/v1/session").status_code == 204
    assert "password.change" in fresh.actions()


@pytest.mark.parametrize(
    ("current", "new", "status", "detail"),
    [
        pytest.param("not-the-password", NEW_PASSWORD, 403, "the current password is wrong",
                     id="a wrong current password is refused"),
        pytest.param(None, "short-pass1", 422, "at least 12 characters",
                     id="a new password under 12 characters is refused"),
        pytest.param(None, None, 422, "must differ from the current one",
                     id="the same password again is refused"),
    ],
)
def test_a_password_change_needs_the_current_password_and_a_new_strong_one(
    fresh: Fresh, current: str | None, new: str | None, status: int, detail: str
):
    log_in(fresh.client, "admin", fresh.password)
    response = fresh.client.post("/api/v1/me/password", json={
        "current_password": current or fresh.password, "new_password": new or fresh.password})
    assert response.status_code == status
    assert detail in str(response.json()["detail"])
    assert fresh.client.get("/api/v1/me").json()["must_change_password"] is True


def test_a_wrong_current_password_is_audited(fresh: Fresh):
    log_in(fresh.client, "admin", fresh.password)
    fresh.client.post("/api/v1/me/password", json={
        "current_password": "not-the-password", "new_password": NEW_PASSWORD})
    assert fresh.actions()[-1] == "password.change.failed"


def test_a_password_change_ends_the_other_sessions_and_the_old_password(fresh: Fresh):
    here = log_in(fresh.client, "admin", fresh.password)
    elsewhere = log_in(TestClient(fresh.console.app), "admin", fresh.password)
    here.post("/api/v1/me/password", json={
        "current_password": fresh.password, "new_password": NEW_PASSWORD})
    assert here.get("/api/v1/me").status_code == 200
    assert elsewhere.get("/api/v1/me").status_code == 401
    anonymous = TestClient(fresh.console.app)
    old = anonymous.post("/api/v1/session", json={"username": "admin",
                                                  "password": fresh.password})
    assert old.status_code == 401
    new = anonymous.post("/api/v1/session", json={"username": "admin", "password": NEW_PASSWORD})
    assert new.status_code == 200 and new.json()["must_change_password"] is False


# -- API tokens --------------------------------------------------------------------------------

def _user(env: ConsoleEnv, username: str, cluster: str | None = None,
          role: str | None = None) -> TestClient:
    created = env.client.post("/api/v1/users",
                              json={"username": username, "password": USER_PASSWORD})
    assert created.status_code == 201, created.text
    if cluster and role:
        bound = env.client.put(f"/api/v1/clusters/{cluster}/bindings/{username}",
                               json={"role": role})
        assert bound.status_code == 200, bound.text
    return log_in(TestClient(env.client.app), username, USER_PASSWORD)


def _token(client: TestClient, name: str) -> str:
    response = client.post("/api/v1/tokens", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()["token"]


def _token_id(client: TestClient, name: str) -> int:
    return next(t["id"] for t in client.get("/api/v1/tokens").json() if t["name"] == name)


def test_the_token_list_shows_the_callers_own_tokens_and_never_a_secret(console_env: ConsoleEnv):
    env = console_env
    secrets = [_token(env.client, "ci"), _token(env.client, "deploy")]
    vera = _user(env, "vera")
    secrets.append(_token(vera, "mine"))
    listed = env.client.get("/api/v1/tokens")
    assert [t["name"] for t in listed.json()] == ["ci", "deploy"]
    assert all(set(t) == {"id", "name", "created_at", "last_used_at"} for t in listed.json())
    assert all(t["last_used_at"] is None for t in listed.json())
    assert [t["name"] for t in vera.get("/api/v1/tokens").json()] == ["mine"]
    for secret in secrets:
        assert secret not in listed.text and secret[4:] not in listed.text
    script = TestClient(env.client.app, headers={"Authorization": f"Bearer {secrets[0]}"})
    assert script.get("/api/v1/me").status_code == 200
    used = {t["name"]: t["last_used_at"] for t in env.client.get("/api/v1/tokens").json()}
    assert used["ci"] is not None and used["deploy"] is None


@pytest.mark.parametrize(
    ("revoker", "owner", "status", "audited_object"),
    [
        pytest.param("vera", "vera", 204, "ci", id="a user revokes their own token"),
        pytest.param("admin", "vera", 204, "vera/ci", id="a global admin revokes anyone's"),
        pytest.param("vera", "admin", 404, None, id="a user cannot revoke another's token"),
        pytest.param("vera", None, 404, None, id="an unknown token is not found"),
    ],
)
def test_revoking_a_token(console_env: ConsoleEnv, revoker: str, owner: str | None,
                          status: int, audited_object: str | None):
    env = console_env
    clients = {"admin": env.client, "vera": _user(env, "vera")}
    token = _token(clients[owner], "ci") if owner else None
    token_id = _token_id(clients[owner], "ci") if owner else 999
    response = clients[revoker].delete(f"/api/v1/tokens/{token_id}")
    assert response.status_code == status, response.text
    if token is None:
        return
    script = TestClient(env.client.app, headers={"Authorization": f"Bearer {token}"})
    assert script.get("/api/v1/me").status_code == (401 if status == 204 else 200)
    revoked = [e for e in env.client.get("/api/v1/audit").json() if e["action"] == "token.revoke"]
    assert [e["object"] for e in revoked] == ([audited_object] if audited_object else [])


# -- login throttling (fake clock) ---------------------------------------------------------------

Try = tuple[float, str, bool]  # (minutes after the start, username, right password?)


@pytest.mark.parametrize(
    ("tries", "last", "status", "retry_after"),
    [
        pytest.param([(m, "admin", False) for m in range(5)], (5, "admin", True), 429, 600,
                     id="five failures within 15 minutes refuse even the right password"),
        pytest.param([(m, "admin", False) for m in range(5)], (14, "admin", True), 429, 60,
                     id="until the oldest of the five is 15 minutes old"),
        pytest.param([(m, "admin", False) for m in range(5)], (15, "admin", True), 200, None,
                     id="then one may try again"),
        pytest.param([(m, "admin", False) for m in range(4)], (4, "admin", True), 200, None,
                     id="four failures are not enough"),
        pytest.param([(0, "admin", False)] + [(m, "admin", False) for m in range(20, 24)],
                     (24, "admin", True), 200, None,
                     id="failures older than 15 minutes do not count"),
        pytest.param([(m, "admin", False) for m in range(4)] + [(4, "admin", True)]
                     + [(m, "admin", False) for m in range(5, 9)], (9, "admin", True), 200, None,
                     id="a good login starts the count again"),
        pytest.param([(m, "eve", False) for m in range(5)], (5, "admin", True), 200, None,
                     id="the failures of another username do not count"),
        pytest.param([(m, "eve", False) for m in range(5)], (5, "eve", False), 429, 600,
                     id="an unknown username is throttled the same way"),
        pytest.param([(m, "admin", False) for m in range(5)] + [(6, "admin", True)],
                     (15, "admin", True), 200, None,
                     id="a refused try is not one more failure"),
    ],
)
def test_login_throttling(fresh: Fresh, tries: list[Try], last: Try, status: int,
                          retry_after: int | None):
    def attempt(minutes: float, username: str, right: bool):  # type: ignore[no-untyped-def]
        fresh.clock.at(minutes)
        password = fresh.password if right else "wrong-password"
        return TestClient(fresh.console.app).post(
            "/api/v1/session", json={"username": username, "password": password})

    for minutes, username, right in tries:
        attempt(minutes, username, right)
    response = attempt(*last)
    assert response.status_code == status, response.text
    assert response.headers.get("retry-after") == (str(retry_after) if retry_after else None)
    if status == 429:
        assert fresh.actions()[-1] == "login.throttled"
        assert f"try again in {wait_in_words(retry_after)}." in response.json()["detail"]


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(1, "1 second"), (45, "45 seconds"), (60, "1 minute"), (61, "2 minutes"),
     (900, "15 minutes")],
)
def test_the_wait_reads_as_a_person_says_it(seconds: int, words: str):
    assert wait_in_words(seconds) == words


def test_expired_sessions_end_and_are_deleted_at_the_next_login(fresh: Fresh):
    early = log_in(TestClient(fresh.console.app), "admin", fresh.password)
    fresh.clock.at(11 * 60)
    assert early.get("/api/v1/me").status_code == 200
    fresh.clock.at(12 * 60)
    assert early.get("/api/v1/me").status_code == 401
    assert fresh.count(select(func.count()).select_from(Session)) == 1
    log_in(TestClient(fresh.console.app), "admin", fresh.password)
    assert fresh.count(select(func.count()).select_from(Session)) == 1  # the new one alone


# -- deleting clusters --------------------------------------------------------------------------

def _count(env: ConsoleEnv, model: type) -> int:
    with DbSession(env.console.engine) as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def test_a_global_admin_deletes_a_cluster_with_its_objects_and_bindings(
    console_env: ConsoleEnv, lab_kubeconfig: str
):
    env = console_env
    register = {"name": "lab", "kubeconfig": lab_kubeconfig}
    assert env.client.post("/api/v1/clusters", json=register).status_code == 201
    assert env.client.post("/api/v1/clusters/lab/sync?wait=true").json()["state"] == "synced"
    _user(env, "vera", "lab", "viewer")
    assert _count(env, ClusterObject) > 0 and _count(env, RoleBinding) == 1
    assert env.client.delete("/api/v1/clusters/lab").status_code == 204
    assert env.client.get("/api/v1/clusters/lab").status_code == 404
    assert env.client.get("/api/v1/clusters").json() == []
    assert _count(env, ClusterObject) == 0 and _count(env, RoleBinding) == 0
    audit = env.client.get("/api/v1/audit", params={"cluster": "lab"}).json()
    assert audit[0]["action"] == "cluster.delete" and audit[0]["username"] == "admin"
    again = env.client.post("/api/v1/clusters", json=register).json()
    assert again["state"] == "never synced" and again["counts"] == {}


@pytest.mark.parametrize(
    ("role", "cluster", "status"),
    [
        pytest.param("admin", "lab", 403, id="a cluster admin who is not a global admin: 403"),
        pytest.param("editor", "lab", 403, id="an editor: 403"),
        pytest.param(None, "nowhere", 404, id="a global admin, an unknown cluster: 404"),
    ],
)
def test_deleting_a_cluster_needs_a_global_admin(
    console_env: ConsoleEnv, lab_kubeconfig: str, role: str | None, cluster: str, status: int
):
    env = console_env
    env.client.post("/api/v1/clusters", json={"name": "lab", "kubeconfig": lab_kubeconfig})
    client = _user(env, "vera", "lab", role) if role else env.client
    assert client.delete(f"/api/v1/clusters/{cluster}").status_code == status
    assert env.client.get("/api/v1/clusters/lab").status_code == 200
