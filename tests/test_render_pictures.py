"""`-o dot` and `-o html` of `podwall matrix` and `podwall diff`: the pictures say exactly what
the matrix and the diff say, parse, need no network to view, and are byte-for-byte repeatable.

Edges are expanded back to (src, dst, port) cells through the pods each node stands for (its
tooltip) and the ports each edge holds on (its tooltip), and compared with `podwall matrix -o
json` on the same input, or with `compare`'s cells for a diff.
"""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydot
import pytest
import yaml

from podwall.assemble import assemble
from podwall.diff import compare, summarize
from podwall.inputs import read_documents
from podwall.model import Cluster
from podwall.render.graph import (
    EDGE_COLORS,
    Detail,
    EdgeKind,
    Graph,
    matrix_graph,
    render_dot,
)
from podwall.render.graph_diff import diff_graph
from podwall.render.page import changed_cells, render_diff_page, render_matrix_page
from podwall.semantics import Matrix, PortSpec, compute_matrix

# pydot's parser calls pyparsing's old names; that is pydot's business, not ours
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pydot.*")

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
PICTURES = Path(__file__).resolve().parent / "data" / "pictures"
Cell = tuple[str, str, str]

MATRIX_INPUTS = {
    "the bundled examples: a node per pod": ["-f", str(EXAMPLES)],
    "one namespace of the examples": ["-f", str(EXAMPLES), "-n", "apps"],
    "a 43-pod shop: a node per group of pods that behave alike": [
        "-f", str(PICTURES / "shop"), "-f", str(PICTURES / "shop-before")],
    "the shop on one port": [
        "-f", str(PICTURES / "shop"), "-f", str(PICTURES / "shop-before"), "--port", "80"],
}


# ---- reading pictures back -----------------------------------------------------------------


def _unquote(text: str) -> str:
    """A DOT quoted string's text (newlines stay `\\n`, the separator read back below)."""
    assert text.startswith('"') and text.endswith('"'), text
    return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def _expand(ranges: str) -> list[str]:
    """`80/TCP, 8000-8002/TCP` -> every `PORT/PROTOCOL`."""
    found = []
    for text in filter(None, ranges.split(", ")):
        numbers, _, protocol = text.partition("/")
        low, _, high = numbers.partition("-")
        found += [f"{n}/{protocol}" for n in range(int(low), int(high or low) + 1)]
    return found


def _balanced(text: str) -> bool:
    """Braces balance outside quoted strings, and never close more than they opened."""
    depth, quoted, escaped = 0, False, False
    for char in text:
        if quoted:
            quoted, escaped = (char != '"' or escaped), (char == "\\" and not escaped)
        elif char == '"':
            quoted = True
        elif char in "{}":
            depth += 1 if char == "{" else -1
            if depth < 0:
                return False
    return depth == 0 and not quoted


class Dot:
    """A parsed DOT graph: node members, clusters and edges with their ports and styles."""

    def __init__(self, text: str) -> None:
        assert _balanced(text), "unbalanced braces"
        (graph,) = pydot.graph_from_dot_data(text)
        self.members: dict[str, list[str]] = {}
        self.cluster_of: dict[str, str] = {}
        self.clusters = [_unquote(s.get_name()) for s in graph.get_subgraphs()]
        for holder, cluster in [(graph, ""), *((s, _unquote(s.get_name()))
                                               for s in graph.get_subgraphs())]:
            for node in holder.get_nodes():
                if node.get_name() in ("graph", "node", "edge"):
                    continue
                name = _unquote(node.get_name())
                self.members[name] = _unquote(node.get_attributes()["tooltip"]).split("\\n")
                self.cluster_of[name] = cluster
        self.edges = [
            (_unquote(e.get_source()), _unquote(e.get_destination()),
             {k: _unquote(v) if v.startswith('"') else v for k, v in e.get_attributes().items()})
            for e in graph.get_edges()
        ]

    def cells(self, color: str | None = None) -> set[Cell]:
        """Every (src pod, dst pod, port) an edge (of that colour) stands for."""
        found: set[Cell] = set()
        for src, dst, attrs in self.edges:
            if color is not None and attrs["color"] != color:
                continue
            ports = _expand(attrs["tooltip"].split("\\n")[0].removeprefix("ports: "))
            found |= {(s, d, p) for s in self.members[src] for d in self.members[dst]
                      for p in ports if s != d}
        return found


def _matrix_cells(data: dict) -> set[Cell]:
    pods = data["pods"]
    return {(pods[i], pods[j], port) for port, grid in data["allowed"].items()
            for i, row in enumerate(grid) for j, allowed in enumerate(row) if allowed and i != j}


def _graph_cells(graph: Graph) -> set[Cell]:
    members = {n.id: n.members for n in graph.nodes}
    return {(s, d, p) for e in graph.edges for s in members[e.src] for d in members[e.dst]
            for p in _expand(", ".join(e.ports)) if s != d}


_URL = re.compile(r"https?://[^\s\"'<>)]*")


def _assert_self_contained(html: str) -> None:
    assert set(_URL.findall(html)) <= {"http://www.w3.org/2000/svg"}, set(_URL.findall(html))
    for fetch in ("<script", "<link", "<iframe", "<img", "@import", " src="):
        assert fetch not in html, fetch
    assert re.findall(r"url\((?!#)", html) == [], "only url(#id) references within the page"
    assert "default-src 'none'" in html  # and the page forbids fetching, should one slip in


def _svgs(html: str, kind: str) -> list[ElementTree.Element]:
    """Every inline `<svg class=kind>` parsed as XML (namespaces declared back for the parser)."""
    found = re.findall(rf'<svg (?:id="[^"]*" )?class="{kind}".*?</svg>', html, flags=re.DOTALL)
    declare = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
    return [ElementTree.fromstring(declare + svg.removeprefix("<svg ")) for svg in found]


# ---- matrix ------------------------------------------------------------------------------------


@pytest.mark.cli
@pytest.mark.parametrize("args", list(MATRIX_INPUTS.values()), ids=list(MATRIX_INPUTS))
def test_matrix_dot_parses_and_its_edges_are_exactly_the_allowed_cells(podwall_cli, args):
    run = podwall_cli("matrix", *args, "-o", "dot")
    assert run.returncode == 0, run.stderr
    data = json.loads(podwall_cli("matrix", *args, "-o", "json").stdout)
    dot = Dot(run.stdout)

    namespaces = sorted({p.split("/", 1)[0] for p in data["pods"]})
    assert dot.clusters == [f"cluster_{ns}" for ns in namespaces]
    assert all(dot.cluster_of[n] == f"cluster_{m[0].split('/')[0]}" for n, m in dot.members.items())
    assert {e[0] for e in dot.edges} | {e[1] for e in dot.edges} <= set(dot.members)
    assert not any("more" in m[-1] for m in dot.members.values()), "tooltips list every pod"
    assert sorted(p for m in dot.members.values() for p in m) == sorted(data["pods"])
    assert dot.cells() == _matrix_cells(data)


def test_pods_that_behave_alike_share_a_node_past_the_pod_limit(podwall_cli):
    args = MATRIX_INPUTS["a 43-pod shop: a node per group of pods that behave alike"]
    dot = Dot(podwall_cli("matrix", *args, "-o", "dot").stdout)
    assert sorted(len(m) for m in dot.members.values()) == [3, 8, 12, 20]
    labels = {
        src: attrs["label"] for src, dst, attrs in dot.edges if src == dst
    }
    assert labels == {"ops/monitor-0": "all 4 ports", "shop/web-0": "80/TCP"}, (
        "distinct web pods reach each other on 80 (a loop); distinct db pods do not")


def _load(*paths: Path) -> Cluster:
    loaded = assemble([(d.source, d.manifest) for d in read_documents([str(p) for p in paths])])
    assert not loaded.invalid
    return loaded.cluster


CLUSTERS = {
    "examples": lambda: _load(EXAMPLES),
    "shop": lambda: _load(PICTURES / "shop", PICTURES / "shop-before"),
}


@pytest.mark.parametrize("detail", list(Detail), ids=[f"one node per {d}" for d in Detail])
@pytest.mark.parametrize("name", list(CLUSTERS))
def test_every_detail_stands_for_exactly_the_matrix(name, detail):
    matrix = compute_matrix(CLUSTERS[name]())
    graph = matrix_graph(matrix, detail)
    expected = {(matrix.pods[i], matrix.pods[j], key) for key, grid in matrix.allowed.items()
                for i, j in zip(*np.nonzero(grid), strict=True) if i != j}
    if detail is not Detail.namespaces:
        assert _graph_cells(graph) == expected
        return
    # a namespace edge names the ports every pair holds on, and counts the others' pairs
    of = {n.id: n.members for n in graph.nodes}
    for edge in graph.edges:
        for key in matrix.allowed:
            pairs = {(s, d) for s in of[edge.src] for d in of[edge.dst] if s != d}
            allowed = {(s, d) for s, d in pairs if (s, d, key) in expected}
            if allowed == pairs:
                assert key in _expand(", ".join(edge.ports))
            elif allowed:
                assert re.search(rf"^{len(allowed)} of {len(pairs)} pod pairs on .*\b{key}\b",
                                 edge.note, flags=re.MULTILINE), (edge, key)
    linked = {(e.src, e.dst) for e in graph.edges}
    assert linked == {(s.split("/")[0], d.split("/")[0]) for s, d, _ in expected}


@pytest.mark.cli
@pytest.mark.parametrize("args", list(MATRIX_INPUTS.values())[:3], ids=list(MATRIX_INPUTS)[:3])
def test_matrix_html_is_self_contained_and_repeatable(podwall_cli, tmp_path, args):
    target = tmp_path / "matrix.html"
    run = podwall_cli("matrix", *args, "-o", "html", "--out", str(target))
    assert run.returncode == 0, run.stderr
    html = target.read_text(encoding="utf-8")
    data = json.loads(podwall_cli("matrix", *args, "-o", "json").stdout)
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    _assert_self_contained(html)
    ports = list(data["allowed"])
    assert len(_svgs(html, "heatmap")) == len(ports) == len(_svgs(html, "graph"))
    assert re.findall(r'<label for="pick-\d+">([^<]*)</label>', html) == ports


@pytest.mark.cli
@pytest.mark.parametrize("output", ["html", "dot"])
def test_equal_input_draws_equal_bytes(podwall_cli, output):
    args = MATRIX_INPUTS["one namespace of the examples"]
    first, second = (podwall_cli("matrix", *args, "-o", output).stdout for _ in range(2))
    assert first and first == second


def test_a_matrix_without_pods_draws_nothing_and_says_so():
    port = PortSpec(80)
    matrix = Matrix(pods=(), ports=(port,), allowed={port.key: np.zeros((0, 0), dtype=bool)})
    html = render_matrix_page(matrix)
    assert "Nothing to draw" in html and "<svg" not in html
    assert Dot(render_dot(matrix_graph(matrix))).members == {}


def test_every_text_is_escaped():
    pods = ('a/<b>&"x', "a/y")
    port = PortSpec(80)
    matrix = Matrix(pods=pods, ports=(port,), allowed={port.key: np.ones((2, 2), dtype=bool)})
    html = render_matrix_page(matrix, title="<script>alert(1)</script>")
    assert "<b>" not in html and "<script>" not in html
    assert "&lt;b&gt;&amp;&quot;x" in html and "&lt;script&gt;" in html
    dot = Dot(render_dot(matrix_graph(matrix)))
    assert set(dot.members) == set(pods)


# ---- diff ----------------------------------------------------------------------------------------


def _without(name: str) -> Callable[[Path], None]:
    """An edit removing one policy (by metadata.name) from the examples."""
    def edit(root: Path) -> None:
        for path in (root / "policies").glob("*.yaml"):
            docs = [d for d in yaml.safe_load_all(path.read_text()) if d]
            path.write_text(yaml.safe_dump_all(
                [d for d in docs if d["metadata"]["name"] != name], sort_keys=False))
    return edit


def _examples_sides(tmp_path: Path, *edits: Callable[[Path], None]) -> tuple[Path, Path]:
    old, new = tmp_path / "old", tmp_path / "new"
    shutil.copytree(EXAMPLES, old)
    shutil.copytree(EXAMPLES, new)
    for edit in edits:
        edit(new)
    return old, new


def _shop_sides(tmp_path: Path) -> tuple[Path, Path]:
    sides = []
    for name in ("before", "after"):
        side = tmp_path / name
        side.mkdir()
        shutil.copy(PICTURES / "shop" / "cluster.yaml", side)
        shutil.copy(PICTURES / f"shop-{name}" / "policies.yaml", side)
        sides.append(side)
    return sides[0], sides[1]


DIFFS = {
    "removing access-demo2 closes myproject's access to db":
        lambda tmp: _examples_sides(tmp, _without("access-demo2")),
    "removing apps' default deny opens the apps namespace":
        lambda tmp: _examples_sides(tmp, _without("default-deny")),
    "both at once: opened and closed edges":
        lambda tmp: _examples_sides(tmp, _without("access-demo2"), _without("default-deny")),
    "the shop: groups of replicas, opened and closed":
        _shop_sides,
    "no change draws nothing": lambda tmp: _examples_sides(tmp),
}


@pytest.mark.cli
@pytest.mark.parametrize("name", list(DIFFS))
def test_diff_dot_shows_exactly_the_opened_and_closed_cells(podwall_cli, tmp_path, name):
    old, new = DIFFS[name](tmp_path)
    run = podwall_cli("diff", str(old), str(new), "-o", "dot")
    assert run.returncode == 0, run.stderr
    dot = Dot(run.stdout)
    changes = compare(_load(old), _load(new))

    assert dot.cells(EDGE_COLORS[EdgeKind.opened]) == changes.cells("opened")
    assert dot.cells(EDGE_COLORS[EdgeKind.closed]) == changes.cells("closed")
    for src, dst, attrs in dot.edges:
        closed = attrs["color"] == EDGE_COLORS[EdgeKind.closed]
        assert (attrs.get("style") == "dashed") == closed, "closed edges, and only they, dash"
        ports = _expand(attrs["tooltip"].split("\\n")[0].removeprefix("ports: "))
        cells = {(s, d) for s in dot.members[src] for d in dot.members[dst] if s != d}
        assert f"({len(cells) * len(ports)} conn.)" in attrs["label"], "counts its cells"
    assert {e[0] for e in dot.edges} | {e[1] for e in dot.edges} <= set(dot.members)
    assert set(dot.clusters) == {f"cluster_{m[0].split('/')[0]}" for m in dot.members.values()}
    policies = {p for g in (*summarize(changes).opened, *summarize(changes).closed)
                for p in g.policies}
    assert policies <= {p for _, _, a in dot.edges for p in a["tooltip"].split(": ")[-1]
                        .split(", ")}, "edges name the responsible policies"


@pytest.mark.parametrize("name", list(DIFFS))
def test_diff_heatmap_cells_are_exactly_the_changes(tmp_path, name):
    old, new = DIFFS[name](tmp_path)
    changes = compare(_load(old), _load(new))
    pods, grids = changed_cells(changes)
    assert list(pods) == sorted(pods)
    found = {
        code: {(pods[i], pods[j], key) for key, grid in grids.items()
               for i, j in zip(*np.nonzero(grid == code), strict=True)}
        for code in (1, 2)
    }
    assert (found[1], found[2]) == (changes.cells("opened"), changes.cells("closed"))
    touched = {c[0] for cells in found.values() for c in cells}
    touched |= {c[1] for cells in found.values() for c in cells}
    assert touched == set(pods), "the heatmap shows the pods a change touches, no more"


@pytest.mark.cli
@pytest.mark.parametrize("name", list(DIFFS))
def test_diff_html_is_self_contained_and_shows_the_changes(podwall_cli, tmp_path, name):
    old, new = DIFFS[name](tmp_path)
    run = podwall_cli("diff", str(old), str(new), "-o", "html")
    assert run.returncode == 0, run.stderr
    html = run.stdout
    _assert_self_contained(html)
    report = json.loads(podwall_cli("diff", str(old), str(new), "-o", "json").stdout)
    changes = compare(_load(old), _load(new))
    assert html == render_diff_page(changes, summarize(changes)), "same bytes in every process"
    groups = report["opened"] + report["closed"]
    if not groups:
        assert "No connection changes." in html and "<svg" not in html
        return
    changed_ports = sorted({c[2] for c in changes.cells("opened") | changes.cells("closed")},
                           key=lambda k: (int(k.split("/")[0]), k))
    picked = re.findall(r'<label for="pick-\d+">([^<]*)</label>', html)
    assert sorted(picked, key=lambda k: (int(k.split("/")[0]), k)) == changed_ports
    assert len(_svgs(html, "heatmap")) == len(picked) and len(_svgs(html, "graph")) == 1
    rows = re.findall(r'<tr class="(opened|closed)">', html)
    assert len(rows) == sum(len(g["pairs"]) for g in groups)
    assert rows.count("closed") == sum(len(g["pairs"]) for g in report["closed"])


def test_diff_graph_past_the_group_limit_counts_per_namespace(tmp_path):
    old, new = _shop_sides(tmp_path)
    changes = compare(_load(old), _load(new))
    graph = diff_graph(summarize(changes), Detail.namespaces)
    assert [n.id for n in graph.nodes] == ["ops", "shop"]
    counts = {(e.kind.value, e.src, e.dst): int(re.search(r"\((\d+) conn", e.label)[1])
              for e in graph.edges}
    assert counts == {
        ("closed", "ops", "shop"): 160,
        ("closed", "shop", "shop"): 240 + 60 + 380,
        ("opened", "ops", "shop"): 24,
    }
