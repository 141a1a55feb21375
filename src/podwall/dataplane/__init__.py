"""The data plane: compile cluster state to nftables (pure) and apply it (effects).

`compile_ruleset` and `render_ruleset` are pure; `NftApplier` is the only part that runs nft.
"""

from podwall.dataplane.apply import (
    ApplyError,
    ApplyResult,
    DeniedFlow,
    NftApplier,
    Runner,
    host_runner,
    netns_runner,
    read_counters,
    read_drops,
    ruleset_from_json,
    ruleset_to_json,
)
from podwall.dataplane.compile import compile_ruleset
from podwall.dataplane.names import PodMatch, interface_name
from podwall.dataplane.ruleset import Ruleset, render_ruleset, replace_script, update_script

__all__ = [
    "ApplyError",
    "ApplyResult",
    "DeniedFlow",
    "NftApplier",
    "PodMatch",
    "Ruleset",
    "Runner",
    "compile_ruleset",
    "host_runner",
    "interface_name",
    "netns_runner",
    "read_counters",
    "read_drops",
    "render_ruleset",
    "replace_script",
    "ruleset_from_json",
    "ruleset_to_json",
    "update_script",
]
