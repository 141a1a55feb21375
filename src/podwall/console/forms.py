"""The console's policy form (the seeds' "Creating a Network Policy on the Console", Tables 1
and 2) and its translation to and from a NetworkPolicy manifest. Pure: no I/O.

The form, field by field, with the seeds' defaults for what is left empty:
- `pod_selector`: key/value pairs; empty selects every pod in the policy's namespace.
- a rule (`ingress`: inbound, `egress`: outbound):
  - `protocol` and `port`: both empty allow every port of every protocol; a protocol alone,
    every port of it; a port alone is TCP (Kubernetes' default); `8000-8080` is a range
    (`port: 8000, endPort: 8080`).
  - `namespace`: empty is the policy's own namespace (a podSelector peer alone); a name selects
    that namespace by its `kubernetes.io/metadata.name` label, in the same peer as the pod
    labels (so both must match); `*` (podwall's addition) is every namespace.
  - `pod_labels`: empty is every pod of that namespace.
  - `cidr`: the seeds' syntax `172.17.0.0/16|172.17.1.0/24,172.17.2.0/24`: an ipBlock peer
    with `cidr` and `except`. A rule with a CIDR and no namespace or pod labels has that peer
    alone. A rule with a CIDR *and* a namespace or pod labels has two peers, which Kubernetes
    ORs: traffic from (to) the CIDR, or from (to) those pods.
- `policy_types`: null is Ingress, plus Egress when there are egress rules.

`form_to_manifest` returns the manifest and the form's own errors, as FieldErrors whose paths
are the form's (`egress[0].cidr: Invalid value: "10.0.0.0/33": ...`); a field with an error is
left out of the manifest, which must then not be used beyond validating the rest as the API
server would. `manifest_to_form` is its inverse, or None for a policy the form cannot express
(matchExpressions, named ports, several ports in a rule, a rule without peers, other peers).
`manifest_to_form(form_to_manifest(f))` is `f` for a canonical form (trimmed, with the port's
protocol spelled out and policy_types null where it is the default), and `form_to_manifest`
of `manifest_to_form(m)` is `m` up to spellings Kubernetes treats alike (a defaulted protocol,
`podSelector: {}` beside a namespaceSelector, the order of a rule's two peers).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from podwall.model import NAMESPACE_NAME_LABEL, IPBlock
from podwall.validation import FieldError, Path, is_dns1123_label, is_valid_port_num
from podwall.validation.networkpolicy import validate_ip_block

__all__ = [
    "ALL_NAMESPACES",
    "API_VERSION",
    "FORM_PROTOCOLS",
    "FormRule",
    "PolicyForm",
    "default_policy_types",
    "form_to_manifest",
    "manifest_to_form",
]

ALL_NAMESPACES = "*"
FORM_PROTOCOLS = ("TCP", "UDP")  # the seeds' "Currently, TCP and UDP are supported"
API_VERSION = "networking.k8s.io/v1"
_DIRECTIONS = (("ingress", "from"), ("egress", "to"))
_PORT = re.compile(r"(\d+)(?:-(\d+))?")
_CIDR_SYNTAX = ("write the CIDR, then optionally `|` and the excepted CIDRs separated by "
                "commas, e.g. 172.17.0.0/16|172.17.1.0/24,172.17.2.0/24")
Manifest = dict[str, Any]


class FormRule(BaseModel):
    """One inbound or outbound rule (the seeds' Tables 1 and 2)."""

    model_config = ConfigDict(extra="forbid")
    protocol: str = Field(default="", max_length=16, description='"TCP", "UDP" or ""')
    port: str = Field(default="", max_length=32, description='"80", "8000-8080" or ""')
    namespace: str = Field(default="", max_length=253,
                           description='"": the policy\'s namespace; "*": every namespace')
    pod_labels: dict[str, str] = Field(default_factory=dict)
    cidr: str = Field(default="", max_length=8192,
                      description="172.17.0.0/16|172.17.1.0/24,172.17.2.0/24")


class PolicyForm(BaseModel):
    """The whole form: a NetworkPolicy's name, namespace, pod selector and rules."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(max_length=253)
    namespace: str = Field(default="default", max_length=253)
    pod_selector: dict[str, str] = Field(default_factory=dict)
    ingress: list[FormRule] = Field(default_factory=list)
    egress: list[FormRule] = Field(default_factory=list)
    policy_types: list[str] | None = None


def default_policy_types(has_egress: bool) -> list[str]:
    return ["Ingress", "Egress"] if has_egress else ["Ingress"]


# Form -> manifest.
def form_to_manifest(form: PolicyForm) -> tuple[Manifest, list[FieldError]]:
    """The NetworkPolicy the form describes, and the form's own errors (paths of the form)."""
    errors: list[FieldError] = []
    spec: Manifest = {"podSelector": _selector(form.pod_selector)}
    for field, peers_field in _DIRECTIONS:
        rules = getattr(form, field)
        if rules:
            spec[field] = [_rule(rule, Path(field).index(i), peers_field, errors)
                           for i, rule in enumerate(rules)]
    spec["policyTypes"] = (list(form.policy_types) if form.policy_types is not None
                           else default_policy_types(bool(form.egress)))
    metadata = {"name": form.name.strip(), "namespace": form.namespace.strip() or "default"}
    return {"apiVersion": API_VERSION, "kind": "NetworkPolicy", "metadata": metadata,
            "spec": spec}, errors


def _selector(labels: Mapping[str, str]) -> Manifest:
    return {"matchLabels": dict(labels)} if labels else {}


def _rule(rule: FormRule, path: Path, peers_field: str, errors: list[FieldError]) -> Manifest:
    out: Manifest = {}
    port = _port(rule.protocol.strip(), rule.port.strip(), path, errors)
    if port is not None:
        out["ports"] = [port]
    out[peers_field] = _peers(rule, path, errors)
    return out


def _port(protocol: str, text: str, path: Path, errors: list[FieldError]) -> Manifest | None:
    if protocol and protocol not in FORM_PROTOCOLS:
        errors.append(FieldError.not_supported(path.child("protocol"), protocol,
                                               list(FORM_PROTOCOLS)))
        return None
    if not protocol and not text:
        return None  # the seeds' default: every port, every protocol
    entry: Manifest = {"protocol": protocol or "TCP"}
    if not text:
        return entry
    found = _parse_port(text)
    if isinstance(found, str):
        errors.append(FieldError.invalid(path.child("port"), text, found))
        return None
    entry["port"] = found[0]
    if found[1] is not None:
        entry["endPort"] = found[1]
    return entry


def _parse_port(text: str) -> tuple[int, int | None] | str:
    """(port, endPort or None), or what is wrong with `text`."""
    match = _PORT.fullmatch(text)
    if match is None:
        return "must be a port number or a range of them, e.g. 80 or 8000-8080"
    start, end = int(match[1]), None if match[2] is None else int(match[2])
    for number in (start, end):
        if number is not None and is_valid_port_num(number):
            return is_valid_port_num(number)[0]
    if end is not None and end < start:
        return "the end of the range must be greater than or equal to its start"
    return start, end


def _peers(rule: FormRule, path: Path, errors: list[FieldError]) -> list[Manifest]:
    namespace, cidr = rule.namespace.strip(), rule.cidr.strip()
    if namespace and namespace != ALL_NAMESPACES:
        errors += [FieldError.invalid(path.child("namespace"), namespace, m)
                   for m in is_dns1123_label(namespace)]
    peers: list[Manifest] = []
    if namespace or rule.pod_labels or not cidr:
        peers.append(_pod_peer(namespace, rule.pod_labels))
    if cidr:
        block = _ip_block(cidr, path.child("cidr"), errors)
        if block is not None:
            peers.append({"ipBlock": block})
    return peers


def _pod_peer(namespace: str, labels: Mapping[str, str]) -> Manifest:
    peer: Manifest = {}
    if labels or not namespace:
        peer["podSelector"] = _selector(labels)
    if namespace == ALL_NAMESPACES:
        peer["namespaceSelector"] = {}
    elif namespace:
        peer["namespaceSelector"] = {"matchLabels": {NAMESPACE_NAME_LABEL: namespace}}
    return peer


def _ip_block(text: str, path: Path, errors: list[FieldError]) -> Manifest | None:
    """`cidr|except,except` as an ipBlock, checked as the API server checks one."""
    cidr, bar, rest = (part.strip() for part in text.partition("|"))
    excepts = [e.strip() for e in rest.split(",")] if bar else []
    if bar and not all(excepts):
        errors.append(FieldError.invalid(path, text, _CIDR_SYNTAX))
        return None
    found = validate_ip_block(IPBlock(cidr=cidr, except_=tuple(excepts)), Path("ipBlock"))
    if found:  # one form field: every error is the field's, the bad part its value
        errors += [FieldError(e.type, str(path), e.bad_value, e.detail) for e in found]
        return None
    return {"cidr": cidr, "except": excepts} if excepts else {"cidr": cidr}


# Manifest -> form.
class _Inexpressible(Exception):
    """The manifest says something the form has no field for."""


def _need(condition: object) -> None:
    if not condition:
        raise _Inexpressible


def manifest_to_form(manifest: Mapping[str, Any]) -> PolicyForm | None:
    """The form showing `manifest`, or None when the form cannot express it."""
    try:
        return _form(manifest)
    except (_Inexpressible, ValidationError):
        return None


def _mapping(value: object, keys: set[str]) -> Mapping[str, Any]:
    """`value` as a mapping (None: empty) whose keys are among `keys`."""
    value = {} if value is None else value
    _need(isinstance(value, Mapping) and set(value) <= keys)
    return value  # type: ignore[return-value]


def _form(manifest: Mapping[str, Any]) -> PolicyForm:
    meta = manifest.get("metadata") or {}
    _need(isinstance(meta, Mapping) and meta.get("name"))
    spec = _mapping(manifest.get("spec"), {"podSelector", "ingress", "egress", "policyTypes"})
    rules = {}
    for field, peers_field in _DIRECTIONS:
        listed = spec.get(field) or []
        _need(isinstance(listed, list))
        rules[field] = [_rule_form(rule, peers_field) for rule in listed]
    types = spec.get("policyTypes")
    _need(types is None or isinstance(types, list))
    if types is not None and list(types) == default_policy_types(bool(rules["egress"])):
        types = None
    return PolicyForm(name=meta["name"], namespace=meta.get("namespace") or "default",
                      pod_selector=_labels(spec.get("podSelector")), ingress=rules["ingress"],
                      egress=rules["egress"], policy_types=types)


def _labels(selector: object) -> dict[str, str]:
    """matchLabels of a selector that has nothing else."""
    selector = _mapping(selector, {"matchLabels", "matchExpressions"})
    _need(not selector.get("matchExpressions"))
    labels = selector.get("matchLabels") or {}
    _need(isinstance(labels, Mapping))
    _need(all(isinstance(k, str) and isinstance(v, str) for k, v in labels.items()))
    return dict(labels)


def _rule_form(rule: object, peers_field: str) -> FormRule:
    rule = _mapping(rule, {"ports", peers_field})
    protocol, port = _port_form(rule.get("ports") or [])
    peers = rule.get(peers_field)
    _need(isinstance(peers, list) and peers)
    blocks = [p for p in peers if isinstance(p, Mapping) and "ipBlock" in p]
    others = [p for p in peers if p not in blocks]
    _need(len(blocks) <= 1 and len(others) <= 1)
    namespace, labels = _pod_peer_form(others[0]) if others else ("", {})
    _need(not (blocks and others) or namespace or labels)  # else it reads as the CIDR alone
    cidr = _cidr_form(blocks[0]) if blocks else ""
    return FormRule(protocol=protocol, port=port, namespace=namespace, pod_labels=labels,
                    cidr=cidr)


def _port_form(ports: object) -> tuple[str, str]:
    _need(isinstance(ports, list) and len(ports) <= 1)
    if not ports:
        return "", ""
    entry = _mapping(ports[0], {"protocol", "port", "endPort"})
    protocol, port, end = entry.get("protocol") or "TCP", entry.get("port"), entry.get("endPort")
    _need(protocol in FORM_PROTOCOLS)
    _need(port is None or (isinstance(port, int) and not isinstance(port, bool)))
    _need(end is None or (port is not None and isinstance(end, int)))
    text = "" if port is None else str(port) if end is None else f"{port}-{end}"
    return protocol, text


def _pod_peer_form(peer: object) -> tuple[str, dict[str, str]]:
    peer = _mapping(peer, {"podSelector", "namespaceSelector"})
    _need(peer)
    labels = _labels(peer.get("podSelector"))
    if "namespaceSelector" not in peer:
        return "", labels
    selected = _labels(peer["namespaceSelector"])
    if not selected:
        return ALL_NAMESPACES, labels
    _need(set(selected) == {NAMESPACE_NAME_LABEL})
    return selected[NAMESPACE_NAME_LABEL], labels


def _cidr_form(peer: Mapping[str, Any]) -> str:
    block = _mapping(_mapping(peer, {"ipBlock"})["ipBlock"], {"cidr", "except"})
    cidr, excepts = block.get("cidr"), block.get("except") or []
    _need(isinstance(cidr, str) and cidr and isinstance(excepts, list))
    _need(all(isinstance(e, str) and e for e in excepts))
    return f"{cidr}|{','.join(excepts)}" if excepts else cidr
