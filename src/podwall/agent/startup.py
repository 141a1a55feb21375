"""What the node enforces from the agent's start until its first good sync: the failure policy.

The agent never deletes podwall's table at start. If the kernel has one, a previous run left
it: it stays, enforcing the last ruleset that run applied, until the first sync replaces it in
one atomic transaction. So restarting the agent never opens an isolated pod, not for a packet.

With no table (the node's first start, or after a reboot), the agent cannot know which pods
are isolated until it has listed the API, and `FailurePolicy` decides:

- fail-closed (the default): install a table that isolates every pod interface on the node
  (both directions; established connections, IPv6 neighbour discovery and, with node traffic
  allowed, the node's own connections to its pods still pass) until the first sync;
- fail-open: enforce nothing until the first sync.

Why fail-closed by default: a NetworkPolicy states who may reach a pod, often for security
(a database, a payment service); fail-open would expose such pods, after every reboot, for as
long as the API is unreachable. Fail-closed costs availability instead, and only for pods on a
node whose agent has never synced: their connections wait for the first sync (about a second
once the API answers). Host-network pods, the agent among them, are never affected.
"""

from __future__ import annotations

from enum import StrEnum

from podwall.dataplane.apply import NftApplier, Runner
from podwall.dataplane.names import INTERFACE_PREFIX, TABLE, TABLE_FAMILY, PodMatch
from podwall.dataplane.ruleset import Chain, Ruleset
from podwall.semantics.options import Options

__all__ = ["FailurePolicy", "StartupAction", "isolating_ruleset", "prepare_table", "table_exists"]

_HOOK = "type filter hook {} priority filter{}; policy accept;"
_ND = (
    "meta l4proto ipv6-icmp icmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, "
    "nd-router-solicit, nd-router-advert } accept"
)
_COMMENT = "podwall agent: fail-closed until the first sync"


class FailurePolicy(StrEnum):
    CLOSED = "fail-closed"
    OPEN = "fail-open"


class StartupAction(StrEnum):
    KEPT = "kept the existing table until the first sync"
    ISOLATED = "isolated every local pod until the first sync"
    NOTHING = "enforcing nothing until the first sync"


def isolating_ruleset(options: Options, match: PodMatch = PodMatch.INTERFACE) -> Ruleset:
    """Every pod interface isolated both ways: fail-closed's ruleset before the first sync.
    Matched by address, pods are unknown until the first sync, so every new forwarded
    connection is dropped (pod-to-node traffic on input is left alone)."""
    opening = ("ct state established,related accept", _ND)
    if match is PodMatch.ADDRESS:
        forward = Chain(
            name="isolate_forward",
            base=_HOOK.format("forward", " - 1"),
            rules=(*opening, "drop"),
            comment=_COMMENT,
        )
        return Ruleset(chains=(forward,))
    pods = f'"{INTERFACE_PREFIX}*"'
    chains = [
        Chain(
            name="isolate_forward",
            base=_HOOK.format("forward", " - 1"),
            rules=(*opening, f"iifname {pods} drop", f"oifname {pods} drop"),
            comment=_COMMENT,
        ),
        Chain(
            name="isolate_input",
            base=_HOOK.format("input", ""),
            rules=(*opening, f"iifname {pods} drop"),
            comment=_COMMENT,
        ),
    ]
    if not options.allow_node_local:
        chains.append(
            Chain(
                name="isolate_output",
                base=_HOOK.format("output", ""),
                rules=(*opening, f"oifname {pods} drop"),
                comment=_COMMENT,
            )
        )
    return Ruleset(chains=tuple(chains))


def table_exists(runner: Runner) -> bool:
    return runner(["list", "table", TABLE_FAMILY, TABLE], None).returncode == 0


def prepare_table(
    applier: NftApplier,
    policy: FailurePolicy,
    options: Options,
    match: PodMatch = PodMatch.INTERFACE,
) -> StartupAction:
    """Make the kernel enforce what `policy` says until the first sync; never removes a table.
    The applier forgets what it applied here, so the first sync replaces the table whole."""
    if table_exists(applier.runner):
        action = StartupAction.KEPT
    elif policy is FailurePolicy.CLOSED:
        applier.apply(isolating_ruleset(options, match))
        action = StartupAction.ISOLATED
    else:
        action = StartupAction.NOTHING
    applier.last = None
    return action
