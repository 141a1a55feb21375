"""Convergence: from an API write to enforcement seen by real packets, on the lab as a cluster.

Usage (root; Debian packages nftables, iproute2, conntrack):
    python benchmarks/convergence_bench.py [--writes 30] [--extra-pods 1000 --extra-policies 1000]

`podwall lab up` (upstream's e2e model: 9 pods over 2 nodes, the lab API server and one
`podwall agent` per node) in a PODWALL_HOME and with a namespace prefix of its own; then, with
the official kubernetes client and the lab's kubeconfig, as kubectl would:

1. policy writes: create, then delete, a NetworkPolicy admitting only x/b into x/a; each write
   flips whether x/c reaches x/a on TCP 80;
2. label writes: with that policy in place, patch x/c's label pod=b, then pod=c; each flips it
   back and forth.

After each write a real TCP connect from x/c's namespace to x/a is repeated (50 ms connect
timeout) until its verdict flips; the time from the write's start to the start of the first
flipped probe (whose SYN already met the new rules) is the convergence time, an upper bound.
It includes the API's watch fan-out, the agent's decode, incremental compile and libnftables
commit; when the flip is to allowed, it may include up to one denied probe's 50 ms timeout.
Prints p50, p99 and worst per kind, and each agent's sync time over the run
(podwall_agent_sync_duration_seconds from its /metrics: syncs and mean seconds per sync).

With `--extra-pods N` (and `--extra-policies M`), the same writes are then timed again at scale:
the lab's API server and agents are stopped, the API's store is seeded with benchmarks/
synthetic.py's cluster of N pods and M NetworkPolicies (benchmarks/virtual_pods.py: ~N/20
namespaces, pods spread over both nodes, IPv4 from 10.200.0.0/16), and they are restarted on
the same ports. These pods exist only in the API (no network namespace, no process): each agent
compiles and enforces a ruleset covering its share of them, while the probes still flow between
the lab's 9 real pods. The lab is taken down at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable

from kubernetes import client, config
from prometheus_client.parser import text_string_to_metric_families

from podwall.lab import cluster
from podwall.lab.probe import probe_flow
from podwall.lab.state import LabState, load_state
from podwall.semantics import PortSpec
from virtual_pods import seed_virtual

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
    """From the write's start to the start of the first probe whose verdict flipped: its SYN
    already met the new rules, so this bounds convergence from above, without counting the
    50 ms a denied probe spends waiting for its timeout."""
    start = time.perf_counter()
    write()
    while True:
        sent = time.perf_counter()
        if reaches(state) == want:
            return sent - start
        if sent - start > GIVE_UP:
            raise SystemExit(f"no convergence within {GIVE_UP}s")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def report(kind: str, seconds: list[float]) -> None:
    ms = [s * 1000 for s in seconds]
    print(f"  {kind:<22} n={len(ms):<3} p50 {statistics.median(ms):7.1f} ms   "
          f"p99 {percentile(ms, 0.99):7.1f} ms   worst {max(ms):7.1f} ms")


def agents(state: LabState) -> dict[str, str]:
    """node -> the agent's /metrics URL."""
    return {name.removeprefix("agent/"): f"{r.url}/metrics"
            for name, r in sorted(state.services.items()) if name.startswith("agent/")}


def scrape(url: str) -> dict[str, float]:
    """The agent's samples, keyed `name` or `name{k=v,...}`."""
    with urllib.request.urlopen(url, timeout=5) as answer:
        text = answer.read().decode()
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            out[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return out


def scrape_all(state: LabState) -> dict[str, dict[str, float]]:
    return {node: scrape(url) for node, url in agents(state).items()}


def report_agents(before: dict[str, dict[str, float]], after: dict[str, dict[str, float]]
                  ) -> None:
    sync = "podwall_agent_sync_duration_seconds"
    for node, now in after.items():
        then = before.get(node, {})
        count = now.get(f"{sync}_count", 0) - then.get(f"{sync}_count", 0)
        total = now.get(f"{sync}_sum", 0) - then.get(f"{sync}_sum", 0)
        mean = f"{total / count * 1000:6.1f} ms" if count else "     -"
        print(f"  agent {node}: {count:4.0f} syncs, mean {mean}/sync; cache "
              f"{now.get('podwall_agent_cache_objects{kind=Pod}', 0):.0f} pods, "
              f"{now.get('podwall_agent_cache_objects{kind=NetworkPolicy}', 0):.0f} policies; "
              f"ruleset {now.get('podwall_agent_ruleset_rules', 0):.0f} rules, "
              f"{now.get('podwall_agent_ruleset_elements', 0):.0f} set/map elements")


def run(writes: int, home: str, title: str) -> None:
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
    before = scrape_all(state)
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
    label("c")
    delete()  # back to the open lab, for a next phase
    while not reaches(state):
        time.sleep(0.05)
    time.sleep(1.0)  # let the agents' last syncs land in the metrics
    print(f"convergence, API write -> real packets ({writes} writes each, {title}):")
    report("policy create/delete", policy_times)
    report("pod label patch", label_times)
    report_agents(before, scrape_all(state))


def scale_up(home: str, pods: int, policies: int) -> str:
    """Stop the lab's API server and agents, seed the API's store with API-only pods and
    policies, start them again on the same ports, and wait until both agents hold them."""
    state = load_state(home)
    assert state is not None and state.topology is not None
    cluster.stop_services(state.services.values())
    start = time.perf_counter()
    added_pods, added_policies = seed_virtual(
        os.path.join(home, "lab", "api.db"), state.topology, pods, policies)
    seeded = time.perf_counter()
    cluster.restart_services(state, [])
    want_pods = len(state.topology.pods) + added_pods
    deadline = time.perf_counter() + 120
    while True:
        metrics = scrape_all(state)
        if all(m.get("podwall_agent_cache_objects{kind=Pod}") == want_pods
               and m.get("podwall_agent_cache_objects{kind=NetworkPolicy}") == added_policies
               and m.get("podwall_agent_ready") == 1
               and m.get("podwall_agent_seconds_since_last_good_sync", 1e9) < 60
               for m in metrics.values()) and reaches(state):
            break
        if time.perf_counter() > deadline:
            raise SystemExit(f"agents did not load the extra objects within 120s: {metrics}")
        time.sleep(0.1)
    ready = time.perf_counter()
    invalid = {n: {k: v for k, v in m.items() if k.startswith("podwall_agent_invalid") and v}
               for n, m in metrics.items()}
    print(f"seeded {added_pods} API-only pods and {added_policies} policies in "
          f"{seeded - start:.1f}s; agents restarted and synced in {ready - seeded:.1f}s"
          + (f"; invalid objects: {invalid}" if any(invalid.values()) else ""))
    time.sleep(1.0)
    return (f"2 nodes, {len(state.topology.pods)} real pods + {added_pods} API-only pods, "
            f"{added_policies} extra policies")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=30)
    parser.add_argument("--extra-pods", type=int, default=0,
                        help="then time again with this many API-only pods (e.g. 1000)")
    parser.add_argument("--extra-policies", type=int, default=None,
                        help="and this many extra policies (default: as many as --extra-pods)")
    args = parser.parse_args()
    policies = args.extra_pods if args.extra_policies is None else args.extra_policies
    home = tempfile.mkdtemp(prefix="pwbench")
    env = {**os.environ, "PODWALL_HOME": home}
    prefix = f"podwall-b{uuid.uuid4().hex[:6]}-"
    try:
        up = subprocess.run(["podwall", "lab", "up", "--prefix", prefix], env=env,
                            capture_output=True, text=True, check=False)
        if up.returncode != 0:
            sys.exit(f"lab up failed:\n{up.stderr}")
        run(args.writes, home, "2 nodes, 9 pods")
        if args.extra_pods > 0:
            title = scale_up(home, args.extra_pods, policies)
            run(args.writes, home, title)
    finally:
        subprocess.run(["podwall", "lab", "down"], env=env, capture_output=True, check=False)


if __name__ == "__main__":
    main()
