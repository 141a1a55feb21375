"""Input as kubectl prints it: files, directories, stdin, YAML and JSON, documents and Lists."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
import yaml

from podwall.assemble import assemble
from podwall.errors import InputError
from podwall.inputs import read_documents

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
    "status": {"podIP": "10.1.0.5"},
}
POLICY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "deny", "namespace": "shop"},
    "spec": {"podSelector": {}},
}


def _typed_list(kind: str, api_version: str, item: dict) -> dict:
    """A typed list as the API returns it: items carry no kind or apiVersion."""
    bare = {k: v for k, v in item.items() if k not in ("kind", "apiVersion")}
    return {"apiVersion": api_version, "kind": kind, "metadata": {}, "items": [bare]}


LAYOUTS = {
    "multi-document YAML": yaml.safe_dump_all([NS, POD, POLICY]),
    "kind: List as kubectl get -o yaml prints it": yaml.safe_dump(
        {"apiVersion": "v1", "kind": "List", "items": [NS, POD, POLICY]}
    ),
    "kind: List as kubectl get -o json prints it": json.dumps(
        {"apiVersion": "v1", "kind": "List", "items": [NS, POD, POLICY]}
    ),
    "typed lists whose items lack kind": yaml.safe_dump_all(
        [
            _typed_list("NamespaceList", "v1", NS),
            _typed_list("PodList", "v1", POD),
            _typed_list("NetworkPolicyList", "networking.k8s.io/v1", POLICY),
        ]
    ),
    "a JSON array of objects": json.dumps([NS, POD, POLICY]),
}


@pytest.mark.parametrize("text", LAYOUTS.values(), ids=LAYOUTS.keys())
def test_every_layout_yields_the_same_objects(tmp_path: Path, text: str):
    path = tmp_path / "input.yaml"
    path.write_text(text)
    docs = read_documents([str(path)])
    assert [d.manifest["kind"] for d in docs] == ["Namespace", "Pod", "NetworkPolicy"]
    loaded = assemble([(d.source, d.manifest) for d in docs])
    assert not loaded.invalid
    assert [p.key for p in loaded.cluster.pods] == ["shop/web"]
    assert loaded.cluster.policies[0].policy_types == ("Ingress",)


def test_directories_are_read_recursively_and_in_order(tmp_path: Path):
    (tmp_path / "b" / "deeper").mkdir(parents=True)
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(NS))
    (tmp_path / "b" / "deeper" / "pod.json").write_text(json.dumps(POD))
    (tmp_path / "b" / "notes.txt").write_text("not a manifest")
    kinds = [d.manifest["kind"] for d in read_documents([str(tmp_path)])]
    assert kinds == ["Namespace", "Pod"]


def test_stdin_is_read_for_dash():
    import io

    docs = read_documents(["-"], stdin=io.StringIO(yaml.safe_dump(POLICY)))
    assert docs[0].source == "-"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: Pod\nmetadata: {name: [unclosed", "invalid YAML at line"),
        ('{"kind": "Pod",', "invalid JSON at line 1"),
        ("- just\n- a list\n", "expected a Kubernetes object"),
    ],
    ids=["broken YAML names the line", "broken JSON names the line", "not an object"],
)
def test_unreadable_input_is_an_error_naming_the_file(tmp_path: Path, text: str, message: str):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_documents([str(path)])
    assert str(path) in str(info.value)


def test_missing_path_is_an_error():
    with pytest.raises(InputError, match="no such file"):
        read_documents(["/nonexistent/podwall-input"])


def test_other_kinds_are_skipped_with_a_one_line_notice():
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "db"}}
    loaded = assemble([("svc.yaml", service), ("p.yaml", POLICY)])
    assert loaded.notices == (
        "svc.yaml: skipped Service 'default/db' (podwall reads Namespace, Pod and NetworkPolicy)",
    )
    assert len(loaded.cluster.policies) == 1


def test_undeclared_namespace_is_implied_with_its_name_label_and_a_warning():
    loaded = assemble([("p.yaml", POLICY)])
    [ns] = loaded.cluster.namespaces
    assert ns.implied and dict(ns.labels) == {"kubernetes.io/metadata.name": "shop"}
    assert any("'shop' is used but not declared" in w for w in loaded.warnings)


def test_objects_without_namespace_take_the_given_default():
    bare = {**POLICY, "metadata": {"name": "deny"}}
    assert assemble([("p", bare)], default_ns="team").cluster.policies[0].key == "team/deny"
    assert assemble([("p", bare)]).cluster.policies[0].key == "default/deny"


def test_declared_namespaces_always_carry_their_name_label():
    loaded = assemble([("ns", {**NS, "metadata": {"name": "shop", "labels": {"env": "prod"}}})])
    assert dict(loaded.cluster.namespaces[0].labels) == {
        "env": "prod",
        "kubernetes.io/metadata.name": "shop",
    }


@pytest.mark.parametrize(
    ("manifest", "error"),
    [
        ({**POLICY, "spec": {"podSelector": {}, "ingres": []}}, 'unknown field "spec.ingres"'),
        (
            {
                **POLICY,
                "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": "x"}]}]},
            },
            'spec.ingress[0].ports[0].endPort: Invalid value: "x": must be an integer',
        ),
        (
            {**POLICY, "metadata": {"name": "deny", "labels": {"tier": 1}}},
            "metadata.labels[tier]: Invalid value: 1: must be a string",
        ),
        (
            {**POLICY, "apiVersion": "extensions/v1beta1"},
            'apiVersion: Unsupported value: "extensions/v1beta1": supported values: '
            '"networking.k8s.io/v1"',
        ),
    ],
    ids=["unknown field", "wrong type", "label value that is not a string", "old apiVersion"],
)
def test_decoding_errors_name_the_field(manifest: dict, error: str):
    loaded = assemble([("p", manifest)])
    assert [e.render() for e in loaded.invalid[0].errors] == [error]


def test_a_redefined_object_warns_and_the_last_wins():
    changed = {**POLICY, "spec": {"podSelector": {}, "policyTypes": ["Egress"]}}
    loaded = assemble([("a", POLICY), ("b", changed)])
    assert loaded.cluster.policies[0].policy_types == ("Egress",)
    assert any("defined again" in w for w in loaded.warnings)


CORE = ("model", "decode", "defaults", "assemble", "encode", "validation", "semantics",
        "dataplane/compile", "dataplane/ruleset", "dataplane/names", "dataplane/sets", "lint",
        "exposure")
FORBIDDEN = {
    "subprocess",
    "socket",
    "time",
    "pyroute2",
    "kubernetes",
    "sqlalchemy",
    "httpx",
    "requests",
    "urllib",
    "http",
    "asyncio",
    "os",
    "pathlib",
    "io",
}


def _core_files() -> list[Path]:
    root = Path(__file__).parents[1] / "src" / "podwall"
    files = []
    for name in CORE:
        path = root / name
        files += sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]
    return files


@pytest.mark.parametrize("path", _core_files(), ids=lambda p: p.stem)
def test_the_core_imports_no_io_library(path: Path):
    tree = ast.parse(path.read_text())
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN
