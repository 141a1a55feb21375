"""Seeded random NetworkPolicy sets over the upstream x/y/z × a/b/c model, valid by construction.

They mix pod and namespace selectors (alone, ANDed in one peer, ORed across peers), ipBlocks
with except (covering pods, single pods, outside ranges, IPv6), numeric and named ports, endPort
ranges, TCP and UDP, ingress and egress, and policyTypes given or defaulted.
"""

from __future__ import annotations

import random
from typing import Any

NAMESPACES = ("x", "y", "z")
PODS = ("a", "b", "c")
IP_BLOCKS = (
    {"cidr": "10.0.0.0/16"},
    {"cidr": "10.0.0.0/16", "except": ["10.0.2.0/24"]},
    {"cidr": "10.0.1.0/24", "except": ["10.0.1.11/32"]},
    {"cidr": "10.0.3.10/32"},
    {"cidr": "0.0.0.0/0", "except": ["10.0.1.0/24", "10.0.3.0/24"]},
    {"cidr": "203.0.113.0/24"},
    {"cidr": "fd00:10::/32", "except": ["fd00:10:0:2::/64"]},
)


def _selector(rng: random.Random, key: str, values: tuple[str, ...]) -> dict[str, Any]:
    kind = rng.choice(("empty", "labels", "in", "notin", "exists"))
    if kind == "empty":
        return {}
    if kind == "labels":
        return {"matchLabels": {key: rng.choice(values)}}
    if kind == "exists":
        return {"matchExpressions": [{"key": key, "operator": "Exists"}]}
    chosen = sorted(rng.sample(values, rng.randint(1, 2)))
    op = "In" if kind == "in" else "NotIn"
    return {"matchExpressions": [{"key": key, "operator": op, "values": chosen}]}


def _peer(rng: random.Random) -> dict[str, Any]:
    kind = rng.choice(("pod", "ns", "both", "ip", "ip"))
    if kind == "ip":
        return {"ipBlock": dict(rng.choice(IP_BLOCKS))}
    peer: dict[str, Any] = {}
    if kind in ("pod", "both"):
        peer["podSelector"] = _selector(rng, "pod", PODS)
    if kind in ("ns", "both"):
        peer["namespaceSelector"] = _selector(rng, "ns", NAMESPACES)
    return peer


def _port(rng: random.Random) -> dict[str, Any]:
    protocol = rng.choice(("TCP", "UDP"))
    kind = rng.choice(("number", "name", "range", "any"))
    if kind == "any":
        return {"protocol": protocol}
    if kind == "name":
        return {"protocol": protocol, "port": f"serve-{rng.choice((80, 81))}-{protocol.lower()}"}
    if kind == "range":
        return {"protocol": protocol, "port": 80, "endPort": rng.choice((80, 81, 90))}
    port: dict[str, Any] = {"port": rng.choice((80, 81))}
    if rng.random() < 0.7:  # sometimes leave protocol to its default (TCP)
        port["protocol"] = protocol
    else:
        port.pop("protocol", None)
    return port


def _rule(rng: random.Random, peers_field: str) -> dict[str, Any]:
    rule: dict[str, Any] = {}
    if rng.random() < 0.8:
        rule[peers_field] = [_peer(rng) for _ in range(rng.randint(1, 2))]
    if rng.random() < 0.7:
        rule["ports"] = [_port(rng) for _ in range(rng.randint(1, 2))]
    return rule


def random_policies(seed: int) -> list[dict[str, Any]]:
    """One to four policies; the same seed always gives the same set."""
    rng = random.Random(seed)
    policies = []
    for i in range(rng.randint(1, 4)):
        spec: dict[str, Any] = {"podSelector": _selector(rng, "pod", PODS)}
        if rng.random() < 0.8:
            spec["ingress"] = [_rule(rng, "from") for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.6:
            spec["egress"] = [_rule(rng, "to") for _ in range(rng.randint(0, 2))]
        if rng.random() < 0.6:
            spec["policyTypes"] = rng.choice((["Ingress"], ["Egress"], ["Ingress", "Egress"]))
        policies.append({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": f"random-{seed}-{i}", "namespace": rng.choice(NAMESPACES)},
            "spec": spec,
        })
    return policies
