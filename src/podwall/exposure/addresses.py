"""Which addresses an ipBlock admits that belong to no cluster member, and which cluster networks
it reaches into.

"Inside the cluster" means: inside a declared cluster network (pod, node and service CIDRs, when
the caller knows them), or the address of a pod or node in the input. An ipBlock admits the
outside when `cidr` minus its `except`s minus those leaves at least one address. The
arithmetic is exact (CIDR subtraction, then counting), so a /32 of a known pod is not outside
and `0.0.0.0/0 except 10.0.0.0/8` is, whatever the sizes.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from functools import lru_cache

from podwall.model import IPBlock

__all__ = ["Address", "Network", "admits_outside", "cluster_overlap", "parse_network"]

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4096)
def parse_network(cidr: str) -> Network:
    """A CIDR as a network (host bits dropped, as validation already judged them)."""
    return ipaddress.ip_network(cidr, strict=False)


def _subtract(nets: list[Network], cut: Network) -> list[Network]:
    kept: list[Network] = []
    for net in nets:
        if net.version != cut.version or not net.overlaps(cut):
            kept.append(net)
        elif not net.subnet_of(cut):  # type: ignore[arg-type]  # same version, checked above
            kept.extend(net.address_exclude(cut))  # type: ignore[arg-type]
    return kept


def _remainder(block: IPBlock, cuts: Iterable[Network]) -> list[Network]:
    """The block's networks less its excepts and less `cuts`."""
    rest = [parse_network(block.cidr)]
    for cut in (*(parse_network(e) for e in block.except_), *cuts):
        rest = _subtract(rest, cut)
    return rest


def admits_outside(
    block: IPBlock, networks: Sequence[Network], members: frozenset[Address]
) -> bool:
    """Does the block admit an address outside `networks` that no pod or node holds?"""
    rest = _remainder(block, networks)
    size = sum(net.num_addresses for net in rest)
    held = sum(1 for a in members if any(a.version == n.version and a in n for n in rest))
    return size > held


def cluster_overlap(block: IPBlock, networks: Sequence[Network]) -> tuple[Network, ...]:
    """The declared cluster networks some address the block admits falls into."""
    rest = _remainder(block, ())
    return tuple(n for n in networks if any(r.version == n.version and r.overlaps(n) for r in rest))
