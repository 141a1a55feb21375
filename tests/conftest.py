"""Shared fixtures: running the installed `podwall` command as a user would."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence

import pytest

from browser_support import browser, first_run, lab, page, shot  # noqa: F401  (browser tests)
from console_support import (  # noqa: F401  (fixtures shared by the console's tests)
    console_database_url,
    console_env,
    lab_kubeconfig,
)

sys.path.insert(0, os.path.dirname(__file__))  # tests import netpol_model and conftest helpers

RunCli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(scope="session")
def podwall_cli() -> RunCli:
    """Run `podwall ARGS...` in a subprocess; stdin text optional; never raises on exit code."""
    exe = shutil.which("podwall")
    if exe is None:
        pytest.fail("the podwall command is not installed: run `pip install -e .` first")

    def run(
        *args: str, stdin: str | None = None, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run([exe, *args], input=stdin, capture_output=True, text=True,
                              timeout=timeout, check=False)

    return run


def write_manifests(directory, manifests: Sequence[dict], name: str = "cluster.yaml"):
    import yaml

    path = directory / name
    path.write_text(yaml.safe_dump_all(list(manifests), sort_keys=False))
    return path


@contextlib.contextmanager
def scratch_namespace() -> Iterator[str]:
    """A throwaway network namespace (`podwall-test-…`) for real nft; removed even when the
    test fails. Fails, never skips, without root: CI runs as root."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root (CI runs as root)")
    name = f"podwall-test-{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["ip", "netns", "del", name], check=False)


def wait_for(what: str, check: Callable[[], object], timeout: float = 15.0) -> None:
    """Poll `check` every 50 ms until it is true; fail the test after `timeout` seconds. Tests
    wait this way, never by sleeping a fixed time."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
