"""Helpers for the lab API tests: a real server on an ephemeral port, the real kubectl against
it, the official Python client, and golden files.

Every server is stopped in a `finally`, so a failing test leaves no thread or port behind.
Servers use a fixed clock and counted uids, so kubectl's output is byte-for-byte repeatable.
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from podwall.apiserver import ApiServer
from podwall.lab.topology import Topology, load_topology

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples" / "policies"
TOPOLOGY = Path(__file__).parent / "data" / "apiserver" / "topology.yaml"
GOLDEN = Path(__file__).parent / "data" / "golden" / "apiserver"
UPDATE = os.environ.get("PODWALL_UPDATE_GOLDEN") == "1"
FIXED_NOW = datetime(2025, 1, 1, tzinfo=UTC)


def seed_topology() -> Topology:
    return load_topology(TOPOLOGY)


def counted_uids() -> Any:
    counter = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"


@contextlib.contextmanager
def running_server(db: Path, **options: Any) -> Iterator[ApiServer]:
    """A started ApiServer on 127.0.0.1:<ephemeral>; always stopped, even if the test fails."""
    options.setdefault("topology", seed_topology())
    options.setdefault("clock", lambda: FIXED_NOW)
    options.setdefault("new_uid", counted_uids())
    server = ApiServer(db, **options)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@dataclass
class Kubectl:
    """The real kubectl with its own HOME (discovery cache) and kubeconfig."""

    home: Path
    kubeconfig: Path
    binary: str | None = None  # default: the kubectl on PATH

    def __call__(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.home),
            "KUBECONFIG": str(self.kubeconfig),
            "TZ": "UTC",
        }
        return subprocess.run(
            [self.binary or kubectl_path(), *args], input=stdin, capture_output=True, text=True,
            env=env, timeout=60, check=False,
        )


def kubectl_path() -> str:
    """kubectl, which the CI image provides: its absence fails the test, never skips it."""
    found = shutil.which("kubectl")
    if found is None:
        pytest.fail("these tests drive the real kubectl: install kubectl v1.32")
    return found


def make_kubectl(server: ApiServer, tmp: Path, binary: str | None = None) -> Kubectl:
    home = tmp / "home"
    home.mkdir(parents=True, exist_ok=True)
    return Kubectl(home, server.write_kubeconfig(tmp / "kubeconfig"), binary)


OLD_KUBECTL_ENV = "PODWALL_TEST_OLD_KUBECTL"


def old_kubectl_path() -> str:
    """Debian's kubectl 1.20 (scripts/fetch-debian-kubectl.sh; test.sh sets the variable)."""
    found = os.environ.get(OLD_KUBECTL_ENV)
    if not found or not os.access(found, os.X_OK):
        pytest.fail(f"{OLD_KUBECTL_ENV} names no kubectl: export {OLD_KUBECTL_ENV}="
                    '"$(bash scripts/fetch-debian-kubectl.sh)" (scripts/test.sh does)',
                    pytrace=False)
    return found


def python_client(server: ApiServer, token: str | None = None) -> Any:
    """An ApiClient of the official `kubernetes` package pointed at the server."""
    from kubernetes import client

    config = client.Configuration()
    config.host = server.url
    if token:
        config.api_key = {"authorization": token}
        config.api_key_prefix = {"authorization": "Bearer"}
    return client.ApiClient(config)


def check_golden(name: str, text: str) -> None:
    """Compare `text` with tests/data/golden/apiserver/NAME, whole, showing a diff."""
    path = GOLDEN / name
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden {path}: run with PODWALL_UPDATE_GOLDEN=1 and review"
    expected = path.read_text()
    diff = "".join(
        difflib.unified_diff(expected.splitlines(True), text.splitlines(True), "golden", "got")
    )
    assert not diff, diff
