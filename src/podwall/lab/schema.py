"""Reading a topology document: shapes, types, then cross-field checks, collecting every error.

Errors are the core's `FieldError`s, so a bad topology reads like a bad manifest:
`pods[3].ipv4: Invalid value: "10.0.1.300": must be a valid IPv4 address`. The result is plain
dicts with defaults filled in (labels {}, ports [], protocol TCP) and addresses in canonical
form; `topology.parse_topology` turns them into frozen types.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Iterable
from typing import Any

from podwall.validation.apimachinery import (
    is_dns1123_label,
    is_valid_port_name,
    is_valid_port_num,
)
from podwall.validation.field import FieldError, Path
from podwall.validation.meta import validate_labels

__all__ = ["FABRIC_PREFIXLEN", "RESERVED_NODE_NAMES", "parse_topology_document", "pod_netns_tail"]

PROTOCOLS = ("TCP", "UDP", "SCTP")
FABRIC_PREFIXLEN = {4: 24, 6: 64}  # nodes and externals sit in their address's /24 and /64
RESERVED_NODE_NAMES = ("fabric", "pod-", "ext-")  # other lab namespaces use these names

# section -> (allowed keys, required keys)
_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "": (frozenset({"nodes", "namespaces", "pods", "externals"}), frozenset({"nodes"})),
    "nodes": (frozenset({"name", "ipv4", "ipv6"}), frozenset({"name", "ipv4", "ipv6"})),
    "namespaces": (frozenset({"name", "labels"}), frozenset({"name"})),
    "pods": (
        frozenset({"namespace", "name", "node", "labels", "ipv4", "ipv6", "ports"}),
        frozenset({"namespace", "name", "node", "ipv4", "ipv6"}),
    ),
    "externals": (frozenset({"name", "ipv4", "ipv6"}), frozenset({"name", "ipv4", "ipv6"})),
    "ports": (frozenset({"name", "port", "protocol"}), frozenset({"name", "port"})),
}


def pod_netns_tail(namespace: str, pod: str) -> str:
    """The part of a pod's network namespace name after the lab prefix."""
    return f"pod-{namespace}-{pod}"


class _Reader:
    """Shape and type checks that record an error and return a usable default."""

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def mapping(self, value: Any, path: Path, section: str) -> dict[str, Any] | None:
        if not isinstance(value, dict):
            where = path if str(path) else Path("<document>")
            self.errors.append(FieldError.invalid(where, _shown(value), "must be a mapping"))
            return None
        allowed, required = _FIELDS[section]
        for key in sorted(set(map(str, value)) - allowed):
            self.errors.append(FieldError.unknown_field(path.child(key)))
        for key in sorted(k for k in required if value.get(k) is None):
            self.errors.append(FieldError.required(path.child(key)))
        return value

    def items(self, value: Any, path: Path) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.errors.append(FieldError.invalid(path, _shown(value), "must be a list"))
            return []
        return value

    def string(self, value: Any, path: Path, check: Callable[[str], list[str]]) -> str:
        if value is None:  # reported as Required by `mapping`
            return ""
        if not isinstance(value, str):
            self.errors.append(FieldError.invalid(path, _shown(value), "must be a string"))
            return ""
        self.errors += [FieldError.invalid(path, value, msg) for msg in check(value)]
        return value

    def labels(self, value: Any, path: Path) -> dict[str, str]:
        if value is None:
            return {}
        ok = isinstance(value, dict) and all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        )
        if not ok:
            detail = "must be a mapping of strings to strings"
            self.errors.append(FieldError.invalid(path, _shown(value), detail))
            return {}
        self.errors += validate_labels(value, path)
        return dict(value)

    def address(self, value: Any, path: Path, version: int) -> str:
        text = self.string(value, path, lambda _: [])
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            ip = None
        if ip is None or ip.version != version:
            if text:
                detail = f"must be a valid IPv{version} address"
                self.errors.append(FieldError.invalid(path, text, detail))
            return text
        if ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_unspecified:
            detail = (
                "must not be a loopback, link-local, multicast or unspecified address "
                "(pods reach their node through 169.254.1.1 and fe80::1)"
            )
            self.errors.append(FieldError.invalid(path, text, detail))
        return str(ip)

    def port(self, value: Any, path: Path) -> dict[str, Any] | None:
        raw = self.mapping(value, path, "ports")
        if raw is None:
            return None
        number = raw.get("port")
        if not isinstance(number, int) or isinstance(number, bool):
            self.errors.append(
                FieldError.invalid(path.child("port"), _shown(number), "must be an integer")
            )
            number = 0
        else:
            msgs = is_valid_port_num(number)
            self.errors += [FieldError.invalid(path.child("port"), number, m) for m in msgs]
        protocol = raw.get("protocol", "TCP")
        if protocol not in PROTOCOLS:
            self.errors.append(
                FieldError.not_supported(path.child("protocol"), _shown(protocol), list(PROTOCOLS))
            )
        name = self.string(raw.get("name"), path.child("name"), is_valid_port_name)
        return {"name": name, "port": number, "protocol": protocol}


def _shown(value: Any) -> Any:
    """A bad value as an error shows it (scalars as themselves, containers by their type)."""
    return value if isinstance(value, str | int | float | bool) or value is None else str(value)


def parse_topology_document(document: Any) -> tuple[dict[str, Any], list[FieldError]]:
    """Every section read and checked; the result is usable only when no error is returned."""
    r = _Reader()
    top = r.mapping(document, Path(), "") or {}
    sections: dict[str, list[dict[str, Any]]] = {}
    for section, read in (
        ("nodes", _read_node),
        ("namespaces", _read_namespace),
        ("pods", _read_pod),
        ("externals", _read_node),
    ):
        path = Path(section)
        raw_items = r.items(top.get(section), path)
        items = [read(r, item, path.index(i)) for i, item in enumerate(raw_items)]
        sections[section] = [item for item in items if item is not None]
    if not sections["nodes"] and isinstance(top.get("nodes"), list):
        r.errors.append(FieldError.required(Path("nodes"), "a lab needs at least one node"))
    if not r.errors:
        r.errors += _cross_checks(sections)
    return sections, r.errors


def _read_node(r: _Reader, value: Any, path: Path) -> dict[str, Any] | None:
    """A node or an external host: a name and one address of each family."""
    raw = r.mapping(value, path, "nodes")
    if raw is None:
        return None
    return {
        "name": r.string(raw.get("name"), path.child("name"), is_dns1123_label),
        "ipv4": r.address(raw.get("ipv4"), path.child("ipv4"), 4),
        "ipv6": r.address(raw.get("ipv6"), path.child("ipv6"), 6),
    }


def _read_namespace(r: _Reader, value: Any, path: Path) -> dict[str, Any] | None:
    raw = r.mapping(value, path, "namespaces")
    if raw is None:
        return None
    return {
        "name": r.string(raw.get("name"), path.child("name"), is_dns1123_label),
        "labels": r.labels(raw.get("labels"), path.child("labels")),
    }


def _read_pod(r: _Reader, value: Any, path: Path) -> dict[str, Any] | None:
    raw = r.mapping(value, path, "pods")
    if raw is None:
        return None
    ports_path = path.child("ports")
    raw_ports = r.items(raw.get("ports"), ports_path)
    ports = [r.port(p, ports_path.index(i)) for i, p in enumerate(raw_ports)]
    return {
        "namespace": r.string(raw.get("namespace"), path.child("namespace"), is_dns1123_label),
        "name": r.string(raw.get("name"), path.child("name"), is_dns1123_label),
        "node": r.string(raw.get("node"), path.child("node"), is_dns1123_label),
        "labels": r.labels(raw.get("labels"), path.child("labels")),
        "ipv4": r.address(raw.get("ipv4"), path.child("ipv4"), 4),
        "ipv6": r.address(raw.get("ipv6"), path.child("ipv6"), 6),
        "ports": [p for p in ports if p is not None],
    }


def _duplicates(values: Iterable[tuple[Path, Any]]) -> list[FieldError]:
    seen: set[Any] = set()
    errors = []
    for path, value in values:
        if value in seen:
            errors.append(FieldError.duplicate(path, value))
        seen.add(value)
    return errors


def _cross_checks(s: dict[str, list[dict[str, Any]]]) -> list[FieldError]:
    """Uniqueness, references, and the lab's own constraints on names and addresses."""
    errors: list[FieldError] = []
    for section in ("nodes", "namespaces", "externals"):
        errors += _duplicates(
            (Path(section).index(i).child("name"), item["name"])
            for i, item in enumerate(s[section])
        )
    pods = list(enumerate(s["pods"]))
    errors += _duplicates(
        (Path("pods").index(i).child("name"), f"{p['namespace']}/{p['name']}") for i, p in pods
    )
    errors += _duplicates(
        (Path("pods").index(i), pod_netns_tail(p["namespace"], p["name"])) for i, p in pods
    )
    errors += _duplicates(
        (Path(section).index(i).child(family), item[family])
        for section in ("nodes", "externals", "pods")
        for i, item in enumerate(s[section])
        for family in ("ipv4", "ipv6")
    )
    for i, node in enumerate(s["nodes"]):
        if node["name"] == "fabric" or node["name"].startswith(RESERVED_NODE_NAMES[1:]):
            detail = 'must not be "fabric" or start with "pod-" or "ext-" (lab namespace names)'
            errors.append(
                FieldError.invalid(Path("nodes").index(i).child("name"), node["name"], detail)
            )
    return errors + _pod_checks(s)


def _pod_checks(s: dict[str, list[dict[str, Any]]]) -> list[FieldError]:
    errors: list[FieldError] = []
    namespaces = {n["name"] for n in s["namespaces"]}
    nodes = {n["name"] for n in s["nodes"]}
    fabric = {
        ipaddress.ip_interface(f"{item[f'ipv{v}']}/{FABRIC_PREFIXLEN[v]}").network
        for item in s["nodes"] + s["externals"]
        for v in (4, 6)
    }
    for i, pod in enumerate(s["pods"]):
        path = Path("pods").index(i)
        if pod["namespace"] not in namespaces:
            errors.append(
                FieldError.invalid(
                    path.child("namespace"), pod["namespace"], "must be declared in namespaces"
                )
            )
        if pod["node"] not in nodes:
            errors.append(
                FieldError.invalid(path.child("node"), pod["node"], "must be declared in nodes")
            )
        for family in ("ipv4", "ipv6"):
            ip = ipaddress.ip_address(pod[family])
            if any(ip in net for net in fabric):
                detail = "must lie outside the /24 and /64 of every node and external host"
                errors.append(FieldError.invalid(path.child(family), pod[family], detail))
        ports_path = path.child("ports")
        errors += _duplicates(
            (ports_path.index(j).child("name"), p["name"]) for j, p in enumerate(pod["ports"])
        )
        errors += _duplicates(
            (ports_path.index(j), f"{p['port']}/{p['protocol']}")
            for j, p in enumerate(pod["ports"])
        )
    return errors
