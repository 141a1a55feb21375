"""Policy writes through the console, to the lab API server as a real cluster: create, replace
and delete (one or many) from YAML or the form, the cluster's refusals, the audit history
with diffs, revert, roles, and a cluster that does not answer."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from console_support import LAB_POLICY, LAB_TOKEN, ConsoleEnv, log_in
from podwall.console.db import create_database_engine
from podwall.console.models import AuditEntry

VIEWER_PASSWORD = "viewer-password-123"
POLICIES = "/api/v1/clusters/lab/policies"
WEB_FORM = {"name": "web-ingress", "namespace": "default", "pod_selector": {"role": "web"},
            "ingress": [{"protocol": "TCP", "port": "80", "pod_labels": {"role": "frontend"}},
                        {"cidr": "192.0.2.0/24|192.0.2.128/25"}]}
WEB_YAML = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: web-yaml, namespace: default}
spec:
  podSelector: {matchLabels: {role: web}}
  ingress:
  - ports: [{protocol: TCP, port: 80}]
"""


@dataclass
class Lab:
    client: TestClient  # the console, as admin
    api: httpx.Client  # the lab API server itself
    env: ConsoleEnv

    def policy(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The policy as the cluster has it (not the console's copy)."""
        found = self.api.get(f"/apis/networking.k8s.io/v1/namespaces/{namespace}/"
                             f"networkpolicies/{name}")
        if found.status_code == 404:
            return None
        assert found.status_code == 200, found.text
        return found.json()

    def stored_names(self) -> list[str]:
        return [p["metadata"]["name"] for p in self.client.get(POLICIES).json()["items"]]

    def history(self, **params: str) -> list[dict[str, Any]]:
        response = self.client.get("/api/v1/clusters/lab/history", params=params)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def lab(console_env: ConsoleEnv, lab_kubeconfig: str) -> Iterator[Lab]:
    client = console_env.client
    assert client.post("/api/v1/clusters", json={"name": "lab", "kubeconfig": lab_kubeconfig}
                       ).status_code == 201
    assert client.post("/api/v1/clusters/lab/sync?wait=true").status_code == 200
    server = yaml.safe_load(lab_kubeconfig)["clusters"][0]["cluster"]["server"]
    with httpx.Client(base_url=server, headers={"Authorization": f"Bearer {LAB_TOKEN}"}) as api:
        yield Lab(client, api, console_env)


def _viewer(lab: Lab) -> TestClient:
    created = lab.client.post("/api/v1/users", json={"username": "vera",
                                                     "password": VIEWER_PASSWORD})
    assert created.status_code == 201, created.text
    bound = lab.client.put("/api/v1/clusters/lab/bindings/vera", json={"role": "viewer"})
    assert bound.status_code == 200, bound.text
    return log_in(TestClient(lab.client.app), "vera", VIEWER_PASSWORD)


def _audit_rows(lab: Lab) -> list[AuditEntry]:
    engine = create_database_engine(lab.env.url)
    try:
        with Session(engine) as db:
            return list(db.scalars(select(AuditEntry).where(AuditEntry.action.like("policy.%"))
                                   .order_by(AuditEntry.id)))
    finally:
        engine.dispose()


# Reading.
def test_namespaces_and_pods_come_from_the_last_sync(lab: Lab):
    namespaces = {n["name"]: n["labels"] for n in
                  lab.client.get("/api/v1/clusters/lab/namespaces").json()}
    assert namespaces["apps"]["env"] == "production" and "default" in namespaces
    pods = lab.client.get("/api/v1/clusters/lab/pods", params={"namespace": "apps"}).json()
    assert [(p["name"], p["labels"]["tier"]) for p in pods] == [
        ("api", "backend"), ("database", "database"), ("ui", "frontend")]
    assert all(p["namespace"] == "apps" and p["ip"] for p in pods)


def test_one_policy_comes_with_its_yaml_and_its_form(lab: Lab):
    body = lab.client.get(f"{POLICIES}/default/access-demo1").json()
    assert body["manifest"]["metadata"]["labels"] == {"team": "data"}
    edited = yaml.safe_load(body["yaml"])
    assert edited["metadata"]["resourceVersion"] and "uid" not in edited["metadata"]
    assert body["form"] == {
        "name": "access-demo1", "namespace": "default", "pod_selector": {"role": "db"},
        "ingress": [{"protocol": "TCP", "port": "6379", "namespace": "",
                     "pod_labels": {"role": "frontend"}, "cidr": ""}],
        "egress": [], "policy_types": None}
    assert lab.client.get(f"{POLICIES}/default/nothing").status_code == 404


# Creating.
def test_a_policy_created_from_yaml_is_on_the_cluster_and_in_the_list(lab: Lab):
    response = lab.client.post(POLICIES, json={"yaml": WEB_YAML})
    assert response.status_code == 201, response.text
    created = lab.policy("default", "web-yaml")
    assert created is not None and created["spec"]["podSelector"] == {
        "matchLabels": {"role": "web"}}
    assert response.json()["manifest"]["metadata"]["uid"] == created["metadata"]["uid"]
    assert "web-yaml" in lab.stored_names()  # without a new sync
    [entry] = lab.history(name="web-yaml")
    assert (entry["action"], entry["object"], entry["username"]) == (
        "policy.create", "default/web-yaml", "admin")
    assert "+  podSelector:\n" in entry["diff"] and "resourceVersion" not in entry["diff"]


def test_a_policy_created_from_the_form_is_what_the_form_says(lab: Lab):
    response = lab.client.post(POLICIES, json={"form": WEB_FORM})
    assert response.status_code == 201, response.text
    created = lab.policy("default", "web-ingress")
    assert created is not None
    assert created["spec"]["ingress"] == [
        {"ports": [{"protocol": "TCP", "port": 80}],
         "from": [{"podSelector": {"matchLabels": {"role": "frontend"}}}]},
        {"from": [{"ipBlock": {"cidr": "192.0.2.0/24", "except": ["192.0.2.128/25"]}}]}]
    shown = lab.client.get(f"{POLICIES}/default/web-ingress").json()
    assert shown["form"]["ingress"][1]["cidr"] == "192.0.2.0/24|192.0.2.128/25"


def test_a_copy_of_a_policys_yaml_under_a_new_name_is_created(lab: Lab):
    copied = lab.client.get(f"{POLICIES}/default/access-demo1").json()["yaml"]
    assert "resourceVersion" in copied
    response = lab.client.post(POLICIES, json={"yaml": copied.replace("access-demo1", "copy")})
    assert response.status_code == 201, response.text
    created, original = lab.policy("default", "copy"), lab.policy("default", "access-demo1")
    assert created is not None and original is not None
    assert created["spec"] == original["spec"] and created["metadata"]["labels"] == {
        "team": "data"}
    assert created["metadata"]["uid"] != original["metadata"]["uid"]


def test_an_invalid_policy_is_refused_and_never_sent(lab: Lab):
    bad = WEB_YAML.replace("port: 80", "port: 80, endPort: 79")
    response = lab.client.post(POLICIES, json={"yaml": bad})
    assert response.status_code == 422
    expected = lab.client.post("/api/v1/validate", json={"yaml": bad}).json()["messages"]
    assert response.json() == {"detail": expected[0], "messages": expected}
    assert "endPort: Invalid value: 79: must be greater than or equal to `port`" in expected[0]
    assert lab.policy("default", "web-yaml") is None
    assert lab.history() == []


def test_an_invalid_form_is_refused_with_its_field_paths(lab: Lab):
    form = {**WEB_FORM, "egress": [{"cidr": "10.0.0.0/33"}]}
    response = lab.client.post(POLICIES, json={"form": form})
    assert response.status_code == 422
    assert response.json()["messages"][0].startswith('egress[0].cidr: Invalid value: "10.0.0.0/33"')
    assert lab.policy("default", "web-ingress") is None


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        pytest.param({}, "give exactly one of `yaml` and `form`", id="neither yaml nor form"),
        pytest.param({"yaml": WEB_YAML, "form": WEB_FORM}, "give exactly one of `yaml` and `form`",
                     id="both yaml and form"),
        pytest.param({"yaml": WEB_YAML + "---\n" + WEB_YAML.replace("web-yaml", "other")},
                     "give exactly one NetworkPolicy (found 2 objects)", id="two documents"),
        pytest.param({"yaml": "kind: Pod\nmetadata: {name: p}\n"},
                     'kind: Unsupported value: "Pod": supported values: "NetworkPolicy"',
                     id="another kind"),
    ],
)
def test_a_create_needs_exactly_one_policy(lab: Lab, body: dict[str, Any], detail: str):
    response = lab.client.post(POLICIES, json=body)
    assert response.status_code == 422 and response.json()["detail"] == detail


def test_creating_what_exists_is_the_clusters_409(lab: Lab):
    response = lab.client.post(POLICIES, json={"yaml": WEB_YAML.replace("web-yaml",
                                                                        "access-demo1")})
    assert response.status_code == 409
    assert response.json()["detail"] == (
        'networkpolicies.networking.k8s.io "access-demo1" already exists')


def test_creating_in_a_namespace_the_cluster_lacks_is_its_404(lab: Lab):
    response = lab.client.post(POLICIES, json={"form": {**WEB_FORM, "namespace": "nowhere"}})
    assert response.status_code == 404
    assert response.json()["detail"] == 'namespaces "nowhere" not found'


# Replacing.
def test_a_replace_changes_the_cluster_and_records_a_diff(lab: Lab):
    current = lab.client.get(f"{POLICIES}/default/access-demo1").json()["yaml"]
    changed = current.replace("port: 6379", "port: 6380")
    response = lab.client.put(f"{POLICIES}/default/access-demo1", json={"yaml": changed})
    assert response.status_code == 200, response.text
    on_cluster = lab.policy("default", "access-demo1")
    assert on_cluster is not None
    assert on_cluster["spec"]["ingress"][0]["ports"] == [{"protocol": "TCP", "port": 6380}]
    stored = lab.client.get(f"{POLICIES}/default/access-demo1").json()["manifest"]
    assert stored["metadata"]["resourceVersion"] == on_cluster["metadata"]["resourceVersion"]
    [entry] = lab.history(namespace="default", name="access-demo1")
    assert entry["action"] == "policy.update"
    assert "-    - port: 6379\n+    - port: 6380\n" in entry["diff"]


def test_a_replace_from_a_stale_copy_is_the_clusters_409(lab: Lab):
    stale = lab.client.get(f"{POLICIES}/default/access-demo1").json()["yaml"]
    first = lab.client.put(f"{POLICIES}/default/access-demo1",
                           json={"yaml": stale.replace("6379", "6380")})
    assert first.status_code == 200, first.text
    second = lab.client.put(f"{POLICIES}/default/access-demo1",
                            json={"yaml": stale.replace("6379", "6381")})
    assert second.status_code == 409
    assert "the object has been modified" in second.json()["detail"]
    on_cluster = lab.policy("default", "access-demo1")
    assert on_cluster is not None and on_cluster["spec"]["ingress"][0]["ports"][0]["port"] == 6380


def test_a_replace_from_the_form_keeps_labels_and_annotations(lab: Lab):
    form = lab.client.get(f"{POLICIES}/default/access-demo1").json()["form"]
    form["ingress"][0]["port"] = "6000-6400"
    response = lab.client.put(f"{POLICIES}/default/access-demo1", json={"form": form})
    assert response.status_code == 200, response.text
    on_cluster = lab.policy("default", "access-demo1")
    assert on_cluster is not None and on_cluster["metadata"]["labels"] == {"team": "data"}
    assert on_cluster["spec"]["ingress"][0]["ports"] == [
        {"protocol": "TCP", "port": 6000, "endPort": 6400}]


def test_the_clusters_422_comes_back_with_its_causes(lab: Lab):
    current = yaml.safe_load(lab.client.get(f"{POLICIES}/default/access-demo1").json()["yaml"])
    current["metadata"]["uid"] = "00000000-0000-4000-8000-999999999999"
    response = lab.client.put(f"{POLICIES}/default/access-demo1",
                              json={"yaml": yaml.safe_dump(current)})
    assert response.status_code == 422
    body = response.json()
    assert "metadata.uid: Invalid value" in body["detail"] and body["messages"] == [body["detail"]]
    assert {c["field"] for c in body["causes"]} == {"metadata.uid"}


@pytest.mark.parametrize(
    ("path", "name", "status"),
    [
        pytest.param(f"{POLICIES}/default/nothing", "nothing", 404,
                     id="a policy that does not exist"),
        pytest.param(f"{POLICIES}/apps/access-demo1", "access-demo1", 422,
                     id="a URL naming another object"),
    ],
)
def test_a_replace_names_an_existing_policy(lab: Lab, path: str, name: str, status: int):
    response = lab.client.put(path, json={"yaml": LAB_POLICY.replace("access-demo1", name)})
    assert response.status_code == status, response.text
    assert lab.history() == []


# Deleting.
def test_a_delete_removes_the_policy_from_the_cluster_and_the_list(lab: Lab):
    response = lab.client.delete(f"{POLICIES}/default/access-demo1")
    assert response.status_code == 204, response.text
    assert lab.policy("default", "access-demo1") is None
    assert lab.stored_names() == []
    [entry] = lab.history()
    assert entry["action"] == "policy.delete" and entry["diff"].startswith("--- a/default/")
    assert lab.client.delete(f"{POLICIES}/default/access-demo1").status_code == 404


def test_a_bulk_delete_tries_each_and_reports_each(lab: Lab):
    assert lab.client.post(POLICIES, json={"yaml": WEB_YAML}).status_code == 201
    response = lab.client.post(f"{POLICIES}/delete", json={"items": [
        {"namespace": "default", "name": "access-demo1"},
        {"namespace": "default", "name": "nothing"},
        {"namespace": "default", "name": "web-yaml"}]})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["deleted"] == [{"namespace": "default", "name": "access-demo1"},
                               {"namespace": "default", "name": "web-yaml"}]
    assert body["failed"] == [{"namespace": "default", "name": "nothing", "detail":
                               'networkpolicies.networking.k8s.io "nothing" not found in '
                               'namespace "default"'}]
    assert lab.policy("default", "access-demo1") is None and lab.policy("default", "web-yaml") \
        is None
    assert [e["action"] for e in lab.history()] == ["policy.delete", "policy.delete",
                                                    "policy.create"]
    assert [e["action"] for e in lab.history(name="web-yaml")] == ["policy.delete",
                                                                   "policy.create"]
    assert lab.history(namespace="apps") == []


@pytest.mark.parametrize("name", ["..", "a%2Fb", "UPPER"])
def test_a_name_that_cannot_be_a_policy_never_reaches_the_cluster(lab: Lab, name: str):
    response = lab.client.post(f"{POLICIES}/delete",
                               json={"items": [{"namespace": "default", "name": name}]})
    assert response.json()["deleted"] == []
    assert "cannot name a NetworkPolicy" in response.json()["failed"][0]["detail"]


# History and revert.
def test_the_history_keeps_both_manifests_without_the_servers_fields(lab: Lab):
    lab.client.post(POLICIES, json={"yaml": WEB_YAML})
    lab.client.delete(f"{POLICIES}/default/web-yaml")
    created, deleted = _audit_rows(lab)
    assert created.before_manifest is None and deleted.after_manifest is None
    assert created.after_manifest == deleted.before_manifest
    kept = json.loads(created.after_manifest or "{}")
    assert kept["metadata"] == {"name": "web-yaml", "namespace": "default"}
    assert kept["spec"]["podSelector"] == {"matchLabels": {"role": "web"}}


def _revert(lab: Lab, entry_id: int) -> httpx.Response:
    return lab.client.post(f"/api/v1/clusters/lab/history/{entry_id}/revert")


def test_reverting_a_create_deletes_the_policy(lab: Lab):
    lab.client.post(POLICIES, json={"yaml": WEB_YAML})
    [created] = lab.history()
    assert created["revertable"]
    response = _revert(lab, created["id"])
    assert response.status_code == 200 and response.json() == {"manifest": None}
    assert lab.policy("default", "web-yaml") is None and "web-yaml" not in lab.stored_names()
    revert, original = lab.history()
    assert revert["action"] == "policy.revert" and revert["revertable"]
    assert original["reverted_by"] == revert["id"] and not original["revertable"]


def test_reverting_an_update_restores_the_policy_before_it(lab: Lab):
    before = lab.policy("default", "access-demo1")
    current = lab.client.get(f"{POLICIES}/default/access-demo1").json()["yaml"]
    lab.client.put(f"{POLICIES}/default/access-demo1",
                   json={"yaml": current.replace("role: frontend", "role: web")})
    [updated] = lab.history()
    response = _revert(lab, updated["id"])
    assert response.status_code == 200, response.text
    after = lab.policy("default", "access-demo1")
    assert before is not None and after is not None
    assert after["spec"] == before["spec"] and after["metadata"]["labels"] == {"team": "data"}
    assert response.json()["manifest"]["spec"] == before["spec"]


def test_reverting_a_delete_creates_the_policy_again(lab: Lab):
    before = lab.policy("default", "access-demo1")
    lab.client.delete(f"{POLICIES}/default/access-demo1")
    [deleted] = lab.history()
    assert _revert(lab, deleted["id"]).status_code == 200
    again = lab.policy("default", "access-demo1")
    assert before is not None and again is not None
    assert again["spec"] == before["spec"] and again["metadata"]["labels"] == {"team": "data"}
    assert "access-demo1" in lab.stored_names()


def test_a_revert_of_a_change_made_stale_by_a_later_one_is_409(lab: Lab):
    lab.client.post(POLICIES, json={"yaml": WEB_YAML})
    current = lab.client.get(f"{POLICIES}/default/web-yaml").json()["yaml"]
    lab.client.put(f"{POLICIES}/default/web-yaml", json={"yaml": current.replace("80", "81")})
    updated, created = lab.history()
    assert updated["revertable"] and not created["revertable"]
    response = _revert(lab, created["id"])
    assert response.status_code == 409
    assert response.json()["detail"] == (
        f"default/web-yaml changed since change #{created['id']}; revert the later change first")
    assert lab.policy("default", "web-yaml") is not None


def test_a_change_made_outside_the_console_also_blocks_a_revert(lab: Lab):
    lab.client.post(POLICIES, json={"yaml": WEB_YAML})
    [created] = lab.history()
    path = "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies/web-yaml"
    patched = lab.api.patch(path, json={"metadata": {"labels": {"by": "kubectl"}}},
                            headers={"Content-Type": "application/merge-patch+json"})
    assert patched.status_code == 200, patched.text
    assert _revert(lab, created["id"]).status_code == 409


def test_a_change_is_reverted_once(lab: Lab):
    lab.client.post(POLICIES, json={"yaml": WEB_YAML})
    [created] = lab.history()
    assert _revert(lab, created["id"]).status_code == 200
    again = _revert(lab, created["id"])
    assert again.status_code == 409 and "already reverted" in again.json()["detail"]
    assert _revert(lab, 9999).status_code == 404


# Roles.
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", POLICIES, {"yaml": WEB_YAML}),
        ("PUT", f"{POLICIES}/default/access-demo1", {"yaml": WEB_YAML}),
        ("DELETE", f"{POLICIES}/default/access-demo1", None),
        ("POST", f"{POLICIES}/delete", {"items": [{"namespace": "default",
                                                   "name": "access-demo1"}]}),
        ("POST", "/api/v1/clusters/lab/history/1/revert", None),
    ],
)
def test_a_viewer_reads_but_does_not_write(lab: Lab, method: str, path: str,
                                           body: dict[str, Any] | None):
    viewer = _viewer(lab)
    for read in ("/api/v1/clusters/lab/namespaces", "/api/v1/clusters/lab/pods",
                 f"{POLICIES}/default/access-demo1", "/api/v1/clusters/lab/history"):
        assert viewer.get(read).status_code == 200, read
    response = viewer.request(method, path, json=body)
    assert response.status_code == 403 and "needs role editor" in response.json()["detail"]
    assert lab.policy("default", "access-demo1") is not None


# A cluster that does not answer.
def _kubeconfig(server: str) -> str:
    return yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": server}}],
        "users": [{"name": "gone", "user": {"token": "secret-token-gone"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "gone"}}]})


@contextmanager
def _silent_server() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


@pytest.mark.parametrize("silent", [False, True], ids=["refuses connections", "never answers"])
def test_an_unreachable_cluster_is_a_502_not_a_hang(console_env: ConsoleEnv, silent: bool):
    client = console_env.client
    client.app.state.write_timeout = 0.5  # type: ignore[attr-defined]
    with _silent_server() as server:
        target = server if silent else "http://127.0.0.1:9"
        assert client.post("/api/v1/clusters", json={"name": "gone",
                                                     "kubeconfig": _kubeconfig(target)}
                           ).status_code == 201
        responses = [
            client.post("/api/v1/clusters/gone/policies", json={"yaml": WEB_YAML}),
            client.delete("/api/v1/clusters/gone/policies/default/web-yaml"),
        ]
        bulk = client.post("/api/v1/clusters/gone/policies/delete",
                           json={"items": [{"namespace": "default", "name": "web-yaml"}]})
    for response in responses:
        assert response.status_code == 502, response.text
        assert response.json()["detail"].startswith("cluster gone is unreachable: ")
        assert "secret-token-gone" not in response.text
    assert bulk.status_code == 200 and bulk.json()["deleted"] == []
    assert bulk.json()["failed"][0]["detail"].startswith("cluster gone is unreachable: ")


def test_openapi_lists_the_write_routes(console_env: ConsoleEnv):
    paths = TestClient(console_env.client.app).get("/openapi.json").json()["paths"]
    for path in ("/api/v1/clusters/{name}/namespaces", "/api/v1/clusters/{name}/pods",
                 "/api/v1/clusters/{name}/policies/{namespace}/{policy}",
                 "/api/v1/clusters/{name}/policies/delete", "/api/v1/forms/policy",
                 "/api/v1/clusters/{name}/history",
                 "/api/v1/clusters/{name}/history/{entry_id}/revert"):
        assert path in paths, path
