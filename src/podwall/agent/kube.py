"""The Kubernetes API edge: a client from a kubeconfig (or the pod's service account), and one
paginated list and one watch per kind, answered as raw JSON.

Why raw JSON (`_preload_content=False`): the agent hands manifests to podwall's own decoder,
which validates them exactly as `podwall validate` does; the client's models would only be
converted back. Boolean query parameters are sent as `true`, the spelling kubectl uses.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from podwall.agent.errors import ConfigError

__all__ = ["ApiException", "KindApi", "api_client", "iter_lines", "kind_apis", "shutdown"]

CONNECT_TIMEOUT = 5.0
LIST_TIMEOUT = 60.0
PAGE_SIZE = 500


def api_client(kubeconfig: str | None, context: str | None) -> client.ApiClient:
    """From `kubeconfig` (default: $KUBECONFIG, ~/.kube/config) and `context`; inside a pod
    with neither given, from its service account."""
    try:
        if kubeconfig is None and context is None and os.environ.get("KUBERNETES_SERVICE_HOST"):
            configuration = client.Configuration()
            config.load_incluster_config(client_configuration=configuration)
            return client.ApiClient(configuration)
        return config.new_client_from_config(config_file=kubeconfig, context=context)
    except (config.ConfigException, OSError, ValueError, TypeError) as err:
        where = kubeconfig or os.environ.get("KUBECONFIG") or "~/.kube/config"
        raise ConfigError(f"cannot use kubeconfig {where}: {err}") from err


@dataclass(frozen=True, slots=True)
class KindApi:
    """List and watch one kind across all namespaces."""

    kind: str
    call: Callable[..., Any]

    def list_page(self, token: str = "") -> dict[str, Any]:
        """One page of the list (PAGE_SIZE items); `metadata.continue` names the next."""
        extra = {"_continue": token} if token else {}
        response = self.call(
            limit=PAGE_SIZE, _preload_content=False,
            _request_timeout=(CONNECT_TIMEOUT, LIST_TIMEOUT), **extra,
        )
        try:
            return json.loads(response.data)
        finally:
            response.release_conn()

    def watch(self, resource_version: str, timeout: int) -> Any:
        """A watch stream (an urllib3 response) from `resource_version`, with bookmarks; the
        server ends it after `timeout` seconds, the client gives up 30 s later."""
        return self.call(
            watch=True, allow_watch_bookmarks=True, resource_version=resource_version,
            timeout_seconds=timeout, _preload_content=False,
            _request_timeout=(CONNECT_TIMEOUT, timeout + 30.0),
        )


def kind_apis(api: client.ApiClient) -> dict[str, KindApi]:
    core, networking = client.CoreV1Api(api), client.NetworkingV1Api(api)
    return {
        "Namespace": KindApi("Namespace", core.list_namespace),
        "Pod": KindApi("Pod", core.list_pod_for_all_namespaces),
        "NetworkPolicy": KindApi(
            "NetworkPolicy", networking.list_network_policy_for_all_namespaces
        ),
    }


def iter_lines(response: Any) -> Iterator[bytes]:
    """The newline-delimited events of a watch stream, as they arrive."""
    pending = b""
    for chunk in response.stream(decode_content=True):
        pending += chunk
        *lines, pending = pending.split(b"\n")
        yield from (line for line in lines if line.strip())
    if pending.strip():
        yield pending


def shutdown(response: Any) -> None:
    """Unblock a thread reading `response` (urllib3 >= 2.3), then release it."""
    stop = getattr(response, "shutdown", None)
    if stop is not None:
        stop()
    response.release_conn()
