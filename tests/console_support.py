"""Shared fixtures for the console's tests: a console on a fresh database, logged in as admin,
and a lab API server (real HTTP, real SQLite) to register as a cluster.

`console_database_url` names the database every console test runs against.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient

from apiserver_support import EXAMPLES, running_server
from podwall.console import CSRF_HEADER, create_console

__all__ = [
    "LAB_POLICY",
    "LAB_TOKEN",
    "ConsoleEnv",
    "console_database_url",
    "console_env",
    "lab_kubeconfig",
    "log_in",
]

LAB_POLICY = (EXAMPLES / "access-demo1.yaml").read_text()
LAB_TOKEN = "lab-secret-token"


@dataclass
class ConsoleEnv:
    client: TestClient  # logged in as admin, CSRF header set
    admin_password: str
    url: str


def log_in(client: TestClient, username: str, password: str) -> TestClient:
    response = client.post("/api/v1/session", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    client.headers[CSRF_HEADER] = response.json()["csrf_token"]
    return client


@pytest.fixture
def console_database_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'console.db'}"


@pytest.fixture
def console_env(console_database_url: str) -> Iterator[ConsoleEnv]:
    console = create_console(console_database_url)
    assert console.admin_password
    with TestClient(console.app) as client:
        yield ConsoleEnv(log_in(client, "admin", console.admin_password), console.admin_password,
                         console_database_url)


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
