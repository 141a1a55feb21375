"""Property tests: the vectorised matrix equals the single-flow decision on random clusters,
and every reason that names a rule names a real rule of a real policy."""

from __future__ import annotations

import re

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podwall.defaults import default_namespace, default_network_policy
from podwall.model import (
    Cluster,
    ContainerPort,
    IPBlock,
    Labels,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Peer,
    Pod,
    PolicyPort,
    Requirement,
    Rule,
)
from podwall.semantics import ClusterIndex, Flow, Options, PortSpec, compute_matrix, decide

KEYS = ("app", "tier", "team")
VALUES = ("a", "b", "c")
NAMESPACES = ("ns1", "ns2", "ns3")
PORTS = (PortSpec(80, "TCP"), PortSpec(81, "TCP"), PortSpec(53, "UDP"), PortSpec(8080, "SCTP"))

labels = st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=2).map(Labels)
requirement = st.builds(
    lambda key, op, values: Requirement(
        key=key, operator=op, values=tuple(values) if op in ("In", "NotIn") else ()),
    st.sampled_from(KEYS), st.sampled_from(("In", "NotIn", "Exists", "DoesNotExist")),
    st.lists(st.sampled_from(VALUES), min_size=1, max_size=2, unique=True),
)
selector = st.builds(
    lambda ml, me: LabelSelector(match_labels=ml, match_expressions=tuple(me)),
    st.dictionaries(st.sampled_from(KEYS), st.sampled_from(VALUES), max_size=1).map(Labels),
    st.lists(requirement, max_size=1),
)
ip_block = st.sampled_from([
    IPBlock(cidr="10.0.0.0/16"),
    IPBlock(cidr="10.0.0.0/16", except_=("10.0.1.0/24",)),
    IPBlock(cidr="10.0.2.0/24"),
    IPBlock(cidr="198.51.100.0/24"),
    IPBlock(cidr="0.0.0.0/0", except_=("10.0.0.0/8",)),
    IPBlock(cidr="fd00::/64"),
])
peer = st.one_of(
    st.builds(lambda p: Peer(pod_selector=p), selector),
    st.builds(lambda n: Peer(namespace_selector=n), selector),
    st.builds(lambda p, n: Peer(pod_selector=p, namespace_selector=n), selector, selector),
    st.builds(lambda b: Peer(ip_block=b), ip_block),
)
policy_port = st.one_of(
    st.builds(lambda proto: PolicyPort(protocol=proto), st.sampled_from(("TCP", "UDP", "SCTP"))),
    st.builds(lambda n, proto: PolicyPort(protocol=proto, port=n),
              st.sampled_from((53, 80, 81, 8080)), st.sampled_from(("TCP", "UDP", "SCTP"))),
    st.builds(lambda lo, hi: PolicyPort(protocol="TCP", port=lo, end_port=hi),
              st.sampled_from((79, 80)), st.sampled_from((80, 81, 9000))),
    st.builds(lambda name, proto: PolicyPort(protocol=proto, port=name),
              st.sampled_from(("http", "dns", "alt")), st.sampled_from(("TCP", "UDP", "SCTP"))),
)
rule = st.builds(lambda ports, peers: Rule(ports=tuple(ports), peers=tuple(peers)),
                 st.lists(policy_port, max_size=2), st.lists(peer, max_size=2))


@st.composite
def policies(draw: st.DrawFn, index: int) -> NetworkPolicy:
    types = draw(st.sampled_from([(), ("Ingress",), ("Egress",), ("Ingress", "Egress")]))
    return default_network_policy(NetworkPolicy(
        name=f"p{index}", namespace=draw(st.sampled_from(NAMESPACES)),
        pod_selector=draw(selector), policy_types=types,
        ingress=tuple(draw(st.lists(rule, max_size=2))),
        egress=tuple(draw(st.lists(rule, max_size=2))),
    ))


named_ports = st.lists(st.sampled_from([
    ContainerPort(name="http", container_port=80), ContainerPort(name="http", container_port=81),
    ContainerPort(name="alt", container_port=8080, protocol="SCTP"),
    ContainerPort(name="dns", container_port=53, protocol="UDP"),
]), max_size=2, unique_by=lambda p: p.name)


@st.composite
def clusters(draw: st.DrawFn) -> Cluster:
    namespaces = tuple(default_namespace(Namespace(name=n, labels=draw(labels)))
                       for n in NAMESPACES)
    pods = []
    for i in range(draw(st.integers(1, 7))):
        host_network = draw(st.booleans()) and draw(st.booleans())
        node = draw(st.sampled_from(("n1", "n2")))
        ip_kind = draw(st.sampled_from(("v4", "v4", "v4", "v6", "none")))
        ips = {"v4": (f"10.0.{i % 3}.{i + 10}",), "v6": (f"fd00::{i + 1}",), "none": ()}[ip_kind]
        if host_network:
            ips = ("198.51.100.1",) if node == "n1" else ("198.51.100.2",)
        pods.append(Pod(name=f"pod{i}", namespace=draw(st.sampled_from(NAMESPACES)),
                        labels=draw(labels), node_name=node, host_network=host_network, ips=ips,
                        host_ip="198.51.100.1" if node == "n1" else "198.51.100.2",
                        ports=tuple(draw(named_ports))))
    pols = tuple(draw(policies(i)) for i in range(draw(st.integers(0, 5))))
    return Cluster(namespaces=namespaces, pods=tuple(pods), policies=pols)


option_sets = st.builds(Options, ipblock_matches_cluster=st.booleans(),
                        allow_node_local=st.booleans())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster=clusters(), options=option_sets)
def test_vectorised_matrix_equals_single_flow_decisions(cluster: Cluster, options: Options):
    matrix = compute_matrix(cluster, PORTS, options)
    index = ClusterIndex.build(cluster)
    endpoints = [index.pod_endpoint(p) for p in cluster.pods]
    for spec in PORTS:
        grid = matrix.allowed[spec.key]
        for i, src in enumerate(endpoints):
            for j, dst in enumerate(endpoints):
                flow = Flow(src=src, dst=dst, protocol=spec.protocol, port=spec.port)
                decision = decide(flow, index, options)
                assert bool(grid[i, j]) == decision.allowed, (flow.render(), decision)


_PATH = re.compile(r"^spec\.(ingress|egress)\[(\d+)\](?:\.(from|to|ports)(?:\[(\d+)\])?)?$")


def _names_real_rule(path: str, policy: NetworkPolicy) -> bool:
    match = _PATH.match(path)
    if match is None:
        return path in ("spec.ingress", "spec.egress")
    direction, rule_i, field, item_i = match.groups()
    rules = policy.ingress if direction == "ingress" else policy.egress
    if int(rule_i) >= len(rules):
        return False
    if field is None or item_i is None:
        return True
    items = rules[int(rule_i)].ports if field == "ports" else rules[int(rule_i)].peers
    return int(item_i) < len(items)


@settings(max_examples=200, deadline=None)
@given(cluster=clusters(), options=option_sets)
def test_every_reason_names_a_real_rule_of_a_real_policy(cluster: Cluster, options: Options):
    by_key = {p.key: p for p in cluster.policies}
    index = ClusterIndex.build(cluster)
    endpoints = [index.pod_endpoint(p) for p in cluster.pods]
    for src in endpoints:
        for dst in endpoints:
            decision = decide(Flow(src=src, dst=dst, protocol="TCP", port=80), index, options)
            for side in (decision.egress, decision.ingress):
                assert set(side.isolated_by) <= set(by_key)
                for reason in side.reasons:
                    if reason.policy:
                        assert reason.policy in side.isolated_by
                        assert _names_real_rule(reason.path, by_key[reason.policy]), reason
