"""`podwall exposure`: table-driven over the catalogues in tests/data/exposure (see its README),
checked against the decision core (a fresh pod or an outside address that may connect is always
reported), and through the installed command: golden JSON, output shapes, exit codes.
"""

from __future__ import annotations

import difflib
import json
import os
from dataclasses import replace
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
import yaml
from rich.console import Console

from podwall.assemble import assemble
from podwall.exposure import (
    ENTIRE_CLUSTER,
    Exposure,
    ExposureKind,
    ExposureReport,
    analyze_exposure,
    exposure_data,
    exposure_view,
)
from podwall.inputs import read_documents
from podwall.model import NAMESPACE_NAME_LABEL, Cluster, Direction, Labels, Namespace, Pod
from podwall.semantics import ClusterIndex, Endpoint, EndpointKind, Flow, Options, decide
from podwall.semantics.ports import PortSpec, parse_port_spec

DATA = Path(__file__).parent / "data" / "exposure"
GOLDEN = DATA / "golden"
EXAMPLES = Path(__file__).parents[1] / "examples"
UPDATE = os.environ.get("PODWALL_UPDATE_GOLDEN") == "1"
CASE_KEYS = {
    "name",
    "kinds",
    "pods",
    "direction",
    "ports",
    "networks",
    "ipblock",
    "ip_family",
    "manifests",
    "expect",
}


def _catalogues() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    found = []
    for path in sorted(DATA.glob("*.yaml")):
        catalogue = yaml.safe_load(path.read_text())
        for case in catalogue["cases"]:
            found.append((f"{path.stem}: {case['name']}", catalogue, case))
    return found


CASES = _catalogues()


def cluster_of(catalogue: dict[str, Any], case: dict[str, Any]) -> Cluster:
    manifests = [*(catalogue.get("cluster") or []), *case.get("manifests", [])]
    loaded = assemble([(case["name"], m) for m in manifests])
    assert not loaded.invalid, [str(e) for e in loaded.invalid]
    return loaded.cluster


def options_of(case: dict[str, Any]) -> Options:
    return Options(
        ipblock_matches_cluster=case.get("ipblock", "calico") == "calico",
        ip_family=case.get("ip_family"),
    )


def report_of(catalogue: dict[str, Any], case: dict[str, Any]) -> ExposureReport:
    ports = case.get("ports")
    direction = case.get("direction")
    return analyze_exposure(
        cluster_of(catalogue, case),
        options_of(case),
        networks=case.get("networks", ()),
        ports=None if ports is None else [parse_port_spec(p) for p in ports],
        directions=(Direction(direction),) if direction else (Direction.INGRESS, Direction.EGRESS),
    )


def rendered(e: Exposure) -> str:
    grants = "; ".join(g.render() for g in e.grants)
    return f"{e.render()} [{' '.join(k.value for k in e.kinds)}] by {grants}"


def test_case_names_are_unique_and_shaped() -> None:
    names = [name for name, _, _ in CASES]
    assert len(names) == len(set(names))
    kinds = {k.value for k in ExposureKind}
    for name, _, case in CASES:
        assert set(case) <= CASE_KEYS, name
        assert set(case["kinds"]) <= kinds, name


def test_every_kind_has_a_triggering_and_a_quiet_case() -> None:
    triggered = {
        kind
        for _, _, case in CASES
        for line in case["expect"]
        for kind in line.split("] by ", 1)[0].rsplit(" [", 1)[1].split()
    }
    quiet = {kind for _, _, case in CASES if not case["expect"] for kind in case["kinds"]}
    assert triggered == {k.value for k in ExposureKind}
    assert quiet == {k.value for k in ExposureKind}


@pytest.mark.parametrize(("catalogue", "case"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_exposure_case(catalogue: dict[str, Any], case: dict[str, Any]) -> None:
    report = report_of(catalogue, case)
    wanted_kinds = {ExposureKind(k) for k in case["kinds"]}
    pods = set(case.get("pods") or report.pods)
    got = [rendered(e) for e in report.exposures if e.pod in pods and wanted_kinds & set(e.kinds)]
    assert sorted(got) == sorted(case["expect"])
    for e in report.exposures:
        assert e.why and e.grants, e
        assert all(g.path.startswith("spec.") for g in e.grants if g.policy), e


# Soundness against the decision core: whatever `decide` lets a pod created later (fresh
# labels, no address, in an existing or a new namespace) or an outside address do, the report
# must say. The clusters are the examples and every catalogue case.
OUTSIDE_ADDRESSES = ("203.0.113.7", "172.16.0.40", "172.16.9.9", "10.10.10.10", "2001:db8::7")
FRESH = Labels({"podwall.test/fresh": "yes"})


def _with_fresh_pods(cluster: Cluster) -> tuple[Cluster, list[Pod]]:
    new_ns = Namespace(name="podwall-fresh", labels=Labels({NAMESPACE_NAME_LABEL: "podwall-fresh"}))
    homes = [*(ns.name for ns in cluster.namespaces), new_ns.name]
    fresh = [Pod(name="podwall-fresh", namespace=ns, labels=FRESH) for ns in homes]
    grown = replace(cluster, namespaces=(*cluster.namespaces, new_ns), pods=(*cluster.pods, *fresh))
    return grown, fresh


def _ports(cluster: Cluster) -> list[PortSpec]:
    declared = {PortSpec(p.container_port, p.protocol) for pod in cluster.pods for p in pod.ports}
    return sorted(declared | {PortSpec(80), PortSpec(53, "UDP"), PortSpec(5432)})


def _soundness_clusters() -> list[tuple[str, Cluster, Options]]:
    docs = read_documents([str(EXAMPLES)])
    examples = assemble([(d.source, d.manifest) for d in docs]).cluster
    found = [("examples", examples, Options())]
    found += [(name, cluster_of(cat, case), options_of(case)) for name, cat, case in CASES]
    return found


def _has(report: ExposureReport, pod: str, direction: Direction, kind: ExposureKind) -> bool:
    return kind in report.kinds_by_pod(direction)[pod]


@pytest.mark.parametrize(
    ("cluster", "options"),
    [c[1:] for c in _soundness_clusters()],
    ids=[c[0] for c in _soundness_clusters()],
)
def test_what_decide_allows_beyond_the_input_is_reported(cluster: Cluster, options: Options):
    report = analyze_exposure(cluster, options)
    grown, fresh = _with_fresh_pods(cluster)
    index = ClusterIndex.build(grown)
    for pod in cluster.pods:
        me = index.pod_endpoint(pod)
        for port in _ports(cluster):
            for other in fresh:
                them = index.pod_endpoint(other)
                for src, dst, d in ((them, me, Direction.INGRESS), (me, them, Direction.EGRESS)):
                    flow = Flow(src=src, dst=dst, protocol=port.protocol, port=port.port)
                    decision = decide(flow, index, options)
                    side = decision.ingress if d is Direction.INGRESS else decision.egress
                    if side.allowed:
                        assert _has(report, pod.key, d, ExposureKind.FUTURE_PODS), flow.render()
            for ip in OUTSIDE_ADDRESSES:
                if options.ip_family and (":" in ip) != (options.ip_family == 6):
                    continue
                out = Endpoint(kind=EndpointKind.EXTERNAL, ips=(ip,), label=ip)
                for src, dst, d in ((out, me, Direction.INGRESS), (me, out, Direction.EGRESS)):
                    flow = Flow(src=src, dst=dst, protocol=port.protocol, port=port.port)
                    side = decide(flow, index, options)
                    allowed = (side.ingress if d is Direction.INGRESS else side.egress).allowed
                    if allowed:
                        assert _has(report, pod.key, d, ExposureKind.OUTSIDE), flow.render()


def _examples_report(**kwargs: Any) -> ExposureReport:
    docs = read_documents([str(EXAMPLES)])
    return analyze_exposure(assemble([(d.source, d.manifest) for d in docs]).cluster, **kwargs)


def test_the_examples_say_what_the_seeds_leave_open() -> None:
    report = _examples_report()
    lines = {e.render() for e in report.exposures}
    assert "default/db <= [namespace with {project=myproject}]/[all pods] : 6379/TCP" in lines
    assert "default/db => 172.16.0.0/16 except 172.16.0.40/32 : all ports" in lines
    assert "demo/demo <= entire-cluster : all ports" in lines
    assert not any(e.pod.startswith("apps/") for e in report.exposures)
    counts = report.counts(Direction.INGRESS)
    # the seeds leave 9 open to outside; the shop plants add api (10/8), web (198.51.100/24)
    # and the unisolated monitoring/prometheus
    assert counts[ExposureKind.OUTSIDE] == 12


@pytest.mark.parametrize(
    ("kwargs", "pods", "directions"),
    [
        ({"namespace": "demo"}, ("demo/demo", "demo/worker"), ("Ingress", "Egress")),
        ({"directions": (Direction.EGRESS,)}, None, ("Egress",)),
        ({"namespace": "nowhere"}, (), ("Ingress", "Egress")),
    ],
    ids=[
        "a namespace limits the pods reported",
        "one direction reports only that direction",
        "a namespace with no pods reports nothing, and says so",
    ],
)
def test_scope(kwargs: dict[str, Any], pods: tuple[str, ...] | None, directions: tuple[str, ...]):
    report = _examples_report(**kwargs)
    if pods is not None:
        assert report.pods == pods
    assert {e.direction.value for e in report.exposures} <= set(directions)
    assert tuple(d.value for d in report.directions) == directions
    if pods == ():
        assert report.notes == ("no pod in namespace nowhere",)


def test_a_cidr_that_does_not_parse_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        _examples_report(networks=["10.0.0.0/33"])


def test_input_without_pods_says_exposure_needs_pods() -> None:
    report = analyze_exposure(Cluster())
    assert report.exposures == ()
    assert "no pods" in report.notes[0]


def test_data_has_the_documented_shape() -> None:
    data = exposure_data(_examples_report())
    assert list(data) == ["summary", "pods", "ingress", "egress", "notes"]
    assert data["summary"]["pods"] == 19
    assert set(data["summary"]["ingress"]) == {k.value for k in ExposureKind}
    entire = next(
        e for e in data["ingress"] if e["pod"] == "demo/demo" and e["peer"] == ENTIRE_CLUSTER
    )
    assert entire["kinds"] == ["any-namespace", "future-pods"]
    assert entire["grantedBy"] == [
        {"policy": "demo/allow-all-demo", "path": "spec.ingress[0]", "ports": ["all ports"]}
    ]
    web = next(e for e in data["ingress"] if e["pod"] == "default/web")
    assert web["isolated"] is False and web["grantedBy"] == []


def _text(report: ExposureReport, width: int = 80) -> str:
    console = Console(width=width, record=True, file=StringIO())
    console.print(exposure_view(report))
    return console.export_text()


def test_the_text_never_truncates_at_80_columns() -> None:
    text = _text(_examples_report(networks=["10.244.0.0/16"]))
    assert "…" not in text
    assert "default/pod1 <= demo-namespace/[all pods] : all ports" in text
    assert "spec.ingress[0].from[0].namespaceSelector" in text


def test_the_text_of_an_input_without_pods_is_its_note_alone() -> None:
    text = _text(analyze_exposure(Cluster()))
    assert text.startswith("note: the input holds no pods")
    assert "exposure" not in text.split("note:", 1)[0]


# Through the installed command.
CLI_EXAMPLES = str(EXAMPLES)


def test_json_matches_its_golden_file(podwall_cli) -> None:
    result = podwall_cli("exposure", "-f", CLI_EXAMPLES, "-o", "json")
    assert result.returncode == 0, result.stderr
    path = GOLDEN / "examples.json"
    if UPDATE:
        path.write_text(result.stdout)
    assert path.exists(), f"missing golden {path}: run with PODWALL_UPDATE_GOLDEN=1 and review"
    expected = path.read_text()
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True), result.stdout.splitlines(keepends=True)
        )
    )
    assert not diff, diff


def test_yaml_carries_the_same_document_as_json(podwall_cli) -> None:
    as_json = podwall_cli("exposure", "-f", CLI_EXAMPLES, "-o", "json", "--direction", "egress")
    as_yaml = podwall_cli("exposure", "-f", CLI_EXAMPLES, "-o", "yaml", "--direction", "egress")
    assert as_yaml.returncode == 0, as_yaml.stderr
    data = yaml.safe_load(as_yaml.stdout)
    assert data == json.loads(as_json.stdout)
    assert "ingress" not in data


def test_table_reads_like_np_guard_with_the_granting_rule(podwall_cli) -> None:
    result = podwall_cli("exposure", "-f", CLI_EXAMPLES, "-n", "default", "-p", "6379/TCP")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Ingress exposure" in out and "Egress exposure" in out
    assert "default/db <= [namespace with {project=myproject}]/[all pods] : 6379/TCP" in out
    assert "granted by default/access-demo2 spec.ingress[0].from[0].namespaceSelector" in out
    assert "open for ingress" in out and "default/frontend" in out
    assert "Exposure per pod" in out
    assert "apps/" not in out


def test_cluster_cidr_changes_what_counts_as_outside(podwall_cli) -> None:
    result = podwall_cli(
        "exposure",
        "-f",
        CLI_EXAMPLES,
        "-n",
        "default",
        "--direction",
        "egress",
        "--cluster-cidr",
        "172.16.0.0/12",
        "-o",
        "json",
    )
    assert result.returncode == 0, result.stderr
    kinds = {(e["pod"], e["peer"]): e["kinds"] for e in json.loads(result.stdout)["egress"]}
    # Inside the declared network now: not outside, but (calico) pods of any namespace there.
    assert kinds[("default/db", "172.16.0.0/16 except 172.16.0.40/32")] == [
        "any-namespace",
        "future-pods",
    ]
    assert kinds[("default/pod1", "10.10.10.0/24")] == ["outside-cluster"]


def test_help_teaches_with_examples(podwall_cli) -> None:
    result = podwall_cli("exposure", "--help")
    assert result.returncode == 0, result.stderr
    assert "podwall exposure -f examples/" in result.stdout
    assert "--cluster-cidr" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", CLI_EXAMPLES, "--port", "99999"], "--port"),
        (["-f", CLI_EXAMPLES, "--cluster-cidr", "10.0.0.0/33"], "--cluster-cidr"),
        (["-f", CLI_EXAMPLES, "--ip-family", "5"], "--ip-family"),
        ([], "no input"),
        (["-f", "/nonexistent/podwall"], "error"),
    ],
    ids=[
        "a port out of range",
        "a cluster CIDR that does not parse",
        "an IP family that is neither 4 nor 6",
        "no input at all",
        "a file that does not exist",
    ],
)
def test_bad_input_exits_2(podwall_cli, args: list[str], message: str) -> None:
    result = podwall_cli("exposure", *args)
    assert result.returncode == 2, result.stdout
    assert message in result.stderr


def test_an_invalid_object_exits_2_and_is_named(podwall_cli, tmp_path: Path) -> None:
    bad = {
        "apiVersion": "networking.k8s.io/v1",
        "kind": "NetworkPolicy",
        "metadata": {"name": "bad", "namespace": "default"},
        "spec": {"podSelector": {}, "ingress": [{"from": [{"ipBlock": {"cidr": "nope"}}]}]},
    }
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(bad))
    result = podwall_cli("exposure", "-f", str(path))
    assert result.returncode == 2
    assert 'NetworkPolicy "default/bad" is invalid' in result.stderr
