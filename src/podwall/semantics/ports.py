"""A destination port and protocol as users write it: `80`, `80/TCP`, `53/udp`."""

from __future__ import annotations

from dataclasses import dataclass

from podwall.model import Protocol

__all__ = ["PortSpec", "parse_port_spec"]


@dataclass(frozen=True, slots=True, order=True)
class PortSpec:
    port: int
    protocol: str = Protocol.TCP.value

    @property
    def key(self) -> str:
        return f"{self.port}/{self.protocol}"


def parse_port_spec(text: str) -> PortSpec:
    """Parse `PORT[/PROTOCOL]` (protocol defaults to TCP, as in a NetworkPolicy)."""
    number, _, protocol = text.strip().partition("/")
    protocol = (protocol or Protocol.TCP.value).upper()
    if protocol not in Protocol.__members__:
        raise ValueError(f"{text!r}: protocol must be one of TCP, UDP, SCTP")
    if not number.isdigit() or not 1 <= int(number) <= 65535:
        raise ValueError(f"{text!r}: port must be a number between 1 and 65535")
    return PortSpec(int(number), protocol)
