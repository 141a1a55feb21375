"""One sync of the node agent, without an API or a kernel: a filled cache in, a ruleset out.

nft is faked (it records the scripts it is given), so these tests need no root; the end-to-end
tests in test_agent_e2e.py run the same code against real nftables and the lab API.
"""

from __future__ import annotations

import logging
import subprocess
from collections.abc import Sequence
from pathlib import Path

import pytest
import yaml

from podwall.agent import AgentMetrics, Cache, ClusterView, NodeSync, accumulate, counter_owners
from podwall.assemble import assemble
from podwall.dataplane.apply import ApplyError, NftApplier
from podwall.dataplane.incremental import IncrementalCompiler
from podwall.dataplane.names import INGRESS_DISPATCH, interface_name
from podwall.dataplane.ruleset import Ruleset

CLUSTER = Path(__file__).parent / "data" / "agent" / "cluster.yaml"
NODE = "node-1"


def manifests() -> list[dict]:
    return yaml.safe_load(CLUSTER.read_text())


class FakeNft:
    """The nft Runner protocol: `list table` answers whether a table was loaded; `-f -`
    records the script (or fails when told to)."""

    def __init__(self) -> None:
        self.scripts: list[str] = []
        self.table = False
        self.fail = False

    def __call__(self, args: Sequence[str], stdin: str | None = None):
        words = list(args)
        code, err = 0, ""
        if words[:2] == ["list", "table"]:
            code = 0 if self.table else 1
        elif "-f" in words and self.fail:
            code, err = 1, "Error: Could not process rule: No buffer space available"
        elif "-f" in words and "-c" not in words:
            self.scripts.append(stdin or "")
            self.table = True
        return subprocess.CompletedProcess(["nft", *words], code, "", err)


class Node:
    def __init__(self) -> None:
        self.clock = 0.0
        self.cache = Cache()
        self.nft = FakeNft()
        self.metrics = AgentMetrics(lambda: self.clock)
        self.log = logging.getLogger("test.agent.sync")
        self.sync = NodeSync(
            self.cache, ClusterView(), lambda: IncrementalCompiler(NODE), NftApplier(self.nft),
            metrics=self.metrics, log=self.log, clock=lambda: self.clock,
        )

    def list_all(self, items: list[dict], kinds: Sequence[str] | None = None) -> None:
        for kind in self.cache.kinds if kinds is None else kinds:
            self.cache.replace(kind, [m for m in items if m["kind"] == kind], "10")

    def sample(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)


def isolated(ruleset: Ruleset | None, dispatch: str = INGRESS_DISPATCH) -> set[str]:
    assert ruleset is not None
    nft_map = next(m for m in ruleset.maps if m.name == dispatch)
    return {key.strip('"') for key, _ in nft_map.elements}


def test_an_invalid_object_is_skipped_logged_once_and_counted_while_the_rest_is_enforced(
    caplog: pytest.LogCaptureFixture,
) -> None:
    node = Node()
    node.list_all(manifests())
    with caplog.at_level(logging.WARNING, logger=node.log.name):
        node.sync(False)
        node.cache.apply("Pod", "MODIFIED", {**manifests()[1], "metadata": {
            **manifests()[1]["metadata"], "resourceVersion": "11", "labels": {"role": "db",
                                                                              "v": "2"}}})
        node.sync(False)
    assert isolated(node.sync.ruleset) == {interface_name("x", "db")}  # not x/web: bad-port
    assert node.sample("podwall_agent_invalid_objects", kind="NetworkPolicy") == 1
    assert node.sample("podwall_agent_invalid_objects", kind="Pod") == 0
    skipped = [r for r in caplog.records if "invalid" in r.getMessage()]
    assert len(skipped) == 1
    assert skipped[0].object == "x/bad-port"  # type: ignore[attr-defined]
    assert "spec.ingress[0].ports[0].port: Invalid value: 70000" in skipped[0].error  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    "listed",
    [(), ("Namespace",), ("Namespace", "Pod"), ("Pod", "NetworkPolicy")],
    ids=["nothing listed", "namespaces only", "no policies yet (pods would open)",
         "no namespaces yet"],
)
def test_nothing_is_applied_until_every_kind_was_listed(listed: tuple[str, ...]) -> None:
    node = Node()
    node.list_all(manifests(), listed)
    node.sync(False)
    assert node.nft.scripts == []
    assert node.sample("podwall_agent_syncs_total", result="waiting") == 1
    assert not node.sync.good


def test_only_a_live_cache_makes_a_good_sync() -> None:
    node = Node()
    node.list_all(manifests())
    node.cache.set_live("Pod", False)
    node.clock = 5.0
    node.sync(False)
    assert node.nft.scripts and not node.sync.good
    assert node.sample("podwall_agent_seconds_since_last_good_sync") == 5.0
    node.cache.set_live("Pod", True)
    node.sync(False)
    assert node.sync.good
    assert node.sample("podwall_agent_seconds_since_last_good_sync") == 0.0


@pytest.mark.parametrize(
    ("table_removed", "resync", "replaced"),
    [(True, True, True), (False, True, False), (True, False, False)],
    ids=["a resync replaces a table someone removed", "a resync of an intact table sends "
         "nothing", "only resyncs look for the table"],
)
def test_resync_repairs_a_removed_table(table_removed: bool, resync: bool, replaced: bool):
    node = Node()
    node.list_all(manifests())
    node.sync(False)
    node.nft.table = not table_removed
    node.sync(resync)
    assert len(node.nft.scripts) == (2 if replaced else 1)
    assert node.sample("podwall_agent_syncs_total", result="replace") == (2 if replaced else 1)


def test_a_failed_apply_is_counted_and_raised_and_the_next_sync_retries_it() -> None:
    node = Node()
    node.list_all(manifests())
    node.nft.fail = True
    with pytest.raises(ApplyError):
        node.sync(False)
    assert node.sample("podwall_agent_errors_total", kind="apply") == 1
    assert not node.sync.good and node.sync.ruleset is None
    node.nft.fail = False
    node.sync(False)
    assert node.sync.good and len(node.nft.scripts) == 1


def test_ruleset_sizes_and_isolated_pods_are_exported() -> None:
    node = Node()
    node.list_all(manifests())
    node.sync(False)
    ruleset = node.sync.ruleset
    assert ruleset is not None
    assert node.sample("podwall_agent_ruleset_chains") == len(ruleset.chains)
    assert node.sample("podwall_agent_ruleset_rules") == sum(len(c.rules) for c in ruleset.chains)
    assert node.sample("podwall_agent_ruleset_sets") == len(ruleset.sets)
    assert node.sample("podwall_agent_isolated_pods", direction="ingress") == 1
    assert node.sample("podwall_agent_isolated_pods", direction="egress") == 0
    assert node.sample("podwall_agent_sync_duration_seconds_count") == 1


def test_the_view_decodes_as_assemble_does_and_reuses_unchanged_objects() -> None:
    items = manifests()
    loaded = assemble([("api", m) for m in items])
    view = ClusterView()
    first = view.update(items)
    assert first.cluster == loaded.cluster
    assert [(e.kind, e.name) for e in first.invalid] == [(e.kind, e.name) for e in loaded.invalid]
    changed = [*items[:2], {**items[2], "metadata": {**items[2]["metadata"], "labels": {}}},
               *items[3:]]
    second = view.update(changed)
    assert second.cluster.pod("x/db") is first.cluster.pod("x/db")  # decoded once
    assert second.cluster.pod("x/web") != first.cluster.pod("x/web")
    assert second.cluster == assemble([("api", m) for m in changed]).cluster


ACCUMULATE = {
    "a new counter counts whole": ({}, {}, {"c": 5}, {"c": 5.0}),
    "growth adds the difference": ({"c": 5.0}, {"c": 5}, {"c": 8}, {"c": 8.0}),
    "a reading below the last restarted from zero (the table was replaced)": (
        {"c": 8.0}, {"c": 8}, {"c": 2}, {"c": 10.0}),
    "a counter gone from the table is dropped": ({"c": 8.0, "d": 1.0}, {"c": 8, "d": 1},
                                                 {"c": 8}, {"c": 8.0}),
}


@pytest.mark.parametrize(("totals", "last", "readings", "expected"), ACCUMULATE.values(),
                         ids=list(ACCUMULATE))
def test_denied_totals_stay_monotonic(totals, last, readings, expected) -> None:
    assert accumulate(totals, last, readings) == expected


def test_deny_counters_are_attributed_to_their_pods_and_read_at_scrape_time() -> None:
    node = Node()
    node.list_all(manifests())
    node.sync(False)
    ruleset = node.sync.ruleset
    assert ruleset is not None
    owners = counter_owners(ruleset, node.sync.view.update(node.cache.snapshot().manifests)
                            .cluster, NODE)
    assert sorted(owners.values()) == [("ingress", "x", "db")]
    (counter,) = owners
    readings = iter([{counter: 3}, {counter: 7}, {counter: 1}])
    node.metrics.watch_denied(lambda: next(readings))
    node.sync(False)
    name = "podwall_agent_denied_connections_total"
    labels = {"direction": "ingress", "namespace": "x", "pod": "db"}
    assert [node.sample(name, **labels) for _ in range(3)] == [3.0, 7.0, 8.0]
