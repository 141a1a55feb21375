"""`podwall agent` end to end: the lab API server (a real HTTP API, driven with the official
kubernetes client), the agent as a process, and real nftables in a scratch network namespace
standing for node-1 of upstream's e2e model (x/a, x/c, y/b, z/a and z/c live there).

Everything waits by polling with a deadline, never by sleeping a fixed time; every process is
killed and every namespace deleted even when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from conftest import free_port, scratch_namespace, wait_for
from podwall.dataplane.names import EGRESS_DISPATCH, INGRESS_DISPATCH, interface_name

pytestmark = [pytest.mark.root, pytest.mark.cli]

NODE = "node-1"
PODS = {interface_name(ns, pod): f"{ns}/{pod}" for ns in "xyz" for pod in "abc"}
DEADLINE = 15.0


def isolated(netns: str) -> dict[str, set[str]] | None:
    """Pods isolated by the table in `netns`, by direction; None when there is no table."""
    done = subprocess.run(["ip", "netns", "exec", netns, "nft", "-j", "list", "table", "inet",
                           "podwall"], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    out: dict[str, set[str]] = {"ingress": set(), "egress": set()}
    for item in json.loads(done.stdout)["nftables"]:
        found = item.get("map", {})
        word = {INGRESS_DISPATCH: "ingress", EGRESS_DISPATCH: "egress"}.get(found.get("name"))
        if word:
            out[word] = {PODS.get(key, key) for key, _ in found.get("elem", [])}
    return out


def policy(name: str, selected: str, types: list[str], **extra: object) -> dict:
    spec = {"podSelector": {"matchLabels": {"pod": selected}}, "policyTypes": types, **extra}
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name}, "spec": spec}


class Lab:
    """The lab API server and the agent as processes, the node's network namespace, and
    the official client."""

    def __init__(self, tmp: Path, netns: str, *, legacy_cidr: bool = False) -> None:
        self.tmp, self.netns, self.legacy_cidr = tmp, netns, legacy_cidr
        self.exe = shutil.which("podwall") or pytest.fail("podwall is not installed")
        self.api_port, self.agent_port = free_port(), free_port()
        self.kubeconfig = tmp / "kubeconfig"
        self.api: subprocess.Popen | None = None
        self.agents: list[subprocess.Popen] = []
        self._core: client.CoreV1Api | None = None

    def start_api(self) -> None:
        args = [self.exe, "lab", "api-server", "--db", str(self.tmp / "api.db"), "--port",
                str(self.api_port), "--topology", "upstream-e2e", "--kubeconfig-out",
                str(self.kubeconfig), *(["--legacy-cidr"] if self.legacy_cidr else [])]
        self.api = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                    stderr=open(self.tmp / "api.log", "ab"))  # noqa: SIM115
        wait_for("the lab API", lambda: self._get(self.api_port, "/readyz")[0] == 200)

    def kill_api(self) -> None:
        assert self.api is not None
        self.api.kill()
        self.api.wait()

    def start_agent(self, *extra: str) -> subprocess.Popen:
        log = open(self.tmp / f"agent-{len(self.agents)}.log", "wb")  # noqa: SIM115
        agent = subprocess.Popen(
            [self.exe, "agent", "--node", NODE, "--kubeconfig", str(self.kubeconfig), "--netns",
             self.netns, "--listen", f"127.0.0.1:{self.agent_port}", "--max-backoff", "1",
             *extra],
            stdout=subprocess.DEVNULL, stderr=log,
        )
        self.agents.append(agent)
        return agent

    def agent_log(self, index: int = -1) -> list[dict]:
        text = (self.tmp / f"agent-{len(self.agents) + index if index < 0 else index}.log")
        return [json.loads(line) for line in text.read_text().splitlines() if line.strip()]

    def close(self) -> None:
        for proc in [*self.agents, *([self.api] if self.api else [])]:
            if proc.poll() is None:
                proc.kill()
            proc.wait()

    # -- the API, through the official client ---------------------------------------------

    @property
    def core(self) -> client.CoreV1Api:
        if self._core is None:
            self._core = client.CoreV1Api(config.new_client_from_config(str(self.kubeconfig)))
        return self._core

    @property
    def networking(self) -> client.NetworkingV1Api:
        return client.NetworkingV1Api(self.core.api_client)

    def label(self, namespace: str, pod: str, value: str) -> None:
        self.core.patch_namespaced_pod(pod, namespace, {"metadata": {"labels": {"pod": value}}})

    # -- the agent's HTTP endpoints --------------------------------------------------------

    def _get(self, port: int, path: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as err:
            return err.code, err.read().decode()
        except OSError:
            return 0, ""

    def endpoint(self, path: str) -> tuple[int, str]:
        return self._get(self.agent_port, path)

    def metric(self, name: str, labels: str = "") -> float | None:
        for line in self.endpoint("/metrics")[1].splitlines():
            if line.startswith(f"{name}{labels} ") or line.startswith(f"{name}{{{labels}}} "):
                return float(line.rsplit(" ", 1)[1])
        return None

    def isolated(self) -> dict[str, set[str]] | None:
        return isolated(self.netns)


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Callable[..., Lab]]:
    with contextlib.ExitStack() as stack:

        def make(**options: bool) -> Lab:
            netns = stack.enter_context(scratch_namespace())
            made = Lab(tmp_path, netns, **options)
            stack.callback(made.close)  # runs before the namespace is deleted
            return made

        yield make


@contextlib.contextmanager
def pod_link(node_netns: str, namespace: str, pod: str, address: str) -> Iterator[str]:
    """A pod's host-side interface in the node, wired to a namespace of its own: what the
    node sees of a pod's packets."""
    with scratch_namespace() as pod_netns:
        iface = interface_name(namespace, pod)
        for cmd in (
            f"link add {iface} netns {node_netns} type veth peer name eth0 netns {pod_netns}",
            f"-n {node_netns} addr add 10.0.1.1/24 dev {iface}",
            f"-n {node_netns} link set {iface} up",
            f"-n {pod_netns} addr add {address}/24 dev eth0",
            f"-n {pod_netns} link set eth0 up",
        ):
            subprocess.run(["ip", *cmd.split()], check=True)
        yield pod_netns


def connect(netns: str, address: str, port: int) -> None:
    """One TCP connection attempt from `netns` (it is expected to be dropped)."""
    code = (f"import socket; s = socket.socket(); s.settimeout(0.3)\n"
            f"try: s.connect(({address!r}, {port}))\nexcept OSError: pass")
    subprocess.run(["ip", "netns", "exec", netns, "python3", "-c", code], check=True)


def test_agent_enforces_what_the_api_says_and_reports_it(lab: Callable[..., Lab]) -> None:
    lab_ = lab(legacy_cidr=True)  # the API accepts a CIDR the agent's strict validation won't
    lab_.start_api()
    lab_.start_agent()
    wait_for("the first good sync", lambda: lab_.endpoint("/readyz")[0] == 200)
    assert lab_.isolated() == {"ingress": set(), "egress": set()}
    start = lab_.agent_log()[0]
    assert start["failure_policy"] == "fail-closed" and start["startup"] == "isolated"

    net = lab_.networking
    ingress = [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}]
    net.create_namespaced_network_policy("x", policy("a", "a", ["Ingress", "Egress"],
                                                     ingress=ingress))
    cidr = [{"to": [{"ipBlock": {"cidr": "10.0.0.1/8"}}]}]  # host bits set: invalid when strict
    net.create_namespaced_network_policy("y", policy("legacy", "b", ["Egress"], egress=cidr))
    wait_for("x/a isolated", lambda: lab_.isolated() == {"ingress": {"x/a"}, "egress": {"x/a"}})
    wait_for("the invalid policy counted", lambda: lab_.metric(
        "podwall_agent_invalid_objects", 'kind="NetworkPolicy"') == 1.0)
    assert any(e.get("object") == "y/legacy" for e in lab_.agent_log())

    lab_.label("x", "c", "a")
    wait_for("x/c moved in", lambda: lab_.isolated() == {"ingress": {"x/a", "x/c"},
                                                         "egress": {"x/a", "x/c"}})
    lab_.label("x", "c", "c")
    wait_for("x/c moved out", lambda: lab_.isolated() == {"ingress": {"x/a"},
                                                          "egress": {"x/a"}})

    with pod_link(lab_.netns, "x", "a", "10.0.1.10") as pod_a:
        connect(pod_a, "10.0.1.1", 80)  # x/a may not send anything: dropped and counted
        wait_for("the denied connection counted", lambda: (lab_.metric(
            "podwall_agent_denied_connections_total",
            'direction="egress",namespace="x",pod="a"') or 0) >= 1)

    net.delete_namespaced_network_policy("a", "x")
    wait_for("x/a open again", lambda: lab_.isolated() == {"ingress": set(), "egress": set()})

    text = lab_.endpoint("/metrics")[1]
    for name in ("podwall_agent_sync_duration_seconds_bucket", "podwall_agent_ruleset_rules",
                 "podwall_agent_ruleset_chains", "podwall_agent_ruleset_sets",
                 "podwall_agent_ruleset_elements", "podwall_agent_denied_connections_total",
                 'podwall_agent_errors_total{kind="apply"}',
                 "podwall_agent_seconds_since_last_good_sync", "podwall_agent_invalid_objects",
                 "podwall_agent_ready 1.0", 'podwall_agent_watch_up{kind="Pod"} 1.0'):
        assert name in text, name
    assert lab_.endpoint("/healthz") == (200, "ok\n")


def test_agent_rides_out_an_api_outage_and_converges_after_it(lab: Callable[..., Lab]) -> None:
    lab_ = lab()
    lab_.start_api()
    lab_.start_agent("--resync-period", "1")
    lab_.networking.create_namespaced_network_policy("x", policy("a", "a", ["Ingress"]))
    wait_for("x/a isolated", lambda: lab_.isolated() == {"ingress": {"x/a"}, "egress": set()})
    wait_for("ready", lambda: lab_.endpoint("/readyz")[0] == 200)

    lab_.kill_api()
    wait_for("not ready", lambda: lab_.endpoint("/readyz")[0] == 503)
    assert "watch down" in lab_.endpoint("/readyz")[1]
    assert lab_.endpoint("/healthz")[0] == 200
    since = lab_.metric("podwall_agent_seconds_since_last_good_sync") or 0.0
    wait_for("seconds since the last good sync to grow", lambda: (
        lab_.metric("podwall_agent_seconds_since_last_good_sync") or 0.0) > since + 1.0)
    assert lab_.isolated() == {"ingress": {"x/a"}, "egress": set()}  # the last ruleset stays
    relists = lab_.metric("podwall_agent_relists_total", 'kind="NetworkPolicy"') or 0.0

    # While the agent's server is down, the state changes (through the same store).
    from podwall.apiserver import ApiServer

    with ApiServer(lab_.tmp / "api.db") as side:
        side.write_kubeconfig(lab_.tmp / "side-kubeconfig")
        side_net = client.NetworkingV1Api(config.new_client_from_config(
            str(lab_.tmp / "side-kubeconfig")))
        side_net.delete_namespaced_network_policy("a", "x")
        side_net.create_namespaced_network_policy("z", policy("c", "c", ["Egress"]))
    assert lab_.isolated() == {"ingress": {"x/a"}, "egress": set()}

    lab_.start_api()
    wait_for("converged after the outage",
             lambda: lab_.isolated() == {"ingress": set(), "egress": {"z/c"}})
    wait_for("ready again", lambda: lab_.endpoint("/readyz")[0] == 200)
    assert (lab_.metric("podwall_agent_relists_total", 'kind="NetworkPolicy"') or 0) > relists
    assert (lab_.metric("podwall_agent_seconds_since_last_good_sync") or 99) < 5
    assert (lab_.metric("podwall_agent_errors_total", 'kind="watch"') or 0) >= 1


def test_a_restarted_agent_never_leaves_the_node_without_its_table(
    lab: Callable[..., Lab],
) -> None:
    lab_ = lab()
    lab_.start_api()
    first = lab_.start_agent()
    lab_.networking.create_namespaced_network_policy("x", policy("a", "a", ["Ingress"]))
    enforced = {"ingress": {"x/a"}, "egress": set()}
    wait_for("x/a isolated", lambda: lab_.isolated() == enforced)

    first.send_signal(signal.SIGKILL)
    first.wait()
    assert lab_.isolated() == enforced  # right after the kill

    second = lab_.start_agent("--fail-open")
    samples = 0
    while lab_.endpoint("/readyz")[0] != 200:  # through the whole restart
        assert lab_.isolated() == enforced
        samples += 1
        assert samples < DEADLINE / 0.02, "the restarted agent never became ready"
        time.sleep(0.02)
    assert lab_.isolated() == enforced  # after the restart
    start = lab_.agent_log()[0]
    assert start["failure_policy"] == "fail-open" and start["startup"] == "kept"

    second.send_signal(signal.SIGTERM)  # a clean stop leaves the table too
    assert second.wait(timeout=DEADLINE) == 0
    assert lab_.isolated() == enforced
    assert lab_.agent_log()[-1]["msg"].startswith("podwall agent stopped")


def _burst_policy(i: int) -> dict:
    """The i-th of a burst: each isolates x/a again, admitting one more port."""
    ingress = [{"ports": [{"port": 1000 + i}]}]
    return policy(f"burst-{i}", "a", ["Ingress"], ingress=ingress)


@pytest.mark.parametrize("kill_after", [0.05, 0.09, 0.13, 0.17])
def test_an_agent_killed_mid_update_leaves_one_whole_ruleset(
    lab: Callable[..., Lab], kill_after: float
) -> None:
    """Spaced writes keep the agent applying update after update; it is SIGKILLed after
    `kill_after` seconds, somewhere among them.
    The node's table must then be exactly the ruleset of some prefix of the burst: never a
    mix (nft transactions are atomic, and the agent never sends a partial one)."""
    import threading

    from podwall.assemble import assemble
    from podwall.lab.converge import expected_tables, kernel_table
    from podwall.lab.topology import default_topology, topology_manifests
    from podwall.semantics import Options

    burst = 8
    base = [("topology", m) for m in topology_manifests(default_topology())]
    candidates = []
    for k in range(burst + 1):
        manifests = base + [("burst", {**_burst_policy(i), "metadata": {
            "name": f"burst-{i}", "namespace": "x"}}) for i in range(k)]
        cluster = assemble(manifests).cluster
        candidates.append(expected_tables(cluster, [NODE], Options())[NODE])

    lab_ = lab()
    lab_.start_api()
    agent = lab_.start_agent()
    wait_for("the first good sync", lambda: lab_.endpoint("/readyz")[0] == 200)
    assert kernel_table(lab_.netns) == candidates[0]
    net = lab_.networking
    def write() -> None:  # spaced, so the agent applies many separate updates
        for i in range(burst):
            net.create_namespaced_network_policy("x", _burst_policy(i))
            time.sleep(0.02)

    writer = threading.Thread(target=write)
    writer.start()
    time.sleep(kill_after)
    agent.send_signal(signal.SIGKILL)
    agent.wait()
    left = kernel_table(lab_.netns)
    writer.join()
    assert left in candidates, "the killed agent left a ruleset no prefix of the burst gives"
    assert kernel_table(lab_.netns) == left  # and nothing changes it after the kill
