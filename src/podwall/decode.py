"""Strict decoding of manifests (plain dicts, as YAML/JSON parsing yields them) into core types.

This is the API server's strict decoder in miniature: an unknown field or a value of the wrong
type is an error naming the field path, and every such error is collected. NetworkPolicies are
decoded strictly in full. Pods and Namespaces carry large specs podwall does not read, so only
the parts analysis depends on (metadata, container ports, hostNetwork, nodeName, IPs) are
checked strictly; other fields are accepted as the API server would accept them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from podwall.model import (
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
from podwall.validation.field import FieldError, Path

__all__ = ["KINDS", "Decoded", "decode_object", "object_name"]

T = TypeVar("T")
Decoded = NetworkPolicy | Pod | Namespace

# kind -> the apiVersion the API server serves it under.
KINDS: Mapping[str, str] = {
    "Namespace": "v1",
    "Pod": "v1",
    "NetworkPolicy": "networking.k8s.io/v1",
}

_METADATA_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "labels",
        "annotations",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "managedFields",
        "ownerReferences",
        "finalizers",
        "selfLink",
    }
)
_TOP_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec", "status"})


class _Reader:
    """Reads typed values out of a manifest, collecting errors instead of raising."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fields(self, value: object, path: Path, allowed: frozenset[str] | None) -> dict[str, Any]:
        """The mapping at `path` (empty if absent or null); unknown keys are errors."""
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            self.errors.append(FieldError.invalid(path, value, "must be an object"))
            return {}
        if allowed is not None:
            for key in value:
                if key not in allowed:
                    self.errors.append(FieldError.unknown_field(path.child(str(key))))
        return dict(value)

    def string(self, value: object, path: Path) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return value
        self.errors.append(FieldError.invalid(path, value, "must be a string"))
        return ""

    def integer(self, value: object, path: Path) -> int | None:
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.errors.append(FieldError.invalid(path, value, "must be an integer"))
        return None

    def boolean(self, value: object, path: Path) -> bool:
        if value is None:
            return False
        if isinstance(value, bool):
            return value
        self.errors.append(FieldError.invalid(path, value, "must be a boolean"))
        return False

    def int_or_string(self, value: object, path: Path) -> int | str | None:
        if value is None or isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        self.errors.append(FieldError.invalid(path, value, "must be an integer or a string"))
        return None

    def string_map(self, value: object, path: Path) -> Labels:
        items = self.fields(value, path, None)
        out: dict[str, str] = {}
        for key, item in items.items():
            if not isinstance(item, str):
                self.errors.append(FieldError.invalid(path.key(str(key)), item, "must be a string"))
                continue
            out[str(key)] = item
        return Labels(out)

    def items(self, value: object, path: Path, read: Callable[[object, Path], T]) -> tuple[T, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.errors.append(FieldError.invalid(path, value, "must be a list"))
            return ()
        return tuple(read(item, path.index(i)) for i, item in enumerate(value))

    def strings(self, value: object, path: Path) -> tuple[str, ...]:
        return self.items(value, path, self.string)


def _selector(r: _Reader, value: object, path: Path) -> LabelSelector:
    raw = r.fields(value, path, frozenset({"matchLabels", "matchExpressions"}))
    return LabelSelector(
        match_labels=r.string_map(raw.get("matchLabels"), path.child("matchLabels")),
        match_expressions=r.items(
            raw.get("matchExpressions"), path.child("matchExpressions"), lambda v, p: _req(r, v, p)
        ),
    )


def _optional_selector(r: _Reader, value: object, path: Path) -> LabelSelector | None:
    return None if value is None else _selector(r, value, path)


def _req(r: _Reader, value: object, path: Path) -> Requirement:
    raw = r.fields(value, path, frozenset({"key", "operator", "values"}))
    return Requirement(
        key=r.string(raw.get("key"), path.child("key")),
        operator=r.string(raw.get("operator"), path.child("operator")),
        values=r.strings(raw.get("values"), path.child("values")),
    )


def _peer(r: _Reader, value: object, path: Path) -> Peer:
    raw = r.fields(value, path, frozenset({"podSelector", "namespaceSelector", "ipBlock"}))
    ip_block = None
    if raw.get("ipBlock") is not None:
        block_path = path.child("ipBlock")
        block = r.fields(raw["ipBlock"], block_path, frozenset({"cidr", "except"}))
        ip_block = IPBlock(
            cidr=r.string(block.get("cidr"), block_path.child("cidr")),
            except_=r.strings(block.get("except"), block_path.child("except")),
        )
    return Peer(
        pod_selector=_optional_selector(r, raw.get("podSelector"), path.child("podSelector")),
        namespace_selector=_optional_selector(
            r, raw.get("namespaceSelector"), path.child("namespaceSelector")
        ),
        ip_block=ip_block,
    )


def _policy_port(r: _Reader, value: object, path: Path) -> PolicyPort:
    raw = r.fields(value, path, frozenset({"protocol", "port", "endPort"}))
    protocol = raw.get("protocol")
    return PolicyPort(
        protocol=None if protocol is None else r.string(protocol, path.child("protocol")),
        port=r.int_or_string(raw.get("port"), path.child("port")),
        end_port=r.integer(raw.get("endPort"), path.child("endPort")),
    )


def _rule(r: _Reader, value: object, path: Path, peers_field: str) -> Rule:
    raw = r.fields(value, path, frozenset({peers_field, "ports"}))
    return Rule(
        ports=r.items(raw.get("ports"), path.child("ports"), lambda v, p: _policy_port(r, v, p)),
        peers=r.items(raw.get(peers_field), path.child(peers_field), lambda v, p: _peer(r, v, p)),
    )


def _network_policy(
    r: _Reader, raw: dict[str, Any], meta: dict[str, Any], ns: str
) -> NetworkPolicy:
    spec_path = Path("spec")
    spec = r.fields(
        raw.get("spec"), spec_path, frozenset({"podSelector", "ingress", "egress", "policyTypes"})
    )
    r.fields(raw.get("status"), Path("status"), None)
    return NetworkPolicy(
        name=r.string(meta.get("name"), Path("metadata.name")),
        generate_name=r.string(meta.get("generateName"), Path("metadata.generateName")),
        namespace=r.string(meta.get("namespace"), Path("metadata.namespace")) or ns,
        labels=r.string_map(meta.get("labels"), Path("metadata.labels")),
        annotations=r.string_map(meta.get("annotations"), Path("metadata.annotations")),
        pod_selector=_selector(r, spec.get("podSelector"), spec_path.child("podSelector")),
        ingress=r.items(
            spec.get("ingress"), spec_path.child("ingress"), lambda v, p: _rule(r, v, p, "from")
        ),
        egress=r.items(
            spec.get("egress"), spec_path.child("egress"), lambda v, p: _rule(r, v, p, "to")
        ),
        policy_types=r.strings(spec.get("policyTypes"), spec_path.child("policyTypes")),
    )


def _container_ports(r: _Reader, spec: dict[str, Any]) -> tuple[ContainerPort, ...]:
    ports: list[ContainerPort] = []
    for i, container in enumerate(spec.get("containers") or []):
        c_path = Path("spec.containers").index(i)
        c_raw = r.fields(container, c_path, None)
        for j, port in enumerate(c_raw.get("ports") or []):
            p_path = c_path.child("ports").index(j)
            allowed = frozenset({"name", "containerPort", "protocol", "hostPort", "hostIP"})
            p_raw = r.fields(port, p_path, allowed)
            protocol = p_raw.get("protocol")  # "" or absent: defaulted to TCP later
            ports.append(
                ContainerPort(
                    name=r.string(p_raw.get("name"), p_path.child("name")),
                    container_port=r.integer(
                        p_raw.get("containerPort"), p_path.child("containerPort")
                    )
                    or 0,
                    protocol=r.string(protocol, p_path.child("protocol")),
                    container=i,
                    position=j,
                )
            )
    return tuple(ports)


def _pod_ips(r: _Reader, status: dict[str, Any]) -> tuple[str, ...]:
    """status.podIPs, with status.podIP winning when it disagrees, as upstream converts them."""
    path = Path("status.podIPs")
    ips = [
        r.string(
            r.fields(item, path.index(i), frozenset({"ip"})).get("ip"), path.index(i).child("ip")
        )
        for i, item in enumerate(status.get("podIPs") or [])
    ]
    pod_ip = r.string(status.get("podIP"), Path("status.podIP"))
    if pod_ip and (not ips or ips[0] != pod_ip):
        ips = [pod_ip]
    return tuple(ips)


def _pod(r: _Reader, raw: dict[str, Any], meta: dict[str, Any], ns: str) -> Pod:
    spec = r.fields(raw.get("spec"), Path("spec"), None)
    status = r.fields(raw.get("status"), Path("status"), None)
    return Pod(
        name=r.string(meta.get("name"), Path("metadata.name")),
        namespace=r.string(meta.get("namespace"), Path("metadata.namespace")) or ns,
        labels=r.string_map(meta.get("labels"), Path("metadata.labels")),
        node_name=r.string(spec.get("nodeName"), Path("spec.nodeName")),
        host_network=r.boolean(spec.get("hostNetwork"), Path("spec.hostNetwork")),
        ips=_pod_ips(r, status),
        host_ip=r.string(status.get("hostIP"), Path("status.hostIP")),
        ports=_container_ports(r, spec),
    )


def _namespace(r: _Reader, raw: dict[str, Any], meta: dict[str, Any], _ns: str) -> Namespace:
    r.fields(raw.get("spec"), Path("spec"), frozenset({"finalizers"}))
    r.fields(raw.get("status"), Path("status"), None)
    return Namespace(
        name=r.string(meta.get("name"), Path("metadata.name")),
        labels=r.string_map(meta.get("labels"), Path("metadata.labels")),
    )


_DECODERS: Mapping[str, Callable[[_Reader, dict[str, Any], dict[str, Any], str], Decoded]] = {
    "NetworkPolicy": _network_policy,
    "Pod": _pod,
    "Namespace": _namespace,
}


def object_name(manifest: Mapping[str, Any], default_namespace: str = "default") -> str:
    """`ns/name` (or `name` for Namespaces) as error messages name the object."""
    meta = manifest.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    name = meta.get("name") or meta.get("generateName") or ""
    if manifest.get("kind") == "Namespace":
        return str(name)
    return f"{meta.get('namespace') or default_namespace}/{name}"


def decode_object(
    manifest: Mapping[str, Any], default_namespace: str = "default"
) -> tuple[Decoded | None, list[FieldError]]:
    """Decode one manifest of a supported kind; (None, errors) when it cannot be read at all."""
    r = _Reader()
    kind = manifest.get("kind")
    if kind not in _DECODERS:
        r.errors.append(FieldError.not_supported(Path("kind"), kind, sorted(_DECODERS)))
        return None, r.errors
    if manifest.get("apiVersion") != KINDS[kind]:
        r.errors.append(
            FieldError.not_supported(Path("apiVersion"), manifest.get("apiVersion"), [KINDS[kind]])
        )
    raw = r.fields(manifest, Path(""), _TOP_FIELDS)
    meta = r.fields(raw.get("metadata"), Path("metadata"), _METADATA_FIELDS)
    obj = _DECODERS[kind](r, raw, meta, default_namespace)
    return obj, r.errors
