"""What every check reads: the cluster, the semantics options, and lookups built once.

Checks are pure functions `check_*(ctx) -> Iterator[Finding]`; they share this context so the
endpoint vectors (one numpy row per pod) are built once per lint run, not once per check.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from podwall.model import DIRECTION_FIELDS, Cluster, Direction, NetworkPolicy, Rule
from podwall.semantics import ClusterIndex, Options
from podwall.semantics.table import EndpointTable

__all__ = ["Context", "RuleRef", "policy_rules", "shorten"]


@dataclass(frozen=True, slots=True)
class Context:
    cluster: Cluster
    options: Options
    index: ClusterIndex
    table: EndpointTable  # one row per pod of `cluster.pods`, in that order

    @classmethod
    def build(cls, cluster: Cluster, options: Options | None = None) -> Context:
        options = options or Options()
        index = ClusterIndex.build(cluster)
        return cls(cluster, options, index, EndpointTable(cluster.pods, cluster, options, index))

    @property
    def has_pods(self) -> bool:
        """Checks about what selectors match only make sense when the input holds pods."""
        return bool(self.cluster.pods)


@dataclass(frozen=True, slots=True)
class RuleRef:
    """One rule of one policy, with the field paths reports name it by."""

    policy: NetworkPolicy
    direction: Direction
    position: int
    rule: Rule

    @property
    def path(self) -> str:
        return f"spec.{DIRECTION_FIELDS[self.direction][0]}[{self.position}]"

    @property
    def peers_path(self) -> str:
        return f"{self.path}.{DIRECTION_FIELDS[self.direction][1]}"


def policy_rules(policy: NetworkPolicy) -> Iterator[RuleRef]:
    """Every rule of the policy, ingress first, whether or not its policyTypes counts it."""
    for direction in (Direction.INGRESS, Direction.EGRESS):
        for i, rule in enumerate(policy.rules(direction)):
            yield RuleRef(policy, direction, i, rule)


def shorten(names: list[str], limit: int = 3) -> str:
    """`a, b, c and 4 more`: keeps messages one readable sentence on big clusters."""
    if len(names) <= limit:
        return ", ".join(names)
    return f"{', '.join(names[:limit])} and {len(names) - limit} more"
