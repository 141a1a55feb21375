"""Checks on how policies are written: AND/OR peers, selectors that match nothing, rules that
policyTypes makes the plugin ignore, and named ports. Each check is one small pure function.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from podwall.lint.context import Context, RuleRef, policy_rules, shorten
from podwall.lint.findings import Finding
from podwall.model import DIRECTION_FIELDS, Direction, LabelSelector, NetworkPolicy, Peer
from podwall.model import SelectorOperator as Op

__all__ = [
    "check_and_or_confusion",
    "check_ignored_rules",
    "check_named_ports",
    "check_peer_matches_nothing",
    "check_policy_selects_nothing",
]


def _finding(code: str, policy: NetworkPolicy, path: str, message: str, fix: str) -> Finding:
    return Finding(
        code=code, kind="NetworkPolicy", name=policy.key, path=path, message=message, fix=fix
    )


def _yaml_selector(selector: LabelSelector, indent: str) -> str:
    """The selector's matchLabels as YAML lines (expressions are summarised in a comment)."""
    lines = [f"{indent}matchLabels:"] if selector.match_labels else []
    lines += [f"{indent}  {k}: {v}" for k, v in selector.match_labels.items()]
    if selector.match_expressions:
        lines.append(f"{indent}matchExpressions: [...]  # as before")
    return "\n".join(lines) or f"{indent}{{}}"


def _is_ns_only(peer: Peer) -> bool:
    return peer.namespace_selector is not None and peer.pod_selector is None


def _is_pod_only(peer: Peer) -> bool:
    return peer.pod_selector is not None and peer.namespace_selector is None


def check_and_or_confusion(ctx: Context) -> Iterator[Finding]:
    """PW002: `- namespaceSelector` and `- podSelector` as two items mean OR, rarely meant."""
    for policy in ctx.cluster.policies:
        for ref in policy_rules(policy):
            ns_items = [i for i, p in enumerate(ref.rule.peers) if _is_ns_only(p)]
            pod_items = [i for i, p in enumerate(ref.rule.peers) if _is_pod_only(p)]
            if not ns_items or not pod_items:
                continue
            ns_sel = ref.rule.peers[ns_items[0]].namespace_selector
            pod_sel = ref.rule.peers[pod_items[0]].pod_selector
            if ns_sel is None or pod_sel is None:  # excluded above; narrows the types
                continue
            field = DIRECTION_FIELDS[ref.direction][1]
            yield _finding(
                "PW002",
                policy,
                ref.peers_path,
                f"{ref.peers_path}[{ns_items[0]}] and [{pod_items[0]}] are separate peers, so "
                f"they are OR: every pod in namespaces {ns_sel.render()} is allowed, not only "
                f"pods {pod_sel.render()} there.",
                "If you meant pods matching both, put both selectors in ONE item:\n"
                f"{field}:\n- namespaceSelector:\n{_yaml_selector(ns_sel, '    ')}\n"
                f"  podSelector:\n{_yaml_selector(pod_sel, '    ')}",
            )


def check_policy_selects_nothing(ctx: Context) -> Iterator[Finding]:
    """PW003: a podSelector that selects no pod makes the whole policy dead."""
    if not ctx.has_pods:
        return
    for policy in ctx.cluster.policies:
        if ctx.table.subjects(policy).any():
            continue
        yield _finding(
            "PW003",
            policy,
            "spec.podSelector",
            f"podSelector {policy.pod_selector.render()} selects no pod in namespace "
            f"{policy.namespace}, so this policy neither isolates nor allows anything.",
            "Compare with `kubectl get pods -n "
            f"{policy.namespace} --show-labels` and fix the labels (podSelector is "
            "namespaced: the policy must live in the pods' namespace).",
        )


def _required_keys(selector: LabelSelector) -> set[str]:
    """Label keys an object must carry to match (NotIn/DoesNotExist match objects without)."""
    keys = set(selector.match_labels)
    keys |= {r.key for r in selector.match_expressions if r.operator in (Op.IN, Op.EXISTS)}
    return keys


def _unknown_ns_keys(ctx: Context, peer: Peer) -> list[str]:
    if peer.namespace_selector is None:
        return []
    known = {key for ns in ctx.cluster.namespaces for key in ns.labels}
    return sorted(_required_keys(peer.namespace_selector) - known)


def _has_declared_namespaces(ctx: Context) -> bool:
    return any(not ns.implied for ns in ctx.cluster.namespaces)


def check_peer_matches_nothing(ctx: Context) -> Iterator[Finding]:
    """PW004/PW005: peers whose selectors match no pod, or require unknown namespace labels."""
    for policy in ctx.cluster.policies:
        for ref in policy_rules(policy):
            for j, peer in enumerate(ref.rule.peers):
                if peer.ip_block is not None:
                    continue
                path = f"{ref.peers_path}[{j}]"
                unknown = _unknown_ns_keys(ctx, peer) if _has_declared_namespaces(ctx) else []
                if unknown:
                    yield _unknown_ns_finding(policy, path, unknown)
                elif ctx.has_pods and not ctx.table.peer(peer, policy.namespace).any():
                    yield _finding(
                        "PW004",
                        policy,
                        path,
                        "this peer matches no pod in the input, so it allows nothing.",
                        "Check the selectors against `kubectl get pods -A --show-labels` and "
                        "`kubectl get ns --show-labels`; a podSelector without "
                        "namespaceSelector only looks in the policy's own namespace.",
                    )


def _unknown_ns_finding(policy: NetworkPolicy, path: str, keys: list[str]) -> Finding:
    return _finding(
        "PW005",
        policy,
        f"{path}.namespaceSelector",
        f"no namespace carries the label key {', '.join(keys)}, so this peer matches no "
        "namespace and allows nothing.",
        "Label the namespace (`kubectl label ns NAME KEY=VALUE`) or select it by the label "
        "every namespace has:\nnamespaceSelector:\n  matchLabels:\n"
        "    kubernetes.io/metadata.name: NAME",
    )


def check_ignored_rules(ctx: Context) -> Iterator[Finding]:
    """PW006: rules of a direction policyTypes omits are stored but never enforced."""
    for policy in ctx.cluster.policies:
        for direction in (Direction.INGRESS, Direction.EGRESS):
            if not policy.rules(direction) or policy.has_type(direction):
                continue
            field = DIRECTION_FIELDS[direction][0]
            types = [*policy.policy_types, direction.value]
            yield _finding(
                "PW006",
                policy,
                f"spec.{field}",
                f"policyTypes is [{', '.join(policy.policy_types)}], so every plugin ignores "
                f"the {len(policy.rules(direction))} {field} rule(s): they allow nothing and "
                f"isolate nothing.",
                "List the direction in policyTypes:\npolicyTypes:\n"
                + "\n".join(f"- {t}" for t in types),
            )


def _destinations(ctx: Context, ref: RuleRef) -> np.ndarray:
    """Pods a rule's named ports are resolved on: the policy's pods for ingress, the rule's
    peers for egress."""
    if ref.direction is Direction.INGRESS:
        return ctx.table.subjects(ref.policy)
    return ctx.table.is_pod & ctx.table.peers(ref.rule, ref.policy.namespace)


def check_named_ports(ctx: Context) -> Iterator[Finding]:
    """PW007/PW008: named ports no destination declares, or that mean different numbers."""
    if not ctx.has_pods:
        return
    for policy in ctx.cluster.policies:
        for ref in policy_rules(policy):
            named = [(j, e) for j, e in enumerate(ref.rule.ports) if isinstance(e.port, str)]
            if not named:
                continue
            dests = [ctx.cluster.pods[i] for i in np.flatnonzero(_destinations(ctx, ref))]
            if not dests:
                continue
            for j, entry in named:
                name, proto = str(entry.port), str(entry.protocol)
                numbers = {p.resolve_port(name, proto) for p in dests} - {None}
                path = f"{ref.path}.ports[{j}]"
                if not numbers:
                    yield _finding(
                        "PW007",
                        policy,
                        path,
                        f"no destination pod ({shorten([p.key for p in dests])}) declares a "
                        f"{proto} port named {name!r}, so this port entry matches nothing.",
                        f"Name the container port {name!r} with protocol {proto} in the pods' "
                        "spec.containers[].ports, or use the port number.",
                    )
                elif len(numbers) > 1:
                    yield _finding(
                        "PW008",
                        policy,
                        path,
                        f"port {name!r}/{proto} means {sorted(n for n in numbers if n)} on "
                        "different destination pods, so the rule opens a different port on each.",
                        "Use one number per name across the selected pods, or split the rule.",
                    )
