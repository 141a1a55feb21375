"""API-only pods for the convergence benchmark: the synthetic cluster, seeded into a lab's API.

`seed_virtual(db, topology, pods, policies)` writes into the lab API's SQLite store (its server
stopped) the namespaces and `pods` pods of benchmarks/synthetic.py's `generate_cluster`, spread
round-robin over the lab's nodes, with IPv4 addresses from 10.200.0.0/16 (no IPv6) and the
node's address as hostIP, and its `policies` NetworkPolicies, created through the registry (so
validated as `kubectl create` would be). These pods have no network namespace and no process:
they exist only in the API, so each node agent compiles and enforces a ruleset of that size,
while packets still flow only between the lab's real pods.
"""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path
from typing import Any

from podwall.apiserver.options import WriteOptions
from podwall.apiserver.registry import Registry
from podwall.apiserver.resources import NETWORK_POLICIES
from podwall.apiserver.server import seed_store
from podwall.apiserver.store import Store
from podwall.assemble import assemble
from podwall.lab.topology import Topology
from synthetic import generate_cluster

VIRTUAL_CIDR = ipaddress.IPv4Network("10.200.0.0/16")


def virtual_manifests(topology: Topology, pods: int, policies: int, seed: int = 1
                      ) -> list[dict[str, Any]]:
    """The synthetic cluster, its pods moved onto the lab's nodes and into VIRTUAL_CIDR."""
    manifests = copy.deepcopy(generate_cluster(pods, policies, seed=seed))
    lab_ns = {n.name for n in topology.namespaces}
    clash = {m["metadata"]["name"] for m in manifests if m["kind"] == "Namespace"} & lab_ns
    if clash:
        raise SystemExit(f"synthetic namespaces clash with the lab's: {sorted(clash)}")
    nodes = topology.nodes
    addresses = VIRTUAL_CIDR.hosts()
    for i, pod in enumerate(m for m in manifests if m["kind"] == "Pod"):
        node = nodes[i % len(nodes)]
        ip = str(next(addresses))
        pod["spec"]["nodeName"] = node.name
        pod["status"].update(podIP=ip, podIPs=[{"ip": ip}], hostIP=node.ipv4,
                             hostIPs=[{"ip": node.ipv4}])
    return manifests


def seed_virtual(db: str | Path, topology: Topology, pods: int, policies: int
                 ) -> tuple[int, int]:
    """Seed the (stopped) lab API's store; returns (pods, policies) added."""
    manifests = virtual_manifests(topology, pods, policies)
    loaded = assemble([("synthetic", m) for m in manifests if m["kind"] != "NetworkPolicy"])
    if loaded.invalid:
        raise SystemExit(f"invalid synthetic object: {loaded.invalid[0]}")
    store = Store(db)
    try:
        registry = Registry(store)
        seed_store(registry, loaded.cluster)
        added = 0
        for m in manifests:
            if m["kind"] == "NetworkPolicy":
                body = {"apiVersion": m["apiVersion"], "kind": m["kind"],
                        "metadata": {"name": m["metadata"]["name"],
                                     "namespace": m["metadata"]["namespace"]},
                        "spec": m["spec"]}
                registry.create(NETWORK_POLICIES, m["metadata"]["namespace"], body,
                                WriteOptions())
                added += 1
    finally:
        store.close()
    return len(loaded.cluster.pods), added
