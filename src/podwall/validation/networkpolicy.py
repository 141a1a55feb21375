"""NetworkPolicy validation on create, byte for byte as the API server performs it.

Port of `pkg/apis/networking/validation/validation.go` (ValidateNetworkPolicy and the spec,
port, peer and ipBlock functions it calls). Errors come in upstream's order: metadata, then
spec.podSelector, each ingress rule's ports then `from`, each egress rule's ports then `to`,
then policyTypes. The policy is expected to be defaulted (`defaults.default_network_policy`):
upstream validates after defaulting, so an absent protocol is TCP by the time it gets here.

`strict_cidr` is the StrictIPCIDRValidation feature gate (see `apimachinery` for exactly what
each mode accepts). Create requests have no old object, so upstream's
`AllowCIDRsEvenIfInvalid` (update ratcheting) is always empty here, and
`AllowInvalidLabelValueInSelector` is false, as ValidationOptionsForNetworking sets it on create.
"""

from __future__ import annotations

from podwall.model import (
    DIRECTION_FIELDS,
    Direction,
    IPBlock,
    NetworkPolicy,
    Peer,
    PolicyPort,
    Rule,
)
from podwall.validation.apimachinery import (
    is_valid_cidr_for_legacy_field,
    is_valid_port_name,
    is_valid_port_num,
    parse_cidr_sloppy,
)
from podwall.validation.field import FieldError, GoLiteral, Path, go_quote
from podwall.validation.meta import (
    name_is_dns_subdomain,
    validate_label_selector,
    validate_object_meta,
)

__all__ = [
    "validate_ip_block",
    "validate_network_policy",
    "validate_network_policy_name",
    "validate_network_policy_peer",
    "validate_network_policy_port",
]

_PROTOCOLS = ["TCP", "UDP", "SCTP"]  # upstream's order in the NotSupported list
_POLICY_TYPES = [Direction.INGRESS.value, Direction.EGRESS.value]

validate_network_policy_name = name_is_dns_subdomain


def validate_network_policy(policy: NetworkPolicy, *, strict_cidr: bool = True) -> list[FieldError]:
    """ValidateNetworkPolicy: ValidateObjectMeta then ValidateNetworkPolicySpec."""
    errs = validate_object_meta(
        name=policy.name,
        generate_name=policy.generate_name,
        namespace=policy.namespace,
        labels=policy.labels,
        annotations=policy.annotations,
        name_fn=validate_network_policy_name,
    )
    return errs + _validate_spec(policy, Path("spec"), strict_cidr)


def _validate_spec(policy: NetworkPolicy, path: Path, strict_cidr: bool) -> list[FieldError]:
    errs = validate_label_selector(policy.pod_selector, path.child("podSelector"))
    for direction in (Direction.INGRESS, Direction.EGRESS):
        rules_field, peers_field = DIRECTION_FIELDS[direction]
        for i, rule in enumerate(policy.rules(direction)):
            rule_path = path.child(rules_field).index(i)
            errs += _validate_rule(rule, rule_path, peers_field, strict_cidr)
    return errs + _validate_policy_types(policy.policy_types, path.child("policyTypes"))


def _validate_rule(rule: Rule, path: Path, peers_field: str, strict: bool) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, port in enumerate(rule.ports):
        errs += validate_network_policy_port(port, path.child("ports").index(i))
    for i, peer in enumerate(rule.peers):
        errs += validate_network_policy_peer(peer, path.child(peers_field).index(i), strict)
    return errs


def _validate_policy_types(policy_types: tuple[str, ...], path: Path) -> list[FieldError]:
    if len(policy_types) > len(_POLICY_TYPES):
        # field.Invalid(..., &spec.PolicyTypes, ...): the pointer's target prints with %#v.
        items = ", ".join(go_quote(t) for t in policy_types)
        value = GoLiteral(f"[]networking.PolicyType{{{items}}}")
        return [FieldError.invalid(path, value, "may not specify more than two policyTypes")]
    return [
        FieldError.not_supported(path.index(i), policy_type, _POLICY_TYPES)
        for i, policy_type in enumerate(policy_types)
        if policy_type not in _POLICY_TYPES
    ]


def validate_network_policy_port(port: PolicyPort, path: Path) -> list[FieldError]:
    """ValidateNetworkPolicyPort: protocol, port (number or name) and endPort."""
    errs: list[FieldError] = []
    if port.protocol is not None and port.protocol not in _PROTOCOLS:
        errs.append(FieldError.not_supported(path.child("protocol"), port.protocol, _PROTOCOLS))
    if port.port is None:
        if port.end_port is not None:
            detail = "may not be specified when `port` is not specified"
            errs.append(FieldError.invalid(path.child("endPort"), port.end_port, detail))
    elif isinstance(port.port, int):
        port_path = path.child("port")
        errs += [FieldError.invalid(port_path, port.port, m) for m in is_valid_port_num(port.port)]
        if port.end_port is not None:
            errs += _validate_end_port(port.port, port.end_port, path.child("endPort"))
    else:
        if port.end_port is not None:
            detail = "may not be specified when `port` is non-numeric"
            errs.append(FieldError.invalid(path.child("endPort"), port.end_port, detail))
        errs += [
            FieldError.invalid(path.child("port"), port.port, m)
            for m in is_valid_port_name(port.port)
        ]
    return errs


def _validate_end_port(port: int, end_port: int, path: Path) -> list[FieldError]:
    errs: list[FieldError] = []
    if end_port < port:
        errs.append(FieldError.invalid(path, end_port, "must be greater than or equal to `port`"))
    errs += [FieldError.invalid(path, end_port, m) for m in is_valid_port_num(end_port)]
    return errs


def validate_network_policy_peer(
    peer: Peer, path: Path, strict_cidr: bool = True
) -> list[FieldError]:
    """ValidateNetworkPolicyPeer: each selector, the ipBlock, then the one-of rules."""
    errs: list[FieldError] = []
    count = 0
    if peer.pod_selector is not None:
        count += 1
        errs += validate_label_selector(peer.pod_selector, path.child("podSelector"))
    if peer.namespace_selector is not None:
        count += 1
        errs += validate_label_selector(peer.namespace_selector, path.child("namespaceSelector"))
    if peer.ip_block is not None:
        count += 1
        errs += validate_ip_block(peer.ip_block, path.child("ipBlock"), strict_cidr)
    if count == 0:
        errs.append(FieldError.required(path, "must specify a peer"))
    elif count > 1 and peer.ip_block is not None:
        errs.append(FieldError.forbidden(path, "may not specify both ipBlock and another peer"))
    return errs


def validate_ip_block(ip_block: IPBlock, path: Path, strict_cidr: bool = True) -> list[FieldError]:
    """ValidateIPBlock: a bad cidr stops here; each except is checked, then must be a strict
    subset of cidr (`!cidrIPNet.Contains(exceptCIDR.IP) || cidrMaskLen >= exceptMaskLen`)."""
    cidr = ip_block.cidr
    if not cidr:
        return [FieldError.required(path.child("cidr"))]
    errs = is_valid_cidr_for_legacy_field(path.child("cidr"), cidr, strict_cidr)
    network = parse_cidr_sloppy(cidr)
    if network is None:
        return errs  # "Implies validation would have failed so we already added errors for it."
    for i, except_cidr in enumerate(ip_block.except_):
        except_path = path.child("except").index(i)
        errs += is_valid_cidr_for_legacy_field(except_path, except_cidr, strict_cidr)
        excepted = parse_cidr_sloppy(except_cidr)
        if excepted is None:
            continue
        if not network.contains(excepted.ip) or network.prefix >= excepted.prefix:
            detail = "must be a strict subset of `cidr`"
            errs.append(FieldError.invalid(except_path, except_cidr, detail))
    return errs
