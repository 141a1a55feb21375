"""Defaulting exactly as the API server applies it before validation and storage.

Upstream: `pkg/apis/networking/v1/defaults.go` (NetworkPolicyPort protocol nil -> TCP;
empty policyTypes -> [Ingress], plus Egress when at least one egress rule exists),
`pkg/apis/core/v1/defaults.go` (ContainerPort protocol "" -> TCP) and the namespace strategy,
which always sets the `kubernetes.io/metadata.name` label to the namespace's name.
Note what is NOT defaulted: `protocol: ""` on a NetworkPolicyPort stays and is rejected, and
`egress: []` adds no Egress type.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TypeVar

from podwall.model import (
    NAMESPACE_NAME_LABEL,
    Direction,
    Namespace,
    NetworkPolicy,
    Pod,
    PolicyPort,
    Protocol,
    Rule,
)

__all__ = ["default_namespace", "default_network_policy", "default_object", "default_pod"]

_Obj = TypeVar("_Obj", NetworkPolicy, Pod, Namespace)


def _default_port(port: PolicyPort) -> PolicyPort:
    return port if port.protocol is not None else replace(port, protocol=Protocol.TCP.value)


def _default_rule(rule: Rule) -> Rule:
    return replace(rule, ports=tuple(_default_port(p) for p in rule.ports))


def default_network_policy(policy: NetworkPolicy) -> NetworkPolicy:
    policy_types = policy.policy_types
    if not policy_types:
        policy_types = (Direction.INGRESS.value,)
        if policy.egress:
            policy_types += (Direction.EGRESS.value,)
    return replace(
        policy,
        ingress=tuple(_default_rule(r) for r in policy.ingress),
        egress=tuple(_default_rule(r) for r in policy.egress),
        policy_types=policy_types,
    )


def default_pod(pod: Pod) -> Pod:
    ports = tuple(p if p.protocol else replace(p, protocol=Protocol.TCP.value) for p in pod.ports)
    return replace(pod, ports=ports)


def default_namespace(namespace: Namespace) -> Namespace:
    return replace(
        namespace, labels=namespace.labels.with_items({NAMESPACE_NAME_LABEL: namespace.name})
    )


def default_object(obj: _Obj) -> _Obj:
    """Default any supported object (the same type comes back)."""
    if isinstance(obj, NetworkPolicy):
        return default_network_policy(obj)
    if isinstance(obj, Pod):
        return default_pod(obj)
    return default_namespace(obj)
