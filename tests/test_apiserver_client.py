"""The lab API driven by the official Python client (`kubernetes`), and by plain HTTP where a
test needs the exact wire: every verb, selectors, errors as Status objects with the right
codes, the three patch types and server-side apply, watches with bookmarks and 410 Gone,
resourceVersion semantics, bearer tokens, and state that survives a restart.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, watch
from kubernetes.client.rest import ApiException

from apiserver_support import FIXED_NOW, check_golden, python_client, running_server
from podwall.apiserver import SYSTEM_NAMESPACES, ApiServer
from podwall.decode import decode_object
from podwall.defaults import default_object
from podwall.encode import encode_object

CATALOGUE = Path(__file__).parent / "data" / "validation" / "networkpolicy.yaml"
POLICY = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "web", "namespace": "default"},
    "spec": {
        "podSelector": {"matchLabels": {"role": "web"}},
        "ingress": [{"ports": [{"port": 80}]}],
    },
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ApiServer]:
    with running_server(tmp_path / "api.db", bookmark_interval=0.2) as running:
        yield running


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """One server for the tests that change nothing (reads and refused writes)."""
    with running_server(tmp_path_factory.mktemp("seeded") / "api.db") as running:
        yield running


@pytest.fixture
def core(server: ApiServer) -> client.CoreV1Api:
    return client.CoreV1Api(python_client(server))


@pytest.fixture
def net(server: ApiServer) -> client.NetworkingV1Api:
    return client.NetworkingV1Api(python_client(server))


def http(
    server: ApiServer, method: str, path: str, body: Any = None, **headers: str
) -> tuple[int, dict[str, list[str]], Any]:
    """A raw request: (status, headers by lower-case name, decoded JSON body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(server.url + path, data=data, method=method)
    request.add_header("Content-Type", headers.pop("content_type", "application/json"))
    for name, value in headers.items():
        request.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            status, raw, got = response.status, response.read(), response.headers
    except urllib.error.HTTPError as err:
        status, raw, got = err.code, err.read(), err.headers
    by_name: dict[str, list[str]] = {}
    for name, value in got.items():
        by_name.setdefault(name.lower(), []).append(value)
    return status, by_name, json.loads(raw) if raw.strip() else None


def api_error(call: Any, *args: Any, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    with pytest.raises(ApiException) as caught:
        call(*args, **kwargs)
    return caught.value.status, json.loads(caught.value.body)


def test_discovery_and_version_as_client_libraries_read_them(seeded: ApiServer) -> None:
    api = python_client(seeded)
    assert client.VersionApi(api).get_code().git_version == "v1.32.4"
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    groups = client.ApisApi(api).get_api_versions().groups
    assert [g.name for g in groups] == ["networking.k8s.io"]
    resources = client.NetworkingV1Api(api).get_api_resources().resources
    assert [(r.name, r.kind, r.short_names) for r in resources] == [
        ("networkpolicies", "NetworkPolicy", ["netpol"])
    ]
    _, _, body = http(seeded, "GET", "/apis/networking.k8s.io/v1")
    check_golden("discovery-networking-v1.json", json.dumps(body, indent=2) + "\n")


def test_the_topology_is_seeded_with_the_system_namespaces(seeded: ApiServer) -> None:
    core = client.CoreV1Api(python_client(seeded))
    names = [ns.metadata.name for ns in core.list_namespace().items]
    topology = ["default", "myproject", "demo", "demo-namespace", "apps", "kube-system"]
    assert names == sorted({*SYSTEM_NAMESPACES, *topology})
    assert all(ns.metadata.labels["kubernetes.io/metadata.name"] == ns.metadata.name
               for ns in core.list_namespace().items)
    pods = core.list_pod_for_all_namespaces().items
    assert len(pods) == 13
    db = core.read_namespaced_pod("db", "default")
    assert (db.status.phase, db.status.pod_ip, db.spec.node_name) == (
        "Running", "10.244.1.10", "node-1"
    )


@pytest.mark.parametrize(
    ("labels", "fields", "expected"),
    [
        ("role=db", "", ["default/db"]),
        ("app in (pod1,pod2)", "", ["default/pod1", "default/pod2"]),
        ("app=shop,tier notin (database)", "", ["apps/api", "apps/ui"]),
        ("tier", "spec.nodeName=node-2", ["apps/database", "apps/ui"]),
        ("!app,!role,!tier", "", ["kube-system/coredns"]),
        ("", "spec.nodeName=node-2,metadata.namespace=default", ["default/frontend",
                                                                "default/pod1"]),
        ("", "status.podIP=10.244.1.40", ["demo-namespace/visitor"]),
        ("", "metadata.name!=db,metadata.namespace==default",
         ["default/frontend", "default/pod1", "default/pod2", "default/web"]),
    ],
    ids=["equality", "set membership", "set exclusion with equality", "existence and node",
         "absence of three keys", "two field selectors", "pod IP", "inequality and =="],
)
def test_list_pods_by_label_and_field_selectors(
    seeded: ApiServer, labels: str, fields: str, expected: list[str]
) -> None:
    core = client.CoreV1Api(python_client(seeded))
    pods = core.list_pod_for_all_namespaces(label_selector=labels, field_selector=fields).items
    assert [f"{p.metadata.namespace}/{p.metadata.name}" for p in pods] == expected


def test_create_fills_system_metadata_and_defaults(net: client.NetworkingV1Api) -> None:
    created = net.create_namespaced_network_policy("default", POLICY)
    meta = created.metadata
    assert meta.uid and int(meta.resource_version) > 0
    assert (meta.generation, meta.creation_timestamp) == (1, FIXED_NOW)
    assert created.spec.policy_types == ["Ingress"]
    assert created.spec.ingress[0].ports[0].protocol == "TCP"
    assert net.read_namespaced_network_policy("web", "default").metadata.uid == meta.uid


def test_update_conflicts_on_a_stale_resource_version(net: client.NetworkingV1Api) -> None:
    first = net.create_namespaced_network_policy("default", POLICY)
    first.spec.pod_selector.match_labels = {"role": "api"}
    second = net.replace_namespaced_network_policy("web", "default", first)
    assert second.metadata.generation == 2
    assert int(second.metadata.resource_version) > int(first.metadata.resource_version)
    code, status = api_error(net.replace_namespaced_network_policy, "web", "default", first)
    assert (code, status["reason"]) == (409, "Conflict")
    assert status["message"] == (
        'Operation cannot be fulfilled on networkpolicies.networking.k8s.io "web": the object '
        "has been modified; please apply your changes to the latest version and try again"
    )
    same = net.replace_namespaced_network_policy("web", "default", second)
    assert same.metadata.resource_version == second.metadata.resource_version


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        (("GET", "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/nope", None),
         404, 'networkpolicies.networking.k8s.io "nope" not found'),
        (("POST", "/apis/networking.k8s.io/v1/namespaces/nope/networkpolicies",
          {**POLICY, "metadata": {"name": "web"}}), 404, 'namespaces "nope" not found'),
        (("POST", "/api/v1/namespaces/default/pods", {"metadata": {"name": "x"}}), 405,
         'create is not supported on resources of kind "pods"'),
        (("GET", "/api/v1/pods?labelSelector=a%20b", None), 400,
         "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt"),
        (("GET", "/apis/networking.k8s.io/v1/networkpolicies?fieldSelector=spec.x%3Dy", None),
         400, '"spec.x" is not a known field selector: only "metadata.name", '
         '"metadata.namespace"'),
        (("GET", "/api/v1/namespaces?resourceVersion=999999", None), 504,
         "Too large resource version: 999999, current: 21"),
        (("PUT", "/api/v1/namespaces/apps", {"metadata": {"name": "other"}}), 400,
         "the name of the object (other) does not match the name on the URL (apps)"),
        (("POST", "/apis/networking.k8s.io/v1/namespaces/apps/networkpolicies", POLICY), 400,
         "the namespace of the provided object does not match the namespace sent on the "
         "request"),
    ],
    ids=["get a missing policy", "create in a missing namespace", "create a pod",
         "unparsable label selector", "unsupported field selector", "future resourceVersion",
         "renaming by PUT", "namespace mismatch"],
)
def test_errors_are_status_objects_with_upstream_codes(
    seeded: ApiServer, request_: tuple[str, str, Any], code: int, message: str
) -> None:
    got, _, status = http(seeded, *request_)
    assert (got, status["kind"], status["code"], status["message"]) == (
        code, "Status", code, message
    )


def test_create_twice_is_already_exists(net: client.NetworkingV1Api) -> None:
    net.create_namespaced_network_policy("default", POLICY)
    code, status = api_error(net.create_namespaced_network_policy, "default", POLICY)
    assert (code, status["reason"], status["message"]) == (
        409, "AlreadyExists", 'networkpolicies.networking.k8s.io "web" already exists'
    )


CASES = yaml.safe_load(CATALOGUE.read_text())


@pytest.mark.parametrize("strict", [True, False], ids=["strict CIDR", "legacy CIDR"])
def test_422_causes_are_the_validation_catalogue(tmp_path: Path, strict: bool) -> None:
    """Every catalogue case in namespace `bar`, created through the API: the same field errors
    as `podwall validate`, as Status causes; valid ones stored exactly as podwall encodes them."""
    cases = [c for c in CASES if c["manifest"]["metadata"].get("namespace") == "bar"
             and (c.get("options") or {}).get("strict_cidr", True) == strict]
    with running_server(tmp_path / "api.db", strict_cidr=strict) as server:
        api = python_client(server)
        client.CoreV1Api(api).create_namespace({"metadata": {"name": "bar"}})
        net = client.NetworkingV1Api(api)
        for case in cases:
            manifest = case["manifest"]
            if not case["errors"]:
                stored = api.sanitize_for_serialization(
                    net.create_namespaced_network_policy("bar", manifest))
                obj, _ = decode_object(manifest)
                assert stored["spec"] == encode_object(default_object(obj))["spec"], case["name"]
                net.delete_namespaced_network_policy(stored["metadata"]["name"], "bar")
                continue
            code, status = _rejected(server, net, manifest)
            causes = [f"{c['field']}: {c['message']}" for c in status["details"]["causes"]]
            assert (code, status["reason"], causes) == (422, "Invalid", case["errors"]), (
                case["name"]
            )
    assert len(cases) > (60 if strict else 3)


def _rejected(server: ApiServer, net: client.NetworkingV1Api, manifest: dict) -> tuple:
    """The server's answer to an invalid create. kubernetes>=37 checks required fields itself
    (a pydantic ValidationError before any request); then the same body goes over raw HTTP,
    so the server's causes are checked either way."""
    try:
        return api_error(net.create_namespaced_network_policy, "bar", manifest)
    except Exception as err:
        if type(err).__name__ != "ValidationError":
            raise
    path = "/apis/networking.k8s.io/v1/namespaces/bar/networkpolicies"
    code, _, status = http(server, "POST", path, manifest)
    return code, status


def test_invalid_status_body(server: ApiServer) -> None:
    bad = {**POLICY, "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 0,
                                                                        "endPort": -1}]}]}}
    code, _, status = http(server, "POST",
                           "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies", bad)
    assert code == 422
    check_golden("invalid-status.json", json.dumps(status, indent=2) + "\n")


@pytest.mark.parametrize(
    ("content_type", "patch", "check"),
    [
        ("application/merge-patch+json", {"metadata": {"labels": {"team": "a"}}},
         lambda o: o["metadata"]["labels"] == {"team": "a"} and o["metadata"]["generation"] == 1),
        ("application/strategic-merge-patch+json", {"spec": {"policyTypes": ["Egress"]}},
         lambda o: o["spec"]["policyTypes"] == ["Egress"] and o["metadata"]["generation"] == 2),
        ("application/json-patch+json",
         [{"op": "test", "path": "/spec/podSelector/matchLabels/role", "value": "web"},
          {"op": "replace", "path": "/spec/ingress/0/ports/0/port", "value": 8080}],
         lambda o: o["spec"]["ingress"][0]["ports"][0] == {"port": 8080, "protocol": "TCP"}),
        ("application/strategic-merge-patch+json",
         {"metadata": {"annotations": {"note": "x", "gone": None}}},
         lambda o: o["metadata"]["annotations"] == {"note": "x"}),
    ],
    ids=["merge patch adds a label", "strategic merge replaces an atomic list",
         "json patch test then replace", "strategic merge null deletes a map key"],
)
def test_patches_apply_as_upstream_does(
    server: ApiServer, content_type: str, patch: Any, check: Any
) -> None:
    path = "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies"
    http(server, "POST", path, {**POLICY, "metadata": {**POLICY["metadata"],
                                                       "annotations": {"gone": "y"}}})
    code, _, body = http(server, "PATCH", f"{path}/web", patch, content_type=content_type)
    assert code == 200, body
    assert check(body), body


@pytest.mark.parametrize(
    ("path", "content_type", "patch", "code", "message"),
    [
        ("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/web",
         "application/json-patch+json",
         [{"op": "test", "path": "/spec/podSelector/matchLabels/role", "value": "db"}], 422,
         "the server rejected our request due to an error in our request"),
        ("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/web",
         "application/merge-patch+json", {"spec": {"ingress": [{"ports": [{"port": 0}]}]}}, 422,
         'NetworkPolicy.networking.k8s.io "web" is invalid: spec.ingress[0].ports[0].port: '
         "Invalid value: 0: must be between 1 and 65535, inclusive"),
        ("/api/v1/namespaces/default/pods/db", "application/strategic-merge-patch+json",
         {"spec": {"nodeName": "node-2"}}, 422,
         'Pod "db" is invalid: spec: Forbidden: pod updates may not change fields other than '
         "`spec.containers[*].image`,`spec.initContainers[*].image`,"
         "`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing "
         "tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was "
         "previously negative)"),
        ("/api/v1/namespaces/demo", "application/merge-patch+json",
         {"metadata": {"labels": {"a b": "c"}}}, 422,
         'Namespace "demo" is invalid: metadata.labels: Invalid value: "a b": name part must '
         "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
         "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
         "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"),
        ("/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/web",
         "application/merge-patch+json", {"metadata": {"resourceVersion": "1"}}, 409,
         'Operation cannot be fulfilled on networkpolicies.networking.k8s.io "web": the object '
         "has been modified; please apply your changes to the latest version and try again"),
    ],
    ids=["a failing json patch test", "a patch that makes the policy invalid",
         "pod specs are immutable", "namespace label keys are validated",
         "a patch naming a stale resourceVersion"],
)
def test_patches_that_fail(
    server: ApiServer, path: str, content_type: str, patch: Any, code: int, message: str
) -> None:
    http(server, "POST", "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies", POLICY)
    got, _, status = http(server, "PATCH", path, patch, content_type=content_type)
    assert (got, status["message"]) == (code, message)


def test_labels_change_on_pods_and_namespaces_keep_the_name_label(
    core: client.CoreV1Api,
) -> None:
    pod = core.patch_namespaced_pod("db", "default", {"metadata": {"labels": {"role": "cache"}}})
    assert pod.metadata.labels == {"role": "cache"}
    ns = core.patch_namespace("demo", [{"op": "remove", "path": "/metadata/labels"}])
    assert ns.metadata.labels == {"kubernetes.io/metadata.name": "demo"}
    assert core.read_namespaced_pod("db", "default").metadata.managed_fields[0].manager == (
        "OpenAPI-Generator"
    )


def test_delete_returns_status_and_checks_preconditions(net: client.NetworkingV1Api) -> None:
    created = net.create_namespaced_network_policy("default", POLICY)
    code, status = api_error(
        net.delete_namespaced_network_policy, "web", "default",
        body=client.V1DeleteOptions(preconditions=client.V1Preconditions(uid="wrong")),
    )
    assert code == 409 and status["message"].endswith(
        f"Precondition failed: UID in precondition: wrong, UID in object meta: "
        f"{created.metadata.uid}"
    )
    # a V1Status model or a dict, depending on the client's version: compare the wire form
    done = net.api_client.sanitize_for_serialization(
        net.delete_namespaced_network_policy("web", "default")
    )
    assert (done["status"], done["details"]["name"], done["details"]["uid"]) == (
        "Success", "web", created.metadata.uid
    )
    assert net.list_namespaced_network_policy("default").items == []


def test_server_side_apply_creates_then_drops_what_is_no_longer_applied(
    server: ApiServer,
) -> None:
    path = "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/web"
    apply = {"content_type": "application/apply-patch+yaml"}
    code, _, applied = http(server, "PATCH", f"{path}?fieldManager=lab-test", POLICY, **apply)
    assert code == 201
    assert [(m["manager"], m["operation"]) for m in applied["metadata"]["managedFields"]] == [
        ("lab-test", "Apply")
    ]
    smaller = {**POLICY, "spec": {"podSelector": {}}}
    code, _, again = http(server, "PATCH", f"{path}?fieldManager=lab-test", smaller, **apply)
    assert code == 200
    assert again["spec"] == {"podSelector": {}, "policyTypes": ["Ingress"]}
    code, _, status = http(server, "PATCH", path, smaller, **apply)
    assert (code, status["message"]) == (
        422, 'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is '
        "required for apply patch"
    )


def test_watch_streams_changes_then_bookmarks(
    server: ApiServer, net: client.NetworkingV1Api
) -> None:
    start = net.list_namespaced_network_policy("default").metadata.resource_version

    def writes() -> None:
        time.sleep(0.3)
        net.create_namespaced_network_policy("default", POLICY)
        net.patch_namespaced_network_policy("web", "default", {"metadata": {"labels": {"v": "2"}}})
        net.delete_namespaced_network_policy("web", "default")

    writer = threading.Thread(target=writes)
    writer.start()
    events = list(watch.Watch().stream(
        net.list_namespaced_network_policy, "default", resource_version=start,
        allow_watch_bookmarks=True, timeout_seconds=1,
    ))
    writer.join()
    changes = [(e["type"], e["raw_object"]["metadata"]["name"]) for e in events
               if e["type"] != "BOOKMARK"]
    assert changes == [("ADDED", "web"), ("MODIFIED", "web"), ("DELETED", "web")]
    bookmarks = [int(e["raw_object"]["metadata"]["resourceVersion"]) for e in events
                 if e["type"] == "BOOKMARK"]
    deleted = int(events[[e["type"] for e in events].index("DELETED")]["raw_object"]["metadata"]
                  ["resourceVersion"])
    assert bookmarks and bookmarks[-1] >= deleted


def test_a_selector_watch_sees_objects_enter_and_leave(
    server: ApiServer, core: client.CoreV1Api
) -> None:
    start = core.list_namespaced_pod("default").metadata.resource_version

    def relabel() -> None:
        time.sleep(0.3)
        core.patch_namespaced_pod("web", "default", {"metadata": {"labels": {"role": "db"}}})
        core.patch_namespaced_pod("db", "default", {"metadata": {"labels": {"role": "cache"}}})

    writer = threading.Thread(target=relabel)
    writer.start()
    events = list(watch.Watch().stream(
        core.list_namespaced_pod, "default", label_selector="role=db", resource_version=start,
        timeout_seconds=1,
    ))
    writer.join()
    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("ADDED", "web"), ("DELETED", "db")
    ]


def test_watch_and_exact_list_from_a_compacted_resource_version_are_410(
    server: ApiServer, net: client.NetworkingV1Api
) -> None:
    old = net.list_namespaced_network_policy("default").metadata.resource_version
    net.create_namespaced_network_policy("default", POLICY)
    server.store.compact()
    with pytest.raises(ApiException) as gone:
        list(watch.Watch().stream(net.list_namespaced_network_policy, "default",
                                  resource_version=old, timeout_seconds=1))
    assert gone.value.status == 410
    code, status = api_error(net.list_namespaced_network_policy, "default",
                             resource_version=old, resource_version_match="Exact")
    assert (code, status["reason"]) == (410, "Expired")


def test_exact_list_rebuilds_an_earlier_state(net: client.NetworkingV1Api) -> None:
    created = net.create_namespaced_network_policy("default", POLICY)
    net.patch_namespaced_network_policy("web", "default", {"metadata": {"labels": {"v": "2"}}})
    net.delete_namespaced_network_policy("web", "default")
    then = net.list_namespaced_network_policy(
        "default", resource_version=created.metadata.resource_version,
        resource_version_match="Exact",
    )
    assert [(p.metadata.name, p.metadata.labels) for p in then.items] == [("web", None)]


def test_pagination_with_limit_and_continue(core: client.CoreV1Api) -> None:
    names, token = [], None
    while True:
        page = core.list_pod_for_all_namespaces(limit=5, _continue=token)
        names += [p.metadata.name for p in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert len(names) == 13 and names == [
        p.metadata.name for p in core.list_pod_for_all_namespaces().items
    ]


def test_state_survives_a_restart(tmp_path: Path) -> None:
    db = tmp_path / "api.db"
    with running_server(db) as first:
        api = python_client(first)
        created = client.NetworkingV1Api(api).create_namespaced_network_policy("default", POLICY)
        client.CoreV1Api(api).patch_namespaced_pod("db", "default",
                                                   {"metadata": {"labels": {"role": "x"}}})
        before = first.store.current_rv()
    with running_server(db) as second:
        api = python_client(second)
        policy = client.NetworkingV1Api(api).read_namespaced_network_policy("web", "default")
        assert policy.metadata.uid == created.metadata.uid
        assert client.CoreV1Api(api).read_namespaced_pod("db", "default").metadata.labels == {
            "role": "x"
        }
        assert second.store.current_rv() == before
        events = list(watch.Watch().stream(
            client.NetworkingV1Api(api).list_namespaced_network_policy, "default",
            resource_version=str(int(created.metadata.resource_version) - 1), timeout_seconds=1,
        ))
        assert [e["type"] for e in events] == ["ADDED"]


def test_a_bearer_token_is_required_when_configured(tmp_path: Path) -> None:
    with running_server(tmp_path / "api.db", token="s3cret") as server:
        code, status = api_error(client.CoreV1Api(python_client(server)).list_namespace)
        assert (code, status["reason"], status["message"]) == (401, "Unauthorized",
                                                              "Unauthorized")
        allowed = client.CoreV1Api(python_client(server, token="s3cret")).list_namespace()
        assert len(allowed.items) == 8
        assert http(server, "GET", "/version")[0] == 200


@pytest.mark.parametrize(
    ("validation", "code", "warnings"),
    [("", 201, ['299 - "unknown field \\"spec.colour\\""']), ("Ignore", 201, []),
     ("Strict", 400, [])],
    ids=["warn by default", "ignore", "strict"],
)
def test_field_validation_of_unknown_fields(
    server: ApiServer, validation: str, code: int, warnings: list[str]
) -> None:
    query = f"?fieldValidation={validation}" if validation else ""
    body = {**POLICY, "spec": {**POLICY["spec"], "colour": "red"}}
    got, headers, obj = http(
        server, "POST", f"/apis/networking.k8s.io/v1/namespaces/default/networkpolicies{query}",
        body,
    )
    assert (got, headers.get("warning", [])) == (code, warnings)
    if code == 201:
        assert "colour" not in obj["spec"]


def test_tables_are_what_kubectl_prints(server: ApiServer) -> None:
    http(server, "POST", "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies", POLICY)
    _, _, table = http(server, "GET", "/apis/networking.k8s.io/v1/networkpolicies",
                       Accept="application/json;as=Table;v=v1;g=meta.k8s.io,application/json")
    check_golden("table-networkpolicies.json", json.dumps(table, indent=2) + "\n")
