"""The lab as a cluster, end to end: `podwall lab up` starts the lab API server and one agent
per node; the real kubectl changes policies and labels; real packets between pod namespaces
show the agents enforcing them, through an API server crash and an agent killed mid-way.

Runs as root in a PODWALL_HOME and with a namespace prefix of its own, so it can run beside
the other lab tests; the lab is taken down in `finally`, whatever fails.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import yaml

from conftest import wait_for
from podwall.lab import kubeapi
from podwall.lab.cluster import API_SERVICE, agent_service
from podwall.lab.converge import kernel_table
from podwall.lab.probe import probe_flow
from podwall.lab.state import LabState, load_state
from podwall.semantics import PortSpec

pytestmark = [pytest.mark.root, pytest.mark.cli]

HTTP = PortSpec(80, "TCP")
DEADLINE = 15.0
ONLY_B = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "x-a-from-b", "namespace": "x"},
    "spec": {
        "podSelector": {"matchLabels": {"pod": "a"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}],
    },
}
DENY_Y = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "y-deny-all", "namespace": "y"},
    "spec": {"podSelector": {}, "policyTypes": ["Ingress"]},
}


class Lab:
    def __init__(self, home: Path, prefix: str) -> None:
        self.home, self.prefix = home, prefix
        self.env = {**os.environ, "PODWALL_HOME": str(home)}
        self.kubeconfig = ""

    def podwall(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["podwall", "lab", *args], env=self.env, capture_output=True,
                              text=True, timeout=120, check=False)

    def kubectl(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, *args], input=stdin,
                              capture_output=True, text=True, timeout=30, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    @property
    def state(self) -> LabState:
        state = load_state(self.home)
        assert state is not None
        return state

    def reaches(self, src: str, dst: str) -> bool:
        state = self.state
        return probe_flow(state, src, state.endpoint(dst).ip(4), HTTP, timeout=0.5).reached

    def pid(self, service: str) -> int:
        return self.state.services[service].pid


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    wait_for(f"pid {pid} to die", lambda: not Path(f"/proc/{pid}/cmdline").exists()
             or not Path(f"/proc/{pid}/cmdline").read_bytes())


def test_lab_runs_as_a_cluster_through_kubectl_and_crashes(tmp_path: Path):
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root (CI runs as root)")
    lab = Lab(tmp_path / "home", f"podwall-e{uuid.uuid4().hex[:6]}-")
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(ONLY_B))
    try:
        up = lab.podwall("up", "--prefix", lab.prefix)
        assert up.returncode == 0, up.stderr + up.stdout
        lab.kubeconfig = up.stdout.strip().splitlines()[-1]
        assert lab.kubeconfig == str(tmp_path / "home" / "lab" / "kubeconfig")
        status = lab.podwall("status", "-o", "json")
        services = yaml.safe_load(status.stdout)["services"]
        assert {s["name"]: s["ready"] for s in services} == {
            API_SERVICE: True, agent_service("node-1"): True, agent_service("node-2"): True}

        # kubectl apply: x/a admits x/b only
        lab.kubectl("apply", "-f", str(policy))
        wait_for("the policy on real packets", lambda: not lab.reaches("x/c", "x/a"))
        compare = lab.podwall("probe", "--compare", "-p", "80")
        assert compare.returncode == 0, compare.stderr
        assert lab.reaches("x/b", "x/a")
        assert not lab.reaches("x/c", "x/a")

        # kubectl label moves x/c into the allowed peers
        lab.kubectl("label", "pod", "c", "-n", "x", "pod=b", "--overwrite")
        wait_for("x/c relabelled to be admitted", lambda: lab.reaches("x/c", "x/a"))
        lab.kubectl("label", "pod", "c", "-n", "x", "pod=c", "--overwrite")
        wait_for("x/c back out", lambda: not lab.reaches("x/c", "x/a"))

        # the API server dies: the agents keep enforcing the last ruleset
        kill(lab.pid(API_SERVICE))
        time.sleep(1.0)
        assert lab.reaches("x/b", "x/a")
        assert not lab.reaches("x/c", "x/a")
        restarted = lab.podwall("restart", API_SERVICE)
        assert restarted.returncode == 0, restarted.stderr
        lab.kubectl("apply", "-f", "-", stdin=json.dumps(DENY_Y))  # YAML would say y: true
        wait_for("a change after the API's restart", lambda: not lab.reaches("x/a", "y/a"))

        # an agent dies mid-way: its node's table stays as it was
        node = "node-1"  # x/a lives there
        netns = lab.state.node_netns(node)
        before = kernel_table(netns)
        kill(lab.pid(agent_service(node)))
        assert kernel_table(netns) == before
        lab.kubectl("delete", "-f", str(policy))  # x/a opens, but only once node-1 follows
        time.sleep(1.0)
        assert kernel_table(netns) == before
        assert not lab.reaches("x/c", "x/a")
        restarted = lab.podwall("restart", node)
        assert restarted.returncode == 0, restarted.stderr
        kubeapi.wait_enforced(lab.state, timeout=DEADLINE)
        assert lab.reaches("x/c", "x/a")
        compare = lab.podwall("probe", "--compare", "-p", "80")
        assert compare.returncode == 0, compare.stderr

        # podwall lab apply/label/delete go through the API and return once enforced
        applied = lab.podwall("apply", "-f", str(policy))
        assert applied.returncode == 0, applied.stderr
        assert not lab.reaches("x/c", "x/a")
        assert "x-a-from-b" in lab.kubectl("get", "networkpolicy", "-n", "x")
        assert lab.podwall("label", "x/c", "pod=b").returncode == 0
        assert lab.reaches("x/c", "x/a")
        bad = lab.podwall("label", "x/c", "pod=b!")
        assert bad.returncode == 2 and "Invalid value" in bad.stderr
        assert "pod=b" in lab.kubectl("get", "pod", "c", "-n", "x", "--show-labels")
        assert lab.podwall("delete", "-f", str(policy)).returncode == 0
        assert lab.reaches("x/b", "x/a") and lab.reaches("y/b", "x/a")
    finally:
        pids = [r.pid for r in (load_state(lab.home) or LabState(home=lab.home)).services.values()]
        down = lab.podwall("down")
        assert down.returncode == 0, down.stderr
        assert not any(Path(f"/proc/{p}/cmdline").exists() and Path(f"/proc/{p}/cmdline")
                       .read_bytes() for p in pids)


SEEDS = Path(__file__).resolve().parent.parent / "examples" / "policies"
REDIS = PortSpec(6379, "TCP")


def test_the_seeds_kubectl_walkthrough_word_for_word_on_real_packets(tmp_path: Path):
    """Seed 000's steps against `lab up --topology examples`: kubectl prints what the seed says
    it prints, and each step's promise holds on real packets (db on 6379 only from frontend,
    then also from namespaces labelled project=myproject)."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root (CI runs as root)")
    lab = Lab(tmp_path / "home", f"podwall-w{uuid.uuid4().hex[:6]}-")

    def redis_from(src: str) -> bool:
        state = lab.state
        db = state.endpoint("default/db").ip(4)
        return probe_flow(state, src, db, REDIS, timeout=0.5).reached

    try:
        up = lab.podwall("up", "--topology", "examples", "--prefix", lab.prefix)
        assert up.returncode == 0, up.stderr + up.stdout
        lab.kubeconfig = up.stdout.strip().splitlines()[-1]
        assert redis_from("default/web") and redis_from("myproject/client")

        out = lab.kubectl("apply", "-f", str(SEEDS / "access-demo1.yaml"))
        assert out == "networkpolicy.networking.k8s.io/access-demo1 created\n"
        wait_for("access-demo1 on real packets", lambda: not redis_from("default/web"))
        assert redis_from("default/frontend")
        assert not redis_from("myproject/client")

        out = lab.kubectl("apply", "-f", str(SEEDS / "access-demo2.yaml"))
        assert out == "networkpolicy.networking.k8s.io/access-demo2 created\n"
        wait_for("access-demo2 on real packets", lambda: redis_from("myproject/client"))
        assert not redis_from("default/web")

        listed = lab.kubectl("get", "networkpolicy", "-A")
        assert listed.splitlines()[0].split() == ["NAMESPACE", "NAME", "POD-SELECTOR", "AGE"]
        assert "access-demo1" in listed and "access-demo2" in listed
        compare = lab.podwall("probe", "--compare", "-p", "6379")
        assert compare.returncode == 0, compare.stderr

        out = lab.kubectl("delete", "-f", str(SEEDS / "access-demo1.yaml"),
                          "-f", str(SEEDS / "access-demo2.yaml"))
        assert out.splitlines() == [
            'networkpolicy.networking.k8s.io "access-demo1" deleted',
            'networkpolicy.networking.k8s.io "access-demo2" deleted',
        ]
        wait_for("db open again", lambda: redis_from("default/web"))
    finally:
        assert lab.podwall("down").returncode == 0
