"""`podwall diff`: the reported changes are exactly the cells two matrices disagree on.

Scenarios start from the bundled examples, copied into a temporary directory and edited the way
a pull request would edit them. For each, three independent answers must agree: `compare`'s
cells, the cells where two `compute_matrix` results differ (pair by pair), and the cells where
two runs of the real `podwall matrix -o json` command differ. The grouped JSON report must
account for every one of those cells.
"""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import typer
import yaml
from typer.testing import CliRunner

from podwall.assemble import assemble
from podwall.cli_diff import diff
from podwall.diff import (
    Units,
    compare,
    diff_data,
    diff_markdown,
    group_changes,
    render_port_ranges,
    summarize,
)
from podwall.inputs import read_documents
from podwall.model import Cluster, Labels
from podwall.semantics import Options, PortSpec, compute_matrix

EXAMPLES = Path(__file__).resolve().parent.parent / "src" / "podwall" / "examples"
Cell = tuple[str, str, str]
Edit = Callable[[Path], None]


# ---- edits a pull request might make -------------------------------------------------------


def _edit_docs(path: Path, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
    path.write_text(yaml.safe_dump_all(change(docs), sort_keys=False))


def _policy(name: str, namespace: str, spec: dict[str, Any]) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace},
            "spec": spec,
        }
    )


def add_default_deny_egress(root: Path) -> None:
    spec = {"podSelector": {}, "policyTypes": ["Egress"]}
    (root / "policies" / "deny-egress.yaml").write_text(_policy("deny-egress", "default", spec))


def remove_access_demo2(root: Path) -> None:
    (root / "policies" / "access-demo2.yaml").unlink()


def remove_apps_default_deny(root: Path) -> None:
    _edit_docs(
        root / "policies" / "apps-tiers.yaml",
        lambda docs: [d for d in docs if d["metadata"]["name"] != "default-deny"],
    )


def change_backend_port(root: Path) -> None:
    def change(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for doc in docs:
            if doc["metadata"]["name"] == "backend":
                doc["spec"]["ingress"][0]["ports"] = [{"protocol": "TCP", "port": 9090}]
        return docs

    _edit_docs(root / "policies" / "apps-tiers.yaml", change)


def relabel_myproject(root: Path) -> None:
    def change(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for doc in docs:
            if doc["kind"] == "Namespace" and doc["metadata"]["name"] == "myproject":
                doc["metadata"]["labels"]["project"] = "elsewhere"
        return docs

    _edit_docs(root / "cluster.yaml", change)


def add_and_remove_pods(root: Path) -> None:
    def change(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = [d for d in docs if not (d["kind"] == "Pod" and d["metadata"]["name"] == "web")]
        extra = next(d for d in docs if d["kind"] == "Pod" and d["metadata"]["name"] == "frontend")
        clone = yaml.safe_load(yaml.safe_dump(extra))
        clone["metadata"]["name"] = "frontend-2"
        clone["status"] = {"podIP": "10.0.9.9"}
        return [*kept, clone]

    _edit_docs(root / "cluster.yaml", change)


def no_change(root: Path) -> None:
    del root


def _side(tmp_path: Path, name: str, edit: Edit) -> Path:
    root = tmp_path / name
    shutil.copytree(EXAMPLES, root)
    edit(root)
    return root


def _load(root: Path) -> Cluster:
    loaded = assemble([(d.source, d.manifest) for d in read_documents([str(root)])])
    assert not loaded.invalid, loaded.invalid
    return loaded.cluster


# ---- three independent answers ---------------------------------------------------------------


def _union_ports(old: Cluster, new: Cluster) -> list[PortSpec]:
    found = {PortSpec(p.container_port, p.protocol) for c in (old, new) for q in c.pods
             for p in q.ports}
    return sorted(found)


def _pairwise(old: dict[str, Any], new: dict[str, Any]) -> tuple[set[Cell], set[Cell]]:
    """Cells allowed only in `new` / only in `old`, over pods on both sides, pair by pair.

    Each side: {"pods": [...], "allowed": {port: grid}} as `podwall matrix -o json` prints it.
    """
    common = [p for p in new["pods"] if p in set(old["pods"])]
    at_old = {p: i for i, p in enumerate(old["pods"])}
    at_new = {p: i for i, p in enumerate(new["pods"])}
    opened: set[Cell] = set()
    closed: set[Cell] = set()
    for port, grid in new["allowed"].items():
        before = old["allowed"][port]
        for src in common:
            for dst in common:
                was = bool(before[at_old[src]][at_old[dst]])
                now = bool(grid[at_new[src]][at_new[dst]])
                if now and not was:
                    opened.add((src, dst, port))
                elif was and not now:
                    closed.add((src, dst, port))
    return opened, closed


def _core_answer(old: Cluster, new: Cluster, ports: list[PortSpec]) -> tuple[set[Cell], ...]:
    def side(cluster: Cluster) -> dict[str, Any]:
        m = compute_matrix(cluster, ports)
        return {"pods": list(m.pods), "allowed": {k: v.tolist() for k, v in m.allowed.items()}}

    return _pairwise(side(old), side(new))


def _cli_answer(podwall_cli, old: Path, new: Path, ports: list[PortSpec]) -> tuple[set[Cell], ...]:
    flags = [arg for p in ports for arg in ("--port", p.key)]

    def side(root: Path) -> dict[str, Any]:
        run = podwall_cli("matrix", "-f", str(root), "-o", "json", *flags)
        assert run.returncode == 0, run.stderr
        return json.loads(run.stdout)

    return _pairwise(side(old), side(new))


def _expand(value: str) -> list[str]:
    numbers, _, protocol = value.partition("/")
    low, _, high = numbers.partition("-")
    return [f"{n}/{protocol}" for n in range(int(low), int(high or low) + 1)]


def _report_cells(groups: list[dict[str, Any]]) -> set[Cell]:
    """The cells a JSON report names; exact because each of these pairs changed completely."""
    cells: set[Cell] = set()
    for group in groups:
        ports = [p for r in group["ports"] for p in _expand(r)]
        for pair in group["pairs"]:
            found = {
                (src, dst, port)
                for port in ports
                for src in pair["from"]["pods"]
                for dst in pair["to"]["pods"]
                if src != dst
            }
            assert len(found) == pair["connections"] * len(ports)
            cells |= found
        assert group["connections"] == sum(p["connections"] for p in group["pairs"]) * len(ports)
    return cells


SCENARIOS = {
    "a default-deny egress policy closes what default's pods could reach": (
        add_default_deny_egress, {"default/deny-egress"}, "closed"),
    "removing access-demo2 closes myproject's access to the db": (
        remove_access_demo2, {"default/access-demo2"}, "closed"),
    "removing apps' default deny opens the apps namespace": (
        remove_apps_default_deny, {"apps/default-deny"}, "opened"),
    "moving backend's ingress port from 8080 to 9090 closes 8080": (
        change_backend_port, {"apps/backend"}, "closed"),
    "relabeling myproject takes it out of a namespaceSelector": (
        relabel_myproject, set(), "closed"),
    "pods on one side only are listed, not compared": (add_and_remove_pods, set(), None),
    "no change reports nothing": (no_change, set(), None),
}


@pytest.mark.cli
@pytest.mark.parametrize("name", list(SCENARIOS))
def test_reported_cells_are_exactly_the_matrix_differences(name, tmp_path, podwall_cli):
    edit, policies, direction = SCENARIOS[name]
    old_root, new_root = _side(tmp_path, "old", no_change), _side(tmp_path, "new", edit)
    old, new = _load(old_root), _load(new_root)
    ports = _union_ports(old, new)
    changes = compare(old, new)
    reported = (changes.cells("opened"), changes.cells("closed"))

    assert reported == _core_answer(old, new, ports)
    assert reported == _cli_answer(podwall_cli, old_root, new_root, ports)
    data = diff_data(summarize(changes))
    assert (_report_cells(data["opened"]), _report_cells(data["closed"])) == reported
    named = {key for group in data["opened"] + data["closed"] for key in group["policies"]}
    assert named == policies
    if direction is not None:
        assert data[direction], "the scenario must change something in that direction"
    else:
        assert not data["opened"] and not data["closed"]


def _synthetic(pods: int, policies: int) -> tuple[Cluster, Cluster]:
    """A generated cluster (ipBlocks over pod CIDRs, named ports, endPort, dual stack) and the
    benchmark's deterministic change to it."""
    sys.path.insert(0, str(EXAMPLES.parents[2] / "benchmarks"))
    try:
        from diff_bench import change_cluster
        from synthetic import generate_cluster
    finally:
        sys.path.pop(0)
    manifests = generate_cluster(pods, policies, seed=1)
    sides = (manifests, change_cluster(manifests, seed=1))
    return tuple(  # type: ignore[return-value]
        assemble([("synthetic", m) for m in side]).cluster for side in sides
    )


@pytest.mark.parametrize("ipblock_matches_cluster", [True, False], ids=["calico", "cilium"])
def test_units_stand_exactly_for_their_pods_on_a_generated_cluster(ipblock_matches_cluster):
    old, new = _synthetic(400, 80)
    options = Options(ipblock_matches_cluster=ipblock_matches_cluster)
    ports = _union_ports(old, new)

    def side(cluster: Cluster) -> dict[str, Any]:
        m = compute_matrix(cluster, ports, options)
        return {"pods": list(m.pods), "allowed": {k: v.tolist() for k, v in m.allowed.items()}}

    changes = compare(old, new, ports, options)
    expected = _pairwise(side(old), side(new))
    assert expected[0] and expected[1], "the generated change must open and close something"
    assert (changes.cells("opened"), changes.cells("closed")) == expected
    data = diff_data(summarize(changes))
    assert (_report_cells(data["opened"]), _report_cells(data["closed"])) == expected


def test_pods_on_one_side_are_named(tmp_path):
    old = _load(_side(tmp_path, "old", no_change))
    new = _load(_side(tmp_path, "new", add_and_remove_pods))
    data = diff_data(summarize(compare(old, new)))
    assert (data["addedPods"], data["removedPods"]) == (["default/frontend-2"], ["default/web"])
    assert data["comparedPods"] == len(old.pods) - 1


# ---- grouping ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ports", "expected"),
    [
        pytest.param([80], ("80/TCP",), id="one port"),
        pytest.param([80, 81, 82, 443], ("80-82/TCP", "443/TCP"), id="consecutive ports merge"),
        pytest.param([81, 80], ("80-81/TCP",), id="order does not matter"),
        pytest.param([53, 54], ("53/TCP", "54/UDP"), id="protocols never merge"),
    ],
)
def test_port_ranges(ports, expected):
    protocols = ["TCP", "UDP"] if ports == [53, 54] else ["TCP"] * len(ports)
    specs = [PortSpec(p, proto) for p, proto in zip(ports, protocols, strict=True)]
    assert render_port_ranges(specs) == expected


def test_units_sharing_labels_and_ports_sharing_changes_form_one_group():
    web, db = ("a", Labels({"app": "web"})), ("b", Labels({"app": "db"}))
    units = Units(labels=(web, web, db), members=(("a/web-0", "a/web-1"), ("a/web-2",), ("b/db",)))
    weights = np.array([[2, 2, 2], [2, 0, 1], [2, 1, 0]])  # unit sizes 2, 1, 1
    grid = np.zeros((3, 3), dtype=bool)
    grid[:2, 2] = True  # every web pod -> db
    specs = [PortSpec(p) for p in (5432, 5433, 6000)]
    blame = {"egress": (frozenset(),) * 3, "ingress": (frozenset({"b/db"}),) * 3}
    (group,) = group_changes({s.key: grid for s in specs}, specs, units, weights, blame)
    assert (group.from_namespace, group.to_namespace) == ("a", "b")
    assert group.ports == ("5432-5433/TCP", "6000/TCP")
    assert [(p.source.pods, p.destination.pods) for p in group.pairs] == [
        (("a/web-0", "a/web-1", "a/web-2"), ("b/db",))
    ]
    assert group.connections == 9 and group.policies == ("b/db",)


# ---- the command ------------------------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(diff)
    app.command("other")(lambda: None)  # two commands keep `diff` a subcommand, as in podwall
    return app


def _invoke(*args: str):
    return CliRunner().invoke(_app(), ["diff", *args])


@pytest.fixture
def sides(tmp_path: Path) -> tuple[str, str]:
    old, new = _side(tmp_path, "old", no_change), _side(tmp_path, "new", remove_access_demo2)
    return str(old), str(new)


def test_json_has_the_documented_shape(sides):
    result = _invoke(*sides, "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert set(data) == {"opened", "closed", "addedPods", "removedPods", "policies",
                         "relabeledNamespaces", "comparedPods", "ports"}
    assert data["policies"] == {"added": [], "removed": ["default/access-demo2"], "changed": []}
    group = data["closed"][0]
    assert set(group) == {"fromNamespace", "toNamespace", "ports", "connections", "pairs",
                          "policies"}
    assert set(group["pairs"][0]["from"]) == {"labels", "count", "pods"}


def test_markdown_fits_a_pull_request_comment(sides):
    result = _invoke(*sides, "-o", "md")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("## podwall diff\n")
    assert "### Closed (" in result.stdout and "### Opened" not in result.stdout
    assert "| from | to | ports | connections | policies |" in result.stdout
    assert "`default/access-demo2`" in result.stdout
    assert diff_markdown  # the renderer is public too


def test_table_names_the_change(sides):
    result = _invoke(*sides)
    assert result.exit_code == 0, result.output
    assert "Closed" in result.stdout and "policies removed: default/access-demo2" in result.stdout


@pytest.mark.parametrize(
    ("edit", "flags", "code"),
    [
        pytest.param(remove_access_demo2, ["--exit-code"], 1, id="--exit-code: a change exits 1"),
        pytest.param(no_change, ["--exit-code"], 0, id="--exit-code: no change exits 0"),
        pytest.param(remove_access_demo2, [], 0, id="without --exit-code a change exits 0"),
        pytest.param(remove_access_demo2, ["--port", "99999"], 2, id="a bad --port exits 2"),
        pytest.param(remove_access_demo2, ["--ipblock", "cilium", "--no-node-traffic",
                                           "--exit-code"], 1, id="semantics options are taken"),
    ],
)
def test_exit_codes(tmp_path, edit, flags, code):
    old, new = _side(tmp_path, "old", no_change), _side(tmp_path, "new", edit)
    result = _invoke(str(old), str(new), *flags)
    assert result.exit_code == code, result.output


def test_port_option_limits_the_comparison(sides):
    result = _invoke(*sides, "-o", "json", "--port", "80/TCP")
    assert json.loads(result.stdout)["ports"] == ["80/TCP"]
    assert not json.loads(result.stdout)["closed"]


def test_invalid_input_exits_2_and_names_the_error(tmp_path):
    old = _side(tmp_path, "old", no_change)
    new = _side(tmp_path, "new", no_change)
    spec = {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": 79}]}]}
    (new / "policies" / "bad.yaml").write_text(_policy("bad", "default", spec))
    result = _invoke(str(old), str(new))
    assert result.exit_code == 2
    assert "endPort: Invalid value: 79" in result.stderr


def test_missing_side_exits_2(tmp_path):
    result = _invoke(str(tmp_path / "nope"), str(_side(tmp_path, "new", no_change)))
    assert result.exit_code == 2
    assert "no such file or directory" in result.stderr


def test_help_renders():
    result = CliRunner().invoke(_app(), ["diff", "--help"])
    assert result.exit_code == 0, result.output
    assert "--exit-code" in result.stdout
