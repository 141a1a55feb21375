"""The console's REST API on real SQLite and PostgreSQL, with the lab API server as the
cluster."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import inspect, text
from sqlalchemy.orm import sessionmaker

from console_support import LAB_POLICY, LAB_TOKEN, ConsoleEnv, log_in
from podwall.console import CSRF_HEADER, auth, clusters, create_console
from podwall.console.db import HOME_ENV, create_database_engine, default_database_url, migrate

POLICY = LAB_POLICY
UNREACHABLE_KUBECONFIG = yaml.safe_dump({
    "apiVersion": "v1", "kind": "Config", "current-context": "gone",
    "clusters": [{"name": "gone", "cluster": {"server": "http://127.0.0.1:9"}}],
    "users": [{"name": "gone", "user": {"token": "secret-token-gone"}}],
    "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "gone"}}],
})
VIEWER_PASSWORD = "viewer-password-123"
Env = ConsoleEnv
_log_in = log_in


@pytest.fixture
def env(console_env: ConsoleEnv) -> ConsoleEnv:
    return console_env


def _viewer(env: Env, cluster: str) -> TestClient:
    created = env.client.post("/api/v1/users", json={"username": "vera",
                                                     "password": VIEWER_PASSWORD})
    assert created.status_code == 201, created.text
    bound = env.client.put(f"/api/v1/clusters/{cluster}/bindings/vera", json={"role": "viewer"})
    assert bound.status_code == 200, bound.text
    return _log_in(TestClient(env.client.app), "vera", VIEWER_PASSWORD)


def _register(env: Env, name: str, kubeconfig: str) -> httpx.Response:
    return env.client.post("/api/v1/clusters", json={"name": name, "kubeconfig": kubeconfig})


def test_migrations_create_every_table_from_an_empty_database(console_database_url: str):
    engine = create_database_engine(console_database_url)
    try:
        assert inspect(engine).get_table_names() == []
        tables = migrate(engine)
        assert {"users", "clusters", "role_bindings", "api_tokens", "sessions", "audit_log",
                "cluster_objects", "alembic_version"} <= set(tables)
        assert migrate(engine) == tables  # at head already: a no-op
        with engine.connect() as connection:
            assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0003"
    finally:
        engine.dispose()


def test_the_first_run_alone_creates_the_admin_and_its_password(env: Env):
    again = create_console(env.url)
    assert again.admin_password is None
    with TestClient(again.app) as client:
        _log_in(client, "admin", env.admin_password)


def test_sync_reads_the_lab_cluster_and_lists_its_policies(env: Env, lab_kubeconfig: str):
    assert _register(env, "lab", lab_kubeconfig).status_code == 201
    synced = env.client.post("/api/v1/clusters/lab/sync?wait=true").json()
    assert synced["state"] == "synced", synced
    assert synced["last_sync_error"] is None and synced["last_sync_at"]
    assert synced["counts"]["NetworkPolicy"] == 1 and synced["counts"]["Pod"] > 0
    listed = env.client.get("/api/v1/clusters/lab/policies").json()
    assert [p["metadata"]["name"] for p in listed["items"]] == ["access-demo1"]


@pytest.mark.parametrize(
    ("query", "names"),
    [
        pytest.param({"namespace": "default"}, ["access-demo1"], id="namespace that has it"),
        pytest.param({"namespace": "apps"}, [], id="namespace that has none"),
        pytest.param({"name": "demo"}, ["access-demo1"], id="part of the name"),
        pytest.param({"name": "nothing"}, [], id="a name that matches nothing"),
        pytest.param({"label": "team=data"}, ["access-demo1"], id="label key and value"),
        pytest.param({"label": "team"}, ["access-demo1"], id="label key exists"),
        pytest.param({"label": "team=web"}, [], id="label with another value"),
    ],
)
def test_policies_filter_by_namespace_name_and_label(
    env: Env, lab_kubeconfig: str, query: dict[str, str], names: list[str]
):
    _register(env, "lab", lab_kubeconfig)
    env.client.post("/api/v1/clusters/lab/sync?wait=true")
    listed = env.client.get("/api/v1/clusters/lab/policies", params=query)
    assert [p["metadata"]["name"] for p in listed.json()["items"]] == names


def test_an_unreachable_cluster_is_a_state_not_a_crash(env: Env):
    assert _register(env, "gone", UNREACHABLE_KUBECONFIG).status_code == 201
    synced = env.client.post("/api/v1/clusters/gone/sync?wait=true")
    assert synced.status_code == 200
    body = synced.json()
    assert body["state"] == "unreachable" and body["last_sync_at"] is None
    assert "cannot list Namespaces" in body["last_sync_error"]
    audit = env.client.get("/api/v1/audit", params={"cluster": "gone"}).json()
    assert audit[0]["action"] == "cluster.sync.failed"


@pytest.mark.parametrize(
    ("kubeconfig", "context", "message"),
    [
        pytest.param("{", None, "not valid YAML", id="not YAML"),
        pytest.param("kind: Config", None, "no contexts", id="no contexts"),
        pytest.param(UNREACHABLE_KUBECONFIG, "other", "'other' is not in the kubeconfig",
                     id="unknown context"),
    ],
)
def test_an_unusable_kubeconfig_is_refused(env: Env, kubeconfig: str, context: str | None,
                                           message: str):
    response = env.client.post("/api/v1/clusters", json={
        "name": "bad", "kubeconfig": kubeconfig, "context": context})
    assert response.status_code == 422 and message in response.json()["detail"]


def test_no_json_response_ever_contains_the_kubeconfig(env: Env, lab_kubeconfig: str):
    bodies = [_register(env, "lab", lab_kubeconfig).text,
              _register(env, "gone", UNREACHABLE_KUBECONFIG).text]
    for path in ["/api/v1/clusters", "/api/v1/clusters/lab", "/api/v1/clusters/gone",
                 "/api/v1/clusters/lab/policies", "/api/v1/audit", "/api/v1/me"]:
        bodies.append(env.client.get(path).text)
    bodies += [env.client.post(f"/api/v1/clusters/{c}/sync?wait=true").text
               for c in ("lab", "gone")]
    for body in bodies:
        json.loads(body)
        for secret in ("secret-token-gone", LAB_TOKEN, "current-context", "kubeconfig\""):
            assert secret not in body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/v1/clusters"),
        ("GET", "/api/v1/clusters/lab"),
        ("GET", "/api/v1/clusters/lab/policies"),
        ("POST", "/api/v1/clusters/lab/sync"),
        ("POST", "/api/v1/validate"),
        ("GET", "/api/v1/audit"),
        ("GET", "/api/v1/me"),
    ],
)
def test_nobody_reads_or_writes_without_logging_in(env: Env, method: str, path: str):
    anonymous = TestClient(env.client.app)
    response = anonymous.request(method, path, json={"yaml": POLICY})
    assert response.status_code == 401


def test_a_failed_login_is_refused_and_audited(env: Env):
    anonymous = TestClient(env.client.app)
    response = anonymous.post("/api/v1/session", json={"username": "admin", "password": "nope"})
    assert response.status_code == 401
    entries = env.client.get("/api/v1/audit").json()
    assert any(e["action"] == "login.failed" and e["username"] == "admin" for e in entries)


def test_the_session_cookie_is_httponly_and_samesite_strict(env: Env):
    anonymous = TestClient(env.client.app)
    response = anonymous.post("/api/v1/session",
                              json={"username": "admin", "password": env.admin_password})
    cookie = next(c for c in response.headers.get_list("set-cookie")
                  if c.startswith("podwall_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie


@pytest.mark.parametrize("csrf", [None, "wrong"], ids=["missing", "wrong"])
def test_a_change_through_a_session_needs_its_csrf_token(env: Env, csrf: str | None):
    if csrf is None:
        del env.client.headers[CSRF_HEADER]
    else:
        env.client.headers[CSRF_HEADER] = csrf
    response = _register(env, "gone", UNREACHABLE_KUBECONFIG)
    assert response.status_code == 403 and "X-CSRF-Token" in response.json()["detail"]
    assert env.client.get("/api/v1/clusters").status_code == 200  # reads need none


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/api/v1/clusters", {"name": "more", "kubeconfig": UNREACHABLE_KUBECONFIG}),
        ("POST", "/api/v1/clusters/gone/sync", None),
        ("PUT", "/api/v1/clusters/gone/bindings/vera", {"role": "admin"}),
        ("POST", "/api/v1/users", {"username": "eve", "password": "eve-password-123"}),
        ("GET", "/api/v1/audit", None),
        ("POST", "/api/v1/clusters/gone/probe", {"port": 80}),  # sends packets: editor
    ],
)
def test_a_viewer_can_look_but_not_change(env: Env, method: str, path: str, body: dict | None):
    _register(env, "gone", UNREACHABLE_KUBECONFIG)
    viewer = _viewer(env, "gone")
    assert viewer.get("/api/v1/clusters/gone").status_code == 200
    assert viewer.request(method, path, json=body).status_code == 403


def test_a_user_without_a_binding_does_not_see_the_cluster(env: Env):
    _register(env, "gone", UNREACHABLE_KUBECONFIG)
    _register(env, "hidden", UNREACHABLE_KUBECONFIG)
    viewer = _viewer(env, "gone")
    assert [c["name"] for c in viewer.get("/api/v1/clusters").json()] == ["gone"]
    assert viewer.get("/api/v1/clusters/hidden/policies").status_code == 403


def test_a_bearer_token_works_without_csrf(env: Env):
    token = env.client.post("/api/v1/tokens", json={"name": "ci"}).json()["token"]
    script = TestClient(env.client.app, headers={"Authorization": f"Bearer {token}"})
    assert script.get("/api/v1/me").json()["via"] == "token"
    assert _register_with(script, "gone").status_code == 201
    bad = TestClient(env.client.app, headers={"Authorization": "Bearer pwc_not-a-token"})
    assert bad.get("/api/v1/me").status_code == 401


def _register_with(client: TestClient, name: str) -> httpx.Response:
    return client.post("/api/v1/clusters", json={"name": name,
                                                  "kubeconfig": UNREACHABLE_KUBECONFIG})


def test_every_change_is_audited(env: Env):
    _register(env, "gone", UNREACHABLE_KUBECONFIG)
    _viewer(env, "gone")
    env.client.post("/api/v1/tokens", json={"name": "ci"})
    actions = [e["action"] for e in env.client.get("/api/v1/audit").json()]
    for action in ("cluster.register", "user.create", "binding.set", "token.create", "login"):
        assert action in actions, actions


def test_openapi_lists_the_routes(env: Env):
    paths = TestClient(env.client.app).get("/openapi.json").json()["paths"]
    for path in ("/api/v1/session", "/api/v1/clusters", "/api/v1/clusters/{name}/sync",
                 "/api/v1/clusters/{name}/policies", "/api/v1/validate", "/api/v1/audit",
                 "/api/v1/tokens", "/api/v1/users", "/api/v1/me/password",
                 "/api/v1/tokens/{token_id}"):
        assert path in paths


def test_a_reset_password_is_one_time_and_ends_the_old_sessions(env: Env):
    """The operator's path: `podwall up --reset-admin-password`."""
    sessions = sessionmaker(create_database_engine(env.url))
    with sessions.begin() as db:
        password = auth.reset_password(db, "admin", by="system", now=datetime.now(UTC))
    assert env.client.get("/api/v1/me").status_code == 401  # the old session is gone
    fresh = _log_in(TestClient(env.client.app), "admin", password)
    assert fresh.get("/api/v1/me").json()["must_change_password"] is True
    assert fresh.get("/api/v1/clusters").status_code == 403  # until it is changed


@pytest.mark.parametrize(
    ("home", "expected"),
    [
        pytest.param(None, "sqlite:///~/.podwall/console.db", id="no PODWALL_HOME: ~/.podwall"),
        pytest.param("/srv/pw", "sqlite:////srv/pw/console.db", id="PODWALL_HOME, as the lab"),
    ],
)
def test_serve_and_up_share_the_default_database(monkeypatch: pytest.MonkeyPatch,
                                                 home: str | None, expected: str):
    monkeypatch.delenv(HOME_ENV, raising=False)
    if home is not None:
        monkeypatch.setenv(HOME_ENV, home)
    assert default_database_url() == expected


def test_repointing_a_cluster_keeps_its_objects_and_is_audited(env: Env, lab_kubeconfig: str):
    assert _register(env, "lab", UNREACHABLE_KUBECONFIG).status_code == 201
    sessions = sessionmaker(create_database_engine(env.url))
    with sessions.begin() as db:
        found = clusters.get_cluster(db, "lab")
        now = datetime.now(UTC)
        assert clusters.repoint_cluster(db, found, kubeconfig=lab_kubeconfig, username="system",
                                        now=now)
        assert not clusters.repoint_cluster(db, found, kubeconfig=lab_kubeconfig,
                                            username="system", now=now)
    synced = env.client.post("/api/v1/clusters/lab/sync", params={"wait": "true"}).json()
    assert synced["state"] == "synced", synced
    assert [e["action"] for e in env.client.get("/api/v1/audit").json()].count(
        "cluster.update") == 1


def test_probing_an_unknown_cluster_is_404(env: Env):
    response = env.client.post("/api/v1/clusters/nowhere/probe", json={"port": 80})
    assert response.status_code == 404 and "nowhere" in response.json()["detail"]
