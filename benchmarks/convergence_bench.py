"""Convergence: from an API write to enforcement seen by real packets, on the lab as a cluster.

Usage (root; Debian packages nftables, iproute2, conntrack):
    python benchmarks/convergence_bench.py [--writes 30]

`podwall lab up` (upstream's e2e model: 9 pods over 2 nodes, the lab API server and one
`podwall agent` per node) in a PODWALL_HOME and with a namespace prefix of its own; then, with
the official kubernetes client and the lab's kubeconfig, as kubectl would:

1. policy writes: create, then delete, a NetworkPolicy admitting only x/b into x/a; each write
   flips whether x/c reaches x/a on TCP 80;
2. label writes: with that policy in place, patch x/c's label pod=b, then pod=c; each flips it
   back and forth.

After each write a real TCP connect from x/c's namespace to x/a is repeated (50 ms connect
timeout, so a denied probe costs at most that) until its verdict flips; the time from the
write's start to the first flipped probe is the convergence time. It includes the API's
watch fan-out, the agent's decode, incremental compile and libnftables commit, and up to one
probe's timeout. Prints p50, p99 and worst per kind. The lab is taken down at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable

from kubernetes import client, config

from podwall.lab.probe import probe_flow
from podwall.lab.state import LabState, load_state
from podwall.semantics import PortSpec

HTTP = PortSpec(80, "TCP")
PROBE_TIMEOUT = 0.05
GIVE_UP = 30.0
POLICY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "bench-only-b", "namespace": "x"},
    "spec": {
        "podSelector": {"matchLabels": {"pod": "a"}},
        "policyTypes": ["Ingress"],
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"pod": "b"}}}]}],
    },
}


def reaches(state: LabState) -> bool:
    dst = state.endpoint("x/a").ip(4)
    return probe_flow(state, "x/c", dst, HTTP, timeout=PROBE_TIMEOUT).reached


def timed(state: LabState, write: Callable[[], object], want: bool) -> float:
    start = time.perf_counter()
    write()
    while reaches(state) != want:
        if time.perf_counter() - start > GIVE_UP:
            raise SystemExit(f"no convergence within {GIVE_UP}s")
    return time.perf_counter() - start


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(kind: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(f"{kind:<22} n={len(ms):<3} p50 {statistics.median(ms):7.1f} ms   "
          f"p99 {percentile(ms, 0.99):7.1f} ms   worst {max(ms):7.1f} ms")


def run(writes: int, home: str, env: dict[str, str]) -> None:
    state = load_state(home)
    assert state is not None
    kubeconfig = os.path.join(home, "lab", "kubeconfig")
    api = config.new_client_from_config(config_file=kubeconfig)
    networking, core = client.NetworkingV1Api(api), client.CoreV1Api(api)
    create = lambda: networking.create_namespaced_network_policy("x", POLICY)  # noqa: E731
    delete = lambda: networking.delete_namespaced_network_policy(  # noqa: E731
        POLICY["metadata"]["name"], "x")
    label = lambda v: core.patch_namespaced_pod(  # noqa: E731
        "c", "x", {"metadata": {"labels": {"pod": v}}})
    assert reaches(state), "x/c should reach x/a on an open lab"
    policy_times, label_times = [], []
    for _ in range(writes // 2):
        policy_times.append(timed(state, create, want=False))
        policy_times.append(timed(state, delete, want=True))
    create()
    while reaches(state):
        time.sleep(0.05)
    for _ in range(writes // 2):
        label_times.append(timed(state, lambda: label("b"), want=True))
        label_times.append(timed(state, lambda: label("c"), want=False))
    print(f"convergence, API write -> real packets ({writes} writes each, 2 nodes, 9 pods):")
    report("policy create/delete", policy_times)
    report("pod label patch", label_times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=30)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="pwbench")
    env = {**os.environ, "PODWALL_HOME": home}
    prefix = f"podwall-b{uuid.uuid4().hex[:6]}-"
    try:
        up = subprocess.run(["podwall", "lab", "up", "--prefix", prefix], env=env,
                            capture_output=True, text=True, check=False)
        if up.returncode != 0:
            sys.exit(f"lab up failed:\n{up.stderr}")
        run(args.writes, home, env)
    finally:
        subprocess.run(["podwall", "lab", "down"], env=env, capture_output=True, check=False)


if __name__ == "__main__":
    main()
