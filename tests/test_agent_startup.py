"""The agent's failure policy before its first sync, on real nftables in scratch namespaces."""

from __future__ import annotations

import subprocess

import pytest

from conftest import scratch_namespace
from podwall.agent import FailurePolicy, StartupAction, isolating_ruleset, prepare_table
from podwall.dataplane.apply import NftApplier, netns_runner
from podwall.dataplane.libnft import LibnftRunner
from podwall.dataplane.ruleset import Chain, Ruleset
from podwall.semantics.options import Options

pytestmark = pytest.mark.root

PREVIOUS = Ruleset(chains=(Chain(name="left_by_the_last_run", rules=("counter",)),))


def table(netns: str) -> str | None:
    done = netns_runner(netns)(["list", "table", "inet", "podwall"], None)
    return done.stdout if done.returncode == 0 else None


CASES = {
    "fail-closed with no table isolates every pod interface": (
        FailurePolicy.CLOSED, False, StartupAction.ISOLATED),
    "fail-open with no table enforces nothing": (FailurePolicy.OPEN, False, StartupAction.NOTHING),
    "fail-closed keeps a table the last run left": (FailurePolicy.CLOSED, True,
                                                    StartupAction.KEPT),
    "fail-open keeps a table the last run left, too": (FailurePolicy.OPEN, True,
                                                       StartupAction.KEPT),
}


@pytest.mark.parametrize(("policy", "existing", "action"), CASES.values(), ids=list(CASES))
def test_prepare_table(policy: FailurePolicy, existing: bool, action: StartupAction) -> None:
    with scratch_namespace() as netns:
        applier = NftApplier(LibnftRunner(netns))
        if existing:
            applier.apply(PREVIOUS)
        before = table(netns)
        assert prepare_table(applier, policy, Options()) is action
        assert applier.last is None  # the first sync replaces the table whole
        after = table(netns)
        if existing:
            assert after == before
        elif action is StartupAction.ISOLATED:
            assert after is not None and 'iifname "cali*" drop' in after
            assert "isolate_output" not in after  # node traffic to pods stays allowed
        else:
            assert after is None


def test_fail_closed_without_node_traffic_also_isolates_pods_from_their_node() -> None:
    ruleset = isolating_ruleset(Options(allow_node_local=False))
    assert [c.name for c in ruleset.chains] == ["isolate_forward", "isolate_input",
                                                "isolate_output"]
    with scratch_namespace() as netns:
        NftApplier(netns_runner(netns)).apply(ruleset)  # checked by nft first
        listing = subprocess.run(["ip", "netns", "exec", netns, "nft", "list", "chain", "inet",
                                  "podwall", "isolate_output"], capture_output=True, text=True,
                                 check=True).stdout
        assert 'oifname "cali*" drop' in listing
