"""The nftables compiler and applier: golden rulesets, nft's own check, atomic and incremental
updates, all against real nft in a scratch network namespace."""

from __future__ import annotations

import os
import random
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from conftest import scratch_namespace
from netpol_model import load_steps
from podwall.assemble import assemble
from podwall.dataplane.apply import NftApplier, netns_runner
from podwall.dataplane.compile import compile_ruleset
from podwall.dataplane.libnft import LibnftRunner
from podwall.dataplane.names import PodMatch, interface_name, object_suffix
from podwall.dataplane.ruleset import (
    NftMap,
    Ruleset,
    render_ruleset,
    replace_script,
    update_script,
)
from podwall.inputs import read_documents
from podwall.model import Cluster, Labels
from podwall.semantics import Options

GOLDEN = Path(__file__).parent / "data" / "golden"
EXAMPLES = Path(__file__).parents[1] / "examples"
UPDATE = os.environ.get("PODWALL_UPDATE_GOLDEN") == "1"


def _examples() -> Cluster:
    docs = read_documents([str(EXAMPLES)])
    return assemble([(d.source, d.manifest) for d in docs]).cluster


@pytest.fixture(scope="module")
def scratch_netns():
    with scratch_namespace() as name:
        yield name


GOLDEN_CASES = {
    "examples-node-1": (_examples, "node-1", Options(), PodMatch.INTERFACE),
    "examples-node-2": (_examples, "node-2", Options(), PodMatch.INTERFACE),
    "examples-node-1-cilium-no-node-traffic": (
        _examples,
        "node-1",
        Options(ipblock_matches_cluster=False, allow_node_local=False),
        PodMatch.INTERFACE,
    ),
    # bridge CNIs (flannel): pods matched by address, both families, node traffic judged
    "examples-node-1-by-address-no-node-traffic": (
        _examples, "node-1", Options(allow_node_local=False), PodMatch.ADDRESS
    ),
}


@pytest.mark.parametrize("name", GOLDEN_CASES)
def test_rendered_ruleset_matches_its_golden_file(name: str):
    make, node, options, match = GOLDEN_CASES[name]
    text = render_ruleset(compile_ruleset(make(), node, options, match))
    path = GOLDEN / f"{name}.nft"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"missing golden {path}: run with PODWALL_UPDATE_GOLDEN=1 and review"
    assert text == path.read_text()


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.nft")), ids=lambda p: p.stem)
def test_every_golden_ruleset_passes_nft_check(path: Path, scratch_netns: str):
    applier = NftApplier(netns_runner(scratch_netns))
    assert (
        applier.check(f"table inet podwall {{\n}}\ndelete table inet podwall\n{path.read_text()}")
        == ""
    )


def test_every_conformance_state_compiles_to_a_ruleset_nft_accepts(scratch_netns: str):
    applier = NftApplier(netns_runner(scratch_netns))
    for step in load_steps():
        cluster = assemble([("step", m) for m in step.manifests]).cluster
        for node in ("node-1", "node-2"):
            problem = applier.check(replace_script(compile_ruleset(cluster, node)))
            assert problem == "", f"{step.case}[{step.index}] {node}: {problem}"


def test_compiling_is_deterministic_whatever_the_input_order():
    cluster = _examples()
    shuffled = list(cluster.policies)
    random.Random(7).shuffle(shuffled)
    other = replace(cluster, policies=tuple(shuffled))
    assert render_ruleset(compile_ruleset(cluster, "node-1")) == render_ruleset(
        compile_ruleset(other, "node-1")
    )


def _relabel(cluster: Cluster, key: str, labels: dict[str, str]) -> Cluster:
    pods = tuple(replace(p, labels=Labels(labels)) if p.key == key else p for p in cluster.pods)
    return replace(cluster, pods=pods)


def test_a_pod_label_change_updates_set_elements_only():
    cluster = _examples()
    before = compile_ruleset(cluster, "node-1")
    after = compile_ruleset(
        _relabel(cluster, "default/pod2", {"app": "pod2", "role": "frontend"}), "node-1"
    )
    pod2 = next(p for p in cluster.pods if p.key == "default/pod2")
    lines = update_script(before, after).splitlines()
    # only pod2's own address moves, in or out of the hash sets its labels select
    assert lines
    assert all(line.startswith(("add element", "delete element")) for line in lines), lines
    assert all(line.endswith(f"{{ {pod2.ips[0]} }}") for line in lines), lines


def test_a_label_change_that_empties_a_peer_set_rewrites_only_that_policys_chain():
    cluster = _examples()
    before = compile_ruleset(cluster, "node-1")
    after = compile_ruleset(_relabel(cluster, "default/web", {"role": "frontend"}), "node-1")
    chains = [line for line in update_script(before, after).splitlines() if "chain" in line]
    # access-demo4's egress peer (role=web) matches no pod any more: its line goes away
    assert chains == ["flush chain inet podwall pol_b2a864ac083b_egress"]


def test_a_new_policy_adds_its_chains_and_sets_and_touches_nothing_else():
    cluster = _examples()
    extra = assemble(
        [
            (
                "p",
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": "web-in", "namespace": "default"},
                    "spec": {
                        "podSelector": {"matchLabels": {"role": "web"}},
                        "ingress": [{"ports": [{"port": 80}]}],
                    },
                },
            )
        ]
    ).cluster.policies
    before = compile_ruleset(cluster, "node-1")
    after = compile_ruleset(replace(cluster, policies=cluster.policies + extra), "node-1")
    lines = update_script(before, after).splitlines()
    assert any(line.startswith("add chain inet podwall ingress_") for line in lines)
    dispatch = [line for line in lines if "ingress_dispatch" in line]
    web = interface_name("default", "web")
    assert len(dispatch) == 1, dispatch  # web's entry is added; no other entry is touched
    assert dispatch[0].startswith(f'add element inet podwall ingress_dispatch {{ "{web}" : goto ')
    assert dispatch[0].count(" : ") == 1
    assert not any(line.startswith(("flush", "delete")) for line in lines)


def test_a_map_entry_whose_verdict_changes_is_deleted_then_added():
    old = Ruleset(maps=(NftMap(name="m", key_type="ifname", value_type="verdict",
                               elements=(('"a"', "goto x"), ('"b"', "goto y"))),))
    new = Ruleset(maps=(NftMap(name="m", key_type="ifname", value_type="verdict",
                               elements=(('"a"', "goto z"), ('"c"', "goto y"))),))
    assert update_script(old, new).splitlines() == [
        'delete element inet podwall m { "a", "b" }',
        'add element inet podwall m { "a" : goto z, "c" : goto y }',
    ]


def test_equal_rulesets_need_no_transaction_and_changed_types_need_a_replace():
    ruleset = compile_ruleset(_examples(), "node-1")
    assert update_script(ruleset, ruleset) == ""
    retyped = replace(
        ruleset,
        sets=tuple(
            replace(s, flags=("interval",)) if s.name.startswith("pods_") else s
            for s in ruleset.sets
        ),
    )
    assert update_script(ruleset, retyped) is None


def _block_sets(ruleset) -> list:
    import ipaddress

    return [
        [ipaddress.ip_network(e) for e in s.elements]
        for s in ruleset.sets
        if s.name.startswith("block_") and s.name.endswith("_4")
    ]


@pytest.mark.parametrize(
    ("matches_cluster", "pods_inside"),
    [(True, True), (False, False)],
    ids=[
        "calico: the ipBlock set covers pod addresses",
        "cilium: cluster addresses are cut out of the ipBlock set",
    ],
)
def test_ipblock_sets_follow_the_ipblock_mode(matches_cluster: bool, pods_inside: bool):
    import ipaddress

    cluster = _examples()
    wide = assemble(
        [
            (
                "p",
                {
                    "apiVersion": "networking.k8s.io/v1",
                    "kind": "NetworkPolicy",
                    "metadata": {"name": "egress-to-pod-cidr", "namespace": "default"},
                    "spec": {
                        "podSelector": {"matchLabels": {"role": "web"}},
                        "policyTypes": ["Egress"],
                        "egress": [{"to": [{"ipBlock": {"cidr": "10.244.0.0/16"}}]}],
                    },
                },
            )
        ]
    ).cluster
    cluster = replace(cluster, policies=cluster.policies + wide.policies)
    options = Options(ipblock_matches_cluster=matches_cluster)
    name = f"block_{object_suffix('10.244.0.0/16|')}_4"  # this policy's ipBlock, no other
    ruleset = compile_ruleset(cluster, "node-1", options)
    [block] = [
        [ipaddress.ip_network(e) for e in s.elements] for s in ruleset.sets if s.name == name
    ]
    for pod in cluster.pods:
        if pod.ips and pod.ips[0].startswith("10.244."):
            address = ipaddress.ip_address(pod.ips[0])
            assert any(address in net for net in block) is pods_inside, pod.key


RUNNERS = {
    "nft processes (ip netns exec nft)": netns_runner,
    "one libnftables context (the agent's shape)": LibnftRunner,
}


class _CountingRunner:
    def __init__(self, netns: str, make_runner=netns_runner) -> None:
        self.inner = make_runner(netns)
        self.calls: list[list[str]] = []

    def __call__(self, args, stdin=None):
        self.calls.append(list(args))
        return self.inner(args, stdin)


def _listing(netns: str) -> str:
    return netns_runner(netns)(["list", "table", "inet", "podwall"], None).stdout


@pytest.mark.parametrize("make_runner", RUNNERS.values(), ids=RUNNERS.keys())
def test_applier_is_atomic_incremental_and_idempotent(scratch_netns: str, make_runner):
    runner = _CountingRunner(scratch_netns, make_runner)
    applier = NftApplier(runner)
    applier.remove()
    cluster = _examples()
    first = compile_ruleset(cluster, "node-1")
    assert applier.apply(first).mode == "replace"
    calls = len(runner.calls)
    assert applier.apply(first).mode == "unchanged"
    assert len(runner.calls) == calls  # no nft call at all
    relabeled = compile_ruleset(_relabel(cluster, "default/web", {"role": "frontend"}), "node-1")
    result = applier.apply(relabeled)
    assert result.mode == "update"
    assert "10.244.1.11" in _listing(scratch_netns)
    good = _listing(scratch_netns)
    broken = replace(
        relabeled,
        chains=(
            *relabeled.chains[:-1],
            replace(relabeled.chains[-1], rules=("ip saddr @no_such_set accept",)),
        ),
    )
    with pytest.raises(Exception, match="nft check failed"):
        NftApplier(make_runner(scratch_netns)).apply(broken)
    assert _listing(scratch_netns) == good  # the failed update left the old ruleset in place
    assert "10.244.1.11" not in _listing_host_netns()  # the context wrote into the lab only


def _listing_host_netns() -> str:
    done = subprocess.run(["nft", "list", "ruleset"], capture_output=True, text=True, check=True)
    return done.stdout


@pytest.mark.parametrize("make_runner", RUNNERS.values(), ids=RUNNERS.keys())
def test_a_drifted_kernel_table_is_replaced_whole(scratch_netns: str, make_runner):
    applier = NftApplier(make_runner(scratch_netns))
    cluster = _examples()
    applier.apply(compile_ruleset(cluster, "node-1"))
    netns_runner(scratch_netns)(["delete", "table", "inet", "podwall"], None)
    changed = compile_ruleset(_relabel(cluster, "default/web", {"role": "frontend"}), "node-1")
    assert applier.apply(changed).mode == "replace"
    assert "10.244.1.11" in _listing(scratch_netns)


@pytest.mark.parametrize(
    ("ports", "merged"),
    [
        (["80"], ("80",)),
        (["81", "80"], ("80-81",)),
        (["80-81", "81"], ("80-81",)),
        (["80-90", "85-100", "200"], ("80-100", "200")),
        (["53", "5353"], ("53", "5353")),
    ],
    ids=[
        "one port",
        "touching ports merge",
        "a port inside a range",
        "overlapping ranges",
        "apart ports stay apart",
    ],
)
def test_port_sets_never_hold_overlapping_intervals(ports, merged):
    from podwall.dataplane.sets import merge_ports

    assert merge_ports(ports) == merged


def test_libnftables_reads_json_and_reports_errors(scratch_netns: str):
    runner = LibnftRunner(scratch_netns)
    NftApplier(runner).apply(compile_ruleset(_examples(), "node-1"))
    listed = runner(["-j", "list", "table", "inet", "podwall"], None)
    assert listed.returncode == 0 and '"table"' in listed.stdout
    wrong = runner(["-f", "-"], "add rule inet podwall nowhere accept\n")
    assert wrong.returncode == 1 and "No such file or directory" in wrong.stderr
    with pytest.raises(ValueError, match="does not speak"):
        runner(["--version"], None)
