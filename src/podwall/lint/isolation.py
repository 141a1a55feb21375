"""PW013/PW014: where isolation has gaps: pods left open beside isolated ones, and namespaces
with no default-deny. Pods and namespaces carry no annotations in the model, so these findings
cannot be silenced per object; filter by code instead (--fail-on, or the report's consumer).
"""

from __future__ import annotations

from collections.abc import Iterator

from podwall.lint.context import Context
from podwall.lint.findings import Finding
from podwall.model import Direction, NetworkPolicy
from podwall.semantics import isolating_policies

__all__ = ["check_default_deny", "check_pods_left_open"]

_DENY_INGRESS_FIX = """apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: default-deny-ingress
  namespace: {ns}
spec:
  podSelector: {{}}
  policyTypes:
  - Ingress"""


def check_pods_left_open(ctx: Context) -> Iterator[Finding]:
    """PW013: a namespace half under ingress policy leaves the rest reachable by everyone."""
    subjects = [p for p in ctx.cluster.pods if not p.host_network]
    isolated = {
        p.key for p in subjects if isolating_policies(p, Direction.INGRESS, ctx.cluster.policies)
    }
    guarded = {p.namespace for p in subjects if p.key in isolated}
    for pod in subjects:
        if pod.namespace not in guarded or pod.key in isolated:
            continue
        yield Finding(
            code="PW013",
            kind="Pod",
            name=pod.key,
            path="metadata.labels",
            message=f"other pods in namespace {pod.namespace} are isolated for ingress, but no "
            f"policy selects {pod.key} (labels {pod.labels.render()}), so any pod may reach it.",
            fix="Add a namespace-wide default deny, then allow what it needs:\n"
            + _DENY_INGRESS_FIX.format(ns=pod.namespace),
        )


def _is_default_deny(policy: NetworkPolicy) -> bool:
    return policy.pod_selector.is_empty and any(
        policy.has_type(d) and not policy.rules(d) for d in (Direction.INGRESS, Direction.EGRESS)
    )


def check_default_deny(ctx: Context) -> Iterator[Finding]:
    """PW014: namespaces with pods but no default-deny start every new workload open."""
    denied = {p.namespace for p in ctx.cluster.policies if _is_default_deny(p)}
    with_pods = sorted({p.namespace for p in ctx.cluster.pods if not p.host_network})
    for ns in with_pods:
        if ns in denied:
            continue
        yield Finding(
            code="PW014",
            kind="Namespace",
            name=ns,
            path="",
            message=f"namespace {ns} has no default-deny policy, so any pod added to it is "
            "reachable by every pod until someone writes a policy for it.",
            fix=_DENY_INGRESS_FIX.format(ns=ns),
        )
