"""The incremental compiler gives byte for byte what a full compile gives, whatever the
sequence of changes, and really takes its incremental paths on small changes."""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace

import pytest

from podwall.assemble import assemble
from podwall.dataplane.compile import compile_ruleset
from podwall.dataplane.incremental import IncrementalCompiler
from podwall.dataplane.names import PodMatch
from podwall.dataplane.ruleset import render_ruleset
from podwall.lab.topology import default_topology, topology_manifests
from podwall.model import Cluster, ContainerPort, Labels, Namespace
from podwall.semantics import Options
from policy_generator import random_policies


def _lab_cluster() -> Cluster:
    manifests = topology_manifests(default_topology())
    return assemble([("topology", m) for m in manifests]).cluster


def _policies(seed: int) -> tuple:
    return assemble([("p", m) for m in random_policies(seed)]).cluster.policies


def _relabel(cluster: Cluster, rng: random.Random) -> Cluster:
    pod = rng.choice(cluster.pods)
    labels = dict(pod.labels)
    labels["pod"] = rng.choice(("a", "b", "c", "d"))
    if rng.random() < 0.3:
        labels["extra"] = "yes"
    pods = tuple(replace(p, labels=Labels(labels)) if p is pod else p for p in cluster.pods)
    return replace(cluster, pods=pods)


def _renumber(cluster: Cluster, rng: random.Random) -> Cluster:
    """A pod's named port now means another number (named-port sets change)."""
    pod = rng.choice(cluster.pods)
    ports = tuple(
        replace(port, container_port=port.container_port + 1000) if k == 0 else port
        for k, port in enumerate(pod.ports)
    ) or (ContainerPort(container_port=8080, name="serve-80-tcp"),)
    pods = tuple(replace(p, ports=ports) if p is pod else p for p in cluster.pods)
    return replace(cluster, pods=pods)


def _add_policies(cluster: Cluster, rng: random.Random) -> Cluster:
    fresh = _policies(rng.randint(0, 10_000))
    keep = [p for p in cluster.policies if p.key not in {f.key for f in fresh}]
    return replace(cluster, policies=tuple(sorted([*keep, *fresh], key=lambda p: p.key)))


def _remove_policy(cluster: Cluster, rng: random.Random) -> Cluster:
    if not cluster.policies:
        return cluster
    gone = rng.choice(cluster.policies)
    return replace(cluster, policies=tuple(p for p in cluster.policies if p is not gone))


def _edit_policy(cluster: Cluster, rng: random.Random) -> Cluster:
    """The same policy (same key) with another spec."""
    if not cluster.policies:
        return cluster
    target = rng.choice(cluster.policies)
    other = _policies(rng.randint(0, 10_000))[0]
    edited = replace(other, name=target.name, namespace=target.namespace)
    return replace(
        cluster, policies=tuple(edited if p is target else p for p in cluster.policies)
    )


def _relabel_namespace(cluster: Cluster, rng: random.Random) -> Cluster:
    ns = rng.choice(cluster.namespaces)
    moved = replace(ns, labels=Labels({**ns.labels, "team": rng.choice(("red", "blue"))}))
    return replace(
        cluster, namespaces=tuple(moved if n is ns else n for n in cluster.namespaces)
    )


def _move_pod(cluster: Cluster, rng: random.Random) -> Cluster:
    pod = rng.choice(cluster.pods)
    node = "node-2" if pod.node_name == "node-1" else "node-1"
    pods = tuple(replace(p, node_name=node) if p is pod else p for p in cluster.pods)
    return replace(cluster, pods=pods)


CHANGES = {
    "relabel a pod": (_relabel, 6),
    "renumber a named port": (_renumber, 2),
    "add or replace policies": (_add_policies, 4),
    "remove a policy": (_remove_policy, 2),
    "edit a policy": (_edit_policy, 2),
    "relabel a namespace": (_relabel_namespace, 1),
    "move a pod to the other node": (_move_pod, 1),
}


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize(
    ("options", "match"),
    [
        (Options(), PodMatch.INTERFACE),
        (Options(ipblock_matches_cluster=False), PodMatch.INTERFACE),
        (Options(allow_node_local=False), PodMatch.ADDRESS),
    ],
    ids=["ipblocks-match-pods", "ipblocks-outside-only", "pods-by-address"],
)
def test_incremental_compile_equals_a_full_compile_after_every_change(seed, options, match):
    rng = random.Random(seed)
    cluster = replace(_lab_cluster(), policies=_policies(seed))
    compilers = {
        node: IncrementalCompiler(node, options, match) for node in ("node-1", "node-2")
    }
    modes: Counter[str] = Counter()
    names, weights = zip(*((name, w) for name, (_, w) in CHANGES.items()), strict=True)
    for step in range(30):
        name = rng.choices(names, weights)[0]
        cluster = CHANGES[name][0](cluster, rng)
        for node, compiler in compilers.items():
            got = compiler.compile(cluster)
            want = compile_ruleset(cluster, node, options, match)
            assert render_ruleset(got) == render_ruleset(want), f"step {step}: {name} on {node}"
            assert got == want
            modes[compiler.mode] += 1
    assert modes["pods"] and modes["policies"], modes  # the incremental paths really ran


def test_each_kind_of_change_takes_the_path_it_should():
    cluster = replace(_lab_cluster(), policies=_policies(3))
    compiler = IncrementalCompiler("node-1")
    rng = random.Random(0)
    steps = [
        ("first compile", lambda c: c, "full"),
        ("a pod label", lambda c: _relabel(c, rng), "pods"),
        ("back to the built pods, then a new policy", lambda c: cluster, "pods"),
        ("a new policy", lambda c: _add_policies(c, rng), "policies"),
        ("a namespace label", lambda c: _relabel_namespace(c, rng), "full"),
        ("a pod on another node", lambda c: _move_pod(c, rng), "full"),
    ]
    current = cluster
    for what, change, mode in steps:
        current = change(current)
        compiler.compile(current)
        assert compiler.mode == mode, what


def test_a_namespace_that_appears_forces_a_full_compile():
    cluster = _lab_cluster()
    compiler = IncrementalCompiler("node-1")
    compiler.compile(cluster)
    grown = replace(cluster, namespaces=(*cluster.namespaces, Namespace(name="new")))
    assert compiler.compile(grown) == compile_ruleset(grown, "node-1")
    assert compiler.mode == "full"
