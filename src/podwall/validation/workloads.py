"""Pod and Namespace validation, limited to the fields NetworkPolicy analysis reads.

Upstream: `pkg/apis/core/validation/validation.go` -- ValidateNamespace, and for Pods the
metadata (validatePodMetadataAndSpec), container ports (validateContainerPorts), nodeName
(ValidatePodSpec) and status IPs (validatePodIPs, validateHostIPs, run on status updates).
Everything else in a PodSpec is out of scope: podwall never reads it.

Container ports. The model flattens every container's ports into `Pod.ports`; each keeps its
container index and position, so errors name upstream's exact path
(`spec.containers[1].ports[0]`) and port-name uniqueness is checked per container, as upstream
does. `port_paths` overrides those paths (one `Path` per port).

IPs. Pod IPs use legacy IP validation (`strict_ip` is StrictIPCIDRValidation) and at most one
IP per family. `Pod.host_ip` is checked as `status.hostIPs[0]`: the v1 -> internal conversion
puts `hostIP` there when `hostIPs` is absent.
"""

from __future__ import annotations

from collections.abc import Sequence

from podwall.model import ContainerPort, Namespace, Pod
from podwall.validation.apimachinery import (
    is_valid_ip_for_legacy_field,
    is_valid_port_name,
    is_valid_port_num,
    parse_ip_sloppy,
)
from podwall.validation.field import FieldError, GoLiteral, Path, go_quote
from podwall.validation.meta import (
    name_is_dns_subdomain,
    validate_namespace_name,
    validate_object_meta,
)

__all__ = ["validate_namespace", "validate_pod", "validate_pod_name"]

validate_pod_name = name_is_dns_subdomain
_NODE_NAME = name_is_dns_subdomain
_PORT_PROTOCOLS = ["SCTP", "TCP", "UDP"]  # sets.List(supportedPortProtocols): sorted


def validate_namespace(namespace: Namespace) -> list[FieldError]:
    """ValidateNamespace: ObjectMeta of a cluster-scoped object named as a DNS label."""
    return validate_object_meta(
        name=namespace.name,
        labels=namespace.labels,
        name_fn=validate_namespace_name,
        requires_namespace=False,
    )


def validate_pod(
    pod: Pod, *, port_paths: Sequence[Path] | None = None, strict_ip: bool = True
) -> list[FieldError]:
    """Metadata, then spec (container ports, nodeName), then status (pod IPs, host IP)."""
    errs = validate_object_meta(
        name=pod.name, namespace=pod.namespace, labels=pod.labels, name_fn=validate_pod_name
    )
    errs += _validate_container_ports(pod.ports, port_paths)
    if pod.node_name:
        node_path = Path("spec.nodeName")
        errs += [
            FieldError.invalid(node_path, pod.node_name, m)
            for m in _NODE_NAME(pod.node_name, False)
        ]
    errs += _validate_pod_ips(pod.ips, strict_ip)
    if pod.host_ip:
        host_path = Path("status.hostIPs").index(0)
        errs += is_valid_ip_for_legacy_field(host_path, pod.host_ip, strict_ip)
    return errs


def _validate_container_ports(
    ports: tuple[ContainerPort, ...], port_paths: Sequence[Path] | None
) -> list[FieldError]:
    if port_paths is None:
        port_paths = [
            Path("spec.containers").index(p.container).child("ports").index(p.position)
            for p in ports
        ]
    if len(port_paths) != len(ports):
        raise ValueError("port_paths must hold one path per port")
    errs: list[FieldError] = []
    names_by_container: dict[str, set[str]] = {}
    for port, path in zip(ports, port_paths, strict=True):
        container = str(path).rpartition(".ports[")[0]
        errs += _validate_container_port(
            port, path, names_by_container.setdefault(container, set())
        )
    return errs


def _validate_container_port(port: ContainerPort, path: Path, seen: set[str]) -> list[FieldError]:
    """One entry of validateContainerPorts (hostPort and hostIP are not modelled)."""
    errs: list[FieldError] = []
    if port.name:
        name_errs = is_valid_port_name(port.name)
        if name_errs:
            errs += [FieldError.invalid(path.child("name"), port.name, m) for m in name_errs]
        elif port.name in seen:
            errs.append(FieldError.duplicate(path.child("name"), port.name))
        else:
            seen.add(port.name)
    number_path = path.child("containerPort")
    if port.container_port == 0:
        errs.append(FieldError.required(number_path))
    else:
        errs += [
            FieldError.invalid(number_path, port.container_port, m)
            for m in is_valid_port_num(port.container_port)
        ]
    if not port.protocol:
        errs.append(FieldError.required(path.child("protocol")))
    elif port.protocol not in _PORT_PROTOCOLS:
        errs.append(
            FieldError.not_supported(path.child("protocol"), port.protocol, _PORT_PROTOCOLS)
        )
    return errs


def _validate_pod_ips(ips: tuple[str, ...], strict: bool) -> list[FieldError]:
    """validatePodIPs: every IP valid, and more than one only as an IPv4 + IPv6 pair."""
    path = Path("status.podIPs")
    errs: list[FieldError] = []
    for i, ip in enumerate(ips):
        errs += is_valid_ip_for_legacy_field(path.index(i), ip, strict)
    if len(ips) > 1 and (len(ips) > 2 or not _is_dual_stack(ips)):
        # field.Invalid(podIPsField, pod.Status.PodIPs, ...): a []core.PodIP, printed with %#v.
        items = ", ".join(f"core.PodIP{{IP:{go_quote(ip)}}}" for ip in ips)
        value = GoLiteral(f"[]core.PodIP{{{items}}}")
        errs.append(
            FieldError.invalid(path, value, "may specify no more than one IP for each IP family")
        )
    return errs


def _is_dual_stack(ips: tuple[str, ...]) -> bool:
    """netutils.IsDualStackIPStrings: every IP parses, and both families are present."""
    parsed = [parse_ip_sloppy(ip) for ip in ips]
    if any(ip is None for ip in parsed):
        return False
    families = {4 if ip is not None and _is_ipv4(ip) else 6 for ip in parsed}
    return families == {4, 6}


def _is_ipv4(ip: bytes) -> bool:
    # net.IP.To4() != nil: IPv4 text, or IPv6 text that is an IPv4-mapped address.
    return len(ip) == 4 or ip[:12] == bytes(10) + b"\xff\xff"
