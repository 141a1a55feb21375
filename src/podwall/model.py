"""The core types: Namespaces, Pods and NetworkPolicies as the API server holds them.

One set of frozen types serves both sides of validation. Before defaulting, optional fields
may be None and strings may hold any value (so validation can report them); after
`defaults.default_*` and a clean `validation.validate_*`, the semantics core may rely on every
port having a protocol and every policy having policyTypes.

Direction is normalised once: ingress `from` and egress `to` are both `Rule.peers`; the wire
names live in `DIRECTION_FIELDS` only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

__all__ = [
    "DIRECTION_FIELDS",
    "NAMESPACE_NAME_LABEL",
    "Cluster",
    "ContainerPort",
    "Direction",
    "IPBlock",
    "LabelSelector",
    "Labels",
    "Namespace",
    "NetworkPolicy",
    "Peer",
    "Pod",
    "PolicyPort",
    "Protocol",
    "Requirement",
    "Rule",
    "SelectorOperator",
]

NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


class Protocol(StrEnum):
    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


class Direction(StrEnum):
    """A policyType; also the direction a rule judges."""

    INGRESS = "Ingress"
    EGRESS = "Egress"


# Direction -> (spec field holding its rules, rule field holding its peers).
DIRECTION_FIELDS: Mapping[Direction, tuple[str, str]] = {
    Direction.INGRESS: ("ingress", "from"),
    Direction.EGRESS: ("egress", "to"),
}


class SelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class Labels(Mapping[str, str]):
    """An immutable, hashable label map (sorted, so equal maps compare and print alike)."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: dict[str, str] = dict(sorted((items or {}).items()))
        self._hash = hash(tuple(self._items.items()))

    def __getitem__(self, key: str) -> str:
        return self._items[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Labels):
            return self._items == other._items
        if isinstance(other, Mapping):
            return self._items == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        return f"Labels({self._items!r})"

    def with_items(self, extra: Mapping[str, str]) -> Labels:
        return Labels({**self._items, **extra})

    def to_dict(self) -> dict[str, str]:
        return dict(self._items)

    def render(self) -> str:
        """`k=v,k2=v2`, as `kubectl get --show-labels` prints them."""
        return ",".join(f"{k}={v}" for k, v in self._items.items()) or "<none>"


@dataclass(frozen=True, slots=True, kw_only=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LabelSelector:
    """metav1.LabelSelector. The empty selector matches everything."""

    match_labels: Labels = field(default_factory=Labels)
    match_expressions: tuple[Requirement, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not self.match_labels and not self.match_expressions

    def render(self) -> str:
        """The selector in kubectl's string syntax (`role=db,tier in (a,b)`)."""
        parts = [f"{k}={v}" for k, v in self.match_labels.items()]
        for req in self.match_expressions:
            if req.operator == SelectorOperator.IN:
                parts.append(f"{req.key} in ({','.join(req.values)})")
            elif req.operator == SelectorOperator.NOT_IN:
                parts.append(f"{req.key} notin ({','.join(req.values)})")
            elif req.operator == SelectorOperator.EXISTS:
                parts.append(req.key)
            else:
                parts.append(f"!{req.key}")
        return ",".join(parts) or "<all>"


@dataclass(frozen=True, slots=True, kw_only=True)
class IPBlock:
    cidr: str
    except_: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class Peer:
    """NetworkPolicyPeer. None means the field is absent, which differs from empty ({})."""

    pod_selector: LabelSelector | None = None
    namespace_selector: LabelSelector | None = None
    ip_block: IPBlock | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PolicyPort:
    """NetworkPolicyPort. `port` is an int (number) or a str (a port name)."""

    protocol: str | None = None
    port: int | str | None = None
    end_port: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """One ingress or egress rule. Empty `peers` or `ports` mean "all"."""

    ports: tuple[PolicyPort, ...] = ()
    peers: tuple[Peer, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class NetworkPolicy:
    name: str
    namespace: str
    pod_selector: LabelSelector = field(default_factory=LabelSelector)
    ingress: tuple[Rule, ...] = ()
    egress: tuple[Rule, ...] = ()
    policy_types: tuple[str, ...] = ()
    labels: Labels = field(default_factory=Labels)
    annotations: Labels = field(default_factory=Labels)
    generate_name: str = ""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def rules(self, direction: Direction) -> tuple[Rule, ...]:
        return self.ingress if direction is Direction.INGRESS else self.egress

    def has_type(self, direction: Direction) -> bool:
        return direction.value in self.policy_types


@dataclass(frozen=True, slots=True, kw_only=True)
class ContainerPort:
    """One entry of `spec.containers[container].ports[position]`."""

    container_port: int
    protocol: str = Protocol.TCP
    name: str = ""
    container: int = 0
    position: int = 0


@dataclass(frozen=True, slots=True, kw_only=True)
class Pod:
    """The parts of a Pod that NetworkPolicy depends on.

    `ips` holds status.podIPs (or status.podIP); a pod without an IP has an empty tuple.
    A hostNetwork pod's IPs are its node's.
    """

    name: str
    namespace: str
    labels: Labels = field(default_factory=Labels)
    node_name: str = ""
    host_network: bool = False
    ips: tuple[str, ...] = ()
    host_ip: str = ""
    ports: tuple[ContainerPort, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    def resolve_port(self, name: str, protocol: str) -> int | None:
        """The number a named port means on this pod, if it declares it for this protocol."""
        for port in self.ports:
            if port.name == name and port.protocol == protocol:
                return port.container_port
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Namespace:
    name: str
    labels: Labels = field(default_factory=Labels)
    implied: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Cluster:
    """Everything one analysis looks at, in a stable order (namespace, then name)."""

    namespaces: tuple[Namespace, ...] = ()
    pods: tuple[Pod, ...] = ()
    policies: tuple[NetworkPolicy, ...] = ()

    def namespace(self, name: str) -> Namespace | None:
        for ns in self.namespaces:
            if ns.name == name:
                return ns
        return None

    def pod(self, key: str) -> Pod | None:
        for pod in self.pods:
            if pod.key == key:
                return pod
        return None
