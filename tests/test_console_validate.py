"""POST /api/v1/validate answers with exactly the messages `podwall validate` prints."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from console_support import change_first_password
from podwall.console import CSRF_HEADER, create_console

BAD_PORT = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad-port, namespace: default}
spec:
  podSelector: {}
  ingress:
  - ports: [{protocol: TCP, port: 80, endPort: 79}]
"""
BAD_CIDR = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bad-cidr, namespace: default}
spec:
  podSelector: {}
  egress:
  - to: [{ipBlock: {cidr: 10.0.0.1/8}}]
"""
GOOD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: good, namespace: default}
spec: {podSelector: {}}
"""


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> TestClient:
    path: Path = tmp_path_factory.mktemp("console") / "console.db"
    console = create_console(f"sqlite:///{path}")
    client = TestClient(console.app)
    login = client.post("/api/v1/session",
                        json={"username": "admin", "password": console.admin_password})
    client.headers[CSRF_HEADER] = login.json()["csrf_token"]
    change_first_password(client, console.admin_password)
    return client


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(GOOD, id="a valid policy"),
        pytest.param(BAD_PORT, id="endPort below port"),
        pytest.param(BAD_CIDR, id="a CIDR with host bits"),
        pytest.param(GOOD + "---\n" + BAD_PORT + "---\n" + BAD_CIDR, id="several documents"),
    ],
)
def test_validate_says_what_podwall_validate_says(client: TestClient, podwall_cli, text: str):
    body = client.post("/api/v1/validate", json={"yaml": text}).json()
    cli = podwall_cli("validate", "-f", "-", stdin=text)
    assert cli.stdout == "".join(f"{line}\n" for line in [*body["messages"], body["summary"]])


def test_unparseable_yaml_is_a_422(client: TestClient):
    response = client.post("/api/v1/validate", json={"yaml": "a: [\n"})
    assert response.status_code == 422 and "invalid YAML" in response.json()["detail"]


def test_serve_is_a_podwall_command(podwall_cli):
    help_text = podwall_cli("serve", "--help").stdout
    for option in ("--host", "--port", "--database"):
        assert option in help_text
