"""The lab through the real `podwall lab` command: the issue's end-to-end flow on the bundled
examples, label and delete, invalid input, node traffic and outside hosts with real packets."""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from pathlib import Path

import pytest
import yaml

from podwall.lab.probe import probe_flow
from podwall.lab.state import load_state
from podwall.semantics import PortSpec

pytestmark = pytest.mark.root
EXAMPLES = Path(__file__).parents[1] / "examples"


@pytest.fixture(scope="module")
def lab_home():
    """A PODWALL_HOME of its own; the lab made in it is taken down even when tests fail."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root (CI runs as root)")
    home = tempfile.mkdtemp(prefix="pwcli")
    yield home
    subprocess.run(["podwall", "lab", "down"], env={**os.environ, "PODWALL_HOME": home},
                   capture_output=True, check=False)


def _lab(home: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podwall", "lab", *args], env={**os.environ, "PODWALL_HOME": home},
                          capture_output=True, text=True, timeout=300, check=False)


def test_examples_lab_end_to_end(lab_home: str):
    up = _lab(lab_home, "up", "--topology", "examples")
    assert up.returncode == 0, up.stderr
    assert "lab up: 2 nodes, 18 pods" in up.stdout
    again = _lab(lab_home, "up")
    assert again.returncode == 2 and "already up" in again.stderr
    unknown = _lab(lab_home, "up", "--topology", "nope")
    assert unknown.returncode == 2 and "examples, upstream-e2e" in unknown.stderr

    applied = _lab(lab_home, "apply", "-f", str(EXAMPLES / "policies"))
    assert applied.returncode == 0, applied.stderr
    assert "networkpolicy.networking.k8s.io/access-demo1 created" in applied.stdout
    assert "unchanged" in _lab(lab_home, "apply", "-f", str(EXAMPLES / "policies")).stdout

    compared = _lab(lab_home, "probe", "--compare", "-o", "json")
    assert compared.returncode == 0, compared.stderr
    assert "kernel and core agree" in compared.stderr
    assert json.loads(compared.stdout)["pods"][0] == "apps/api"

    drops = json.loads(_lab(lab_home, "drops", "-o", "json").stdout)
    web_to_db = [d for d in drops if d["from"] == "default/web" and d["to"] == "default/db"
                 and d["port"] == 6379]
    assert web_to_db == [{
        "node": "node-1", "from": "default/web", "to": "default/db", "port": 6379,
        "protocol": "TCP", "deniedBy": "ingress",
        "isolatedBy": ["default/access-demo1", "default/access-demo2", "default/access-demo4"],
    }]
    status = yaml.safe_load(_lab(lab_home, "status", "-o", "yaml").stdout)
    db = next(p for p in status["pods"] if p["pod"] == "default/db")
    assert db["deniedIngress"] >= 1


def test_labels_and_deletes_change_enforcement_at_once(lab_home: str):
    state = load_state(lab_home)
    web_ip = "10.244.1.11"
    db_ip = "10.244.1.10"
    port = PortSpec(6379, "TCP")
    assert not probe_flow(state, "default/web", db_ip, port).reached
    assert _lab(lab_home, "label", "default/web", "role=frontend").returncode == 0
    assert probe_flow(state, "default/web", db_ip, port).reached
    assert _lab(lab_home, "label", "default/web", "role=web").returncode == 0
    deleted = _lab(lab_home, "delete", "-f", str(EXAMPLES / "policies" / "access-demo4.yaml"))
    assert deleted.stdout.strip() == 'networkpolicy.networking.k8s.io "access-demo4" deleted'
    # db's egress no longer reaches role=web: access-demo4 held that allowance
    assert not probe_flow(state, "default/db", web_ip, PortSpec(80, "TCP")).reached
    assert _lab(lab_home, "apply", "-f", str(EXAMPLES / "policies")).returncode == 0
    assert probe_flow(state, "default/db", web_ip, PortSpec(80, "TCP")).reached


def test_ipblocks_and_their_excepts_hold_for_outside_hosts(lab_home: str):
    state = load_state(lab_home)
    port = PortSpec(6379, "TCP")
    # access-demo3: db may reach 172.16.0.0/16 except 172.16.0.40
    assert probe_flow(state, "default/db", "172.16.5.5", port).reached
    assert not probe_flow(state, "default/db", "172.16.0.40", port).reached
    # ip-based-policy: pod1 admits 10.10.10.0/24 only
    assert probe_flow(state, "partner", "10.244.2.11", PortSpec(80, "TCP")).reached
    assert not probe_flow(state, "corp", "10.244.2.11", PortSpec(80, "TCP")).reached


def test_invalid_input_changes_nothing(lab_home: str, tmp_path: Path):
    before = json.loads((Path(lab_home) / "lab" / "state.json").read_text())["objects"]
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": 79}]}]}}))
    result = _lab(lab_home, "apply", "-f", str(bad))
    assert result.returncode == 2
    assert "spec.ingress[0].ports[0].endPort: Invalid value: 79" in result.stderr
    after = json.loads((Path(lab_home) / "lab" / "state.json").read_text())["objects"]
    assert after == before
    missing = _lab(lab_home, "delete", "-f", str(bad))
    assert missing.returncode == 2 and "not found" in missing.stderr


def _from_node(home: str, node: str, ip: str, port: int) -> bool:
    state = load_state(home)
    code = ("import socket,sys\ns=socket.socket();s.settimeout(1)\n"
            f"sys.exit(0 if s.connect_ex(('{ip}',{port}))==0 else 1)")
    done = subprocess.run(["ip", "netns", "exec", state.node_netns(node), "python3", "-c", code],
                          check=False)
    return done.returncode == 0


def test_node_traffic_follows_the_flag(lab_home: str, tmp_path: Path):
    """db (node-1) admits only frontends; its own node still reaches it unless told not to."""
    assert _from_node(lab_home, "node-1", "10.244.1.10", 6379)
    assert _lab(lab_home, "down").returncode == 0
    up = _lab(lab_home, "up", "--topology", "examples", "--no-node-traffic")
    assert up.returncode == 0, up.stderr
    assert _lab(lab_home, "apply", "-f", str(EXAMPLES / "policies")).returncode == 0
    assert not _from_node(lab_home, "node-1", "10.244.1.10", 6379)
    assert _from_node(lab_home, "node-1", "10.244.1.11", 80)  # web is not isolated


def test_down_removes_everything(lab_home: str):
    assert _lab(lab_home, "down").returncode == 0
    names = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert "podwall-" not in names
    assert load_state(lab_home) is None
    assert _lab(lab_home, "status").returncode == 2


@pytest.mark.parametrize(
    "args",
    [
        ("status",),
        ("drops",),
        ("probe", "-p", "80"),
        ("apply", "-f", str(EXAMPLES / "policies")),
        ("label", "default/web", "x=y"),
        ("restart",),
    ],
    ids=lambda args: args[0],
)
def test_commands_that_need_a_lab_say_to_start_one(tmp_path: Path, args: tuple[str, ...]):
    ran = _lab(str(tmp_path), *args)
    assert ran.returncode == 2, ran.stderr
    assert "no lab is up: run `podwall lab up` first" in ran.stderr
    assert not (tmp_path / "lab").exists()
