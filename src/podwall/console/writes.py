"""Changing a cluster's NetworkPolicies through its Kubernetes API: create, replace, delete,
bulk delete and revert, each validated first, audited, and mirrored in the stored copy.

Every write is validated locally first with podwall's own validation (the API server's
messages), so nothing invalid is sent. The cluster is reached with its stored kubeconfig:
`kubernetes.config` reads it (from memory: no file, and it never leaves this module) into the
official client's connection pool, over which the requests go as plain JSON (the client's
models would only be converted back, and newer clients validate them on their own). A short
timeout and no retries bound every call. The cluster's answers map onto the console's errors:
422 and 400 -> 422 with the API server's message and causes, 404 -> 404, 409 -> 409, 403 ->
403, anything else or no answer -> 502 "cluster X is unreachable: ...". After a write the
stored objects (the last sync's copy) hold what the API server returned, so listings show it
at once; the audit history records it with a diff (see `history`).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import urllib3
import yaml
from kubernetes import client, config
from sqlalchemy import delete, select
from sqlalchemy.orm import Session as DbSession

from podwall.assemble import assemble
from podwall.console import forms, history
from podwall.console.errors import (
    BadGateway,
    Conflict,
    ConsoleError,
    Forbidden,
    NotFound,
    Unprocessable,
)
from podwall.console.models import Cluster, ClusterObject
from podwall.errors import InputError
from podwall.inputs import read_documents
from podwall.validation import is_dns1123_label, is_dns1123_subdomain, render_errors

__all__ = [
    "DEFAULT_TIMEOUT",
    "Change",
    "ClusterApi",
    "bulk_delete",
    "connect",
    "create_policy",
    "delete_policy",
    "editable_yaml",
    "form_manifest",
    "replace_policy",
    "revert_change",
    "stored_policy",
    "validate_manifest",
    "yaml_manifest",
]

DEFAULT_TIMEOUT = 10.0  # seconds for each request to a cluster
POLICY_KIND = "NetworkPolicy"
_POLICIES = "/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies"
_NOT_SENT_ON_CREATE = (*history.SERVER_FIELDS, "deletionTimestamp")
Manifest = dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    """Who writes, when, on which cluster: what every audited write needs."""

    cluster: Cluster
    username: str
    now: datetime
    timeout: float = DEFAULT_TIMEOUT


# Reading what the caller sends.
def validate_manifest(manifest: Mapping[str, Any]) -> list[str]:
    """Every error in one NetworkPolicy, as the API server (and `podwall validate`) prints it."""
    if manifest.get("kind") != POLICY_KIND:
        return [f"kind: Unsupported value: {json.dumps(manifest.get('kind'))}: "
                f'supported values: "{POLICY_KIND}"']
    loaded = assemble([("console", manifest)],
                      (manifest.get("metadata") or {}).get("namespace") or "default")
    return [render_errors(i.kind, i.name, i.errors) for i in loaded.invalid]


def _require_valid(messages: Sequence[str]) -> None:
    if messages:
        raise Unprocessable(messages[0], extra={"messages": list(messages)})


def yaml_manifest(text: str, namespace: str | None = None) -> Manifest:
    """The one NetworkPolicy in `text` (YAML or JSON), its namespace filled in, validated."""
    try:
        documents = read_documents(["-"], stdin=io.StringIO(text))
    except InputError as err:
        raise Unprocessable(str(err).replace("-: ", "", 1)) from err
    if len(documents) != 1:
        raise Unprocessable(f"give exactly one NetworkPolicy (found {len(documents)} objects)")
    manifest = dict(documents[0].manifest)
    meta = manifest.get("metadata")
    meta = dict(meta) if isinstance(meta, dict) else {}
    manifest["metadata"] = {**meta, "namespace": meta.get("namespace") or namespace or "default"}
    _require_valid(validate_manifest(manifest))
    return manifest


def form_manifest(form: forms.PolicyForm) -> Manifest:
    """The form's NetworkPolicy; 422 with the form's errors (form paths) and the API server's."""
    manifest, errors = forms.form_to_manifest(form)
    _require_valid([e.render() for e in errors] + validate_manifest(manifest))
    return manifest


def editable_yaml(manifest: Mapping[str, Any]) -> str:
    """YAML to edit: without the server's fields but for resourceVersion, so that saving an
    edit of a stale copy answers 409 instead of overwriting a newer change."""
    version = (manifest.get("metadata") or {}).get("resourceVersion")
    stripped = history.strip_server_fields(manifest) or {}
    if version:
        stripped["metadata"]["resourceVersion"] = version
    return history.render_yaml(stripped)


# The cluster's API.
@dataclass(frozen=True, slots=True)
class ClusterApi:
    """NetworkPolicy requests to one cluster, as plain JSON, each bounded by `timeout`."""

    name: str
    host: str
    pool: urllib3.PoolManager
    headers: Mapping[str, str]
    timeout: float

    def get(self, namespace: str, name: str) -> Manifest | None:
        try:
            return self._call("GET", namespace, name)
        except NotFound:
            return None

    def create(self, manifest: Mapping[str, Any]) -> Manifest:
        return self._call("POST", manifest["metadata"]["namespace"], body=manifest)

    def replace(self, manifest: Mapping[str, Any]) -> Manifest:
        meta = manifest["metadata"]
        return self._call("PUT", meta["namespace"], meta["name"], body=manifest)

    def delete(self, namespace: str, name: str) -> None:
        self._call("DELETE", namespace, name)

    def _call(self, method: str, namespace: str, name: str = "",
              body: Mapping[str, Any] | None = None) -> Manifest:
        _check_names(namespace, name)
        path = _POLICIES.format(namespace=namespace) + (f"/{name}" if name else "")
        headers = {**self.headers, "Accept": "application/json"}
        if body is not None:
            headers["Content-Type"] = "application/json"
        try:
            response = self.pool.request(
                method, self.host + path, headers=headers,
                body=None if body is None else json.dumps(body).encode(),
                timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout), retries=False)
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise BadGateway(f"cluster {self.name} is unreachable: {_reason(err)}") from err
        return _answer(self.name, response.status, response.data)


def _check_names(namespace: str, name: str) -> None:
    """Names that can be objects' names, so that no other URL is ever asked for."""
    wrong = is_dns1123_label(namespace) or (name and is_dns1123_subdomain(name))
    if wrong:
        raise Unprocessable(f"{namespace}/{name} cannot name a NetworkPolicy: {wrong[0]}")


def _reason(err: Exception) -> str:
    if isinstance(err, urllib3.exceptions.TimeoutError):
        return f"no answer in time ({type(err).__name__})"
    reason = getattr(err, "reason", None) or err
    return f"{type(reason).__name__}: {reason}"[:300]


def _answer(cluster: str, status: int, data: bytes) -> Manifest:
    try:
        body = json.loads(data or b"{}")
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if 200 <= status < 300:
        return body
    message = str(body.get("message") or f"HTTP {status}")
    if status in (400, 422):
        causes = (body.get("details") or {}).get("causes") or []
        raise Unprocessable(message, extra={"messages": [message], "causes": causes})
    refusal: type[ConsoleError] | None = {404: NotFound, 409: Conflict, 403: Forbidden}.get(status)
    if refusal is not None:
        raise refusal(message)
    raise BadGateway(f"cluster {cluster} answered HTTP {status}: {message}")


@contextmanager
def connect(cluster: Cluster, timeout: float = DEFAULT_TIMEOUT) -> Iterator[ClusterApi]:
    """The cluster's API, from its stored kubeconfig and context."""
    configuration = client.Configuration()
    try:
        config.load_kube_config_from_dict(
            yaml.safe_load(cluster.kubeconfig), context=cluster.context,
            persist_config=False, client_configuration=configuration)
        api_client = client.ApiClient(configuration)
    except Exception as err:  # a kubeconfig the client cannot use, an exec plugin failing...
        raise BadGateway(f"cluster {cluster.name} is unreachable: its kubeconfig cannot be "
                         f"used ({type(err).__name__})") from err
    with api_client:
        settings = configuration.auth_settings().values()
        headers = {s["key"]: s["value"] for s in settings if s.get("in") == "header"
                   and s.get("value")}
        yield ClusterApi(cluster.name, configuration.host.rstrip("/"),
                         api_client.rest_client.pool_manager, headers, timeout)


# The stored copy.
def _store(db: DbSession, cluster: Cluster, manifest: Mapping[str, Any]) -> None:
    meta = manifest.get("metadata") or {}
    namespace, name = meta.get("namespace", ""), meta.get("name", "")
    _forget(db, cluster, namespace, name)
    meta = {k: v for k, v in meta.items() if k != "managedFields"}
    stored = {"apiVersion": forms.API_VERSION, "kind": POLICY_KIND, **manifest, "metadata": meta}
    db.add(ClusterObject(cluster_id=cluster.id, kind=POLICY_KIND, namespace=namespace, name=name,
                         manifest=json.dumps(stored, sort_keys=True)))


def _forget(db: DbSession, cluster: Cluster, namespace: str, name: str) -> None:
    db.execute(delete(ClusterObject).where(
        ClusterObject.cluster_id == cluster.id, ClusterObject.kind == POLICY_KIND,
        ClusterObject.namespace == namespace, ClusterObject.name == name))


def stored_policy(db: DbSession, cluster: Cluster, namespace: str, name: str) -> Manifest:
    """A policy as the stored copy has it, or 404."""
    row = db.scalar(select(ClusterObject).where(
        ClusterObject.cluster_id == cluster.id, ClusterObject.kind == POLICY_KIND,
        ClusterObject.namespace == namespace, ClusterObject.name == name))
    if row is None:
        raise NotFound(f"no NetworkPolicy {namespace}/{name} in cluster {cluster.name} "
                       "(as of its last sync)")
    return json.loads(row.manifest)


def _record(db: DbSession, change: Change, action: str, key: str,
            before: Manifest | None, after: Manifest | None) -> int:
    entry = history.record_change(db, at=change.now, username=change.username,
                                  cluster=change.cluster.name, action=action, key=key,
                                  before=before, after=after)
    return entry.id


# The writes.
def _for_create(manifest: Mapping[str, Any]) -> Manifest:
    meta = {k: v for k, v in manifest["metadata"].items() if k not in _NOT_SENT_ON_CREATE}
    return {k: v for k, v in manifest.items() if k != "status"} | {"metadata": meta}


def _not_found(namespace: str, name: str) -> NotFound:
    return NotFound(f'networkpolicies.networking.k8s.io "{name}" not found in namespace '
                    f'"{namespace}"')


def create_policy(db: DbSession, change: Change, manifest: Mapping[str, Any]) -> Manifest:
    """Create a (validated) policy on the cluster: 409 if it exists."""
    _require_valid(validate_manifest(manifest))
    with connect(change.cluster, change.timeout) as api:
        created = api.create(_for_create(manifest))
    _store(db, change.cluster, created)
    _record(db, change, "policy.create", history.object_key(created), None, created)
    return created


def replace_policy(
    db: DbSession, change: Change, namespace: str, name: str, manifest: Mapping[str, Any], *,
    keep_metadata: bool = False,
) -> Manifest:
    """Replace `namespace/name` with `manifest` (at its resourceVersion if it names one, else
    the current one); `keep_metadata` keeps the current labels and annotations (form edits)."""
    meta = dict(manifest.get("metadata") or {})
    if (meta.get("namespace") or namespace, meta.get("name")) != (namespace, name):
        raise Unprocessable(f"the object's namespace/name ({meta.get('namespace') or namespace}/"
                            f"{meta.get('name')}) does not match the URL's ({namespace}/{name})")
    manifest = {**manifest, "metadata": {**meta, "namespace": namespace}}
    _require_valid(validate_manifest(manifest))
    with connect(change.cluster, change.timeout) as api:
        current = api.get(namespace, name)
        if current is None:
            raise _not_found(namespace, name)
        current_meta = current.get("metadata") or {}
        kept = {k: current_meta[k] for k in ("labels", "annotations")
                if keep_metadata and current_meta.get(k)}
        meta = {**manifest["metadata"], **kept}
        meta["resourceVersion"] = meta.get("resourceVersion") or current_meta["resourceVersion"]
        replaced = api.replace({**manifest, "metadata": meta})
    _store(db, change.cluster, replaced)
    _record(db, change, "policy.update", f"{namespace}/{name}", current, replaced)
    return replaced


def _delete(db: DbSession, change: Change, api: ClusterApi, namespace: str, name: str) -> None:
    current = api.get(namespace, name)
    if current is None:
        raise _not_found(namespace, name)
    api.delete(namespace, name)
    _forget(db, change.cluster, namespace, name)
    _record(db, change, "policy.delete", f"{namespace}/{name}", current, None)


def delete_policy(db: DbSession, change: Change, namespace: str, name: str) -> None:
    with connect(change.cluster, change.timeout) as api:
        _delete(db, change, api, namespace, name)


def bulk_delete(
    db: DbSession, change: Change, items: Sequence[tuple[str, str]]
) -> tuple[list[tuple[str, str]], list[tuple[str, str, str]]]:
    """Try each (namespace, name); (deleted, failed with why)."""
    deleted: list[tuple[str, str]] = []
    failed: list[tuple[str, str, str]] = []
    try:
        with connect(change.cluster, change.timeout) as api:
            for namespace, name in items:
                try:
                    _delete(db, change, api, namespace, name)
                    deleted.append((namespace, name))
                except ConsoleError as err:
                    failed.append((namespace, name, str(err)))
    except BadGateway as err:  # the kubeconfig itself: nothing was attempted
        done = {(f[0], f[1]) for f in failed} | set(deleted)
        failed += [(ns, n, str(err)) for ns, n in items if (ns, n) not in done]
    return deleted, failed


def revert_change(db: DbSession, change: Change, entry_id: int) -> Manifest | None:
    """Restore the state before history entry `entry_id`; 409 if the policy changed since."""
    entry = history.get_entry(db, change.cluster.name, entry_id)
    if entry.reverted_by is not None:
        raise Conflict(f"change #{entry.id} was already reverted by #{entry.reverted_by}")
    before, after = history.manifests(entry)
    if before is None and after is None:
        raise Unprocessable(f"change #{entry.id} has nothing to revert")
    namespace, _, name = (entry.object or "").partition("/")
    if before is not None:
        _require_valid(validate_manifest(before))
    with connect(change.cluster, change.timeout) as api:
        current = api.get(namespace, name)
        if not history.same_state(current, after):
            raise Conflict(f"{entry.object} changed since change #{entry.id}; revert the later "
                           "change first")
        result = _restore(api, before, current)
    if result is None:
        _forget(db, change.cluster, namespace, name)
    else:
        _store(db, change.cluster, result)
    entry.reverted_by = _record(db, change, "policy.revert", entry.object or "", current, result)
    return result


def _restore(api: ClusterApi, before: Manifest | None, current: Manifest | None
             ) -> Manifest | None:
    if before is None and current is not None:
        meta = current["metadata"]
        api.delete(meta["namespace"], meta["name"])
        return None
    if before is None:
        return None
    if current is None:
        return api.create(_for_create(before))
    version = current["metadata"].get("resourceVersion")
    return api.replace({**before, "metadata": {**before["metadata"], "resourceVersion": version}})
