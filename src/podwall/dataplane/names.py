"""Wire names podwall's data plane uses, defined once: table, chains, sets, interfaces.

Pod interfaces follow Calico's convention (`cali` + the first 11 hex digits of
sha1("<namespace>.<pod>")), so the same compiler serves the lab and Calico-style nodes.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum

__all__ = [
    "DIRECTION_WORDS",
    "EGRESS_DISPATCH",
    "INGRESS_DISPATCH",
    "INTERFACE_PREFIX",
    "TABLE",
    "TABLE_FAMILY",
    "PodMatch",
    "denied_set",
    "interface_name",
    "object_suffix",
]

TABLE_FAMILY = "inet"
TABLE = "podwall"
INTERFACE_PREFIX = "cali"
EGRESS_DISPATCH = "egress_dispatch"  # map: pod interface -> goto the chain judging its egress
INGRESS_DISPATCH = "ingress_dispatch"  # map: pod interface -> goto the chain judging its ingress
DIRECTION_WORDS = ("egress", "ingress")


class PodMatch(StrEnum):
    """How a packet is tied to its local pod. `interface`: by the pod's host-side interface
    (routed CNIs: Calico, the lab). `address`: by the pod's IP, for bridge CNIs (flannel's
    cni0 with br_netfilter), whose host-side veth names are random and whose bridged packets
    show the bridge, not the veth, as their interface. Address matching trusts a pod's source
    address: a pod that spoofs another's escapes its own egress rules."""

    INTERFACE = "interface"
    ADDRESS = "address"


def denied_set(direction_word: str, family: int) -> str:
    """The dynamic set recording new connections denied by `direction_word` ("egress"|...)."""
    return f"denied_{direction_word}{family}"


def interface_name(namespace: str, pod: str, prefix: str = INTERFACE_PREFIX) -> str:
    """The host-side interface of a pod's veth (15 characters at most, as Linux requires)."""
    digest = hashlib.sha1(f"{namespace}.{pod}".encode()).hexdigest()
    return f"{prefix}{digest[: 15 - len(prefix)]}"


def object_suffix(text: str) -> str:
    """A short stable name part for chains and sets derived from their content or owner."""
    return hashlib.sha1(text.encode()).hexdigest()[:12]
