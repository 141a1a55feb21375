"""Reading a live cluster: namespaces, pods and NetworkPolicies through the official client.

Why here: every analysis command reads manifests the same way (`assemble`), so a live cluster
is one more source of manifests, listed with the kubeconfig and context the user chose (or
`$KUBECONFIG`, or ~/.kube/config), each turned back into the JSON the API server sent (with
`apiVersion` and `kind`, which list items lack). Nothing else in podwall talks to a cluster
for analysis; the agent has its own watch loop.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podwall.errors import InputError

__all__ = [
    "KUBE_PREFIX",
    "ClusterSource",
    "Progress",
    "default_kubeconfig",
    "is_cluster_reference",
    "read_cluster",
]

KUBE_PREFIX = "kube:"  # `podwall diff old.yaml kube:` or `kube:CONTEXT`: a live cluster
_TIMEOUT_SECONDS = 15
_KINDS = (
    ("v1", "Namespace", "CoreV1Api", "list_namespace"),
    ("v1", "Pod", "CoreV1Api", "list_pod_for_all_namespaces"),
    (
        "networking.k8s.io/v1",
        "NetworkPolicy",
        "NetworkingV1Api",
        "list_network_policy_for_all_namespaces",
    ),
)
_RESOURCES = {"Namespace": "namespaces", "Pod": "pods", "NetworkPolicy": "networkpolicies"}


Progress = Callable[[str, float], None]  # (step, fraction done before it), e.g. ("pods", 1/3)


@dataclass(frozen=True, slots=True)
class ClusterSource:
    """Which cluster: a kubeconfig file (None: the default) and a context (None: current)."""

    kubeconfig: str | None = None
    context: str | None = None

    def describe(self) -> str:
        where = self.kubeconfig or default_kubeconfig() or "~/.kube/config"
        return f"{where} (context {self.context or 'current'})"


def default_kubeconfig() -> str | None:
    """`$KUBECONFIG` (its first file) or ~/.kube/config, when one exists."""
    env = os.environ.get("KUBECONFIG", "")
    for candidate in [*env.split(os.pathsep), str(Path.home() / ".kube" / "config")]:
        if candidate and Path(candidate).is_file():
            return candidate
    return None


def is_cluster_reference(text: str) -> bool:
    return text.startswith(KUBE_PREFIX)


def read_cluster(
    source: ClusterSource, *, progress: Progress | None = None
) -> list[tuple[str, dict[str, Any]]]:
    """(source label, manifest) for every namespace, pod and NetworkPolicy of the cluster.

    `progress`, when given, is called before each list with the step ("namespaces", "pods",
    "networkpolicies") and the fraction of steps done; an exception it raises ends the read.
    """
    return list(_manifests(source, progress or _no_progress))


def _no_progress(_step: str, _done: float) -> None:
    pass


def _manifests(source: ClusterSource, progress: Progress) -> Iterator[tuple[str, dict[str, Any]]]:
    from kubernetes import client, config  # an edge import: only live-cluster reads pay for it
    from kubernetes.config.config_exception import ConfigException

    path = source.kubeconfig or default_kubeconfig()
    if path is None:
        raise InputError(
            "no input: give one or more -f FILE|DIR|- or a cluster with --kubeconfig "
            "(there is no $KUBECONFIG and no ~/.kube/config); for example: "
            "kubectl get ns,pods,netpol -A -o yaml | podwall ... -f -"
        )
    try:
        api_client = config.new_client_from_config(config_file=path, context=source.context)
    except (ConfigException, OSError, ValueError, KeyError) as err:
        raise InputError(f"kubeconfig {path}: {err}") from err
    label = f"cluster {source.context or 'current-context'}"
    with api_client:
        for done, (api_version, kind, api_name, method) in enumerate(_KINDS):
            progress(_RESOURCES[kind], done / len(_KINDS))
            api = getattr(client, api_name)(api_client)
            try:
                listed = getattr(api, method)(_request_timeout=_TIMEOUT_SECONDS)
            except Exception as err:  # urllib3 and ApiException alike: say which call failed
                raise InputError(
                    f"cannot list {kind}s from {source.describe()}: {_reason(err)}"
                ) from err
            for item in api_client.sanitize_for_serialization(listed).get("items", []):
                item = {"apiVersion": api_version, "kind": kind, **item}
                item.get("metadata", {}).pop("managedFields", None)
                yield f"{label}/{kind.lower()}s", item


def _reason(err: Exception) -> str:
    status = getattr(err, "status", None)
    if status:
        return f"HTTP {status} {getattr(err, 'reason', '')}".strip()
    return str(err).splitlines()[0][:200]
