"""`podwall agent` refuses what it cannot use, with a message and the documented exit code."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.cli

CASES = {
    "a kubeconfig that does not exist (exit 2)": (
        ["--kubeconfig", "/nonexistent/kubeconfig"], 2, "cannot use kubeconfig"),
    "a network namespace that does not exist (exit 1)": (
        ["--netns", "podwall-no-such-netns"], 1, "cannot enter network namespace"),
    "a listen address without a port (exit 2)": (
        ["--listen", "localhost"], 2, "expected HOST:PORT"),
}


@pytest.mark.parametrize(("args", "code", "message"), CASES.values(), ids=list(CASES))
def test_agent_refuses(podwall_cli, tmp_path, args: list[str], code: int, message: str) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: "
        "'http://127.0.0.1:9'}}]\nusers: [{name: u, user: {}}]\ncontexts: [{name: c, context: "
        "{cluster: c, user: u}}]\ncurrent-context: c\n"
    )
    done = podwall_cli("agent", "--node", "node-1", "--kubeconfig", str(kubeconfig),
                       "--listen", "127.0.0.1:0", *args, timeout=30)
    assert done.returncode == code, done.stderr
    assert message in done.stderr

