"""What the lab enforces, and making its nodes enforce it.

The lab's cluster is its topology (namespaces, pods) plus what users applied: NetworkPolicies
and label changes, kept in the state file (once the lab runs as a cluster, its API server holds
them instead: see `kubeapi`; `desired_cluster` reads either). Every change is validated as the
API server would before anything is stored; then each node's ruleset is compiled and applied
atomically. If any node refuses its update, nodes already updated are put back and the stored
objects restored: nothing is half-applied.
"""

from __future__ import annotations

import copy
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from podwall.assemble import Loaded, assemble
from podwall.dataplane import (
    ApplyError,
    DeniedFlow,
    NftApplier,
    Runner,
    compile_ruleset,
    netns_runner,
    read_counters,
    read_drops,
    ruleset_from_json,
    ruleset_to_json,
)
from podwall.decode import object_name
from podwall.encode import encode_object
from podwall.errors import InvalidObjects
from podwall.lab.errors import LabError
from podwall.lab.state import LabState, save_state
from podwall.lab.topology import topology_manifests
from podwall.model import Cluster, Direction, NetworkPolicy
from podwall.semantics import ClusterIndex, Options, isolating_policies

__all__ = [
    "DropReport",
    "apply_objects",
    "delete_objects",
    "desired_cluster",
    "enforce",
    "flush_connections",
    "lab_cluster",
    "lab_options",
    "read_lab_counters",
    "read_lab_drops",
    "relabel",
    "relabelled",
    "set_desired",
    "set_options",
    "validate_policies",
]

POLICIES, LABELS, NS_LABELS, OPTIONS, RULESETS = (
    "policies",
    "podLabels",
    "namespaceLabels",
    "options",
    "rulesets",
)
RunnerFor = Callable[[str], Runner]


def lab_options(state: LabState) -> Options:
    raw = state.data.get(OPTIONS, {})
    return Options(
        ipblock_matches_cluster=raw.get("ipblockMatchesCluster", True),
        allow_node_local=raw.get("allowNodeLocal", True),
    )


def set_options(state: LabState, options: Options) -> None:
    state.data[OPTIONS] = {
        "ipblockMatchesCluster": options.ipblock_matches_cluster,
        "allowNodeLocal": options.allow_node_local,
    }


def _manifests(state: LabState, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    manifests = copy.deepcopy(topology_manifests(state.known_topology()))
    for m in manifests:
        meta = m["metadata"]
        if m["kind"] == "Pod":
            meta["labels"] = data.get(LABELS, {}).get(
                f"{meta['namespace']}/{meta['name']}", meta.get("labels", {})
            )
        elif m["kind"] == "Namespace":
            meta["labels"] = data.get(NS_LABELS, {}).get(meta["name"], meta.get("labels", {}))
    return manifests + list(data.get(POLICIES, {}).values())


def _assemble(state: LabState, data: Mapping[str, Any]) -> Loaded:
    loaded = assemble([("lab", m) for m in _manifests(state, data)])
    if loaded.invalid:
        raise InvalidObjects(list(loaded.invalid))
    return loaded


def lab_cluster(state: LabState) -> Loaded:
    """The cluster as the state file holds it (a lab driven by `enforce`)."""
    return _assemble(state, state.data)


def desired_cluster(state: LabState) -> Cluster:
    """What the lab should enforce: the lab API's cluster when it runs as a cluster (its
    agents enforce), else the state file's."""
    from podwall.lab import kubeapi  # the kubernetes client, only when needed

    return kubeapi.api_cluster(state) if kubeapi.uses_api(state) else lab_cluster(state).cluster


def enforce(state: LabState, runner_for: RunnerFor = netns_runner) -> dict[str, str]:
    """Compile and apply every node's ruleset; node -> "replace"|"update"|"unchanged"."""
    nodes = state.known_topology().nodes
    cluster = lab_cluster(state).cluster
    options = lab_options(state)
    stored = state.data.setdefault(RULESETS, {})
    done: list[tuple[str, NftApplier, Any]] = []
    results = {}
    for node in nodes:
        last = stored.get(node.name)
        applier = NftApplier(
            runner_for(state.node_netns(node.name)), ruleset_from_json(last) if last else None
        )
        try:
            results[node.name] = applier.apply(compile_ruleset(cluster, node.name, options)).mode
        except ApplyError:
            for name, earlier, previous in done:  # put back the nodes already updated
                if previous is None:
                    earlier.remove()
                else:
                    earlier.apply(ruleset_from_json(previous))
                stored[name] = previous
            raise
        done.append((node.name, applier, last))
        stored[node.name] = ruleset_to_json(applier.last) if applier.last else None
    save_state(state)
    return results


def _commit(state: LabState, new_data: dict[str, Any], runner_for: RunnerFor) -> None:
    """Validate `new_data`, store it and enforce it; on any failure keep the old data."""
    _assemble(state, new_data)
    old = state.data
    state.data = new_data
    try:
        enforce(state, runner_for)
    except Exception:
        state.data = old
        save_state(state)
        raise


def validate_policies(manifests: Sequence[Mapping[str, Any]], default_ns: str) -> Loaded:
    loaded = assemble([("input", m) for m in manifests], default_ns=default_ns)
    if loaded.invalid:
        raise InvalidObjects(list(loaded.invalid))
    others = [o for o in loaded.objects if not isinstance(o, NetworkPolicy)]
    if others:
        raise LabError(
            "the lab's namespaces and pods come from its topology: apply "
            "NetworkPolicies only (change labels with `podwall lab label`)"
        )
    return loaded


def apply_objects(
    state: LabState,
    manifests: Sequence[Mapping[str, Any]],
    default_ns: str,
    runner_for: RunnerFor = netns_runner,
) -> list[str]:
    """Store and enforce NetworkPolicies; kubectl's one line per object."""
    loaded = validate_policies(manifests, default_ns)
    data = copy.deepcopy(state.data)
    policies = data.setdefault(POLICIES, {})
    lines = []
    for policy in (o for o in loaded.objects if isinstance(o, NetworkPolicy)):
        stored = encode_object(policy)
        before = policies.get(policy.key)
        verb = "created" if before is None else "unchanged" if before == stored else "configured"
        policies[policy.key] = stored
        lines.append(f"networkpolicy.networking.k8s.io/{policy.name} {verb}")
    _commit(state, data, runner_for)
    return lines


def delete_objects(
    state: LabState,
    manifests: Sequence[Mapping[str, Any]],
    default_ns: str,
    runner_for: RunnerFor = netns_runner,
) -> list[str]:
    data = copy.deepcopy(state.data)
    policies = data.setdefault(POLICIES, {})
    lines, missing = [], []
    for manifest in manifests:
        if manifest.get("kind") != "NetworkPolicy":
            continue
        key = object_name(manifest, default_ns)
        name = key.split("/", 1)[1]
        if policies.pop(key, None) is None:
            missing.append(f'networkpolicies.networking.k8s.io "{name}" not found')
        else:
            lines.append(f'networkpolicy.networking.k8s.io "{name}" deleted')
    if missing:
        raise LabError("Error from server (NotFound): " + "; ".join(missing))
    _commit(state, data, runner_for)
    return lines


def set_desired(
    state: LabState, policies: Sequence[Mapping[str, Any]],
    pod_labels: Mapping[str, Mapping[str, str]] | None = None,
    namespace_labels: Mapping[str, Mapping[str, str]] | None = None,
    runner_for: RunnerFor = netns_runner,
) -> None:
    """Replace everything users applied (policies, label changes) with exactly this, at once."""
    loaded = validate_policies(policies, "default")
    data = copy.deepcopy(state.data)
    data[POLICIES] = {p.key: encode_object(p) for p in loaded.objects
                      if isinstance(p, NetworkPolicy)}
    data[LABELS] = {k: dict(v) for k, v in (pod_labels or {}).items()}
    data[NS_LABELS] = {k: dict(v) for k, v in (namespace_labels or {}).items()}
    _commit(state, data, runner_for)


def relabelled(current: Mapping[str, str], assignments: Sequence[str]) -> dict[str, str]:
    labels = dict(current)
    for item in assignments:
        if item.endswith("-") and "=" not in item:
            labels.pop(item[:-1], None)
        elif "=" in item:
            key, _, value = item.partition("=")
            labels[key] = value
        else:
            raise LabError(f"{item!r}: write key=value to set a label, key- to remove it")
    return labels


def relabel(
    state: LabState,
    target: str,
    assignments: Sequence[str],
    *,
    namespace: bool = False,
    runner_for: RunnerFor = netns_runner,
) -> str:
    """Set (`k=v`) or remove (`k-`) labels of a lab pod (`ns/name`) or namespace."""
    data = copy.deepcopy(state.data)
    cluster = lab_cluster(state).cluster
    if namespace:
        ns = cluster.namespace(target)
        if ns is None:
            raise LabError(f'namespaces "{target}" not found')
        data.setdefault(NS_LABELS, {})[target] = relabelled(ns.labels, assignments)
        kind = "namespace"
    else:
        pod = cluster.pod(target)
        if pod is None:
            raise LabError(f'pods "{target}" not found (write ns/name)')
        data.setdefault(LABELS, {})[target] = relabelled(pod.labels, assignments)
        kind = "pod"
    _commit(state, data, runner_for)
    return f"{kind}/{target.split('/')[-1]} labeled"


def flush_connections(state: LabState) -> None:
    """Forget every tracked connection on every node, so established flows are judged again.

    NetworkPolicy leaves existing connections to the implementation; podwall keeps them (as
    nft and iptables engines do). A test or a user who wants a change to cut live flows calls
    this right after the change (`podwall lab apply --flush-conntrack`).
    """
    for node in state.known_topology().nodes:
        done = subprocess.run(["ip", "netns", "exec", state.node_netns(node.name),
                               "conntrack", "-F"], capture_output=True, text=True, check=False)
        if done.returncode != 0 and "flow entries have been deleted" not in done.stderr:
            raise LabError(f"conntrack -F on {node.name} failed: {done.stderr.strip()} "
                           "(Debian package: conntrack)")


@dataclass(frozen=True, slots=True)
class DropReport:
    node: str
    flow: DeniedFlow
    src: str  # ns/pod, node/<name> or the address
    dst: str
    isolated_by: tuple[str, ...]  # the policies isolating the pod whose direction denied it


def read_lab_drops(state: LabState, runner_for: RunnerFor = netns_runner) -> list[DropReport]:
    cluster = desired_cluster(state)
    index = ClusterIndex.build(cluster)
    reports = []
    for node in state.known_topology().nodes:
        for flow in read_drops(runner_for(state.node_netns(node.name))):
            src, dst = index.resolve(flow.src), index.resolve(flow.dst)
            subject = src if flow.direction == "egress" else dst
            direction = Direction.EGRESS if flow.direction == "egress" else Direction.INGRESS
            policies = (
                isolating_policies(subject.pod, direction, cluster.policies)
                if subject.pod is not None
                else ()
            )
            reports.append(
                DropReport(node.name, flow, src.label, dst.label, tuple(p.key for p in policies))
            )
    return reports


def read_lab_counters(
    state: LabState, runner_for: RunnerFor = netns_runner
) -> dict[str, dict[str, int]]:
    """node -> counter name -> denied packets."""
    return {
        node.name: {
            k: v[0] for k, v in read_counters(runner_for(state.node_netns(node.name))).items()
        }
        for node in state.known_topology().nodes
    }
