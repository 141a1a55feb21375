"""The lab's control layer: when one node refuses an update, nothing stays half-applied."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import scratch_namespace
from podwall.dataplane import netns_runner
from podwall.dataplane.apply import ApplyError
from podwall.lab import control
from podwall.lab.state import LabState
from podwall.lab.topology import default_topology

pytestmark = pytest.mark.root

POLICY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "deny", "namespace": "x"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
}


@pytest.fixture
def node_one():
    """A real namespace standing for node-1 (the lab's network is not needed here)."""
    with scratch_namespace() as name:
        yield name


def _refusing(args, stdin=None):
    return subprocess.CompletedProcess(["nft", *args], 1, "", "Error: node-2 refuses")


def _table(netns: str) -> str:
    return netns_runner(netns)(["list", "table", "inet", "podwall"], None).stdout


@pytest.mark.parametrize(
    "had_ruleset",
    [False, True],
    ids=["first apply: node-1 is emptied again", "later apply: node-1 gets its old ruleset back"],
)
def test_a_refusing_node_rolls_back_the_others(tmp_path: Path, node_one: str, had_ruleset: bool):
    state = LabState(home=tmp_path, topology=default_topology())
    nodes = {state.node_netns("node-1"): node_one}
    working = lambda name: netns_runner(nodes[name]) if name in nodes else netns_runner(node_one)  # noqa: E731
    if had_ruleset:
        control.enforce(state, working)  # both "nodes" get the policy-free ruleset
    before_table, before_data = _table(node_one), dict(state.data)

    def half_broken(name: str):
        return netns_runner(nodes[name]) if name in nodes else _refusing

    with pytest.raises(ApplyError, match="node-2 refuses"):
        control.apply_objects(state, [POLICY], "default", half_broken)
    assert _table(node_one) == before_table
    assert state.data.get("policies", {}) == before_data.get("policies", {})
