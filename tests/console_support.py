"""Shared fixtures for the console's tests: a console on a fresh database, logged in as admin
(who has changed the first run's one-time password), and a lab API server (real HTTP, real
SQLite) to register as a cluster.

`console_database_url` names the database every console test runs against, once per database:
a SQLite file, and a fresh PostgreSQL database (created on the server PODWALL_TEST_POSTGRESQL
names, a URL to a database whose role may create databases; dropped after the test). Without
that variable the PostgreSQL half fails, saying how to get a server:

    export PODWALL_TEST_POSTGRESQL="$(bash scripts/install-postgresql.sh)"   # as root

PODWALL_TEST_POSTGRESQL=off deselects it (the tests run on SQLite only); so does
`-m "not postgresql"`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from apiserver_support import EXAMPLES, running_server
from podwall.console import CSRF_HEADER, Console, create_console
from podwall.console.db import scratch_database

__all__ = [
    "ADMIN_PASSWORD",
    "DATABASES",
    "LAB_POLICY",
    "LAB_TOKEN",
    "ConsoleEnv",
    "admin_console",
    "change_first_password",
    "console_database_url",
    "console_env",
    "lab_kubeconfig",
    "log_in",
]

LAB_POLICY = (EXAMPLES / "access-demo1.yaml").read_text()
LAB_TOKEN = "lab-secret-token"
ADMIN_PASSWORD = "admin-chose-this-password"  # what console_env's admin changes to
POSTGRESQL_ENV = "PODWALL_TEST_POSTGRESQL"
DATABASES = [
    "sqlite",
    *([] if os.environ.get(POSTGRESQL_ENV) == "off"
      else [pytest.param("postgresql", marks=pytest.mark.postgresql)]),
]
_NO_SERVER = (
    f"{POSTGRESQL_ENV} is not set: the console's tests run on PostgreSQL too. As root, run\n"
    f'    export {POSTGRESQL_ENV}="$(bash scripts/install-postgresql.sh)"\n'
    f"or set it to the URL of a PostgreSQL database whose role may create databases "
    f"({POSTGRESQL_ENV}=off runs the console's tests on SQLite only)"
)


@dataclass
class ConsoleEnv:
    client: TestClient  # logged in as admin, CSRF header set
    admin_password: str  # the admin's current password
    url: str
    console: Console


def log_in(client: TestClient, username: str, password: str) -> TestClient:
    response = client.post("/api/v1/session", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    client.headers[CSRF_HEADER] = response.json()["csrf_token"]
    return client


def change_first_password(client: TestClient, one_time_password: str) -> str:
    """The first-run admin, logged in on `client`, changes its password: the new one."""
    response = client.post("/api/v1/me/password", json={
        "current_password": one_time_password, "new_password": ADMIN_PASSWORD})
    assert response.status_code == 204, response.text
    return ADMIN_PASSWORD


@pytest.fixture(params=DATABASES)
def console_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'console.db'}"
        return
    server = os.environ.get(POSTGRESQL_ENV)
    if not server:
        pytest.fail(_NO_SERVER, pytrace=False)
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database(server, "podwall_test"))
        except OperationalError as err:
            pytest.fail(f"cannot create a database on {POSTGRESQL_ENV}: {err}\n"
                        f"(bash scripts/install-postgresql.sh starts a local server)",
                        pytrace=False)
        yield url


@contextmanager
def admin_console(url: str, **options: Any) -> Iterator[ConsoleEnv]:
    """A console on a fresh database (`options` go to create_console), its admin logged in
    with a changed password; afterwards its syncs have ended and its connections are closed."""
    console = create_console(url, **options)
    assert console.admin_password
    try:
        with TestClient(console.app) as client:
            log_in(client, "admin", console.admin_password)
            password = change_first_password(client, console.admin_password)
            yield ConsoleEnv(client, password, url, console)
    finally:
        console.app.state.syncs.wait_all()
        console.engine.dispose()


@pytest.fixture
def console_env(console_database_url: str) -> Iterator[ConsoleEnv]:
    with admin_console(console_database_url) as env:
        yield env


@pytest.fixture
def lab_kubeconfig(tmp_path: Path) -> Iterator[str]:
    """A lab API server holding the examples' pods and one labelled policy, as a kubeconfig."""
    with running_server(tmp_path / "api.db", token=LAB_TOKEN) as server:
        policy = yaml.safe_load(LAB_POLICY)
        created = httpx.post(
            f"{server.url}/apis/networking.k8s.io/v1/namespaces/default/networkpolicies",
            headers={"Authorization": f"Bearer {LAB_TOKEN}"},
            json={**policy, "metadata": {**policy["metadata"], "labels": {"team": "data"}}},
        )
        assert created.status_code == 201, created.text
        yield server.write_kubeconfig(tmp_path / "lab.kubeconfig").read_text()
