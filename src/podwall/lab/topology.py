"""The lab's cluster on paper: nodes, namespaces, pods with IPs and ports, external hosts.

Pure: no namespace is touched here. `default_topology()` is upstream's e2e model (namespaces
x, y, z × pods a, b, c over two nodes); `load_topology(path)` reads the same from YAML, and
`topology_manifests()` prints it as kubectl would, so `podwall.assemble` gives the core's view.

YAML schema (every key shown; `namespaces`, `pods` and `externals` may be empty; YAML anchors
help repeat port lists, see `topologies/upstream-e2e.yaml`):

    nodes:                  # each node is a network namespace that routes its pods
      - {name: node-1, ipv4: 198.51.100.1, ipv6: "2001:db8:ffff::1"}
    namespaces:
      - {name: x, labels: {ns: x}}
    pods:
      - namespace: x        # must be declared above
        name: a
        node: node-1        # must be declared above
        labels: {pod: a}
        ipv4: 10.0.1.10
        ipv6: "fd00:10:0:1::10"
        ports:              # served by the pod's agent; protocol TCP, UDP or SCTP
          - {name: serve-80-tcp, port: 80, protocol: TCP}
    externals:              # hosts outside the cluster (lab namespaces too); serve every port
      - {name: ext, ipv4: 203.0.113.10, ipv6: "2001:db8:203::10"}

Nodes and externals share one L2 fabric; each sits in its address's /24 and /64 (its "fabric
network"), so pod addresses must lie outside those networks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import yaml

from podwall.lab.errors import LabError, TopologyError
from podwall.lab.schema import parse_topology_document
from podwall.model import Labels

__all__ = [
    "BUNDLED",
    "DEFAULT_TOPOLOGY_FILE",
    "LabExternal",
    "LabNamespace",
    "LabNode",
    "LabPod",
    "LabPort",
    "Topology",
    "default_topology",
    "dump_topology",
    "load_topology",
    "parse_topology",
    "resolve_topology",
    "topology_manifests",
]

DEFAULT_TOPOLOGY_FILE = Path(__file__).parent / "topologies" / "upstream-e2e.yaml"
CONTAINER_NAME = "agent"


class LabPort(NamedTuple):
    name: str
    port: int
    protocol: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LabNode:
    name: str
    ipv4: str
    ipv6: str


@dataclass(frozen=True, slots=True, kw_only=True)
class LabNamespace:
    name: str
    labels: Labels = field(default_factory=Labels)


@dataclass(frozen=True, slots=True, kw_only=True)
class LabPod:
    namespace: str
    name: str
    labels: Labels
    node: str
    ipv4: str
    ipv6: str
    ports: tuple[LabPort, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def ip(self, family: int) -> str:
        return self.ipv4 if family == 4 else self.ipv6


@dataclass(frozen=True, slots=True, kw_only=True)
class LabExternal:
    name: str
    ipv4: str
    ipv6: str

    @property
    def key(self) -> str:
        return self.name

    def ip(self, family: int) -> str:
        return self.ipv4 if family == 4 else self.ipv6


@dataclass(frozen=True, slots=True, kw_only=True)
class Topology:
    nodes: tuple[LabNode, ...]
    namespaces: tuple[LabNamespace, ...] = ()
    pods: tuple[LabPod, ...] = ()
    externals: tuple[LabExternal, ...] = ()

    def node(self, name: str) -> LabNode:
        return next(n for n in self.nodes if n.name == name)

    def pod(self, key: str) -> LabPod | None:
        return next((p for p in self.pods if p.key == key), None)

    def external(self, name: str) -> LabExternal | None:
        return next((e for e in self.externals if e.name == name), None)

    def sorted_pods(self) -> tuple[LabPod, ...]:
        """Pods in the order the core's matrix uses: by namespace, then name."""
        return tuple(sorted(self.pods, key=lambda p: (p.namespace, p.name)))

    def served_ports(self) -> tuple[LabPort, ...]:
        """Every (port, protocol) some pod serves: what external hosts serve too."""
        found = {(p.port, p.protocol) for pod in self.pods for p in pod.ports}
        return tuple(
            LabPort(f"serve-{port}-{proto.lower()}", port, proto) for port, proto in sorted(found)
        )


def default_topology(sctp: bool = False) -> Topology:
    """Upstream's e2e model: x, y, z × a, b, c on node-1/node-2, ports 80 and 81."""
    protocols = ("TCP", "UDP", "SCTP") if sctp else ("TCP", "UDP")
    ports = tuple(
        LabPort(f"serve-{port}-{proto.lower()}", port, proto)
        for port in (80, 81)
        for proto in protocols
    )
    names = ("x", "y", "z")
    pods = []
    for ns_index, ns in enumerate(names):
        for pod_index, pod in enumerate(("a", "b", "c")):
            pods.append(
                LabPod(
                    namespace=ns,
                    name=pod,
                    labels=Labels({"pod": pod}),
                    node=f"node-{(ns_index * 3 + pod_index) % 2 + 1}",
                    ipv4=f"10.0.{ns_index + 1}.{pod_index + 10}",
                    ipv6=f"fd00:10:0:{ns_index + 1}::{pod_index + 10}",
                    ports=ports,
                )
            )
    return Topology(
        nodes=(
            LabNode(name="node-1", ipv4="198.51.100.1", ipv6="2001:db8:ffff::1"),
            LabNode(name="node-2", ipv4="198.51.100.2", ipv6="2001:db8:ffff::2"),
        ),
        namespaces=tuple(LabNamespace(name=n, labels=Labels({"ns": n})) for n in names),
        pods=tuple(pods),
        externals=(LabExternal(name="ext", ipv4="203.0.113.10", ipv6="2001:db8:203::10"),),
    )


BUNDLED = Path(__file__).parent / "topologies"


def resolve_topology(choice: str | None) -> Topology:
    """A bundled topology by name (examples, upstream-e2e, ...), a topology file, or with
    None the default; anything else is a LabError naming the bundled ones."""
    if choice is None:
        return default_topology()
    bundled = BUNDLED / f"{choice}.yaml"
    if bundled.is_file():
        return load_topology(bundled)
    if Path(choice).is_file():
        return load_topology(choice)
    names = ", ".join(sorted(p.stem for p in BUNDLED.glob("*.yaml")))
    raise LabError(f"--topology {choice!r} is neither a bundled topology ({names}) nor a file")


def load_topology(path: str | Path) -> Topology:
    """Read and validate a topology file; raises TopologyError naming every bad field."""
    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        reason = err.strerror if isinstance(err, OSError) else " ".join(str(err).split())
        raise TopologyError(str(path), [], reason=str(reason)) from err
    return parse_topology(document, source=str(path))


def parse_topology(document: Any, source: str = "topology") -> Topology:
    """A topology from its YAML/JSON form (the schema in this module's docstring)."""
    parsed, errors = parse_topology_document(document)
    if errors:
        raise TopologyError(source, errors)
    return Topology(
        nodes=tuple(LabNode(**n) for n in parsed["nodes"]),
        namespaces=tuple(
            LabNamespace(name=n["name"], labels=Labels(n["labels"])) for n in parsed["namespaces"]
        ),
        pods=tuple(_pod(p) for p in parsed["pods"]),
        externals=tuple(LabExternal(**e) for e in parsed["externals"]),
    )


def _pod(item: Mapping[str, Any]) -> LabPod:
    return LabPod(
        **{k: v for k, v in item.items() if k not in ("labels", "ports")},
        labels=Labels(item["labels"]),
        ports=tuple(LabPort(p["name"], p["port"], p["protocol"]) for p in item["ports"]),
    )


def dump_topology(topology: Topology) -> dict[str, Any]:
    """The YAML/JSON form `parse_topology` reads back (the lab's state file stores it)."""

    def address(item: LabNode | LabExternal) -> dict[str, Any]:
        return {"name": item.name, "ipv4": item.ipv4, "ipv6": item.ipv6}

    return {
        "nodes": [address(n) for n in topology.nodes],
        "namespaces": [{"name": n.name, "labels": n.labels.to_dict()} for n in topology.namespaces],
        "pods": [
            {
                "namespace": p.namespace,
                "name": p.name,
                "node": p.node,
                "labels": p.labels.to_dict(),
                "ipv4": p.ipv4,
                "ipv6": p.ipv6,
                "ports": [{"name": n, "port": num, "protocol": pr} for n, num, pr in p.ports],
            }
            for p in topology.pods
        ],
        "externals": [address(e) for e in topology.externals],
    }


def topology_manifests(topology: Topology) -> list[dict[str, Any]]:
    """The lab's Namespaces and Pods as `kubectl get -o yaml` prints them."""
    namespaces = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": ns.name, "labels": ns.labels.to_dict()},
        }
        for ns in topology.namespaces
    ]
    return namespaces + [_pod_manifest(pod, topology.node(pod.node)) for pod in topology.pods]


def _pod_manifest(pod: LabPod, node: LabNode) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": pod.name, "namespace": pod.namespace, "labels": pod.labels.to_dict()},
        "spec": {
            "nodeName": pod.node,
            "containers": [{"name": CONTAINER_NAME, "ports": _container_ports(pod.ports)}],
        },
        "status": {
            "phase": "Running",
            "hostIP": node.ipv4,
            "hostIPs": [{"ip": node.ipv4}, {"ip": node.ipv6}],
            "podIP": pod.ipv4,
            "podIPs": [{"ip": pod.ipv4}, {"ip": pod.ipv6}],
        },
    }


def _container_ports(ports: Iterable[LabPort]) -> list[dict[str, Any]]:
    return [{"name": n, "containerPort": num, "protocol": proto} for n, num, proto in ports]
