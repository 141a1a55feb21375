"""The console's "Understanding" routes against the lab API cluster (real HTTP, real SQLite and
PostgreSQL), each checked against podwall's own core: the matrix cell by cell against `decide`,
explanations against the `podwall` command's own words, previews against two full matrices,
lint against the catalogue of common mistakes. The expected side never goes through the
console: it reads the lab with `podwall.kube.read_cluster`, as `podwall --kubeconfig` does.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree as ET

import httpx
import numpy as np
import pytest
import yaml
from fastapi.testclient import TestClient

from apiserver_support import EXAMPLES, running_server
from conftest import RunCli
from console_support import LAB_POLICY, LAB_TOKEN, ConsoleEnv, change_first_password, log_in
from netpol_model import load_steps
from podwall.assemble import assemble
from podwall.console import create_console
from podwall.console.insight import Insight
from podwall.encode import encode_object
from podwall.kube import ClusterSource, read_cluster
from podwall.model import Cluster
from podwall.render.grid import GRID_POD_LIMIT, render_grid_svg
from podwall.semantics import ClusterIndex, Flow, PortSpec, compute_matrix, decide
from podwall.semantics.matrix import declared_ports
from policy_generator import random_policies

DATA = Path(__file__).parent / "data" / "console-insight"
API = "/api/v1/clusters/lab"
SVG = "{http://www.w3.org/2000/svg}"
LAB_POLICIES = [p for p in sorted(EXAMPLES.glob("*.yaml")) if p.name != "shop-mistakes.yaml"]
VIEWER_PASSWORD = "viewer-password-123"


@dataclass
class Lab:
    client: TestClient  # admin; the lab registered as "lab" and synced
    kubeconfig: Path
    server: str
    cluster: Cluster  # the lab as podwall reads it, without the console

    def add_policy(self, manifest: dict) -> None:
        ns = manifest["metadata"].setdefault("namespace", "default")
        created = httpx.post(
            f"{self.server}/apis/networking.k8s.io/v1/namespaces/{ns}/networkpolicies",
            headers={"Authorization": f"Bearer {LAB_TOKEN}"}, json=manifest)
        assert created.status_code == 201, created.text

    def sync(self) -> None:
        synced = self.client.post(f"{API}/sync?wait=true")
        assert synced.status_code == 200 and synced.json()["state"] == "synced", synced.text


def _read(kubeconfig: Path) -> Cluster:
    loaded = assemble(read_cluster(ClusterSource(str(kubeconfig))), strict_cidr=False)
    assert not loaded.invalid
    return loaded.cluster


def _fill(client: TestClient, kubeconfig_text: str, path: Path) -> Lab:
    """Add every example policy outside `shop` (the lab has no such namespace) to the lab the
    kubeconfig names, which holds access-demo1 already; register it as "lab" and sync."""
    server = yaml.safe_load(kubeconfig_text)["clusters"][0]["cluster"]["server"]
    path.write_text(kubeconfig_text)
    lab = Lab(client, path, server, Cluster())
    for file in LAB_POLICIES:
        for doc in yaml.safe_load_all(file.read_text()):
            if doc["metadata"]["name"] != "access-demo1":
                lab.add_policy(doc)
    registered = client.post("/api/v1/clusters", json={"name": "lab",
                                                       "kubeconfig": kubeconfig_text})
    assert registered.status_code == 201, registered.text
    lab.sync()
    lab.cluster = _read(path)
    return lab


@pytest.fixture
def own_lab(console_env: ConsoleEnv, lab_kubeconfig: str, tmp_path: Path) -> Lab:
    """The lab in a console of its own, on each database: for tests that change something."""
    return _fill(console_env.client, lab_kubeconfig, tmp_path / "insight.kubeconfig")


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """One lab and console (SQLite) shared by the tests that only read: the analysis does not
    depend on the database; `own_lab` covers both databases, and what stores or changes."""
    tmp = tmp_path_factory.mktemp("insight")
    with running_server(tmp / "api.db", token=LAB_TOKEN) as server:
        kubeconfig = server.write_kubeconfig(tmp / "lab.kubeconfig").read_text()
        console = create_console(f"sqlite:///{tmp / 'console.db'}")
        try:
            with TestClient(console.app) as client:
                log_in(client, "admin", str(console.admin_password))
                change_first_password(client, str(console.admin_password))
                policy = yaml.safe_load(LAB_POLICY)
                found = Lab(client, tmp / "lab.kubeconfig", server.url, Cluster())
                found.add_policy(policy)
                yield _fill(client, kubeconfig, tmp / "insight.kubeconfig")
        finally:
            console.app.state.syncs.wait_all()
            console.engine.dispose()


def _get(lab: Lab, path: str, **params: object) -> httpx.Response:
    response = lab.client.get(f"{API}{path}", params={k: v for k, v in params.items()
                                                       if v is not None})
    assert response.status_code == 200, response.text
    return response


# ---- the matrix ------------------------------------------------------------------------------

MATRIX_CASES = [
    pytest.param(80, "TCP", [], id="80/TCP, every namespace"),
    pytest.param(6379, "TCP", [], id="6379/TCP: the redis port only db declares"),
    pytest.param(53, "UDP", [], id="53/UDP: DNS, by the protocol asked"),
    pytest.param(5432, None, ["apps"], id="5432 in apps, protocol defaulting to TCP"),
    pytest.param(8080, "tcp", ["apps", "demo"], id="two namespaces, protocol in lower case"),
    pytest.param(None, None, [], id="no port: each destination's declared ports"),
    pytest.param(None, None, ["default"], id="no port, one namespace"),
]


def _expected_cell(cluster: Cluster, index: ClusterIndex, i: int, j: int,
                   ports: list[PortSpec]) -> bool:
    src, dst = cluster.pods[i], cluster.pods[j]
    return src.key == dst.key or any(
        decide(Flow(src=index.pod_endpoint(src), dst=index.pod_endpoint(dst),
                    protocol=p.protocol, port=p.port), index).allowed
        for p in ports)


def _cell_ports(cluster: Cluster, j: int, port: int | None, protocol: str | None
                ) -> list[PortSpec]:
    if port is not None:
        return [PortSpec(port, (protocol or "TCP").upper())]
    return [PortSpec(p.container_port, p.protocol) for p in cluster.pods[j].ports]


@pytest.mark.parametrize(("port", "protocol", "namespaces"), MATRIX_CASES)
def test_matrix_cells_equal_decide_for_every_pod_pair(lab: Lab, port, protocol, namespaces):
    body = _get(lab, "/matrix", port=port, protocol=protocol,
                namespace=",".join(namespaces) or None).json()
    cluster, index = lab.cluster, ClusterIndex.build(lab.cluster)
    chosen = [i for i, p in enumerate(cluster.pods) if not namespaces or p.namespace in namespaces]
    assert [p["id"] for p in body["pods"]] == [cluster.pods[i].key for i in chosen]
    assert body["namespaces"] == list(dict.fromkeys(cluster.pods[i].namespace for i in chosen))
    expected = [[_expected_cell(cluster, index, i, j, _cell_ports(cluster, j, port, protocol))
                 for j in chosen] for i in chosen]
    assert body["allowed"] == expected
    assert (body["port"], body["protocol"]) == (
        (port, (protocol or "TCP").upper()) if port else (None, None))
    assert any(not cell for row in body["allowed"] for cell in row)  # the policies bite


def _svg_root(text: str) -> ET.Element:
    assert not re.search(r"<script|foreignObject|href=\"(?!#)|url\((?!#)", text)
    return ET.fromstring(text)


@pytest.mark.parametrize(("port", "protocol", "namespaces"), MATRIX_CASES)
def test_the_heatmap_has_one_cell_per_pod_pair_as_the_matrix_says(lab: Lab, port, protocol,
                                                                  namespaces):
    query = {"port": port, "protocol": protocol, "namespace": ",".join(namespaces) or None}
    body = _get(lab, "/matrix", **query).json()
    picture = _get(lab, "/matrix.svg", **query)
    assert picture.headers["content-type"].startswith("image/svg+xml")
    root = _svg_root(picture.text)
    assert root.tag == f"{SVG}svg" and root.get("data-detail") == "pods"
    cells = {(c.get("data-from"), c.get("data-to")): c.get("data-allowed")
             for c in root.iter(f"{SVG}rect") if c.get("data-from")}
    ids = [p["id"] for p in body["pods"]]
    assert len(cells) == len(ids) ** 2
    assert cells == {(a, b): "true" if body["allowed"][i][j] else "false"
                     for i, a in enumerate(ids) for j, b in enumerate(ids)}
    labels = {t.text for t in root.iter(f"{SVG}text") if t.get("class") == "row-label"}
    assert labels == {i.split("/")[1] for i in ids}


def test_the_heatmap_changes_when_the_cluster_does(own_lab: Lab):
    lab = own_lab
    before = _get(lab, "/matrix.svg", port=80).text
    cell = 'data-from="default/pod1" data-to="default/pod2" data-allowed="{}"'
    assert cell.format("true") in before
    lab.add_policy(yaml.safe_load((DATA / "proposals" /
                                   "default-deny-ingress-in-default.yaml").read_text()))
    lab.sync()
    after = _get(lab, "/matrix.svg", port=80).text
    assert cell.format("false") in after and cell.format("true") not in after


def test_a_saved_policy_shows_at_once_without_a_sync(own_lab: Lab):
    """Writes update the stored objects; every view reads them, never a stale analysis."""
    lab = own_lab
    text = (DATA / "proposals" / "allow-all-ingress-in-apps.yaml").read_text()
    preview = lab.client.post(f"{API}/preview", json={"yaml": text}).json()
    assert preview["opened_count"] > 0
    saved = lab.client.post(f"{API}/policies", json={"yaml": text})
    assert saved.status_code == 201, saved.text
    matrix = _get(lab, "/matrix", port=8080, namespace="apps").json()
    ids = [p["id"] for p in matrix["pods"]]
    opened = {(c["from"], c["to"]) for c in preview["opened"] if c["port"] == 8080}
    assert opened and all(matrix["allowed"][ids.index(a)][ids.index(b)]
                          for a, b in opened if a in ids and b in ids)
    again = lab.client.post(f"{API}/preview", json={"yaml": text}).json()
    assert (again["opened_count"], again["closed_count"]) == (0, 0)


GRID_CASES = [
    pytest.param([f"ns-{i % 3}/pod-{i:03d}" for i in range(GRID_POD_LIMIT)], "pods",
                 id="at the limit: a cell per pod pair"),
    pytest.param(sorted(f"ns-{i % 7}/pod-{i:03d}" for i in range(GRID_POD_LIMIT + 1)),
                 "namespaces", id="past the limit: a cell per namespace pair"),
    pytest.param(['a"b/<script>', "a\"b/x&y", "z/'q'"], "pods",
                 id="names that need escaping stay text"),
]


@pytest.mark.parametrize(("keys", "detail"), GRID_CASES)
def test_the_heatmap_picture_counts_right_at_either_detail(keys: list[str], detail: str):
    rng = np.random.default_rng(len(keys))
    allowed = rng.random((len(keys), len(keys))) < 0.4
    np.fill_diagonal(allowed, True)
    root = _svg_root(render_grid_svg(keys, allowed, title='who <may> "reach"'))
    assert root.get("data-detail") == detail
    assert root.find(f"{SVG}title").text == 'who <may> "reach"'
    cells = [c for c in root.iter(f"{SVG}rect") if c.get("data-from") is not None]
    if detail == "pods":
        assert {(c.get("data-from"), c.get("data-to")): c.get("data-allowed") for c in cells} == {
            (a, b): str(bool(allowed[i, j])).lower()
            for i, a in enumerate(keys) for j, b in enumerate(keys)}
        return
    names = list(dict.fromkeys(k.split("/")[0] for k in keys))
    assert len(cells) == len(names) ** 2
    of = np.array([names.index(k.split("/")[0]) for k in keys])
    for c in cells:
        a, b = names.index(c.get("data-from")), names.index(c.get("data-to"))
        pairs = [(i, j) for i in np.flatnonzero(of == a) for j in np.flatnonzero(of == b) if i != j]
        assert int(c.get("data-pairs")) == len(pairs)
        assert int(c.get("data-allowed")) == sum(bool(allowed[i, j]) for i, j in pairs)


# ---- the graph -------------------------------------------------------------------------------

@pytest.mark.parametrize(("port", "protocol", "namespaces"), MATRIX_CASES)
def test_graph_edges_are_the_matrix_allowed_cells(lab: Lab, port, protocol, namespaces):
    query = {"port": port, "protocol": protocol, "namespace": ",".join(namespaces) or None}
    matrix = _get(lab, "/matrix", **query).json()
    graph = _get(lab, "/graph", **query).json()
    ids = [p["id"] for p in matrix["pods"]]
    assert graph["detail"] == "pods"
    assert [g["namespace"] for g in graph["groups"]] == matrix["namespaces"]
    assert sorted(k for g in graph["groups"] for k in g["pods"]) == sorted(ids)
    allowed = {(a, b) for i, a in enumerate(ids) for j, b in enumerate(ids)
               if i != j and matrix["allowed"][i][j]}
    assert {(e["from"], e["to"]) for e in graph["edges"]} == allowed
    root = _svg_root(_get(lab, "/graph.svg", **query).text)
    pods = {g.get("data-pod") for g in root.iter(f"{SVG}g") if g.get("data-pod")}
    assert pods == set(ids)
    edges = {(p.get("data-from"), p.get("data-to")) for p in root.iter(f"{SVG}path")
             if p.get("data-from")}
    assert edges == allowed


# ---- explaining ------------------------------------------------------------------------------

def _panels(output: str) -> list[str]:
    """`podwall` panels as plain text: the title line, then each line, frame removed."""
    panels: list[str] = []
    lines: list[str] = []
    for line in output.splitlines():
        if line.startswith("╭─ "):
            lines = [line[3:].rstrip("─╮").rstrip()]
        elif line.startswith("│"):
            lines.append(line[2:-1].rstrip())
        elif line.startswith("╰"):
            panels.append("\n".join(lines))
    return panels


@pytest.fixture
def wide_cli(podwall_cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> RunCli:
    """The installed `podwall` on a terminal wide enough that no line wraps."""
    monkeypatch.setenv("COLUMNS", "2000")
    monkeypatch.setenv("PYTHONIOENCODING", "utf-8")
    return podwall_cli


FLOWS = [
    pytest.param("default/frontend", "default/db", 6379, "TCP", "allowed",
                 id="allowed by two policies' ingress rules"),
    pytest.param("default/web", "default/db", 6379, "TCP", "denied",
                 id="denied: db's ingress names no rule for web"),
    pytest.param("apps/ui", "apps/database", 5432, "TCP", "denied",
                 id="denied on both sides in a default-deny namespace"),
    pytest.param("apps/api", "kube-system/coredns", 53, "UDP", "allowed",
                 id="DNS allowed by egress, to an open destination"),
    pytest.param("demo/worker", "172.16.5.5", 443, "TCP", "denied",
                 id="to an address outside the cluster"),
]


@pytest.mark.parametrize(("source", "destination", "port", "protocol", "verdict"), FLOWS)
def test_explaining_a_flow_says_what_podwall_check_says(lab: Lab, wide_cli: RunCli, source,
                                                        destination, port, protocol, verdict):
    body = _get(lab, "/explain", **{"from": source, "to": destination, "port": port,
                                    "protocol": protocol}).json()
    assert body["verdict"] == verdict
    cli = wide_cli("check", "--kubeconfig", str(lab.kubeconfig), "--from", source, "--to",
                   destination, "--port", f"{port}/{protocol}")
    assert cli.returncode == (0 if verdict == "allowed" else 1), cli.stderr
    assert [body["text"]] == _panels(cli.stdout)
    index = ClusterIndex.build(lab.cluster)
    decision = decide(Flow(src=index.resolve(source), dst=index.resolve(destination),
                           protocol=protocol, port=port), index)
    assert [(r["direction"], r["policy"], r["path"], r["text"]) for r in body["reasons"]] == [
        (side.direction.value, r.policy, r.path, r.text)
        for side in (decision.egress, decision.ingress) for r in side.reasons]
    assert all(r["policy"] and r["path"].startswith("spec.") for r in body["reasons"]
               if "isolated" not in r["text"] and "outside" not in r["text"])


@pytest.mark.parametrize("port", [pytest.param(None, id="every declared port"),
                                  pytest.param(80, id="port 80")])
def test_explaining_each_pod_says_what_podwall_explain_says(lab: Lab, wide_cli: RunCli, port):
    cli = wide_cli("explain", "--kubeconfig", str(lab.kubeconfig), "-A",
                   *(["--port", str(port)] if port else []))
    assert cli.returncode == 0, cli.stderr
    expected = {text.split("\n", 1)[0]: text for text in _panels(cli.stdout)}
    assert sorted(expected) == sorted(p.key for p in lab.cluster.pods)
    for key, text in expected.items():
        body = _get(lab, f"/pods/{key}/explain", port=port).json()
        assert body["text"] == text, key


POD_CASES = [
    pytest.param("default/db", True, True,
                 ["default/access-demo1", "default/access-demo2", "default/access-demo3",
                  "default/access-demo4"], id="db: isolated both ways by four policies"),
    pytest.param("demo/worker", True, True, ["demo/default-deny-all"],
                 id="worker: default deny both ways, reaches and is reached by none"),
    pytest.param("myproject/client", False, False, [], id="client: no policy selects it"),
]


@pytest.mark.parametrize(("key", "ingress", "egress", "policies"), POD_CASES)
def test_a_pod_explanation_names_its_policies_and_peers(lab: Lab, key, ingress, egress,
                                                        policies):
    body = _get(lab, f"/pods/{key}/explain").json()
    assert (body["isolated_ingress"], body["isolated_egress"]) == (ingress, egress)
    assert body["policies"] == policies
    matrix = _get(lab, "/matrix").json()
    ids = [p["id"] for p in matrix["pods"]]
    i = ids.index(key)
    assert body["reachable_from"] == sorted(
        a for k, a in enumerate(ids) if k != i and matrix["allowed"][k][i])
    assert body["can_reach"] == sorted(
        b for k, b in enumerate(ids) if k != i and matrix["allowed"][i][k])
    for side in ("ingress", "egress"):
        assert all(a["policy"] in body["policies"] and a["path"].startswith(f"spec.{side}[")
                   for a in body[side]["allowed_by"])


@pytest.mark.parametrize(("path", "status"), [
    pytest.param("/explain?from=default/nobody&to=default/db&port=80", 404, id="unknown pod"),
    pytest.param("/explain?from=default/web&to=default/db&port=80&protocol=ICMP", 422,
                 id="a protocol Kubernetes does not know"),
    pytest.param("/explain?from=default/web&to=default/db", 422, id="no port"),
    pytest.param("/pods/default/nobody/explain", 404, id="unknown pod to explain"),
    pytest.param("/matrix?port=70000", 422, id="port out of range"),
    pytest.param("/matrix?protocol=UDP", 422, id="a protocol without a port"),
])
def test_bad_questions_get_clear_errors(lab: Lab, path: str, status: int):
    response = lab.client.get(f"{API}{path}")
    assert response.status_code == status, response.text
    assert response.json()["detail"]


# ---- preview ---------------------------------------------------------------------------------

def _proposal(name: str) -> dict:
    text = (DATA / "proposals" / name).read_text()
    first = text.splitlines()[0] if text else ""
    deleted = first.removeprefix("# delete:").split() if first.startswith("# delete:") else []
    return {"yaml": text, "delete": [dict(zip(("namespace", "name"), k.split("/"), strict=True))
                                     for k in deleted]}


def _applied(cluster: Cluster, body: dict) -> Cluster:
    """The proposal applied the plain way: every manifest of the lab, edited, read again."""
    docs = [d for d in yaml.safe_load_all(body["yaml"]) if d]
    replaced = {f"{d['metadata']['namespace']}/{d['metadata']['name']}" for d in docs}
    gone = replaced | {f"{d['namespace']}/{d['name']}" for d in body["delete"]}
    manifests = [encode_object(o) for o in (*cluster.namespaces, *cluster.pods)]
    manifests += [encode_object(p) for p in cluster.policies if p.key not in gone] + docs
    loaded = assemble([("x", m) for m in manifests])
    assert not loaded.invalid
    return loaded.cluster


def _changed(old: Cluster, new: Cluster) -> tuple[set, set]:
    ports = sorted(set(declared_ports(old.pods)) | set(declared_ports(new.pods)))
    before, after = compute_matrix(old, ports), compute_matrix(new, ports)
    opened, closed = set(), set()
    for spec in ports:
        for i, src in enumerate(before.pods):
            for j, dst in enumerate(before.pods):
                was, now = before.allowed[spec.key][i, j], after.allowed[spec.key][i, j]
                if was != now:
                    (opened if now else closed).add((src, dst, spec.port, spec.protocol))
    return opened, closed


@pytest.mark.parametrize("name", sorted(p.name for p in (DATA / "proposals").glob("*.yaml")))
def test_preview_lists_exactly_the_cells_two_full_matrices_disagree_on(lab: Lab, name: str):
    body = _proposal(name)
    response = lab.client.post(f"{API}/preview", json=body)
    assert response.status_code == 200, response.text
    preview = response.json()
    opened, closed = _changed(lab.cluster, _applied(lab.cluster, body))
    as_set = lambda cells: {(c["from"], c["to"], c["port"], c["protocol"]) for c in cells}  # noqa: E731
    assert as_set(preview["opened"]) == opened
    assert as_set(preview["closed"]) == closed
    assert (preview["opened_count"], preview["closed_count"]) == (len(opened), len(closed))
    assert not preview["truncated"]
    assert preview["summary"].startswith(f"{len(opened)} connection")
    stored = lab.client.get(f"{API}/policies").json()["items"]
    assert len(stored) == len(lab.cluster.policies)  # a preview saves nothing


def test_preview_of_a_change_that_changes_nothing_says_so(lab: Lab):
    preview = lab.client.post(f"{API}/preview", json=_proposal("delete-a-duplicate.yaml")).json()
    assert (preview["opened"], preview["closed"]) == ([], [])
    assert preview["policies"]["removed"] == ["default/access-demo1"]



@pytest.mark.parametrize(
    ("namespace", "warnings"),
    [
        pytest.param("default", [], id="a namespace the cluster has: no warning"),
        pytest.param("nowhere", ["namespace 'nowhere' does not exist in the cluster: the API "
                                 "server would refuse policies in it"],
                     id="a namespace the cluster lacks is named"),
    ],
)
def test_preview_warns_only_about_namespaces_the_cluster_lacks(lab: Lab, namespace: str,
                                                                warnings: list[str]):
    policy = ("apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
              f"metadata: {{name: deny, namespace: {namespace}}}\nspec: {{podSelector: {{}}}}\n")
    preview = lab.client.post(f"{API}/preview", json={"yaml": policy, "delete": []})
    assert preview.status_code == 200, preview.text
    assert preview.json()["warnings"] == warnings

# ---- lint: the common mistakes ---------------------------------------------------------------

MISTAKES = sorted((DATA / "mistakes").glob("*.yaml"))


def _expectation(path: Path) -> tuple[str, str, str]:
    """(code, policy, field path) from the file's first line and its metadata."""
    text = path.read_text()
    code, field = text.splitlines()[0].removeprefix("# ").split()[:2]
    meta = yaml.safe_load(text)["metadata"]
    return code, f"{meta['namespace']}/{meta['name']}", field.rstrip(":")


@pytest.mark.parametrize("path", MISTAKES, ids=[p.stem.replace("-", " ") for p in MISTAKES])
def test_each_common_mistake_shows_in_lint_and_in_the_preview(lab: Lab, path: Path):
    code, policy, field = _expectation(path)
    as_is = lab.client.post(f"{API}/lint", json={}).json()["findings"]
    assert not any(f["policy"] == policy for f in as_is)
    linted = lab.client.post(f"{API}/lint", json={"yaml": path.read_text()})
    assert linted.status_code == 200, linted.text
    found = [f for f in linted.json()["findings"] if f["code"] == code and f["policy"] == policy]
    assert [(f["path"], f["new"], f["kind"]) for f in found] == [(field, True, "NetworkPolicy")]
    assert found[0]["message"] and found[0]["fix"] and found[0]["severity"] in ("error", "warning")
    added = lab.client.post(f"{API}/preview", json={"yaml": path.read_text()}).json()["findings"]
    assert any(f["code"] == code and f["path"] == field for f in added)
    assert all(f["new"] for f in added)


def test_lint_of_the_cluster_as_it_is_matches_podwall_lint(lab: Lab, podwall_cli: RunCli):
    body = lab.client.post(f"{API}/lint").json()
    cli = podwall_cli("lint", "--kubeconfig", str(lab.kubeconfig), "-o", "json",
                      "--fail-on", "none")
    assert cli.returncode == 0, cli.stderr
    expected = yaml.safe_load(cli.stdout)["findings"]
    assert [(f["code"], f["name"], f["path"], f["message"]) for f in body["findings"]] == [
        (f["code"], f["name"], f["path"], f["message"]) for f in expected]
    assert body["skipped"] == [] and not any(f["new"] for f in body["findings"])


# ---- invalid proposals -----------------------------------------------------------------------

INVALID = sorted((DATA / "invalid").glob("*.yaml"))


@pytest.mark.parametrize("route", ["preview", "lint"])
@pytest.mark.parametrize("path", INVALID, ids=[p.stem.replace("-", " ") for p in INVALID])
def test_an_invalid_proposal_is_422_with_the_api_server_messages(lab: Lab, path: Path, route):
    text = path.read_text()
    response = lab.client.post(f"{API}/{route}", json={"yaml": text})
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["messages"] and body["detail"] == body["messages"][0]
    validated = lab.client.post("/api/v1/validate", json={"yaml": text})
    if validated.status_code == 200 and validated.json()["messages"]:
        assert body["messages"] == validated.json()["messages"]  # as the API server words them
    elif validated.status_code == 422:
        assert body["detail"] == validated.json()["detail"]
    else:  # valid for the API server, but not a policy: preview takes policies only
        assert "only NetworkPolicy objects" in body["detail"]


def test_deleting_a_policy_the_cluster_lacks_is_422(lab: Lab):
    response = lab.client.post(f"{API}/preview", json={
        "delete": [{"namespace": "default", "name": "no-such-policy"}]})
    assert response.status_code == 422, response.text
    assert response.json()["messages"] == [
        'NetworkPolicy "default/no-such-policy" is not in the cluster\'s last sync: '
        "nothing to delete"]


# ---- who may look ----------------------------------------------------------------------------

READS = ["/matrix", "/matrix.svg", "/graph", "/graph.svg", "/pods/default/db/explain",
         "/explain?from=default/web&to=default/db&port=80"]


def _user(lab: Lab, name: str, role: str | None) -> TestClient:
    created = lab.client.post("/api/v1/users", json={"username": name,
                                                     "password": VIEWER_PASSWORD})
    assert created.status_code == 201, created.text
    if role:
        bound = lab.client.put(f"{API}/bindings/{name}", json={"role": role})
        assert bound.status_code == 200, bound.text
    return log_in(TestClient(lab.client.app), name, VIEWER_PASSWORD)


@pytest.mark.parametrize(("role", "status"), [pytest.param("viewer", 200, id="a viewer reads"),
                                              pytest.param(None, 403, id="no role: forbidden")])
def test_reading_takes_the_viewer_role(own_lab: Lab, role: str | None, status: int):
    lab = own_lab
    client = _user(lab, "vera", role)
    for path in READS:
        assert client.get(f"{API}{path}").status_code == status, path
    for path in ("preview", "lint"):
        assert client.post(f"{API}/{path}", json={}).status_code == status, path
    anonymous = TestClient(lab.client.app)
    assert anonymous.get(f"{API}/matrix").status_code == 401
    assert lab.client.get("/api/v1/clusters/nowhere/matrix").status_code == 404


# ---- the class matrix answers as the full matrix does (pure) ---------------------------------

STEPS = load_steps()
MODEL = [m for m in STEPS[0].manifests if m["kind"] != "NetworkPolicy"]


def _same_as_compute_matrix(manifests: list[dict]) -> None:
    insight = Insight.from_manifests(manifests)
    cluster = insight.cluster
    ports = [*declared_ports(cluster.pods), PortSpec(82, "TCP")]
    full = compute_matrix(cluster, ports)
    pods = list(cluster.pods)
    for spec in ports:
        assert (insight.grid(spec, pods) == full.allowed[spec.key]).all(), spec.key
    some = pods[::2]
    at = [pods.index(p) for p in some]
    assert (insight.grid(ports[0], some) == full.allowed[ports[0].key][at][:, at]).all()


@pytest.mark.parametrize("step", STEPS, ids=[f"{s.case} step {s.index}" for s in STEPS])
def test_the_kept_class_grid_equals_compute_matrix_on_the_conformance_steps(step):
    _same_as_compute_matrix(list(step.manifests))


@pytest.mark.parametrize("seed", range(8))
def test_the_kept_class_grid_equals_compute_matrix_on_random_policies(seed: int):
    _same_as_compute_matrix([*MODEL, *random_policies(seed)])
