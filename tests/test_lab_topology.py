"""The lab's topology on paper: the default model, YAML files and their errors, and manifests
that the core reads as the same cluster. Pure: no root, no namespaces."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import yaml

from podwall.assemble import assemble
from podwall.lab import (
    DEFAULT_TOPOLOGY_FILE,
    TopologyError,
    default_topology,
    load_topology,
    parse_topology,
    topology_manifests,
)
from podwall.lab.topology import dump_topology
from podwall.model import NAMESPACE_NAME_LABEL
from podwall.semantics import compute_matrix

KEYS = ["x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c"]


def test_the_default_topology_is_upstreams_e2e_model():
    topology = default_topology()
    assert [p.key for p in topology.pods] == KEYS
    assert [(p.ipv4, p.ipv6) for p in topology.pods[:4]] == [
        ("10.0.1.10", "fd00:10:0:1::10"),
        ("10.0.1.11", "fd00:10:0:1::11"),
        ("10.0.1.12", "fd00:10:0:1::12"),
        ("10.0.2.10", "fd00:10:0:2::10"),
    ]
    assert [p.node for p in topology.pods] == ["node-1", "node-2"] * 4 + ["node-1"]
    assert topology.pod("y/b").labels == {"pod": "b"}
    assert [(n.name, n.labels) for n in topology.namespaces] == [
        ("x", {"ns": "x"}),
        ("y", {"ns": "y"}),
        ("z", {"ns": "z"}),
    ]
    assert [(n.name, n.ipv4, n.ipv6) for n in topology.nodes] == [
        ("node-1", "198.51.100.1", "2001:db8:ffff::1"),
        ("node-2", "198.51.100.2", "2001:db8:ffff::2"),
    ]
    assert [(e.name, e.ipv4, e.ipv6) for e in topology.externals] == [
        ("ext", "203.0.113.10", "2001:db8:203::10")
    ]


@pytest.mark.parametrize(
    ("sctp", "names"),
    [
        (False, ["serve-80-tcp", "serve-80-udp", "serve-81-tcp", "serve-81-udp"]),
        (
            True,
            [
                "serve-80-tcp",
                "serve-80-udp",
                "serve-80-sctp",
                "serve-81-tcp",
                "serve-81-udp",
                "serve-81-sctp",
            ],
        ),
    ],
    ids=["TCP and UDP by default", "SCTP only when asked for"],
)
def test_every_pod_serves_80_and_81(sctp: bool, names: list[str]):
    for pod in default_topology(sctp=sctp).pods:
        assert [p.name for p in pod.ports] == names
        assert {p.port for p in pod.ports} == {80, 81}
        assert all(p.name == f"serve-{p.port}-{p.protocol.lower()}" for p in pod.ports)


def test_the_bundled_file_equals_the_default_topology():
    assert load_topology(DEFAULT_TOPOLOGY_FILE) == default_topology()


@pytest.mark.parametrize("sctp", [False, True])
def test_a_topology_survives_its_own_dump(sctp: bool):
    topology = default_topology(sctp=sctp)
    assert parse_topology(dump_topology(topology)) == topology


def test_manifests_give_the_core_the_same_cluster():
    loaded = assemble([("lab", m) for m in topology_manifests(default_topology())])
    assert not loaded.invalid and not loaded.warnings
    cluster = loaded.cluster
    assert [p.key for p in cluster.pods] == KEYS
    x_b = cluster.pod("x/b")
    assert x_b.ips == ("10.0.1.11", "fd00:10:0:1::11")
    assert (x_b.node_name, x_b.host_ip) == ("node-2", "198.51.100.2")
    assert x_b.labels == {"pod": "b"}
    assert [(p.name, p.container_port, p.protocol) for p in x_b.ports] == [
        ("serve-80-tcp", 80, "TCP"),
        ("serve-80-udp", 80, "UDP"),
        ("serve-81-tcp", 81, "TCP"),
        ("serve-81-udp", 81, "UDP"),
    ]
    assert cluster.namespace("y").labels == {"ns": "y", NAMESPACE_NAME_LABEL: "y"}


def test_without_policies_the_core_allows_everything_in_the_lab():
    cluster = assemble([("lab", m) for m in topology_manifests(default_topology())]).cluster
    matrix = compute_matrix(cluster)
    assert [p.key for p in matrix.ports] == ["80/TCP", "80/UDP", "81/TCP", "81/UDP"]
    assert all(np.all(grid) for grid in matrix.allowed.values())


SMALL = """
nodes: [{name: n1, ipv4: 198.51.100.1, ipv6: "2001:db8:ffff::1"}]
namespaces: [{name: x, labels: {ns: x}}]
pods:
  - {namespace: x, name: a, node: n1, ipv4: 10.0.1.10, ipv6: "fd00::10",
     ports: [{name: http, port: 80}]}
externals: [{name: ext, ipv4: 203.0.113.10, ipv6: "2001:db8:203::10"}]
"""


def test_a_small_topology_defaults_labels_and_protocol():
    topology = parse_topology(yaml.safe_load(SMALL))
    pod = topology.pod("x/a")
    assert pod.labels == {}
    assert pod.ports == (("http", 80, "TCP"),)
    assert topology.served_ports() == (("serve-80-tcp", 80, "TCP"),)


def _edit(path: str, value: object) -> dict:
    document = yaml.safe_load(SMALL)
    *parents, last = path.split(".")
    target = document
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return document


CASES = [
    (
        "a missing node list",
        _edit("nodes", None) | {"nodes": []},
        ["nodes: Required value: a lab needs at least one node"],
    ),
    ("an unknown field", _edit("pods.0.image", "nginx"), ['unknown field "pods[0].image"']),
    (
        "a missing address",
        {**yaml.safe_load(SMALL), "externals": [{"name": "ext"}]},
        ["externals[0].ipv4: Required value", "externals[0].ipv6: Required value"],
    ),
    (
        "an IPv4 address that is not one",
        _edit("pods.0.ipv4", "10.0.1.300"),
        ['pods[0].ipv4: Invalid value: "10.0.1.300": must be a valid IPv4 address'],
    ),
    (
        "an IPv6 address in the ipv4 field",
        _edit("nodes.0.ipv4", "2001:db8::1"),
        ['nodes[0].ipv4: Invalid value: "2001:db8::1": must be a valid IPv4 address'],
    ),
    (
        "a link-local address",
        _edit("pods.0.ipv6", "fe80::10"),
        [
            'pods[0].ipv6: Invalid value: "fe80::10": must not be a loopback, link-local, '
            "multicast or unspecified address (pods reach their node through 169.254.1.1 "
            "and fe80::1)"
        ],
    ),
    (
        "a port out of range",
        _edit("pods.0.ports.0", {"name": "http", "port": 70000}),
        ["pods[0].ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive"],
    ),
    (
        "an unknown protocol",
        _edit("pods.0.ports.0", {"name": "http", "port": 80, "protocol": "ICMP"}),
        [
            'pods[0].ports[0].protocol: Unsupported value: "ICMP": supported values: "TCP", "UDP", '
            '"SCTP"'
        ],
    ),
    (
        "a bad port name",
        _edit("pods.0.ports.0", {"name": "http_1", "port": 80}),
        [
            'pods[0].ports[0].name: Invalid value: "http_1": must contain only alpha-numeric '
            "characters (a-z, 0-9), and hyphens (-)"
        ],
    ),
    (
        "a bad label value",
        _edit("namespaces.0.labels", {"ns": "not ok"}),
        [
            'namespaces[0].labels: Invalid value: "not ok": a valid label must be an empty '
            "string or consist of alphanumeric characters, '-', '_' or '.', and must start "
            "and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            "'12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?"
            "[A-Za-z0-9])?')"
        ],
    ),
    (
        "an undeclared namespace and node",
        _edit(
            "pods.0",
            {"namespace": "q", "name": "a", "node": "n9", "ipv4": "10.0.1.10", "ipv6": "fd00::10"},
        ),
        [
            'pods[0].namespace: Invalid value: "q": must be declared in namespaces',
            'pods[0].node: Invalid value: "n9": must be declared in nodes',
        ],
    ),
    (
        "a pod inside a node's fabric network",
        _edit("pods.0.ipv4", "198.51.100.50"),
        [
            'pods[0].ipv4: Invalid value: "198.51.100.50": must lie outside the /24 and /64 of '
            "every node and external host"
        ],
    ),
    (
        "an address used twice",
        _edit("externals.0.ipv4", "198.51.100.1"),
        ['externals[0].ipv4: Duplicate value: "198.51.100.1"'],
    ),
    (
        "a node named like another lab namespace",
        _edit("nodes.0.name", "fabric"),
        [
            'nodes[0].name: Invalid value: "fabric": must not be "fabric" or start with "pod-" or '
            '"ext-" (lab namespace names)',
            'pods[0].node: Invalid value: "n1": must be declared in nodes',
        ],
    ),
    (
        "two pods with one name",
        {
            **yaml.safe_load(SMALL),
            "pods": yaml.safe_load(SMALL)["pods"]
            + [{**yaml.safe_load(SMALL)["pods"][0], "ipv4": "10.0.1.11", "ipv6": "fd00::11"}],
        },
        ['pods[1].name: Duplicate value: "x/a"', 'pods[1]: Duplicate value: "pod-x-a"'],
    ),
    (
        "the same port twice",
        _edit("pods.0.ports", [{"name": "a", "port": 80}, {"name": "b", "port": 80}]),
        ['pods[0].ports[1]: Duplicate value: "80/TCP"'],
    ),
    (
        "a document that is not a mapping",
        ["nodes"],
        ["<document>: Invalid value: \"['nodes']\": must be a mapping"],
    ),
]


@pytest.mark.parametrize(("document", "errors"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_topologies_name_every_bad_field(document: object, errors: list[str]):
    with pytest.raises(TopologyError) as caught:
        parse_topology(document, source="lab.yaml")
    assert [e.render() for e in caught.value.errors] == errors
    assert str(caught.value).startswith('Topology "lab.yaml" is invalid: ')


def test_an_unreadable_file_says_why(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("nodes: [unclosed\n")
    with pytest.raises(TopologyError, match=r'Topology ".*bad.yaml" cannot be read: '):
        load_topology(bad)
    with pytest.raises(TopologyError, match="No such file or directory"):
        load_topology(tmp_path / "missing.yaml")


def test_the_schema_is_documented_with_a_loadable_example():
    import podwall.lab.topology as module

    doc = module.__doc__ or ""
    example = doc[doc.index("    nodes:") : doc.index("Nodes and externals")]
    parsed = parse_topology(yaml.safe_load(textwrap.dedent(example)))
    assert [p.key for p in parsed.pods] == ["x/a"]
