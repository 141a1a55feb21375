"""Server-side printing: objects as `meta.k8s.io/v1` Tables, the columns `kubectl get` shows.

Columns and cells follow upstream's printers (`pkg/printers/internalversion/printers.go`):
NetworkPolicy NAME, POD-SELECTOR, AGE; Pod NAME, READY, STATUS, RESTARTS, AGE and the wide
IP, NODE, NOMINATED NODE, READINESS GATES; Namespace NAME, STATUS, AGE. As upstream, the
server always sends the wide cells (priority 1) and kubectl hides them without `-o wide`.
AGE is `duration.HumanDuration` of the time since creationTimestamp.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from podwall.apiserver.selectors import format_label_selector
from podwall.decode import decode_object
from podwall.model import LabelSelector, NetworkPolicy

__all__ = ["human_duration", "partial_metadata", "to_table"]

_NAME = "Name must be unique within a namespace."
_AGE = "CreationTimestamp is a timestamp representing the server time when this object was created."


def human_duration(seconds: float) -> str:
    """apimachinery's duration.HumanDuration."""
    s = int(seconds)
    if s < -1:
        return "<invalid>"
    if s < 0:
        return "0s"
    if s < 120:
        return f"{s}s"
    minutes = s // 60
    if minutes < 10:
        return f"{minutes}m{s % 60}s" if s % 60 else f"{minutes}m"
    if minutes < 180:
        return f"{minutes}m"
    hours = s // 3600
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 24 * 8:
        return f"{hours // 24}d{hours % 24}h" if hours % 24 else f"{hours // 24}d"
    if hours < 24 * 365 * 2:
        return f"{hours // 24}d"
    if hours < 24 * 365 * 8:
        years, days = hours // 24 // 365, (hours // 24) % 365
        return f"{years}y{days}d" if days else f"{years}y"
    return f"{hours // 24 // 365}y"


def _age(obj: dict[str, Any], now: datetime) -> str:
    created = (obj.get("metadata") or {}).get("creationTimestamp")
    if not created:
        return "<unknown>"
    when = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    return human_duration((now - when).total_seconds())


def _column(name: str, description: str, *, fmt: str = "", priority: int = 0) -> dict:
    return {
        "name": name,
        "type": "string",
        "format": fmt,
        "description": description,
        "priority": priority,
    }


def _pod_selector(obj: dict[str, Any]) -> str:
    manifest = {**obj, "kind": "NetworkPolicy", "apiVersion": "networking.k8s.io/v1"}
    policy, _ = decode_object(manifest)
    selector = policy.pod_selector if isinstance(policy, NetworkPolicy) else LabelSelector()
    return format_label_selector(selector)


def _policy_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], _pod_selector(obj), _age(obj, now)]


def _pod_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    """printPod for a running lab pod: readiness and restarts from containerStatuses."""
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    statuses = status.get("containerStatuses") or []
    ready = sum(1 for c in statuses if c.get("ready") and "running" in (c.get("state") or {}))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    reason = status.get("reason") or status.get("phase") or ""
    ips = status.get("podIPs") or []
    return [
        obj["metadata"]["name"],
        f"{ready}/{len(spec.get('containers') or [])}",
        reason,
        str(restarts),
        _age(obj, now),
        (ips[0].get("ip") if ips else "") or "<none>",
        spec.get("nodeName") or "<none>",
        status.get("nominatedNodeName") or "<none>",
        "<none>",
    ]


def _namespace_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], (obj.get("status") or {}).get("phase", ""), _age(obj, now)]


def _event_cells(obj: dict[str, Any], now: datetime) -> list[Any]:
    involved = obj.get("involvedObject") or {}
    return [
        _age(obj, now),
        obj.get("type", ""),
        obj.get("reason", ""),
        f"{involved.get('kind', '').lower()}/{involved.get('name', '')}",
        obj.get("message", ""),
    ]


_COLUMNS: Mapping[str, list[dict[str, Any]]] = {
    "NetworkPolicy": [
        _column("Name", _NAME, fmt="name"),
        _column("Pod-Selector", "Selects the pods to which this NetworkPolicy object applies."),
        _column("Age", _AGE),
    ],
    "Pod": [
        _column("Name", _NAME, fmt="name"),
        _column("Ready", "The aggregate readiness state of this pod for accepting traffic."),
        _column("Status", "The aggregate status of the containers in this pod."),
        _column(
            "Restarts",
            "The number of times the containers in this pod have been restarted and when the "
            "last container in this pod has restarted.",
        ),
        _column("Age", _AGE),
        _column("IP", "podIP address allocated to the pod.", priority=1),
        _column("Node", "NodeName indicates in which node this pod is scheduled.", priority=1),
        _column("Nominated Node", "nominatedNodeName is set only when this pod preempts.",
                priority=1),
        _column("Readiness Gates", "If specified, all readiness gates will be evaluated.",
                priority=1),
    ],
    "Namespace": [
        _column("Name", _NAME, fmt="name"),
        _column("Status", "The status of the namespace"),
        _column("Age", _AGE),
    ],
    "Event": [
        _column("Last Seen", "The time since this event was last seen."),
        _column("Type", "Type of this event."),
        _column("Reason", "The reason for this event."),
        _column("Object", "The object that this event is about."),
        _column("Message", "A human-readable description of the status of this operation."),
    ],
}
_NAME_AGE = [_column("Name", _NAME, fmt="name"), _column("Age", _AGE)]


def _name_age(obj: dict[str, Any], now: datetime) -> list[Any]:
    return [obj["metadata"]["name"], _age(obj, now)]


_CELLS: Mapping[str, Callable[[dict[str, Any], datetime], list[Any]]] = {
    "NetworkPolicy": _policy_cells,
    "Pod": _pod_cells,
    "Namespace": _namespace_cells,
    "Event": _event_cells,
}


def partial_metadata(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj.get("metadata") or {},
    }


def to_table(
    kind: str,
    objects: list[dict[str, Any]],
    now: datetime,
    *,
    include_object: str = "Metadata",
    headers: bool = True,
    list_meta: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A Table of `objects` (one row each); `include_object` is None, Metadata or Object."""
    rows = []
    for obj in objects:
        row: dict[str, Any] = {"cells": _CELLS.get(kind, _name_age)(obj, now)}
        if include_object == "Object":
            row["object"] = obj
        elif include_object != "None":
            row["object"] = partial_metadata(obj)
        rows.append(row)
    table: dict[str, Any] = {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": list_meta or {},
        "columnDefinitions": _COLUMNS.get(kind, _NAME_AGE) if headers else [],
        "rows": rows,
    }
    return table
