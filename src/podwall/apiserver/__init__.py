"""The lab API: a Kubernetes-compatible API server for the lab's Namespaces, Pods and
NetworkPolicies, which the real kubectl and the official Python client drive as a cluster.

`store` keeps objects and their history in SQLite; `resources` names what is served;
`strategy` decodes, defaults and validates writes with podwall's own input path; `patch`
applies merge, JSON and strategic merge patches; `selectors` reads label and field
selectors; `tables` prints kubectl's columns; `openapi` describes the API for kubectl;
`registry` implements the verbs; `app` is the HTTP edge; `server` runs it all.
"""

from podwall.apiserver.app import create_app
from podwall.apiserver.errors import ApiError
from podwall.apiserver.registry import ListOptions, Registry, WriteOptions
from podwall.apiserver.resources import EVENTS, NAMESPACES, NETWORK_POLICIES, PODS, RESOURCES
from podwall.apiserver.server import (
    SYSTEM_NAMESPACES,
    ApiServer,
    kubeconfig,
    seed_objects,
    seed_store,
    write_kubeconfig,
)
from podwall.apiserver.store import Event, Store

__all__ = [
    "EVENTS",
    "NAMESPACES",
    "NETWORK_POLICIES",
    "PODS",
    "RESOURCES",
    "SYSTEM_NAMESPACES",
    "ApiError",
    "ApiServer",
    "Event",
    "ListOptions",
    "Registry",
    "Store",
    "WriteOptions",
    "create_app",
    "kubeconfig",
    "seed_objects",
    "seed_store",
    "write_kubeconfig",
]
