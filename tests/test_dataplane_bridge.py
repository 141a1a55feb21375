"""A flannel-style node on real packets: pods on one Linux bridge (`cni0`) through veths with
random names, br_netfilter passing bridged IPv4 to the inet hooks. Matched by address, the
compiled ruleset isolates the right pod; matched by interface (Calico names), nothing on such
a node would match, which this test also shows so it can fail. Then the real `podwall agent
--pod-match address` does the same from policies written to the lab API."""

from __future__ import annotations

import contextlib
import secrets
import subprocess
import sys
from collections.abc import Iterator

import pytest

from conftest import scratch_namespace, wait_for
from podwall.assemble import assemble
from podwall.dataplane import NftApplier, PodMatch, compile_ruleset, netns_runner, read_counters
from podwall.dataplane.names import object_suffix

pytestmark = pytest.mark.root

NODE = "flannel-1"
PODS = {"a": "10.244.9.10", "b": "10.244.9.11", "c": "10.244.9.12"}
SERVER = (
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', 80)); s.listen(64)\n"
    "while True:\n"
    "    c, _ = s.accept(); c.close()\n"
)
CONNECT = "import socket, sys; socket.create_connection((sys.argv[1], 80), timeout=0.5)"


def _ip(netns: str, *args: str) -> None:
    subprocess.run(["ip", "-n", netns, *args], check=True)


@contextlib.contextmanager
def bridge_node() -> Iterator[tuple[str, dict[str, str]]]:
    """The node namespace with cni0 and one namespace per pod; all removed afterwards."""
    with contextlib.ExitStack() as stack:
        node = stack.enter_context(scratch_namespace())
        pods = {name: stack.enter_context(scratch_namespace()) for name in PODS}
        _ip(node, "link", "add", "cni0", "type", "bridge")
        _ip(node, "addr", "add", "10.244.9.1/24", "dev", "cni0")
        _ip(node, "link", "set", "cni0", "up")
        for key in ("bridge-nf-call-iptables", "bridge-nf-call-ip6tables"):
            subprocess.run(["ip", "netns", "exec", node, "sysctl", "-qw", f"net.bridge.{key}=1"],
                           check=True)
        for name, netns in pods.items():
            veth = f"veth{secrets.token_hex(4)}"  # as the bridge plugin names them: random
            _ip(node, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", netns)
            _ip(node, "link", "set", veth, "master", "cni0", "up")
            _ip(netns, "addr", "add", f"{PODS[name]}/24", "dev", "eth0")
            _ip(netns, "link", "set", "eth0", "up")
            _ip(netns, "link", "set", "lo", "up")
        server = subprocess.Popen(["ip", "netns", "exec", pods["a"], sys.executable, "-c", SERVER])
        stack.callback(server.kill)
        yield node, pods


def _reaches(pods: dict[str, str], src: str, dst: str) -> bool:
    cmd = ["ip", "netns", "exec", pods[src], sys.executable, "-c", CONNECT, PODS[dst]]
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def _cluster():
    manifests = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x"}}]
    manifests += [
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "x", "labels": {"pod": name}},
            "spec": {"nodeName": NODE, "containers": [{"name": "c", "image": "i"}]},
            "status": {"podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "10.244.9.1"},
        }
        for name, ip in PODS.items()
    ]
    manifests.append(_cluster_policy())
    loaded = assemble([("bridge", m) for m in manifests])
    assert not loaded.invalid
    return loaded.cluster


def _wait_listening(pods: dict[str, str]) -> None:
    wait_for("the server in pod a to listen", lambda: _reaches(pods, "b", "a"))


def test_pods_on_a_bridge_are_isolated_when_matched_by_address():
    with bridge_node() as (node, pods):
        _wait_listening(pods)
        assert _reaches(pods, "c", "a")  # open before any policy
        runner = netns_runner(node)
        applier = NftApplier(runner)

        # matched by interface name (Calico's), nothing on a bridge node matches: still open
        applier.apply(compile_ruleset(_cluster(), NODE, match=PodMatch.INTERFACE))
        assert _reaches(pods, "c", "a")

        applier.apply(compile_ruleset(_cluster(), NODE, match=PodMatch.ADDRESS))
        assert _reaches(pods, "b", "a")
        assert not _reaches(pods, "c", "a")
        counters = read_counters(runner)
        denied = counters[f"deny_ingress_{object_suffix('x/a')}"]
        assert denied[0] > 0  # c's SYNs, counted for x/a's ingress


TOPOLOGY = {
    "nodes": [{"name": NODE, "ipv4": "198.51.100.9", "ipv6": "2001:db8:ffff::9"}],
    "namespaces": [{"name": "x", "labels": {}}],
    "pods": [
        {"namespace": "x", "name": name, "node": NODE, "labels": {"pod": name}, "ipv4": ip,
         "ipv6": f"fd00:9::{ip.rsplit('.', 1)[1]}", "ports": []}
        for name, ip in PODS.items()
    ],
    "externals": [],
}


def test_the_agent_enforces_on_a_bridge_node_by_address(tmp_path):
    import socket
    import urllib.request

    from kubernetes import client, config

    from apiserver_support import running_server
    from podwall.lab.topology import parse_topology

    def ready(port: int) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    with bridge_node() as (node, pods), running_server(
        tmp_path / "api.db", topology=parse_topology(TOPOLOGY)
    ) as server:
        _wait_listening(pods)
        kubeconfig = server.write_kubeconfig(tmp_path / "kubeconfig")
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        agent = subprocess.Popen(
            ["podwall", "agent", "--node", NODE, "--kubeconfig", str(kubeconfig),
             "--netns", node, "--pod-match", "address", "--listen", f"127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=(tmp_path / "agent.log").open("w"),
        )
        try:
            wait_for("the agent to be ready", lambda: ready(port))
            assert _reaches(pods, "c", "a")
            api = client.NetworkingV1Api(config.new_client_from_config(str(kubeconfig)))
            body = _cluster_policy()
            api.create_namespaced_network_policy("x", body)
            wait_for("x/a isolated on the bridge", lambda: not _reaches(pods, "c", "a"))
            assert _reaches(pods, "b", "a")
            api.delete_namespaced_network_policy("a-from-b", "x")
            wait_for("x/a open again", lambda: _reaches(pods, "c", "a"))
        finally:
            agent.terminate()
            agent.wait(timeout=10)


def _cluster_policy() -> dict:
    return {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "a-from-b", "namespace": "x"},
        "spec": {
            "podSelector": {"matchLabels": {"pod": "a"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}],
        },
    }
