"""The OpenAPI v3 documents kubectl reads before it writes (`/openapi/v3` and one per
group-version), generated from the resource table.

kubectl 1.32 fetches them for three things: whether a PATCH accepts the `fieldValidation`
query parameter (then it leaves validation to the server, which answers as `podwall validate`
does), whether it accepts `application/strategic-merge-patch+json` (then `kubectl apply`
computes its patch from the component schema of the kind, found by its
`x-kubernetes-group-version-kind`), and `kubectl explain`. The NetworkPolicy and Namespace
schemas are complete; the Pod schema covers what the lab's pods carry and has no kind
extension, so kubectl computes pod patches from its built-in types instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from podwall.apiserver.resources import RESOURCES, SERVER_VERSION, Resource

__all__ = ["openapi_document", "openapi_index"]

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_NET = "io.k8s.api.networking.v1."
_CORE = "io.k8s.api.core.v1."
_PREFIX = "#/components/schemas/"


def _ref(name: str, description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"allOf": [{"$ref": _PREFIX + name}], "default": {}}
    return {**out, "description": description} if description else out


def _s(description: str = "", fmt: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", "default": ""}
    if fmt:
        out["format"] = fmt
    return {**out, "description": description} if description else out


def _int(description: str = "", fmt: str = "int32") -> dict[str, Any]:
    out: dict[str, Any] = {"type": "integer", "format": fmt}
    return {**out, "description": description} if description else out


def _list(items: dict[str, Any], description: str = "", **extensions: str) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "array", "items": items}
    out.update({f"x-kubernetes-{k.replace('_', '-')}": v for k, v in extensions.items()})
    return {**out, "description": description} if description else out


def _map(description: str = "") -> dict[str, Any]:
    out = {"type": "object", "additionalProperties": {"type": "string", "default": ""}}
    return {**out, "description": description} if description else out


def _obj(properties: Mapping[str, Any], description: str, required: tuple[str, ...] = (),
         gvk: Resource | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": description, "type": "object",
                           "properties": dict(properties)}
    if required:
        out["required"] = list(required)
    if gvk is not None:
        out["x-kubernetes-group-version-kind"] = [
            {"group": gvk.group, "kind": gvk.kind, "version": gvk.version}
        ]
    return out


def _type_meta() -> dict[str, Any]:
    return {"apiVersion": _s("Versioned schema of this representation of an object."),
            "kind": _s("REST resource this object represents.")}


def _meta_schemas() -> dict[str, Any]:
    atomic = {"list_type": "atomic"}
    return {
        _META + "ObjectMeta": _obj({
            "annotations": _map("Unstructured key value map set by external tools."),
            "creationTimestamp": _ref(_META + "Time", "When the server created the object."),
            "deletionGracePeriodSeconds": _int(fmt="int64"),
            "deletionTimestamp": _ref(_META + "Time"),
            "finalizers": _list({"type": "string", "default": ""}, list_type="set",
                                patch_strategy="merge"),
            "generateName": _s("A prefix the server completes into a unique name."),
            "generation": _int("The generation of the desired state.", "int64"),
            "labels": _map("Map of string keys and values to organize and select objects."),
            "managedFields": _list(_ref(_META + "ManagedFieldsEntry"), **atomic),
            "name": _s("Name, unique within a namespace."),
            "namespace": _s("The namespace the object lives in."),
            "ownerReferences": _list(_ref(_META + "OwnerReference"), list_type="map",
                                     list_map_keys=["uid"], patch_merge_key="uid",
                                     patch_strategy="merge"),
            "resourceVersion": _s("The version of the object, for optimistic concurrency."),
            "selfLink": _s("Deprecated."),
            "uid": _s("The unique identity of the object."),
        }, "Metadata of persisted resources."),
        _META + "ListMeta": _obj({
            "continue": _s(), "remainingItemCount": _int(fmt="int64"),
            "resourceVersion": _s(), "selfLink": _s(),
        }, "Metadata of lists."),
        _META + "ManagedFieldsEntry": _obj({
            "apiVersion": _s(), "fieldsType": _s(), "fieldsV1": _ref(_META + "FieldsV1"),
            "manager": _s(), "operation": _s(), "subresource": _s(),
            "time": _ref(_META + "Time"),
        }, "A workflow and the fields it manages."),
        _META + "OwnerReference": _obj({
            "apiVersion": _s(), "blockOwnerDeletion": {"type": "boolean"},
            "controller": {"type": "boolean"}, "kind": _s(), "name": _s(), "uid": _s(),
        }, "An owning object.", ("apiVersion", "kind", "name", "uid")),
        _META + "FieldsV1": {"description": "A set of fields.", "type": "object"},
        _META + "Time": {"description": "RFC 3339 time.", "type": "string",
                         "format": "date-time"},
        _META + "LabelSelector": _obj({
            "matchExpressions": _list(_ref(_META + "LabelSelectorRequirement"), **atomic),
            "matchLabels": _map("Each key=value pair must match a label."),
        }, "A label query; the empty selector matches everything.",
        ) | {"x-kubernetes-map-type": "atomic"},
        _META + "LabelSelectorRequirement": _obj({
            "key": _s("The label key."),
            "operator": _s("In, NotIn, Exists or DoesNotExist."),
            "values": _list({"type": "string", "default": ""}, **atomic),
        }, "One requirement of a label selector.", ("key", "operator")),
        _META + "Status": _obj({
            **_type_meta(), "code": _int(), "details": _ref(_META + "StatusDetails"),
            "message": _s(), "metadata": _ref(_META + "ListMeta"), "reason": _s(),
            "status": _s(),
        }, "The result of an operation that does not return an object."),
        _META + "StatusDetails": _obj({
            "causes": _list(_ref(_META + "StatusCause"), **atomic), "group": _s(),
            "kind": _s(), "name": _s(), "retryAfterSeconds": _int(), "uid": _s(),
        }, "Details of a Status."),
        _META + "StatusCause": _obj({"field": _s(), "message": _s(), "reason": _s()},
                                    "One cause of an error."),
        _META + "DeleteOptions": _obj({
            **_type_meta(), "dryRun": _list({"type": "string", "default": ""}, **atomic),
            "gracePeriodSeconds": _int(fmt="int64"),
            "preconditions": _ref(_META + "Preconditions"),
            "propagationPolicy": _s(),
        }, "Options of a delete."),
        _META + "Preconditions": _obj({"resourceVersion": _s(), "uid": _s()},
                                      "What must hold before a delete."),
        _META + "Patch": {"description": "A patch document.", "type": "object"},
        _META + "WatchEvent": _obj({"object": {"type": "object"}, "type": _s()},
                                   "One event of a watch.", ("type", "object")),
    }


def _policy_schemas(resource: Resource) -> dict[str, Any]:
    atomic = {"list_type": "atomic"}
    selector = _META + "LabelSelector"
    return {
        _NET + "NetworkPolicy": _obj({
            **_type_meta(), "metadata": _ref(_META + "ObjectMeta", "Standard object metadata."),
            "spec": _ref(_NET + "NetworkPolicySpec", "The desired behaviour of the policy."),
        }, "Which network traffic is allowed for a set of pods.", gvk=resource),
        _NET + "NetworkPolicyList": _obj({
            **_type_meta(), "items": _list(_ref(_NET + "NetworkPolicy")),
            "metadata": _ref(_META + "ListMeta"),
        }, "A list of NetworkPolicies.", ("items",)),
        _NET + "NetworkPolicySpec": _obj({
            "egress": _list(_ref(_NET + "NetworkPolicyEgressRule"),
                            "Allowed egress; none means the selected pods may send nothing "
                            "(when Egress is in policyTypes).", **atomic),
            "ingress": _list(_ref(_NET + "NetworkPolicyIngressRule"),
                             "Allowed ingress; none means the selected pods accept nothing "
                             "(when Ingress is in policyTypes).", **atomic),
            "podSelector": _ref(selector, "The pods the policy applies to, in its namespace; "
                                "empty selects all of them."),
            "policyTypes": _list({"type": "string", "default": "",
                                  "enum": ["Egress", "Ingress"]},
                                 "Ingress, Egress or both; defaults from the rules present.",
                                 **atomic),
        }, "The specification of a NetworkPolicy."),
        _NET + "NetworkPolicyIngressRule": _obj({
            "from": _list(_ref(_NET + "NetworkPolicyPeer"), "Sources; empty means all.",
                          **atomic),
            "ports": _list(_ref(_NET + "NetworkPolicyPort"), "Ports; empty means all.",
                           **atomic),
        }, "Traffic matching both ports and from is allowed."),
        _NET + "NetworkPolicyEgressRule": _obj({
            "ports": _list(_ref(_NET + "NetworkPolicyPort"), "Ports; empty means all.",
                           **atomic),
            "to": _list(_ref(_NET + "NetworkPolicyPeer"), "Destinations; empty means all.",
                        **atomic),
        }, "Traffic matching both ports and to is allowed."),
        _NET + "NetworkPolicyPeer": _obj({
            "ipBlock": _ref(_NET + "IPBlock", "A CIDR, with exceptions."),
            "namespaceSelector": _ref(selector, "Namespaces, by their labels."),
            "podSelector": _ref(selector, "Pods, by their labels."),
        }, "A peer: pods, namespaces, both (ANDed) or an IP block."),
        _NET + "NetworkPolicyPort": _obj({
            "endPort": _int("The last port of a range starting at port."),
            "port": {"allOf": [{"$ref": _PREFIX + "io.k8s.apimachinery.pkg.util.intstr."
                                "IntOrString"}], "description": "A number or a named port."},
            "protocol": _s("TCP (the default), UDP or SCTP."),
        }, "A port, or a range of ports, and its protocol."),
        _NET + "IPBlock": _obj({
            "cidr": _s("An IP block, e.g. 192.168.0.0/16."),
            "except": _list({"type": "string", "default": ""}, "Blocks inside cidr to leave "
                            "out.", **atomic),
        }, "A CIDR and the CIDRs excepted from it.", ("cidr",)),
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
            "description": "An int32 or a string.", "type": "string", "format": "int-or-string",
        },
    }


def _core_schemas(namespaces: Resource) -> dict[str, Any]:
    any_obj = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return {
        _CORE + "Namespace": _obj({
            **_type_meta(), "metadata": _ref(_META + "ObjectMeta"),
            "spec": _ref(_CORE + "NamespaceSpec"), "status": _ref(_CORE + "NamespaceStatus"),
        }, "A scope for names.", gvk=namespaces),
        _CORE + "NamespaceList": _obj({
            **_type_meta(), "items": _list(_ref(_CORE + "Namespace")),
            "metadata": _ref(_META + "ListMeta"),
        }, "A list of Namespaces.", ("items",)),
        _CORE + "NamespaceSpec": _obj({
            "finalizers": _list({"type": "string", "default": ""}, list_type="atomic"),
        }, "The attributes of a namespace."),
        _CORE + "NamespaceStatus": _obj({
            "conditions": _list(any_obj, list_type="map", list_map_keys=["type"]),
            "phase": _s("Active or Terminating."),
        }, "The status of a namespace."),
        _CORE + "Pod": _obj({
            **_type_meta(), "metadata": _ref(_META + "ObjectMeta"), "spec": any_obj,
            "status": any_obj,
        }, "A lab pod: a network namespace with an agent serving its ports."),
        _CORE + "PodList": _obj({
            **_type_meta(), "items": _list(_ref(_CORE + "Pod")),
            "metadata": _ref(_META + "ListMeta"),
        }, "A list of Pods.", ("items",)),
    }


def _param(name: str, where: str = "query", schema: dict[str, Any] | None = None) -> dict:
    return {"name": name, "in": where, "schema": schema or {"type": "string", "uniqueItems": True}}


_WRITE_PARAMS = [_param("dryRun"), _param("fieldManager"), _param("fieldValidation")]
_PATCH_TYPES = ("application/apply-patch+yaml", "application/json-patch+json",
                "application/merge-patch+json", "application/strategic-merge-patch+json")


def _operation(resource: Resource, action: str, schema: str, params: list[dict]) -> dict:
    verb = {"get": "read", "list": "list", "post": "create", "put": "replace",
            "patch": "patch", "delete": "delete", "deletecollection": "deleteCollection"}[action]
    ok = {"description": "OK", "content": {"application/json": {"schema": {"$ref":
          _PREFIX + schema}}}}
    op: dict[str, Any] = {
        "operationId": f"{verb}{resource.kind}",
        "parameters": params,
        "responses": {"200": ok, "401": {"description": "Unauthorized"}},
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": resource.group, "kind": resource.kind,
                                            "version": resource.version},
    }
    if action == "patch":
        body = {"schema": {"$ref": _PREFIX + _META + "Patch"}}
        op["requestBody"] = {"content": dict.fromkeys(_PATCH_TYPES, body), "required": True}
        op["parameters"] = [*params, *_WRITE_PARAMS, _param("force", schema={"type":
                            "boolean", "uniqueItems": True})]
    elif action in ("post", "put"):
        body = {"schema": {"$ref": _PREFIX + schema}}
        op["requestBody"] = {"content": {"*/*": body}, "required": True}
        op["parameters"] = [*params, *_WRITE_PARAMS]
    return op


def _paths(resource: Resource, schema: str) -> dict[str, Any]:
    base = f"/api/{resource.version}" if not resource.group else (
        f"/apis/{resource.group}/{resource.version}")
    ns = [_param("namespace", "path")] if resource.namespaced else []
    name = [*ns, _param("name", "path")]
    collection = (f"{base}/namespaces/{{namespace}}/{resource.plural}" if resource.namespaced
                  else f"{base}/{resource.plural}")
    verbs = set(resource.verbs)
    list_schema = schema + "List"
    paths: dict[str, Any] = {collection: {"get": _operation(resource, "list", list_schema, ns)}}
    if "create" in verbs:
        paths[collection]["post"] = _operation(resource, "post", schema, ns)
    item: dict[str, Any] = {"get": _operation(resource, "get", schema, name),
                            "put": _operation(resource, "put", schema, name),
                            "patch": _operation(resource, "patch", schema, name)}
    if "delete" in verbs:
        item["delete"] = _operation(resource, "delete", _META + "Status", name)
    paths[f"{collection}/{{name}}"] = item
    if resource.namespaced:
        paths[f"{base}/{resource.plural}"] = {"get": _operation(resource, "list", list_schema, [])}
    return paths


_SCHEMAS = {"NetworkPolicy": _NET + "NetworkPolicy", "Namespace": _CORE + "Namespace",
            "Pod": _CORE + "Pod"}


@cache
def _documents() -> dict[str, str]:
    by_gv: dict[str, dict[str, Any]] = {}
    for resource in RESOURCES:
        if resource.kind not in _SCHEMAS:
            continue
        gv = f"apis/{resource.group}/{resource.version}" if resource.group else "api/v1"
        doc = by_gv.setdefault(gv, {
            "openapi": "3.0.0",
            "info": {"title": "Kubernetes", "version": "v{}.{}.{}".format(*SERVER_VERSION)},
            "paths": {},
            "components": {"schemas": _meta_schemas()},
        })
        doc["paths"].update(_paths(resource, _SCHEMAS[resource.kind]))
        schemas = doc["components"]["schemas"]
        if resource.kind == "NetworkPolicy":
            schemas.update(_policy_schemas(resource))
        elif resource.kind == "Namespace":
            schemas.update(_core_schemas(resource))
    return {gv: json.dumps(doc, sort_keys=True) for gv, doc in by_gv.items()}


def openapi_index() -> dict[str, Any]:
    """`/openapi/v3`: each group-version's document, addressed by its hash."""
    paths = {}
    for gv, text in sorted(_documents().items()):
        digest = hashlib.sha512(text.encode()).hexdigest().upper()
        paths[gv] = {"serverRelativeURL": f"/openapi/v3/{gv}?hash={digest}"}
    return {"paths": paths}


def openapi_document(gv: str) -> str | None:
    """The JSON text of `/openapi/v3/<gv>` (e.g. `apis/networking.k8s.io/v1`), if served."""
    return _documents().get(gv)
