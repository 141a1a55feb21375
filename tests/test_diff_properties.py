"""Property tests for `podwall diff`'s fast path: on random clusters and random edits, the changes
it reports are exactly those of a naive comparison of two full `compute_matrix` results.

The fast path computes only the rows and columns a change can reach, unit by unit, and keeps the
changed cells sparse; these tests hold it to the plain answer: every pod pair, every port, both
sides computed whole. Edits cover what moves verdicts: policies added, removed and changed (same
key, new spec), pods relabeled, readdressed, moved to the host network, added and removed, and
namespaces relabeled. Policies come from tests/policy_generator.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from podwall.assemble import assemble
from podwall.defaults import default_namespace
from podwall.diff import ChangeGroup, compare, group_changes, summarize
from podwall.model import Cluster, ContainerPort, Direction, Labels, Namespace, NetworkPolicy, Pod
from podwall.semantics import Options, PortSpec, compute_matrix, isolating_policies
from podwall.semantics.matrix import ClassMatrix
from policy_generator import NAMESPACES, PODS, random_policies
from test_diff import _expand, _pairwise, _synthetic

PORTS = (PortSpec(80, "TCP"), PortSpec(81, "TCP"), PortSpec(80, "UDP"), PortSpec(90, "TCP"))
CONTAINER_PORTS = tuple(
    ContainerPort(name=f"serve-{n}-{proto.lower()}", container_port=n, protocol=proto)
    for n in (80, 81) for proto in ("TCP", "UDP")
)
EDITS = ("relabel pod", "readdress pod", "host network", "remove pod", "add pod",
         "relabel namespace", "change policies", "remove policies", "add policies")


def _policies(seed: int) -> tuple[NetworkPolicy, ...]:
    return assemble([("generated", m) for m in random_policies(seed)]).cluster.policies


def _pod(i: int, namespace: str, label: str, node: int) -> Pod:
    """As a workload's replica: ports by label, an address from its node's range."""
    return Pod(name=f"p{i}", namespace=namespace, labels=Labels({"pod": label}),
               node_name=f"n{node}", ips=(f"10.0.{node}.{i + 10}",),
               host_ip=f"198.51.100.{node}", ports=CONTAINER_PORTS[: 2 + PODS.index(label)])


@st.composite
def clusters(draw: st.DrawFn) -> Cluster:
    """Few labels and nodes over up to ten pods, so several pods often form one unit."""
    pods = [
        _pod(i, draw(st.sampled_from(NAMESPACES)), draw(st.sampled_from(PODS)),
             draw(st.integers(0, 1)))
        for i in range(draw(st.integers(1, 10)))
    ]
    namespaces = tuple(default_namespace(Namespace(name=n, labels=Labels({"ns": n})))
                       for n in NAMESPACES)
    seeds = draw(st.lists(st.integers(0, 10_000), min_size=1, max_size=2))
    policies = tuple(p for seed in seeds for p in _policies(seed))
    return Cluster(namespaces=namespaces, pods=tuple(pods), policies=policies)


def _edit(cluster: Cluster, edit: str, data: st.DataObject) -> Cluster:
    pods = list(cluster.pods)
    at = data.draw(st.integers(0, len(pods) - 1)) if pods else 0
    if edit == "relabel pod" and pods:
        pods[at] = replace(pods[at], labels=Labels({"pod": data.draw(st.sampled_from(PODS))}))
    elif edit == "readdress pod" and pods:
        pods[at] = replace(pods[at], ips=(data.draw(st.sampled_from(("10.0.1.11", "10.0.3.10",
                                                                     "fd00:10::5"))),))
    elif edit == "host network" and pods:
        pods[at] = replace(pods[at], host_network=True, node_name="n1", ips=("198.51.100.1",))
    elif edit == "remove pod" and pods:
        del pods[at]
    elif edit == "add pod":
        pods.append(_pod(50, data.draw(st.sampled_from(NAMESPACES)), "a", 1))
    elif edit == "relabel namespace":
        name = data.draw(st.sampled_from(NAMESPACES))
        namespaces = tuple(replace(n, labels=n.labels.with_items({"ns": "moved"}))
                           if n.name == name else n for n in cluster.namespaces)
        return replace(cluster, namespaces=namespaces)
    elif edit == "change policies" and cluster.policies:
        fresh = _policies(data.draw(st.integers(0, 10_000)))
        renamed = [replace(f, name=p.name, namespace=p.namespace)
                   for f, p in zip(fresh, cluster.policies, strict=False)]
        return replace(cluster, policies=(*renamed, *cluster.policies[len(renamed):]))
    elif edit == "remove policies":
        return replace(cluster, policies=cluster.policies[data.draw(st.integers(0, 2)):])
    elif edit == "add policies":
        added = _policies(data.draw(st.integers(10_001, 20_000)))
        return replace(cluster, policies=cluster.policies + added)
    return replace(cluster, pods=tuple(pods))


def _edited(cluster: Cluster, edits: list[str], data: st.DataObject) -> Cluster:
    for edit in edits:
        cluster = _edit(cluster, edit, data)
    return cluster


edit_lists = st.lists(st.sampled_from(EDITS), min_size=1, max_size=3)
option_sets = st.builds(Options, ipblock_matches_cluster=st.booleans(),
                        allow_node_local=st.booleans())


def _naive(old: Cluster, new: Cluster, options: Options):
    def side(cluster: Cluster):
        m = compute_matrix(cluster, PORTS, options)
        return {"pods": list(m.pods), "allowed": {k: v.tolist() for k, v in m.allowed.items()}}

    return _pairwise(side(old), side(new))


def _grouped_by_hand(cells: set[tuple[str, str, str]], pods: dict[str, Pod]) -> set:
    """The documented grouping, done from pod-level cells: per port and namespace pair, label
    set pairs with their pods and counts; ports with equal contents share a group."""
    found: dict = defaultdict(lambda: defaultdict(lambda: defaultdict(lambda: [set(), set(), 0])))
    for src, dst, port in cells:
        s, d = pods[src], pods[dst]
        entry = found[port][(s.namespace, d.namespace)][(s.labels, d.labels)]
        entry[0].add(src)
        entry[1].add(dst)
        entry[2] += 1
    ports_of: dict = defaultdict(set)
    for port, by_namespaces in found.items():
        for ns_pair, pairs in by_namespaces.items():
            content = frozenset((labels, frozenset(a), frozenset(b), n)
                                for labels, (a, b, n) in pairs.items())
            ports_of[(ns_pair, content)].add(port)
    return {(ns_pair, frozenset(ports), content) for (ns_pair, content), ports in ports_of.items()}


def _as_grouped(groups: tuple[ChangeGroup, ...]) -> set:
    return {
        ((g.from_namespace, g.to_namespace), frozenset(p for r in g.ports for p in _expand(r)),
         frozenset(((pair.source.labels, pair.destination.labels), frozenset(pair.source.pods),
                    frozenset(pair.destination.pods), pair.connections) for pair in g.pairs))
        for g in groups
    }


def _blame_pod_by_pod(changes) -> dict[str, list[frozenset[str]]]:
    """The blame as `isolating_policies` gives it, one pod of each unit asked."""
    gone = set(changes.policies.removed + changes.policies.changed)
    came = set(changes.policies.added + changes.policies.changed)
    before = tuple(p for p in changes.old.policies if p.key in gone)
    after = tuple(p for p in changes.new.policies if p.key in came)
    first = {u: i for i, u in reversed(list(enumerate(changes.unit_of_pod.tolist())))}
    return {
        name: [
            frozenset(p.key for pod, versions in ((changes.pods_old[first[u]], before),
                                                  (changes.pods_new[first[u]], after))
                      for p in isolating_policies(pod, d, versions))
            for u in range(changes.unit_count)
        ]
        for name, d in (("egress", Direction.EGRESS), ("ingress", Direction.INGRESS))
    }


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=clusters(), edits=edit_lists, options=option_sets, data=st.data())
def test_fast_diff_equals_two_full_matrices_compared_pod_by_pod(old, edits, options, data):
    new = _edited(old, edits, data)
    changes = compare(old, new, PORTS, options)
    expected = _naive(old, new, options)

    assert (changes.cells("opened"), changes.cells("closed")) == expected
    report = summarize(changes)
    assert _as_grouped(report.opened) == _grouped_by_hand(expected[0], {p.key: p for p in new.pods})
    assert _as_grouped(report.closed) == _grouped_by_hand(expected[1], {p.key: p for p in old.pods})
    assert {k: list(v) for k, v in changes.blame.items()} == _blame_pod_by_pod(changes)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=clusters(), edits=edit_lists, data=st.data())
def test_sparse_grouping_equals_grouping_of_dense_grids(old, edits, data):
    changes = compare(old, _edited(old, edits, data), PORTS)
    weights = changes.weights()
    report = summarize(changes)
    assert report.opened == group_changes(changes.opened, PORTS, changes.units("new"), weights,
                                          changes.blame)
    assert report.closed == group_changes(changes.closed, PORTS, changes.units("old"), weights,
                                          changes.blame)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cluster=clusters(), options=option_sets, data=st.data())
def test_any_block_of_the_class_matrix_equals_the_same_block_of_the_whole(cluster, options, data):
    classes = ClassMatrix(cluster, options, cluster.pods)
    subset = st.lists(st.integers(0, classes.size - 1), max_size=classes.size)
    rows = np.array(data.draw(subset), dtype=np.intp)
    cols = np.array(data.draw(subset), dtype=np.intp)
    for port in PORTS:
        whole = classes.block(port)
        assert np.array_equal(classes.block(port, rows=rows), whole[rows])
        assert np.array_equal(classes.block(port, cols=cols), whole[:, cols])
        assert np.array_equal(classes.block(port, rows, cols), whole[np.ix_(rows, cols)])


def test_a_change_to_few_policies_computes_few_rows_and_columns(monkeypatch):
    """The point of the fast path: the benchmark's change (5% of policies) must not reach most
    of the matrix, or diff is as slow as two full matrices again."""
    old, new = _synthetic(400, 80)
    asked: list[int] = []
    block = ClassMatrix.block

    def spy(self, port, rows=None, cols=None):
        asked.append(len(rows) if rows is not None else len(cols) if cols is not None else -1)
        return block(self, port, rows, cols)

    monkeypatch.setattr(ClassMatrix, "block", spy)
    changes = compare(old, new)
    assert -1 not in asked, "a whole matrix was computed"
    assert max(asked) < changes.unit_count // 4, (max(asked), changes.unit_count)
