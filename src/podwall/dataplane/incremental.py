"""`compile_ruleset` for a long-lived process: the same ruleset, from the last one's work.

Why: the node agent recompiles on every change, and at 1,000 pods and 1,000 policies a full
compile takes about 100 ms, most of it evaluating every set and every policy chain again. A
small change touches little, so `IncrementalCompiler` keeps what the last compile found and
redoes only what the change can affect:

- pods that changed only in labels or container ports: every pod-dependent set runs its recipe
  over just those pods (old and new), and the elements are patched; only those pods' isolating
  policies are looked up again;
- policies added, removed or changed (pods unchanged since the last full build): only the
  changed policies' selectors and chains are evaluated, with the kept set builder;
- anything else (namespaces, pods added, removed, moved or readdressed, options): a full compile.

A policy chain's text depends on the policy and on which of its sets are empty (an empty
family gets no line), so kept chains are reused only while those sets keep their emptiness.
The result is byte-identical to `compile_ruleset` on the same cluster; the property test in
tests/test_dataplane_incremental.py checks that over random change sequences. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np

from podwall.dataplane.compile import (
    ChainLines,
    Isolation,
    assemble_ruleset,
    chain_lines,
    policy_chains,
)
from podwall.dataplane.names import PodMatch
from podwall.dataplane.ruleset import NftSet, Ruleset
from podwall.dataplane.sets import SetBuilder
from podwall.model import Cluster, Direction, NetworkPolicy, Pod
from podwall.semantics.endpoints import ClusterIndex
from podwall.semantics.options import Options

__all__ = ["IncrementalCompiler"]

_DIRECTIONS = (Direction.EGRESS, Direction.INGRESS)


@dataclass(frozen=True, slots=True)
class _Chain:
    policy: NetworkPolicy
    lines: tuple[str, ...]
    touched: frozenset[str]


def _same_place(old: Pod, new: Pod) -> bool:
    """Only labels and container ports differ: addresses, node and kind are as they were."""
    return replace(old, labels=new.labels, ports=new.ports) == new


def _address_key(element: str) -> int:
    return int(ipaddress.ip_address(element.split(" . ", 1)[0]))


class IncrementalCompiler:
    """Compiles one node's ruleset again and again; `mode` says how the last call did it."""

    def __init__(
        self, node: str, options: Options | None = None, match: PodMatch = PodMatch.INTERFACE
    ) -> None:
        self.node = node
        self.options = options or Options()
        self.match = match
        self.mode = ""
        self._cluster: Cluster | None = None
        self._builder: SetBuilder | None = None  # valid while pods equal its own
        self._builder_pods: tuple[Pod, ...] = ()
        self._sets: dict[str, NftSet] = {}
        self._isolating: Isolation = {}
        self._chains: dict[tuple[str, Direction], _Chain] = {}
        self._subjects: dict[str, tuple[NetworkPolicy, np.ndarray]] = {}
        self._by_namespace: defaultdict[str, set[str]] = defaultdict(set)  # policy keys
        self._flipped: set[str] = set()  # sets that became empty or non-empty since last time

    def compile(self, cluster: Cluster) -> Ruleset:
        last = self._cluster
        result: Ruleset | None = None
        if last is not None and cluster.namespaces == last.namespaces:
            if cluster.policies == last.policies:
                result = self._pods_changed(last, cluster)
            elif cluster.pods == self._builder_pods:
                result = self._policies_changed(cluster)
        if result is None:
            result = self._full(cluster)
        self._cluster = cluster
        return result

    # -- full ------------------------------------------------------------------------------

    def _full(self, cluster: Cluster) -> Ruleset:
        self.mode = "full"
        builder = SetBuilder(cluster, self.options)
        self._builder, self._builder_pods = builder, tuple(cluster.pods)
        self._sets = builder.sets
        self._subjects = {p.key: (p, builder.table.subjects(p)) for p in cluster.policies}
        self._by_namespace = defaultdict(set)
        for policy in cluster.policies:
            self._by_namespace[policy.namespace].add(policy.key)
        keys = sorted(self._subjects)
        matrix = np.array([self._subjects[k][1] for k in keys], dtype=bool).reshape(
            len(keys), len(builder.pods)
        )
        self._isolating = {}
        for i, pod in enumerate(builder.pods):
            if pod.node_name == self.node and not pod.host_network:
                self._isolate(pod, [keys[k] for k in np.flatnonzero(matrix[:, i])])
        self._chains = {}
        return self._assemble(builder)

    def _isolate(self, pod: Pod, selecting: list[str]) -> None:
        """Record which policies isolate `pod` (when it is one of this node's pods), given the
        keys of the policies selecting it."""
        for direction in _DIRECTIONS:
            self._isolating.pop((pod.key, direction), None)
        if pod.node_name != self.node or pod.host_network:
            return
        chosen = sorted((self._subjects[k][0] for k in selecting), key=lambda p: p.key)
        for direction in _DIRECTIONS:
            keys = tuple(p.key for p in chosen if p.has_type(direction))
            if keys:
                self._isolating[pod.key, direction] = (pod, keys)

    def _assemble(self, builder: SetBuilder | None) -> Ruleset:
        """Chains for every isolating policy, reusing kept chains whose sets kept their
        emptiness; `builder` builds any set not seen yet (None: every set must be known)."""
        lines: ChainLines = {}
        kept: dict[tuple[str, Direction], _Chain] = {}
        policies = {key: policy for key, (policy, _) in self._subjects.items()}
        for policy, direction in policy_chains(self._isolating, policies):
            key = (policy.key, direction)
            chain = self._chains.get(key)
            if chain is None or chain.policy != policy or chain.touched & self._flipped:
                chain = self._make_chain(builder, policy, direction)
            kept[key] = chain
            lines[key] = (chain.lines, chain.touched)
        self._chains = kept
        self._flipped = set()
        return assemble_ruleset(self._sets, self._isolating, lines, self.options, self.match)

    def _make_chain(
        self, builder: SetBuilder | None, policy: NetworkPolicy, direction: Direction
    ) -> _Chain:
        if builder is None:
            builder = _KnownSets(self._sets)
        else:
            builder.sets = self._sets
        text, touched = chain_lines(builder, policy, direction)
        return _Chain(policy, text, touched)

    # -- pods ------------------------------------------------------------------------------

    def _pods_changed(self, last: Cluster, cluster: Cluster) -> Ruleset | None:
        if len(cluster.pods) != len(last.pods):
            return None
        before = {p.key: p for p in last.pods}
        changed: list[tuple[Pod, Pod]] = []
        for pod in cluster.pods:
            old = before.get(pod.key)
            if old is None or not (old is pod or _same_place(old, pod)):
                return None
            if old is not pod and old != pod:
                changed.append((old, pod))
        self.mode = "pods"
        if changed:
            self._patch_sets(last, cluster, changed)
            self._patch_isolation(cluster, [new for _, new in changed])
        try:
            return self._assemble(None)
        except _UnknownSet:
            return None

    def _mini(self, cluster: Cluster, pods: list[Pod]) -> SetBuilder:
        """A set builder over just `pods`, to run recipes on."""
        index = ClusterIndex(cluster, {ns.name: ns.labels for ns in cluster.namespaces})
        return SetBuilder(cluster, self.options, pods=pods, index=index)

    def _patch_sets(self, last: Cluster, cluster: Cluster, changed: list[tuple[Pod, Pod]]) -> None:
        assert self._builder is not None
        old = self._mini(last, [o for o, _ in changed])
        new = self._mini(cluster, [n for _, n in changed])
        namespaces = {pod.namespace for _, pod in changed}
        scopes = self._builder.scopes
        for name, recipe in self._builder.recipes.items():
            if scopes[name] is not None and scopes[name] not in namespaces:
                continue  # reads only another namespace's pods
            gone, came = recipe(old), recipe(new)
            if gone == came:
                continue
            current = self._sets[name]
            elements = (set(current.elements) - set(gone)) | set(came)
            self._sets[name] = replace(current, elements=tuple(sorted(elements, key=_address_key)))
            if bool(elements) != bool(current.elements):
                self._flipped.add(name)

    def _patch_isolation(self, cluster: Cluster, pods: list[Pod]) -> None:
        mini = self._mini(cluster, pods)
        for i, pod in enumerate(pods):
            candidates = self._by_namespace.get(pod.namespace, ())
            self._isolate(
                pod, [k for k in candidates if mini.table.subjects(self._subjects[k][0])[i]]
            )

    # -- policies --------------------------------------------------------------------------

    def _policies_changed(self, cluster: Cluster) -> Ruleset:
        self.mode = "policies"
        builder = self._builder
        assert builder is not None
        now = {p.key: p for p in cluster.policies}
        affected = np.zeros(len(builder.pods), dtype=bool)
        for key in set(now) | set(self._subjects):
            policy, kept = now.get(key), self._subjects.get(key)
            if kept is not None and kept[0] == policy:
                continue
            if kept is not None:
                affected |= kept[1]
                del self._subjects[key]
                self._by_namespace[kept[0].namespace].discard(key)
            if policy is not None:
                self._subjects[key] = (policy, builder.table.subjects(policy))
                self._by_namespace[policy.namespace].add(key)
                affected |= self._subjects[key][1]
        for i in np.flatnonzero(affected):
            pod = builder.pods[i]
            candidates = self._by_namespace.get(pod.namespace, ())
            self._isolate(pod, [k for k in candidates if self._subjects[k][1][i]])
        return self._assemble(builder)


class _UnknownSet(LookupError):
    """A chain needs a set the last compile never built: only a full compile can build it."""


class _KnownOnly(dict[str, NftSet]):
    """The sets already built; asking whether an unknown one exists means it must be built."""

    def __contains__(self, name: object) -> bool:
        if not super().__contains__(name):
            raise _UnknownSet(name)
        return True


class _KnownSets(SetBuilder):
    """Answers set lookups from the sets already built, with no tables to build new ones: a
    chain that needs a set nobody built yet (a pod change brought in a policy no local pod
    used before) makes the caller fall back to a full compile."""

    def __init__(self, sets: dict[str, NftSet]) -> None:
        self.sets = _KnownOnly(sets)
        self.recipes = {}
        self.touched = []
