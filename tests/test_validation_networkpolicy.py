"""Validation of model objects built directly: what manifests cannot reach, and the objects
a policy selects.

The manifest-level NetworkPolicy cases live in the catalogue (test_validation_catalogue.py);
these cover model states the decoder never produces (an empty namespace, an oversized
annotation map), each validation function on its own, and Pods and Namespaces.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

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
from podwall.validation import (
    Path,
    generated_name,
    parse_cidr_sloppy,
    validate_label_selector,
    validate_namespace,
    validate_network_policy,
    validate_object_meta,
    validate_pod,
)
from podwall.validation.meta import name_is_dns_label, name_is_dns_subdomain
from podwall.validation.networkpolicy import (
    validate_ip_block,
    validate_network_policy_peer,
    validate_network_policy_port,
)

BASE = NetworkPolicy(name="foo", namespace="bar", policy_types=("Ingress",))
PROTOS = 'supported values: "TCP", "UDP", "SCTP"'
RANGE = "must be between 1 and 65535, inclusive"
CIDR = "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)"


def _rendered(errors: list) -> list[str]:
    return [err.render() for err in errors]


# --- NetworkPolicy: model states no manifest produces ---
@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        pytest.param(BASE, [], id="a defaulted policy with nothing else is valid"),
        pytest.param(replace(BASE, namespace=""), ["metadata.namespace: Required value"],
                     id="a policy outside any namespace needs metadata.namespace"),
        pytest.param(replace(BASE, name="", generate_name=""),
                     ["metadata.name: Required value: name or generateName is required"],
                     id="neither name nor generateName"),
        pytest.param(replace(BASE, annotations=Labels({"big": "x" * (256 * 1024 - 3)})), [],
                     id="annotations of exactly 256 KiB fit"),
        pytest.param(replace(BASE, annotations=Labels({"big": "x" * (256 * 1024 - 2)})),
                     ["metadata.annotations: Too long: may not be more than 262144 bytes"],
                     id="annotations over 256 KiB in total are too long"),
        pytest.param(replace(BASE, policy_types=()), [],
                     id="no policyTypes (an undefaulted policy) is not an error in itself"),
    ],
)  # fmt: skip
def test_network_policy_model_states(policy: NetworkPolicy, expected: list[str]) -> None:
    assert _rendered(validate_network_policy(policy)) == expected


def test_generated_name_keeps_58_bytes_of_generate_name() -> None:
    assert generated_name("web-") == "web-xxxxx"
    assert generated_name("a" * 70) == "a" * 58 + "xxxxx"


@pytest.mark.parametrize(
    ("name", "prefix", "expected"),
    [
        pytest.param("web-", True, [], id="a generateName may end in a dash"),
        pytest.param("-", True, ["a lowercase RFC 1123 subdomain"], id="a lone dash is not masked"),
        pytest.param("web-", False, ["a lowercase RFC 1123 subdomain"], id="a name may not"),
    ],
)
def test_name_functions_mask_a_trailing_dash_for_prefixes(
    name: str, prefix: bool, expected: list[str]
) -> None:
    messages = name_is_dns_subdomain(name, prefix)
    assert [m[: len(e)] for m, e in zip(messages, expected, strict=True)] == expected


def test_cluster_scoped_metadata_may_not_have_a_namespace() -> None:
    errors = validate_object_meta(
        name="x", namespace="bar", name_fn=name_is_dns_label, requires_namespace=False
    )
    assert _rendered(errors) == ["metadata.namespace: Forbidden: not allowed on this type"]


# --- the spec functions on their own ---
PORT = Path("spec.ingress[0].ports[0]")


@pytest.mark.parametrize(
    ("port", "expected"),
    [
        pytest.param(PolicyPort(protocol=None, port=80), [], id="an absent protocol is allowed"),
        pytest.param(PolicyPort(protocol="UDP", port=None, end_port=None), [],
                     id="a protocol alone means every port"),
        pytest.param(PolicyPort(protocol="ICMP", port=-1, end_port=-2), [
            f'{PORT}.protocol: Unsupported value: "ICMP": {PROTOS}',
            f"{PORT}.port: Invalid value: -1: {RANGE}",
            f"{PORT}.endPort: Invalid value: -2: must be greater than or equal to `port`",
            f"{PORT}.endPort: Invalid value: -2: {RANGE}",
        ], id="every port error is collected"),
    ],
)  # fmt: skip
def test_network_policy_port(port: PolicyPort, expected: list[str]) -> None:
    assert _rendered(validate_network_policy_port(port, PORT)) == expected


PEER = Path("spec.egress[0].to[0]")
BAD_KEY = Requirement(key="", operator="Exists")


@pytest.mark.parametrize(
    ("peer", "expected"),
    [
        pytest.param(Peer(), [f"{PEER}: Required value: must specify a peer"], id="empty peer"),
        pytest.param(Peer(pod_selector=LabelSelector(), namespace_selector=LabelSelector()), [],
                     id="pods in all namespaces"),
        pytest.param(
            Peer(namespace_selector=LabelSelector(match_expressions=(BAD_KEY,)),
                 ip_block=IPBlock(cidr="")),
            [
                f'{PEER}.namespaceSelector.matchExpressions[0].key: Invalid value: "": '
                "name part must be non-empty",
                f'{PEER}.namespaceSelector.matchExpressions[0].key: Invalid value: "": name part '
                "must consist of alphanumeric characters, '-', '_' or '.', and must start and "
                "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
                "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?"
                "[A-Za-z0-9]')",
                f"{PEER}.ipBlock.cidr: Required value",
                f"{PEER}: Forbidden: may not specify both ipBlock and another peer",
            ],
            id="selector errors, then ipBlock errors, then the one-of rule",
        ),
    ],
)  # fmt: skip
def test_network_policy_peer(peer: Peer, expected: list[str]) -> None:
    assert _rendered(validate_network_policy_peer(peer, PEER)) == expected


BLOCK = Path("spec.ingress[0].from[0].ipBlock")


@pytest.mark.parametrize(
    ("block", "strict", "expected"),
    [
        pytest.param(IPBlock(cidr="10.0.0.0/8", except_=("10.1.0.0/16", "10.2.0.0/16")), True, [],
                     id="excepts inside the cidr"),
        pytest.param(IPBlock(cidr="10.0.0.1/8", except_=("10.1.0.1/16",)), False, [],
                     id="legacy: host bits are masked on both sides"),
        pytest.param(IPBlock(cidr="10.0.0.1/8", except_=("10.1.0.1/16",)), True, [
            f'{BLOCK}.cidr: Invalid value: "10.0.0.1/8": '
            "must not have bits set beyond the prefix length",
            f'{BLOCK}.except[0]: Invalid value: "10.1.0.1/16": '
            "must not have bits set beyond the prefix length",
        ], id="strict: host bits are errors on both sides"),
        pytest.param(IPBlock(cidr="1.2.3.4", except_=("x",)), True,
                     [f'{BLOCK}.cidr: Invalid value: "1.2.3.4": {CIDR}'],
                     id="an unparseable cidr ends the ipBlock checks"),
        pytest.param(IPBlock(cidr="fd00::/8", except_=("10.0.0.0/8", "fd00::/8")), True, [
            f'{BLOCK}.except[0]: Invalid value: "10.0.0.0/8": must be a strict subset of `cidr`',
            f'{BLOCK}.except[1]: Invalid value: "fd00::/8": must be a strict subset of `cidr`',
        ], id="an except of the other family, and one equal to the cidr"),
    ],
)  # fmt: skip
def test_ip_block(block: IPBlock, strict: bool, expected: list[str]) -> None:
    assert _rendered(validate_ip_block(block, BLOCK, strict)) == expected


@pytest.mark.parametrize(
    ("network", "ip", "contained"),
    [
        pytest.param("10.0.0.0/8", "10.1.0.0/16", True, id="an IPv4 subnet"),
        pytest.param("::ffff:10.0.0.0/104", "10.1.0.0/16", True,
                     id="an IPv4-mapped network contains IPv4 addresses (net.IPNet.Contains)"),
        pytest.param("10.0.0.0/8", "::ffff:10.1.0.0/112", True,
                     id="an IPv4 network contains IPv4-mapped addresses"),
        pytest.param("::/0", "10.0.0.0/8", False, id="::/0 holds no IPv4 address"),
        pytest.param("0.0.0.0/0", "fd00::/8", False, id="0.0.0.0/0 holds no IPv6 address"),
    ],
)  # fmt: skip
def test_ipnet_contains_as_go_does(network: str, ip: str, contained: bool) -> None:
    outer, inner = parse_cidr_sloppy(network), parse_cidr_sloppy(ip)
    assert outer is not None and inner is not None
    assert outer.contains(inner.ip) is contained


def test_selector_values_may_be_invalid_only_when_allowed() -> None:
    requirement = Requirement(key="k", operator="In", values=("-",))
    selector = LabelSelector(match_expressions=(requirement,))
    path = Path("spec.podSelector")
    assert len(validate_label_selector(selector, path)) == 1
    assert validate_label_selector(selector, path, allow_invalid_label_value=True) == []


def test_rules_without_peers_or_ports_are_valid() -> None:
    policy = replace(BASE, ingress=(Rule(),), egress=(Rule(),), policy_types=("Ingress", "Egress"))
    assert validate_network_policy(policy) == []


# --- Pods: the parts analysis depends on ---
POD = Pod(name="web-0", namespace="shop", labels=Labels({"app": "web"}))
LEGACY_IP = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"
ONE_PER_FAMILY = "may specify no more than one IP for each IP family"
C0 = Path("spec.containers[0].ports")
C1 = Path("spec.containers[1].ports")


@pytest.mark.parametrize(
    ("pod", "expected"),
    [
        pytest.param(POD, [], id="a plain pod is valid"),
        pytest.param(replace(POD, name="Web_0", namespace="a.b"), [
            'metadata.name: Invalid value: "Web_0": a lowercase RFC 1123 subdomain must consist '
            "of lower case alphanumeric characters, '-' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
            'metadata.namespace: Invalid value: "a.b": must not contain dots',
        ], id="pod name is a DNS subdomain, its namespace a DNS label"),
        pytest.param(replace(POD, labels=Labels({"app": "-"})), [
            'metadata.labels: Invalid value: "-": a valid label must be an empty string or '
            "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
            "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')",
        ], id="pod labels are validated"),
        pytest.param(replace(POD, node_name="Node_1"), [
            'spec.nodeName: Invalid value: "Node_1": a lowercase RFC 1123 subdomain must '
            "consist of lower case alphanumeric characters, '-' or '.', and must start and end "
            "with an alphanumeric character (e.g. 'example.com', regex used for validation is "
            "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
        ], id="nodeName is a DNS subdomain"),
        pytest.param(replace(POD, ips=("10.0.0.1", "fd00::1")), [], id="one IP of each family"),
        pytest.param(replace(POD, ips=("10.0.0.1", "10.0.0.2")), [
            'status.podIPs: Invalid value: []core.PodIP{core.PodIP{IP:"10.0.0.1"}, '
            f'core.PodIP{{IP:"10.0.0.2"}}}}: {ONE_PER_FAMILY}',
        ], id="two IPv4 pod IPs"),
        pytest.param(replace(POD, ips=("10.0.0.1", "fd00::1", "fd00::2")), [
            'status.podIPs: Invalid value: []core.PodIP{core.PodIP{IP:"10.0.0.1"}, '
            'core.PodIP{IP:"fd00::1"}, core.PodIP{IP:"fd00::2"}}: ' + ONE_PER_FAMILY,
        ], id="three pod IPs"),
        pytest.param(replace(POD, ips=("10.0.0.256", "fd00::1")), [
            f'status.podIPs[0]: Invalid value: "10.0.0.256": {LEGACY_IP}',
            'status.podIPs: Invalid value: []core.PodIP{core.PodIP{IP:"10.0.0.256"}, '
            f'core.PodIP{{IP:"fd00::1"}}}}: {ONE_PER_FAMILY}',
        ], id="an unparseable pod IP also fails the dual-stack check"),
        pytest.param(replace(POD, ips=("010.0.0.1",)),
                     ['status.podIPs[0]: Invalid value: "010.0.0.1": must not have leading 0s'],
                     id="strict: a pod IP with leading zeros"),
        pytest.param(replace(POD, host_ip="::ffff:10.0.0.1"), [
            'status.hostIPs[0]: Invalid value: "::ffff:10.0.0.1": '
            "must not be an IPv4-mapped IPv6 address",
        ], id="hostIP is checked as hostIPs[0]"),
    ],
)  # fmt: skip
def test_pod(pod: Pod, expected: list[str]) -> None:
    assert _rendered(validate_pod(pod)) == expected


def test_pod_ips_in_legacy_mode_accept_leading_zeros() -> None:
    assert validate_pod(replace(POD, ips=("010.0.0.1",)), strict_ip=False) == []


def _port(
    number: int, name: str = "", protocol: str = "TCP", container: int = 0, position: int = 0
) -> ContainerPort:
    return ContainerPort(
        container_port=number, name=name, protocol=protocol, container=container, position=position
    )


@pytest.mark.parametrize(
    ("ports", "paths", "expected"),
    [
        pytest.param((_port(80, "http"), _port(443, "https")), None, [],
                     id="named ports, no paths given"),
        pytest.param((_port(0), _port(70000, "", "ICMP", 0, 1), _port(53, "dns", "", 1, 0)), None, [
            "spec.containers[0].ports[0].containerPort: Required value",
            f"spec.containers[0].ports[1].containerPort: Invalid value: 70000: {RANGE}",
            'spec.containers[0].ports[1].protocol: Unsupported value: "ICMP": '
            'supported values: "SCTP", "TCP", "UDP"',
            "spec.containers[1].ports[0].protocol: Required value",
        ], id="containerPort 0 is required, protocols are checked (paths from the ports)"),
        pytest.param((_port(80, "HTTP"),), [C0.index(0)], [
            'spec.containers[0].ports[0].name: Invalid value: "HTTP": must contain only '
            "alpha-numeric characters (a-z, 0-9), and hyphens (-)",
            'spec.containers[0].ports[0].name: Invalid value: "HTTP": '
            "must contain at least one letter (a-z)",
        ], id="port names are IANA service names"),
        pytest.param((_port(80, "http"), _port(8080, "http")), [C0.index(0), C0.index(1)],
                     ['spec.containers[0].ports[1].name: Duplicate value: "http"'],
                     id="a port name used twice in one container"),
        pytest.param((_port(80, "http"), _port(8080, "http")), [C0.index(0), C1.index(0)], [],
                     id="containers may reuse each other's port names"),
        pytest.param((_port(80, "http"), _port(8080, "http", "TCP", 0, 1)), None,
                     ['spec.containers[0].ports[1].name: Duplicate value: "http"'],
                     id="without paths, each port's own container and position are used"),
        pytest.param((_port(80, "http"), _port(8080, "http", "TCP", 1, 0)), None, [],
                     id="without paths, containers may still reuse port names"),
    ],
)  # fmt: skip
def test_pod_container_ports(
    ports: tuple[ContainerPort, ...], paths: list[Path] | None, expected: list[str]
) -> None:
    assert _rendered(validate_pod(replace(POD, ports=ports), port_paths=paths)) == expected


def test_port_paths_must_match_the_ports() -> None:
    with pytest.raises(ValueError, match="one path per port"):
        validate_pod(replace(POD, ports=(_port(80),)), port_paths=[])


# --- Namespaces ---
@pytest.mark.parametrize(
    ("namespace", "expected"),
    [
        pytest.param(Namespace(name="shop", labels=Labels({"kubernetes.io/metadata.name": "shop"})),
                     [], id="a defaulted namespace is valid"),
        pytest.param(Namespace(name="team.a"),
                     ['metadata.name: Invalid value: "team.a": must not contain dots'],
                     id="a namespace name is a DNS label"),
        pytest.param(Namespace(name="n" * 64),
                     [f'metadata.name: Invalid value: "{"n" * 64}": '
                      "must be no more than 63 characters"],
                     id="a namespace name has at most 63 characters"),
        pytest.param(Namespace(name="shop", labels=Labels({"/x": "y"})),
                     ['metadata.labels: Invalid value: "/x": prefix part must be non-empty'],
                     id="namespace labels are validated"),
    ],
)  # fmt: skip
def test_namespace(namespace: Namespace, expected: list[str]) -> None:
    assert _rendered(validate_namespace(namespace)) == expected
