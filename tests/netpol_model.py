"""The upstream e2e netpol model (namespaces x, y, z × pods a, b, c) and its case catalogue.

Builds, for one step of a case in tests/data/conformance/, the manifests of the whole cluster
(namespaces, pods with IPs and named ports over two nodes, and the step's policies with IP
placeholders filled in), and reads the expected truth tables.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CONFORMANCE_DIR = Path(__file__).parent / "data" / "conformance"
NAMESPACES = ("x", "y", "z")
POD_NAMES = ("a", "b", "c")
POD_KEYS = tuple(f"{ns}/{pod}" for ns in NAMESPACES for pod in POD_NAMES)
PROTOCOLS = ("TCP", "UDP", "SCTP")
PORTS = (80, 81)


def pod_ip(key: str) -> str:
    ns, pod = key.split("/")
    return f"10.0.{NAMESPACES.index(ns) + 1}.{POD_NAMES.index(pod) + 10}"


def node_of(key: str) -> str:
    return f"node-{POD_KEYS.index(key) % 2 + 1}"


_PLACEHOLDER = re.compile(r"\{\{(ip|cidr) ([a-z]/[a-z])(?: /(\d+))?\}\}")


def fill_placeholders(text: str) -> str:
    def substitute(match: re.Match[str]) -> str:
        kind, key, bits = match.groups()
        if kind == "ip":
            return pod_ip(key)
        return str(ipaddress.ip_network(f"{pod_ip(key)}/{bits}", strict=False))

    return _PLACEHOLDER.sub(substitute, text)


def _pod_manifest(key: str, labels: dict[str, str]) -> dict[str, Any]:
    ns, name = key.split("/")
    ports = [
        {"name": f"serve-{port}-{proto.lower()}", "containerPort": port, "protocol": proto}
        for port in PORTS
        for proto in PROTOCOLS
    ]
    node = node_of(key)
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels},
        "spec": {"nodeName": node, "containers": [{"name": "cont", "ports": ports}]},
        "status": {
            "podIP": pod_ip(key),
            "podIPs": [{"ip": pod_ip(key)}],
            "hostIP": "198.51.100.1" if node == "node-1" else "198.51.100.2",
        },
    }


@dataclass(frozen=True)
class Probe:
    port: int
    protocol: str
    expect: tuple[str, ...]  # rows: from-pod in POD_KEYS order; '.' allowed, 'X' denied

    @property
    def key(self) -> str:
        return f"{self.port}/{self.protocol}"


@dataclass(frozen=True)
class Step:
    case: str
    index: int
    description: str
    manifests: tuple[dict[str, Any], ...]
    probes: tuple[Probe, ...]


def load_steps() -> list[Step]:
    """Every step of every case, each with the full cluster state it is probed in."""
    steps = []
    for path in sorted(CONFORMANCE_DIR.glob("*.yaml")):
        case = yaml.safe_load(fill_placeholders(path.read_text()))
        ns_labels = {ns: {"ns": ns, "kubernetes.io/metadata.name": ns} for ns in NAMESPACES}
        pod_labels = {key: {"pod": key.split("/")[1]} for key in POD_KEYS}
        for i, step in enumerate(case["steps"]):
            ns_labels.update(step.get("namespaceLabels") or {})
            pod_labels.update(step.get("podLabels") or {})
            manifests = [
                {
                    "apiVersion": "v1",
                    "kind": "Namespace",
                    "metadata": {"name": ns, "labels": ns_labels[ns]},
                }
                for ns in NAMESPACES
            ]
            manifests += [_pod_manifest(key, pod_labels[key]) for key in POD_KEYS]
            manifests += step.get("policies") or []
            probes = tuple(
                Probe(p["port"], p["protocol"], tuple(p["expect"])) for p in step["probes"]
            )
            steps.append(Step(path.stem, i, step.get("description", ""), tuple(manifests), probes))
    return steps


def mismatches(probe: Probe, pods: list[str], grid: list[list[bool]]) -> list[str]:
    """Every scored cell (the diagonal is not scored) where the grid disagrees with upstream."""
    order = [pods.index(key) for key in POD_KEYS]
    wrong = []
    for r, src in enumerate(POD_KEYS):
        for c, dst in enumerate(POD_KEYS):
            if r == c:
                continue
            expected = probe.expect[r][c] == "."
            actual = grid[order[r]][order[c]]
            if expected != actual:
                wrong.append(
                    f"{src} -> {dst} {probe.key}: expected "
                    f"{'allowed' if expected else 'denied'}, got "
                    f"{'allowed' if actual else 'denied'}"
                )
    return wrong
