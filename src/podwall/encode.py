"""Core objects back to manifests, shaped as the API server stores and prints them.

Go's `omitempty` drops empty lists (`ingress: []`, `from: []`, `ports: []`) and absent
selectors, but keeps the non-pointer `podSelector: {}`; a rule `{}` stays `{}`.
"""

from __future__ import annotations

from typing import Any

from podwall.decode import KINDS, Decoded
from podwall.model import (
    DIRECTION_FIELDS,
    Direction,
    LabelSelector,
    Namespace,
    NetworkPolicy,
    Peer,
    Pod,
    PolicyPort,
    Rule,
)

__all__ = ["encode_object"]


def _selector(selector: LabelSelector) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if selector.match_labels:
        out["matchLabels"] = selector.match_labels.to_dict()
    if selector.match_expressions:
        out["matchExpressions"] = [
            {
                "key": r.key,
                "operator": r.operator,
                **({"values": list(r.values)} if r.values else {}),
            }
            for r in selector.match_expressions
        ]
    return out


def _peer(peer: Peer) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if peer.ip_block is not None:
        block: dict[str, Any] = {"cidr": peer.ip_block.cidr}
        if peer.ip_block.except_:
            block["except"] = list(peer.ip_block.except_)
        out["ipBlock"] = block
    if peer.namespace_selector is not None:
        out["namespaceSelector"] = _selector(peer.namespace_selector)
    if peer.pod_selector is not None:
        out["podSelector"] = _selector(peer.pod_selector)
    return out


def _port(port: PolicyPort) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if port.end_port is not None:
        out["endPort"] = port.end_port
    if port.port is not None:
        out["port"] = port.port
    if port.protocol is not None:
        out["protocol"] = port.protocol
    return out


def _rule(rule: Rule, peers_field: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if rule.peers:
        out[peers_field] = [_peer(p) for p in rule.peers]
    if rule.ports:
        out["ports"] = [_port(p) for p in rule.ports]
    return out


def _metadata(obj: Decoded, namespaced: bool) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": obj.name}
    if namespaced:
        meta["namespace"] = obj.namespace  # type: ignore[union-attr]
    if obj.labels:
        meta["labels"] = obj.labels.to_dict()
    annotations = getattr(obj, "annotations", None)
    if annotations:
        meta["annotations"] = annotations.to_dict()
    return meta


def _policy_spec(policy: NetworkPolicy) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    for direction in (Direction.EGRESS, Direction.INGRESS):
        rules_field, peers_field = DIRECTION_FIELDS[direction]
        if policy.rules(direction):
            spec[rules_field] = [_rule(r, peers_field) for r in policy.rules(direction)]
    spec["podSelector"] = _selector(policy.pod_selector)
    if policy.policy_types:
        spec["policyTypes"] = list(policy.policy_types)
    return spec


def _pod_body(pod: Pod) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if pod.node_name:
        spec["nodeName"] = pod.node_name
    if pod.host_network:
        spec["hostNetwork"] = True
    if pod.ports:
        spec["containers"] = [
            {
                "name": "main",
                "ports": [
                    {
                        k: v
                        for k, v in (
                            ("name", p.name),
                            ("containerPort", p.container_port),
                            ("protocol", p.protocol),
                        )
                        if v
                    }
                    for p in pod.ports
                ],
            }
        ]
    status: dict[str, Any] = {}
    if pod.host_ip:
        status["hostIP"] = pod.host_ip
    if pod.ips:
        status["podIP"] = pod.ips[0]
        status["podIPs"] = [{"ip": ip} for ip in pod.ips]
    return {"spec": spec, "status": status}


def encode_object(obj: Decoded) -> dict[str, Any]:
    """A manifest for the object, keys in the API server's (alphabetical) output order."""
    kind = type(obj).__name__
    out: dict[str, Any] = {"apiVersion": KINDS[kind], "kind": kind}
    if isinstance(obj, NetworkPolicy):
        out["metadata"] = _metadata(obj, namespaced=True)
        out["spec"] = _policy_spec(obj)
    elif isinstance(obj, Pod):
        out["metadata"] = _metadata(obj, namespaced=True)
        out.update(_pod_body(obj))
    elif isinstance(obj, Namespace):
        out["metadata"] = _metadata(obj, namespaced=False)
        out["spec"] = {"finalizers": ["kubernetes"]}
        out["status"] = {"phase": "Active"}
    return out
