"""Data-plane figures: compile + apply time, change-to-enforced time, and what 1,000 loaded
policies cost real traffic (iperf3 throughput and new TCP connections per second).

Usage (root; Debian packages nftables, iproute2, iperf3):
    python benchmarks/dataplane_bench.py

1. Compile + apply: the synthetic cluster (benchmarks/synthetic.py, 1,000 pods, 1,000
   policies) with every pod on ONE node, into a scratch network namespace: compile, render,
   and one atomic `nft -f` (checked first), from an empty table.
2. Change to enforced: one pod relabelled (20 relabels that each change the ruleset), then one
   new policy; each time compile + the incremental transaction, in two shapes: one-shot (full
   compile, two `nft` processes: what a `podwall lab` command does) and long-lived (the
   incremental compiler and one libnftables context: the agent's shape). The kernel enforces
   the new rules when the commit returns, so this is the time from the change to enforcement
   (20 times each: median, p95 and worst).
3. Traffic: a lab with two pods on two nodes (client on node-1, server on node-2). Baseline:
   no policy. Loaded: the 1,000 synthetic policies and their 1,000 pods are compiled into both
   nodes' rulesets (their pods split across the two nodes, so chains, sets and dispatch maps
   are really there), plus a default-deny and an allow for the bench pods, so both of the
   bench pods' chains judge every new connection. iperf3 TCP throughput (3 s) and new
   connections per second (connect + close, 2 s) are measured in the same run; the ratios
   loaded/baseline are printed.
"""

from __future__ import annotations

import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from podwall.assemble import assemble
from podwall.dataplane import NftApplier, compile_ruleset, netns_runner, render_ruleset
from podwall.dataplane.incremental import IncrementalCompiler
from podwall.dataplane.libnft import LibnftRunner
from podwall.lab.netns import exec_in
from podwall.lab.state import down, up
from podwall.lab.topology import parse_topology, topology_manifests
from synthetic import generate_cluster

BENCH_TOPOLOGY = {
    "nodes": [
        {"name": "node-1", "ipv4": "198.51.100.1", "ipv6": "2001:db8:ffff::1"},
        {"name": "node-2", "ipv4": "198.51.100.2", "ipv6": "2001:db8:ffff::2"},
    ],
    "namespaces": [{"name": "bench", "labels": {}}],
    "pods": [
        {
            "namespace": "bench",
            "name": "client",
            "node": "node-1",
            "labels": {"role": "client"},
            "ipv4": "10.250.0.10",
            "ipv6": "fd00:250::10",
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}],
        },
        {
            "namespace": "bench",
            "name": "server",
            "node": "node-2",
            "labels": {"role": "server"},
            "ipv4": "10.250.0.20",
            "ipv6": "fd00:250::20",
            "ports": [
                {
                    "name": "http",
                    "port": 80,
                    "protocol": "TCP",
                },  # iperf3 takes 5201 itself: undeclared, so no agent holds it
            ],
        },
    ],
    "externals": [],
}
BENCH_POLICIES = [
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "default-deny", "namespace": "bench"},
        "spec": {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]},
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "client-to-server", "namespace": "bench"},
        "spec": {
            "podSelector": {"matchLabels": {"role": "server"}},
            "ingress": [
                {
                    "from": [{"podSelector": {"matchLabels": {"role": "client"}}}],
                    "ports": [{"port": "http"}, {"port": 5201}, {"port": 9000}],
                }
            ],
        },
    },
    {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "client-out", "namespace": "bench"},
        "spec": {
            "podSelector": {"matchLabels": {"role": "client"}},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": {"role": "server"}}}]}],
        },
    },
]


def _synthetic(nodes: list[str]) -> list[dict]:
    """The 1,000/1,000 synthetic cluster with its pods spread over `nodes`."""
    manifests = copy.deepcopy(generate_cluster(1000, 1000, seed=1))
    pods = [m for m in manifests if m["kind"] == "Pod"]
    for i, pod in enumerate(pods):
        pod["spec"]["nodeName"] = nodes[i % len(nodes)]
    return manifests


def _cluster(manifests: list[dict]):
    loaded = assemble([("bench", m) for m in manifests])
    if loaded.invalid:
        raise SystemExit(f"invalid bench input: {loaded.invalid[0]}")
    return loaded.cluster


def compile_and_apply(netns: str) -> None:
    cluster = _cluster(_synthetic(["node-a"]))
    start = time.perf_counter()
    ruleset = compile_ruleset(cluster, "node-a")
    compiled = time.perf_counter()
    text = render_ruleset(ruleset)
    applier = NftApplier(netns_runner(netns))
    result = applier.apply(ruleset)
    total = time.perf_counter() - start
    rules = sum(len(c.rules) for c in ruleset.chains)
    elements = sum(len(s.elements) for s in ruleset.sets)
    print(
        f"compile + apply, 1,000 pods and 1,000 policies on one node: {total:.3f} s "
        f"(compile {compiled - start:.3f} s, nft {result.seconds:.3f} s); "
        f"{len(ruleset.chains)} chains, {rules} rules, {len(ruleset.sets)} sets, "
        f"{elements} set elements, {len(text) / 1024:.0f} KiB of nft text"
    )
    change_to_enforced(cluster, netns)


def _relabelled(cluster, i: int):
    """Pod i takes the labels of another workload in its namespace: set membership changes."""
    pod = cluster.pods[i]
    other = next(p for p in cluster.pods if p.namespace == pod.namespace and p.labels != pod.labels)
    return replace(
        cluster,
        pods=tuple(replace(p, labels=other.labels) if p is pod else p for p in cluster.pods),
    )


def _extra_policy(cluster):
    return _cluster(
        [
            {
                "apiVersion": "networking.k8s.io/v1",
                "kind": "NetworkPolicy",
                "metadata": {"name": "bench-extra", "namespace": cluster.pods[0].namespace},
                "spec": {
                    "podSelector": {"matchLabels": dict(cluster.pods[0].labels)},
                    "ingress": [{"ports": [{"port": 9999}]}],
                },
            }
        ]
    ).policies


def change_to_enforced(cluster, netns: str) -> None:
    """Two shapes, measured on the same changes. One-shot (what each `podwall lab` command
    does): a full compile and two `nft` processes (check, then apply). Long-lived (the agent's
    shape): the incremental compiler and one libnftables context kept in the node's network
    namespace, check (dry run) then commit. The kernel enforces the new rules when the commit
    returns, so each figure is the time from the change to enforcement."""
    extra = _extra_policy(cluster)
    base = compile_ruleset(cluster, "node-a")
    relabels = []  # 20 label changes that really change the node's ruleset
    for i in range(0, len(cluster.pods), 37):
        changed = _relabelled(cluster, i)
        if compile_ruleset(changed, "node-a") != base:
            relabels.append(changed)
        if len(relabels) == 20:
            break
    shapes = {
        "one-shot": (
            lambda: (lambda c: compile_ruleset(c, "node-a")),
            NftApplier(netns_runner(netns)),
        ),
        "long-lived": (
            lambda: IncrementalCompiler("node-a").compile,
            NftApplier(LibnftRunner(netns)),
        ),
    }
    for shape, (make_compiler, applier) in shapes.items():
        compile_fn = make_compiler()
        applier.apply(compile_fn(cluster))
        for what in ("a pod label", "one new policy"):
            compile_s, nft_s, modes = [], [], set()
            for i in range(20):
                if what == "a pod label":
                    changed = relabels[i]
                else:
                    changed = replace(cluster, policies=cluster.policies + extra)
                start = time.perf_counter()
                ruleset = compile_fn(changed)
                compiled = time.perf_counter()
                result = applier.apply(ruleset)
                compile_s.append(compiled - start)
                nft_s.append(time.perf_counter() - compiled)
                modes.add(result.mode)
                applier.apply(compile_fn(cluster))
            total = [a + b for a, b in zip(compile_s, nft_s, strict=True)]
            print(
                f"change to enforced, {what}, {shape}: median "
                f"{statistics.median(total) * 1000:.1f} ms (compile "
                f"{statistics.median(compile_s) * 1000:.1f} ms, nft check + apply "
                f"{statistics.median(nft_s) * 1000:.1f} ms), p95 "
                f"{sorted(total)[18] * 1000:.1f} ms, worst {max(total) * 1000:.1f} ms; "
                f"transactions: {', '.join(sorted(modes))}"
            )


def _iperf(state) -> float:
    server = state.names.pod("bench", "server")
    client = state.names.pod("bench", "client")
    proc = subprocess.Popen(
        ["ip", "netns", "exec", server, "iperf3", "-s", "-1"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.3)
    try:
        out = exec_in(client, ["iperf3", "-c", "10.250.0.20", "-t", "3", "-J"]).stdout
    finally:
        proc.wait(timeout=10)
    return json.loads(out)["end"]["sum_received"]["bits_per_second"] / 1e9


# A plain accept loop with a deep backlog: the lab's asyncio agent is not built for a flood.
_ACCEPT_LOOP = """
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 9000))
s.listen(4096)
while True:
    c, _ = s.accept()
    c.close()
"""
_CONNECT_LOOP = """
import socket, time
end = time.perf_counter() + 2.0
n = 0
while time.perf_counter() < end:
    s = socket.create_connection(("10.250.0.20", 9000), timeout=3)
    s.recv(1)  # wait for the server's close: TIME_WAIT stays on its side, ports stay free
    s.close()
    n += 1
print(n / 2.0)
"""


def _connections(state) -> float:
    """New TCP connections per second, client to server, one at a time for 2 s."""
    server = subprocess.Popen(
        ["ip", "netns", "exec", state.names.pod("bench", "server"), "python3", "-c", _ACCEPT_LOOP]
    )
    time.sleep(0.3)
    try:
        client = state.names.pod("bench", "client")
        return float(exec_in(client, ["python3", "-c", _CONNECT_LOOP]).stdout.strip())
    finally:
        server.kill()
        server.wait()


def traffic() -> None:
    topology = parse_topology(BENCH_TOPOLOGY)
    home = Path(tempfile.mkdtemp(prefix="pwbench"))
    state = up(topology, home=home, prefix=f"podwall-b{os.getpid() % 100000}-")
    try:
        appliers = {
            n.name: NftApplier(netns_runner(state.node_netns(n.name))) for n in topology.nodes
        }
        base = _cluster(topology_manifests(topology))
        base_rules = {n: compile_ruleset(base, n) for n in appliers}
        loaded = _cluster(
            topology_manifests(topology) + BENCH_POLICIES + _synthetic(["node-1", "node-2"])
        )
        loaded_rules = {n: compile_ruleset(loaded, n) for n in appliers}
        runs: dict[str, list[tuple[float, float]]] = {"none": [], "loaded": []}
        for _ in range(3):  # alternate, so drift on a shared machine hits both alike
            for label, rules in (("none", base_rules), ("loaded", loaded_rules)):
                for node, applier in appliers.items():
                    applier.apply(rules[node])
                runs[label].append((_iperf(state), _connections(state)))
        gbit = {k: statistics.median(r[0] for r in v) for k, v in runs.items()}
        conns = {k: statistics.median(r[1] for r in v) for k, v in runs.items()}
        print(
            f"traffic between two lab pods on two nodes, {len(loaded.policies)} policies "
            f"loaded vs none (median of 3 alternating runs):"
        )
        print(
            f"  iperf3 TCP: {gbit['none']:.2f} Gbit/s -> {gbit['loaded']:.2f} Gbit/s "
            f"(ratio {gbit['loaded'] / gbit['none']:.3f})"
        )
        print(
            f"  new connections: {conns['none']:.0f}/s -> {conns['loaded']:.0f}/s "
            f"(ratio {conns['loaded'] / conns['none']:.3f})"
        )
    finally:
        down(state)


def lab_small_change() -> None:
    """At lab scale (upstream's 9 pods over 2 nodes): one label change through the lab's own
    path (validate, compile both nodes, check and apply), confirmed by a real connection."""
    from podwall.lab import control
    from podwall.lab.probe import probe_flow
    from podwall.lab.topology import default_topology
    from podwall.semantics import PortSpec

    home = Path(tempfile.mkdtemp(prefix="pwbench"))
    state = up(default_topology(), home=home, prefix=f"podwall-s{os.getpid() % 100000}-")
    try:
        control.set_desired(
            state,
            [
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": "a-from-trusted", "namespace": "x"},
                    "spec": {
                        "podSelector": {"matchLabels": {"pod": "a"}},
                        "ingress": [
                            {"from": [{"podSelector": {"matchLabels": {"trusted": "yes"}}}]}
                        ],
                    },
                }
            ],
        )
        times = []
        for i in range(20):
            trusted = i % 2 == 0
            start = time.perf_counter()
            control.relabel(state, "x/c", ["trusted=yes" if trusted else "trusted-"])
            times.append(time.perf_counter() - start)
            reached = probe_flow(
                state, "x/c", "10.0.1.10", PortSpec(80, "TCP"), timeout=0.5
            ).reached
            if reached != trusted:
                raise SystemExit(f"enforcement did not follow the change (step {i})")
        print(
            f"change to enforced at lab scale (9 pods, 2 nodes), one label: median "
            f"{statistics.median(times) * 1000:.0f} ms, worst {max(times) * 1000:.0f} ms "
            "(validate, compile and check + apply on both nodes; each change then confirmed "
            "by a real connection)"
        )
    finally:
        down(state)


def main() -> None:
    if os.geteuid() != 0:
        raise SystemExit("the data-plane benchmark needs root (network namespaces, nft)")
    netns = f"podwall-bench-{uuid.uuid4().hex[:6]}"
    subprocess.run(["ip", "netns", "add", netns], check=True)
    try:
        compile_and_apply(netns)
    finally:
        subprocess.run(["ip", "netns", "del", netns], check=False)
    lab_small_change()
    traffic()


if __name__ == "__main__":
    main()
