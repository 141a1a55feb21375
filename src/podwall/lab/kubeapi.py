"""The lab's changes as API writes: NetworkPolicies and labels through the lab's Kubernetes API.

Once the lab runs as a cluster (`cluster.start_cluster`), the API server holds what the lab
enforces and the node agents follow it. `podwall lab apply/delete/label` validate exactly as
before (nothing is written when anything is invalid), then write through the official
kubernetes client with the lab's kubeconfig, as kubectl would: create-or-replace, delete,
strategic-merge patch of labels. `api_cluster` reads the cluster back as the agents see it
(the same decoding, invalid objects left out), for `probe --compare`, `status` and `drops`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from podwall.agent.errors import AgentError
from podwall.agent.kube import api_client, kind_apis
from podwall.agent.view import ClusterView
from podwall.assemble import assemble
from podwall.decode import KINDS, object_name
from podwall.encode import encode_object
from podwall.errors import InvalidObjects
from podwall.lab.cluster import API_SERVICE, kubeconfig_path
from podwall.lab.control import lab_options, relabelled
from podwall.lab.converge import CONVERGE_TIMEOUT, expected_tables, wait_converged
from podwall.lab.errors import LabError
from podwall.lab.state import LabState
from podwall.model import Cluster, NetworkPolicy

__all__ = [
    "api_cluster",
    "apply_policies",
    "delete_policies",
    "relabel",
    "uses_api",
    "wait_enforced",
]

GROUP = "networking.k8s.io"


def uses_api(state: LabState) -> bool:
    """Whether the lab runs as a cluster (its API server is recorded)."""
    return API_SERVICE in state.services


def _client(state: LabState) -> client.ApiClient:
    try:
        return api_client(str(kubeconfig_path(state)), None)
    except AgentError as err:
        raise LabError(str(err)) from err


def _calling(state: LabState, call: Callable[[], Any]) -> Any:
    """`call()`, with the API's refusals and silences as LabErrors."""
    try:
        return call()
    except ApiException as err:
        raise LabError(f"Error from server ({err.reason}): {_message(err)}") from err
    except (urllib3.exceptions.HTTPError, OSError) as err:
        url = state.services[API_SERVICE].url
        raise LabError(f"the lab API at {url} does not answer ({err.__class__.__name__}): "
                       "`podwall lab restart api-server` starts it again") from err


def _message(err: ApiException) -> str:
    try:
        return str(json.loads(err.body or "{}").get("message") or err.body)
    except ValueError:
        return str(err.body)


def _raw(response: Any) -> dict[str, Any]:
    try:
        return json.loads(response.data)
    finally:
        response.release_conn()


def _manifests(api: client.ApiClient) -> Iterator[dict[str, Any]]:
    for kind, kind_api in kind_apis(api).items():
        token = ""
        while True:
            page = kind_api.list_page(token)
            for item in page.get("items", []):
                yield {**item, "kind": kind, "apiVersion": KINDS[kind]}
            token = (page.get("metadata") or {}).get("continue") or ""
            if not token:
                break


def api_cluster(state: LabState) -> Cluster:
    """The cluster the API holds, decoded as the agents decode it."""
    with _client(state) as api:
        manifests = _calling(state, lambda: list(_manifests(api)))
    return ClusterView().update(manifests).cluster


def _existing(networking: client.NetworkingV1Api, ns: str, name: str) -> dict[str, Any] | None:
    try:
        return _raw(networking.read_namespaced_network_policy(name, ns, _preload_content=False))
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def _same(existing: Mapping[str, Any], stored: Mapping[str, Any]) -> bool:
    loaded = assemble([("api", {**existing, "kind": "NetworkPolicy",
                                "apiVersion": KINDS["NetworkPolicy"]})])
    return not loaded.invalid and encode_object(loaded.objects[0]) == stored


def _apply_one(networking: client.NetworkingV1Api, policy: NetworkPolicy) -> str:
    body = encode_object(policy)
    existing = _existing(networking, policy.namespace, policy.name)
    if existing is None:
        networking.create_namespaced_network_policy(
            policy.namespace, body, _preload_content=False).release_conn()
        return "created"
    if _same(existing, body):
        return "unchanged"
    body["metadata"]["resourceVersion"] = existing["metadata"]["resourceVersion"]
    networking.replace_namespaced_network_policy(
        policy.name, policy.namespace, body, _preload_content=False).release_conn()
    return "configured"


def apply_policies(state: LabState, policies: Sequence[NetworkPolicy]) -> list[str]:
    """Create or replace each (already validated) policy; kubectl's line for each."""
    with _client(state) as api:
        networking = client.NetworkingV1Api(api)
        return [
            f"networkpolicy.{GROUP}/{p.name} "
            + _calling(state, lambda p=p: _apply_one(networking, p))
            for p in policies
        ]


def delete_policies(
    state: LabState, manifests: Sequence[Mapping[str, Any]], default_ns: str
) -> list[str]:
    """Delete the NetworkPolicies named; if any is missing, delete none and say which."""
    keys = [object_name(m, default_ns) for m in manifests if m.get("kind") == "NetworkPolicy"]
    with _client(state) as api:
        networking = client.NetworkingV1Api(api)
        missing = [
            f'networkpolicies.{GROUP} "{key.split("/", 1)[1]}" not found'
            for key in keys
            if _calling(state, lambda k=key: _existing(networking, *k.split("/", 1))) is None
        ]
        if missing:
            raise LabError("Error from server (NotFound): " + "; ".join(missing))
        lines = []
        for key in keys:
            ns, name = key.split("/", 1)
            _calling(state, lambda n=name, s=ns: networking.delete_namespaced_network_policy(
                n, s, _preload_content=False).release_conn())
            lines.append(f'networkpolicy.{GROUP} "{name}" deleted')
    return lines


def relabel(
    state: LabState, target: str, assignments: Sequence[str], *, namespace: bool = False
) -> str:
    """Set (`k=v`) or remove (`k-`) labels of a pod (`ns/name`) or namespace, validated first."""
    with _client(state) as api:
        core = client.CoreV1Api(api)
        if namespace:
            kind, name = "Namespace", target
            read = lambda: core.read_namespace(target, _preload_content=False)  # noqa: E731
            patch = lambda body: core.patch_namespace(target, body)  # noqa: E731
        else:
            if "/" not in target:
                raise LabError(f'pods "{target}" not found (write ns/name)')
            ns, name = target.split("/", 1)
            kind = "Pod"
            read = lambda: core.read_namespaced_pod(name, ns, _preload_content=False)  # noqa: E731
            patch = lambda body: core.patch_namespaced_pod(name, ns, body)  # noqa: E731
        current = _calling(state, lambda: _raw(read()))
        labels = relabelled(current["metadata"].get("labels") or {}, assignments)
        changed = {**current, "kind": kind, "apiVersion": KINDS[kind],
                   "metadata": {**current["metadata"], "labels": labels}}
        loaded = assemble([("lab", changed)])
        if loaded.invalid:
            raise InvalidObjects(list(loaded.invalid))
        removed = set(current["metadata"].get("labels") or {}) - set(labels)
        body = {"metadata": {"labels": {**labels, **dict.fromkeys(removed)}}}
        _calling(state, lambda: patch(body))
    return f"{kind.lower()}/{name} labeled"


def wait_enforced(state: LabState, timeout: float = CONVERGE_TIMEOUT) -> float:
    """Wait until every node's agent enforces what the API now holds; the seconds waited."""
    assert state.topology is not None
    nodes = [n.name for n in state.topology.nodes]
    expected = expected_tables(api_cluster(state), nodes, lab_options(state))
    return wait_converged(expected, state.node_netns, timeout)
