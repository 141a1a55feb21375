"""What the lab API serves: its resources, their names and verbs, and the discovery documents.

Upstream serves these under the same names: Namespaces and Pods in the core group (`/api/v1`),
NetworkPolicies in `networking.k8s.io/v1`, and the always-empty lists of Events,
ResourceQuotas and LimitRanges that `kubectl describe` reads. Pods exist because the lab's
topology made them: they cannot be created or deleted through the API, only relabelled.
Field selectors are the ones upstream registers per kind (all kinds support `metadata.name`;
namespaced kinds also `metadata.namespace`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EVENTS",
    "LIMIT_RANGES",
    "NAMESPACES",
    "NETWORK_POLICIES",
    "PODS",
    "RESOURCES",
    "RESOURCE_QUOTAS",
    "SERVER_VERSION",
    "Resource",
    "api_group_list",
    "api_resource_list",
    "api_versions",
    "find_resource",
    "version_info",
]

SERVER_VERSION = (1, 32, 4)
_ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
FieldGetter = Callable[[dict[str, Any]], str]


def _at(*path: str) -> FieldGetter:
    def get(obj: dict[str, Any]) -> str:
        node: Any = obj
        for part in path:
            node = node.get(part) if isinstance(node, dict) else None
        if isinstance(node, bool):
            return "true" if node else "false"
        return "" if node is None else str(node)

    return get


def _first_pod_ip(obj: dict[str, Any]) -> str:
    ips = (obj.get("status") or {}).get("podIPs") or []
    return str(ips[0].get("ip", "")) if ips else ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Resource:
    group: str
    version: str
    plural: str
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...]
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # Field selector labels beyond metadata.name/namespace, and how to read them.
    fields: Mapping[str, FieldGetter] = field(default_factory=dict)
    # "meta": DefaultMetaV1FieldSelectorConversion's error; "core": the core kinds' error.
    field_errors: str = "meta"
    stored: bool = True  # False: always an empty list (Events, quotas, limit ranges)

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def key(self) -> str:
        """The qualified resource (`networkpolicies.networking.k8s.io`), also the store key."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def field_set(self, obj: dict[str, Any]) -> dict[str, str]:
        meta = obj.get("metadata") or {}
        out = {"metadata.name": str(meta.get("name", ""))}
        if self.namespaced:
            out["metadata.namespace"] = str(meta.get("namespace", ""))
        for label, get in self.fields.items():
            out[label] = get(obj)
        return out

    def check_field_label(self, label: str) -> str | None:
        """None if `label` may be selected on, else the API server's error for it."""
        known = ["metadata.name", *(["metadata.namespace"] if self.namespaced else [])]
        if self.field_errors == "core":
            if label in known[:1] or label in self.fields:
                return None
            if label == "metadata.namespace" and self.namespaced:
                return None
            return f"field label not supported: {label}"
        if label in known:
            return None
        only = '"metadata.name", "metadata.namespace"'
        return f'"{label}" is not a known field selector: only {only}'

    def api_resource(self) -> dict[str, Any]:
        """This resource's entry in an APIResourceList."""
        out: dict[str, Any] = {
            "name": self.plural,
            "singularName": self.singular,
            "namespaced": self.namespaced,
            "kind": self.kind,
            "verbs": list(self.verbs),
        }
        if self.short_names:
            out["shortNames"] = list(self.short_names)
        if self.categories:
            out["categories"] = list(self.categories)
        return out


NAMESPACES = Resource(
    group="",
    version="v1",
    plural="namespaces",
    singular="namespace",
    kind="Namespace",
    namespaced=False,
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    short_names=("ns",),
    fields={"status.phase": _at("status", "phase")},
    field_errors="core",
)
PODS = Resource(
    group="",
    version="v1",
    plural="pods",
    singular="pod",
    kind="Pod",
    namespaced=True,
    verbs=("get", "list", "patch", "update", "watch"),
    short_names=("po",),
    categories=("all",),
    fields={
        "spec.nodeName": _at("spec", "nodeName"),
        "spec.restartPolicy": _at("spec", "restartPolicy"),
        "spec.schedulerName": _at("spec", "schedulerName"),
        "spec.serviceAccountName": _at("spec", "serviceAccountName"),
        "spec.hostNetwork": lambda o: _at("spec", "hostNetwork")(o) or "false",
        "status.phase": _at("status", "phase"),
        "status.podIP": _first_pod_ip,
        "status.nominatedNodeName": _at("status", "nominatedNodeName"),
    },
    field_errors="core",
)
NETWORK_POLICIES = Resource(
    group="networking.k8s.io",
    version="v1",
    plural="networkpolicies",
    singular="networkpolicy",
    kind="NetworkPolicy",
    namespaced=True,
    verbs=_ALL_VERBS,
    short_names=("netpol",),
)
_EVENT_FIELDS = (
    "involvedObject.kind",
    "involvedObject.namespace",
    "involvedObject.name",
    "involvedObject.uid",
    "involvedObject.apiVersion",
    "involvedObject.resourceVersion",
    "involvedObject.fieldPath",
    "reason",
    "reportingComponent",
    "source",
    "type",
)
EVENTS = Resource(
    group="",
    version="v1",
    plural="events",
    singular="event",
    kind="Event",
    namespaced=True,
    verbs=("get", "list", "watch"),
    short_names=("ev",),
    fields={label: _at(*label.split(".")) for label in _EVENT_FIELDS},
    field_errors="core",
    stored=False,
)
# `kubectl describe namespace` lists these; a lab has none.
RESOURCE_QUOTAS = Resource(
    group="",
    version="v1",
    plural="resourcequotas",
    singular="resourcequota",
    kind="ResourceQuota",
    namespaced=True,
    verbs=("get", "list", "watch"),
    short_names=("quota",),
    stored=False,
)
LIMIT_RANGES = Resource(
    group="",
    version="v1",
    plural="limitranges",
    singular="limitrange",
    kind="LimitRange",
    namespaced=True,
    verbs=("get", "list", "watch"),
    short_names=("limits",),
    stored=False,
)
RESOURCES: tuple[Resource, ...] = (
    NAMESPACES, PODS, EVENTS, RESOURCE_QUOTAS, LIMIT_RANGES, NETWORK_POLICIES
)


def find_resource(group: str, version: str, plural: str) -> Resource | None:
    for resource in RESOURCES:
        if (resource.group, resource.version, resource.plural) == (group, version, plural):
            return resource
    return None


def version_info() -> dict[str, str]:
    """`/version`: the Kubernetes version whose behaviour the lab API follows."""
    major, minor, patch = SERVER_VERSION
    return {
        "major": str(major),
        "minor": str(minor),
        "gitVersion": f"v{major}.{minor}.{patch}",
        "gitCommit": "podwall",
        "gitTreeState": "clean",
        "buildDate": "2025-04-22T00:00:00Z",
        "goVersion": "go1.23.6",
        "compiler": "gc",
        "platform": "linux/amd64",
    }


def api_versions(server_address: str) -> dict[str, Any]:
    """`/api`."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [
            {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
        ],
    }


def _groups() -> list[str]:
    return sorted({r.group for r in RESOURCES if r.group})


def api_group(group: str) -> dict[str, Any]:
    versions = sorted({r.version for r in RESOURCES if r.group == group})
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {
        "kind": "APIGroup",
        "apiVersion": "v1",
        "name": group,
        "versions": entries,
        "preferredVersion": entries[0],
    }


def api_group_list() -> dict[str, Any]:
    """`/apis` (legacy discovery: kubectl falls back to it from aggregated discovery)."""
    groups = []
    for group in _groups():
        body = api_group(group)
        groups.append({k: v for k, v in body.items() if k not in ("kind", "apiVersion")})
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_resource_list(group: str, version: str) -> dict[str, Any] | None:
    """`/api/v1` or `/apis/GROUP/VERSION`; None if nothing is served there."""
    served = [r for r in RESOURCES if (r.group, r.version) == (group, version)]
    if not served:
        return None
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": served[0].api_version,
        "resources": [r.api_resource() for r in sorted(served, key=lambda r: r.plural)],
    }
