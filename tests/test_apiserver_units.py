"""The lab API's pure parts, table-driven: selectors, patches (RFC 7386's and RFC 6902's own
examples, and strategic merge as kubectl sends it), field ownership and server-side apply,
AGE formatting, paths, protobuf, the store's history, and per-kind update rules.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from podwall.apiserver.app import RequestTarget, parse_target
from podwall.apiserver.errors import Compacted, Invalid
from podwall.apiserver.fields import ApplyConflict, apply_configuration, leaves, record_update
from podwall.apiserver.openapi_v2 import openapi_v2
from podwall.apiserver.patch import (
    PatchError,
    apply_json_patch,
    apply_merge_patch,
    apply_strategic_merge_patch,
)
from podwall.apiserver.protobuf import decode_object as decode_protobuf
from podwall.apiserver.protobuf import fields as protobuf_fields
from podwall.apiserver.resources import NAMESPACES, NETWORK_POLICIES, PODS
from podwall.apiserver.selectors import (
    SelectorError,
    format_label_selector,
    matches_fields,
    matches_labels,
    parse_field_selector,
    parse_label_selector,
)
from podwall.apiserver.server import SYSTEM_NAMESPACES, seed_objects
from podwall.apiserver.store import Store
from podwall.apiserver.strategy import WriteContext, prepare_update
from podwall.apiserver.tables import human_duration
from podwall.model import Cluster, Labels, LabelSelector, Namespace, Pod, Requirement


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-5, "<invalid>"), (-1, "0s"), (0, "0s"), (119, "119s"), (120, "2m"), (150, "2m30s"),
     (600, "10m"), (3 * 3600, "3h"), (3 * 3600 + 60, "3h1m"), (8 * 3600, "8h"),
     (47 * 3600, "47h"), (50 * 3600, "2d2h"), (8 * 86400, "8d"), (3 * 365 * 86400, "3y"),
     (3 * 365 * 86400 + 86400, "3y1d"), (9 * 365 * 86400, "9y")],
)
def test_age_is_apimachinery_human_duration(seconds: int, text: str) -> None:
    assert human_duration(seconds) == text


@pytest.mark.parametrize(
    ("selector", "text"),
    [
        (LabelSelector(), "<none>"),
        (LabelSelector(match_labels=Labels({"role": "db", "app": "x"})), "app=x,role=db"),
        (LabelSelector(match_expressions=(Requirement(key="t", operator="In",
                                                      values=("b", "a")),
                                          Requirement(key="e", operator="DoesNotExist"))),
         "!e,t in (a,b)"),
        (LabelSelector(match_expressions=(Requirement(key="k", operator="Exists"),
                                          Requirement(key="n", operator="NotIn",
                                                      values=("z",)))),
         "k,n notin (z)"),
    ],
    ids=["empty selects everything", "matchLabels sorted by key",
         "expressions sorted by key, values sorted", "exists and notin"],
)
def test_pod_selector_column_is_format_label_selector(selector: LabelSelector, text: str) -> None:
    assert format_label_selector(selector) == text


LABELS = {"app": "web", "tier": "2", "env": "prod"}


@pytest.mark.parametrize(
    ("selector", "matches"),
    [("", True), ("app=web", True), ("app==web", True), ("app!=web", False),
     ("missing!=x", True), ("app in (api,web)", True), ("app notin (web)", False),
     ("missing notin (web)", True), ("app", True), ("!app", False), ("!missing", True),
     ("tier>1", True), ("tier<2", False), ("app=web,env=dev", False), ("env in (prod),!x", True)],
)
def test_label_selectors_match_as_labels_parse_means(selector: str, matches: bool) -> None:
    assert matches_labels(parse_label_selector(selector), LABELS) is matches


@pytest.mark.parametrize(
    ("selector", "message"),
    [
        ("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        ("a=b c", "found 'c', expected: ',' or 'end of string'"),
        ("=x", "found '=', expected: !, identifier, or 'end of string'"),
        ("a,", "found '', expected: identifier after ','"),
        ("x>y", "unable to parse requirement: for 'Gt', 'Lt' operators, the value must be an "
         "integer"),
    ],
)
def test_label_selector_errors(selector: str, message: str) -> None:
    with pytest.raises(SelectorError) as caught:
        parse_label_selector(selector)
    assert str(caught.value) == message


@pytest.mark.parametrize(
    ("selector", "fields", "matches"),
    [("metadata.name=a", {"metadata.name": "a"}, True),
     ("metadata.name!=a", {"metadata.name": "a"}, False),
     ("spec.nodeName==n1,status.phase=Running", {"spec.nodeName": "n1",
                                                   "status.phase": "Running"}, True),
     (r"metadata.name=a\,b", {"metadata.name": "a,b"}, True)],
    ids=["equal", "not equal", "two terms, double equals", "escaped comma"],
)
def test_field_selectors(selector: str, fields: dict[str, str], matches: bool) -> None:
    assert matches_fields(parse_field_selector(selector), fields) is matches


# RFC 7386, Appendix A: every example.
RFC7386 = [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
    ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
    ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
    ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], ["c", "d"], ["c", "d"]),
    ({"a": "b"}, ["c"], ["c"]),
    ({"a": "foo"}, None, None),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
]


@pytest.mark.parametrize(("target", "patch", "result"), RFC7386)
def test_json_merge_patch_rfc7386_examples(target: Any, patch: Any, result: Any) -> None:
    assert apply_merge_patch(target, patch) == result


@pytest.mark.parametrize(
    ("doc", "patch", "result"),
    [
        ({"foo": "bar"}, [{"op": "add", "path": "/baz", "value": "qux"}],
         {"foo": "bar", "baz": "qux"}),
        ({"foo": ["bar", "baz"]}, [{"op": "add", "path": "/foo/1", "value": "qux"}],
         {"foo": ["bar", "qux", "baz"]}),
        ({"baz": "qux", "foo": "bar"}, [{"op": "remove", "path": "/baz"}], {"foo": "bar"}),
        ({"foo": ["bar", "qux", "baz"]}, [{"op": "remove", "path": "/foo/1"}],
         {"foo": ["bar", "baz"]}),
        ({"baz": "qux", "foo": "bar"}, [{"op": "replace", "path": "/baz", "value": "boo"}],
         {"baz": "boo", "foo": "bar"}),
        ({"foo": {"bar": "baz", "waldo": "fred"}, "qux": {"corge": "grault"}},
         [{"op": "move", "from": "/foo/waldo", "path": "/qux/thud"}],
         {"foo": {"bar": "baz"}, "qux": {"corge": "grault", "thud": "fred"}}),
        ({"foo": ["all", "grass", "cows", "eat"]},
         [{"op": "move", "from": "/foo/1", "path": "/foo/3"}],
         {"foo": ["all", "cows", "eat", "grass"]}),
        ({"foo": ["bar"]}, [{"op": "add", "path": "/foo/-", "value": ["abc", "def"]}],
         {"foo": ["bar", ["abc", "def"]]}),
        ({"/": 9, "~1": 10}, [{"op": "test", "path": "/~01", "value": 10},
                              {"op": "copy", "from": "/~1", "path": "/c"}],
         {"/": 9, "~1": 10, "c": 9}),
    ],
    ids=["A.1 add", "A.2 add to array", "A.3 remove", "A.4 remove from array", "A.5 replace",
         "A.6 move", "A.7 move in array", "A.16 add array", "A.14 escapes, then copy"],
)
def test_json_patch_rfc6902_examples(doc: Any, patch: Any, result: Any) -> None:
    assert apply_json_patch(doc, patch) == result


@pytest.mark.parametrize(
    "patch",
    [[{"op": "test", "path": "/baz", "value": "bar"}],
     [{"op": "add", "path": "/baz/bat", "value": "qux"}],
     [{"op": "remove", "path": "/nope"}]],
    ids=["A.9 failed test", "A.12 add to a missing parent", "remove a missing path"],
)
def test_json_patch_failures_do_not_apply(patch: Any) -> None:
    with pytest.raises(PatchError):
        apply_json_patch({"baz": "qux"}, patch)


POD = {
    "metadata": {"name": "a", "finalizers": ["x"]},
    "spec": {"containers": [
        {"name": "main", "image": "i1", "ports": [{"containerPort": 80}]},
        {"name": "side", "image": "i2"},
    ]},
}


@pytest.mark.parametrize(
    ("kind", "doc", "patch", "result"),
    [
        ("NetworkPolicy", {"spec": {"ingress": [{"ports": [{"port": 1}]}], "podSelector": {}}},
         {"spec": {"ingress": [{}]}}, {"spec": {"ingress": [{}], "podSelector": {}}}),
        ("Pod", POD, {"spec": {"containers": [{"name": "side", "image": "i3"}]}},
         {**POD, "spec": {"containers": [POD["spec"]["containers"][0],
                                         {"name": "side", "image": "i3"}]}}),
        ("Pod", POD, {"spec": {"containers": [{"name": "main", "$patch": "delete"}]}},
         {**POD, "spec": {"containers": [{"name": "side", "image": "i2"}]}}),
        ("Pod", POD, {"spec": {"$setElementOrder/containers": [{"name": "side"},
                                                               {"name": "main"}]}},
         {**POD, "spec": {"containers": POD["spec"]["containers"][::-1]}}),
        ("Pod", POD, {"spec": {"containers": [{"name": "main", "ports": [
            {"containerPort": 81}]}]}},
         {**POD, "spec": {"containers": [
             {**POD["spec"]["containers"][0],
              "ports": [{"containerPort": 80}, {"containerPort": 81}]},
             POD["spec"]["containers"][1]]}}),
        ("Pod", POD, {"metadata": {"finalizers": ["y"], "$deleteFromPrimitiveList/finalizers":
                                   ["x"]}},
         {**POD, "metadata": {"name": "a", "finalizers": ["y"]}}),
        ("Pod", POD, {"spec": {"$patch": "replace", "containers": []}},
         {**POD, "spec": {"containers": []}}),
        ("Pod", POD, {"metadata": {"$retainKeys": ["name"], "name": "a"}},
         {**POD, "metadata": {"name": "a"}}),
    ],
    ids=["NetworkPolicy lists are atomic", "containers merge by name", "$patch: delete",
         "$setElementOrder", "container ports merge by containerPort",
         "$deleteFromPrimitiveList and a set merge", "$patch: replace on a map", "$retainKeys"],
)
def test_strategic_merge_patch(kind: str, doc: Any, patch: Any, result: Any) -> None:
    assert apply_strategic_merge_patch(doc, patch, kind) == result


POLICY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "p", "namespace": "d", "labels": {"a": "1"}},
    "spec": {"podSelector": {"matchLabels": {"r": "db"}}, "ingress": [{}]},
}


def test_field_sets_treat_lists_and_pod_selectors_as_leaves() -> None:
    assert leaves(POLICY, "NetworkPolicy") == {
        ("metadata", "labels", "a"), ("spec", "podSelector"), ("spec", "ingress")
    }


def test_an_update_takes_over_the_fields_it_changed() -> None:
    created = record_update(None, POLICY, None, manager="ci", kind="NetworkPolicy", time="t")
    changed = {**created, "metadata": {**created["metadata"], "labels": {"a": "2"}}}
    updated = record_update(created, changed, None, manager="ops", kind="NetworkPolicy",
                            time="t")
    owners = {e["manager"]: e["fieldsV1"] for e in updated["metadata"]["managedFields"]}
    assert owners == {
        "ci": {"f:spec": {"f:ingress": {}, "f:podSelector": {}}},
        "ops": {"f:metadata": {"f:labels": {"f:a": {}}}},
    }


def test_apply_conflicts_unless_forced_and_removes_what_it_stops_applying() -> None:
    mine = apply_configuration(None, POLICY, manager="me", kind="NetworkPolicy", force=False,
                               time="t")
    theirs = {**POLICY, "metadata": {"name": "p", "namespace": "d"},
              "spec": {"podSelector": {}}}
    with pytest.raises(ApplyConflict) as caught:
        apply_configuration(mine, theirs, manager="them", kind="NetworkPolicy", force=False,
                            time="t")
    assert str(caught.value) == (
        'Apply failed with 1 conflict: conflict with "me" using networking.k8s.io/v1: '
        ".spec.podSelector"
    )
    forced = apply_configuration(mine, theirs, manager="them", kind="NetworkPolicy",
                                 force=True, time="t")
    assert forced["spec"]["podSelector"] == {}
    smaller = {**POLICY, "metadata": {"name": "p", "namespace": "d"},
               "spec": {"ingress": [{}]}}
    dropped = apply_configuration(forced, smaller, manager="me", kind="NetworkPolicy",
                                  force=False, time="t")
    assert dropped["metadata"].get("labels") == {}  # only "me" set it: gone
    assert dropped["spec"] == {"podSelector": {}, "ingress": [{}]}  # "them" keeps its field


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/namespaces", RequestTarget(NAMESPACES, None)),
        ("/api/v1/namespaces/x", RequestTarget(NAMESPACES, None, "x")),
        ("/api/v1/namespaces/x/pods", RequestTarget(PODS, "x")),
        ("/api/v1/namespaces/x/pods/a", RequestTarget(PODS, "x", "a")),
        ("/api/v1/pods", RequestTarget(PODS, None)),
        ("/apis/networking.k8s.io/v1/namespaces/x/networkpolicies/p",
         RequestTarget(NETWORK_POLICIES, "x", "p")),
        ("/api/v1/namespaces/x/pods/a/status", RequestTarget(PODS, "x", "a", "status")),
        ("/api/v1/pods/a", None),
        ("/apis/apps/v1/deployments", None),
    ],
)
def test_paths_name_a_resource_namespace_and_name(path: str, expected: Any) -> None:
    assert parse_target([s for s in path.split("/") if s]) == expected


def test_kubectl_create_namespace_protobuf_body() -> None:
    body = bytes.fromhex(
        "6b387300 0a0f0a02 76311209 4e616d65 73706163 65121c0a 140a0470 726f6412 001a0022"
        "002a0032 00380042 0012001a 020a001a 002200"
    )
    assert decode_protobuf(body) == {
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "prod"}, "spec": {}
    }


def test_the_store_replays_history_until_compacted(tmp_path: Path) -> None:
    store = Store(tmp_path / "db", history=3)
    for i in range(5):
        store.create("things", {"metadata": {"name": f"t{i}"}})
    events, upto = store.events_since(2, "things")
    assert ([e.rv for e in events], upto) == ([3, 4, 5], 5)
    assert [o["metadata"]["name"] for o in store.list_at("things", 3)] == ["t0", "t1", "t2"]
    with pytest.raises(Compacted):
        store.events_since(1, "things")
    store.close()


NOW = datetime(2025, 1, 1, tzinfo=UTC)
CTX = WriteContext(now=NOW, uid="u2", name_suffix="abcde")
STORED_NS = {
    "apiVersion": "v1", "kind": "Namespace",
    "metadata": {"name": "x", "uid": "u1", "creationTimestamp": "2025-01-01T00:00:00Z",
                 "resourceVersion": "3", "labels": {"kubernetes.io/metadata.name": "x"}},
    "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"},
}


def test_namespace_updates_keep_spec_status_and_the_name_label() -> None:
    body = {**STORED_NS, "metadata": {"name": "x", "labels": {"team": "a"}},
            "spec": {"finalizers": []}, "status": {"phase": "Terminating"}}
    stored = prepare_update(NAMESPACES, STORED_NS, body, CTX).body
    assert stored["metadata"]["labels"] == {"team": "a", "kubernetes.io/metadata.name": "x"}
    assert (stored["spec"], stored["status"], stored["metadata"]["uid"]) == (
        STORED_NS["spec"], STORED_NS["status"], "u1"
    )


def test_update_validation_repeats_causes_as_upstream_does() -> None:
    body = {**STORED_NS, "metadata": {"name": "x", "uid": "other", "labels": {"a b": "c"}}}
    with pytest.raises(Invalid) as caught:
        prepare_update(NAMESPACES, STORED_NS, body, CTX)
    fields = [c["field"] for c in caught.value.details["causes"]]
    assert fields == ["metadata.labels", "metadata.uid", "metadata.labels", "metadata.uid",
                      "metadata.labels"]
    assert caught.value.message.startswith('Namespace "x" is invalid: [metadata.labels: ')


def test_a_podwall_cluster_seeds_running_ready_pods() -> None:
    cluster = Cluster(
        namespaces=(Namespace(name="x", labels=Labels({"team": "a"})),),
        pods=(Pod(name="a", namespace="x", node_name="n1", ips=("10.0.0.1",)),),
    )
    seeded = {body["metadata"]["name"]: body
              for _, body in seed_objects(cluster, NOW, lambda: "u")}
    assert sorted(seeded) == sorted({*SYSTEM_NAMESPACES, "x", "a"})
    assert seeded["x"]["metadata"]["labels"] == {"team": "a", "kubernetes.io/metadata.name": "x"}
    pod = seeded["a"]
    assert (pod["status"]["phase"], pod["status"]["podIP"], pod["spec"]["nodeName"]) == (
        "Running", "10.0.0.1", "n1"
    )
    assert [c["ready"] for c in pod["status"]["containerStatuses"]] == [True]


@pytest.mark.parametrize(
    ("accept", "media_type"),
    [
        ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
         "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
        ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf, */*",
         "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"),
        ("application/json", "application/json"),
        ("", "application/json"),
    ],
    ids=["kubectl 1.20", "kube-openapi's name", "json", "no accept"],
)
def test_openapi_v2_is_an_empty_swagger_document(accept: str, media_type: str) -> None:
    """No definitions: old kubectl finds no schema, skips its own check, the server validates."""
    body, served = openapi_v2(accept)
    assert served == media_type
    if served == "application/json":
        assert json.loads(body) == {"swagger": "2.0", "paths": {},
                                    "info": {"title": "podwall lab", "version": "v1"}}
        return
    document = dict(protobuf_fields(body))
    assert document[1] == b"2.0"
    info = document[2]
    assert isinstance(info, bytes)
    assert dict(protobuf_fields(info)) == {1: b"podwall lab", 2: b"v1"}
