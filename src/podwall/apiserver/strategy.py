"""Per-kind rules for writes: decode, default, validate, and shape the stored object (pure).

This is the API server's REST strategy in miniature, built on podwall's own input path, so a
422 carries exactly the causes `podwall validate` prints for the same object:
`decode.decode_object` (strict: unknown fields and wrong types), `defaults.default_object`,
then `validation.validate_*`. NetworkPolicies are stored as `encode.encode_object` writes
them (defaulted, Go's omitempty). The system metadata (uid, creationTimestamp, generation)
is set here; resourceVersion belongs to the store.

Updates validate as upstream's `rest.BeforeUpdate` does: the common ObjectMeta checks, the
immutable fields, then the kind's own update validation. Upstream runs some checks twice, so
a bad label appears several times in `details.causes` (kubectl prints it once), and so here.
Namespaces keep their spec and status on update and always carry
`kubernetes.io/metadata.name`; Pods (the lab's topology) may change labels and annotations only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from podwall.apiserver.errors import BadRequest, Invalid
from podwall.apiserver.resources import Resource
from podwall.decode import decode_object
from podwall.defaults import default_object
from podwall.encode import encode_object
from podwall.model import NAMESPACE_NAME_LABEL, Namespace, NetworkPolicy, Pod
from podwall.validation import (
    ErrorType,
    FieldError,
    Path,
    validate_annotations,
    validate_labels,
    validate_network_policy,
    validate_object_meta,
    validate_pod,
)
from podwall.validation.meta import name_is_dns_label, name_is_dns_subdomain

__all__ = [
    "FIELD_VALIDATION",
    "Prepared",
    "WriteContext",
    "check_type_meta",
    "prepare_create",
    "prepare_update",
    "timestamp",
]

FIELD_VALIDATION = ("Strict", "Warn", "Ignore")
_META = Path("metadata")
_USER_META = ("labels", "annotations")
_POD_SPEC_RULE = (
    "pod updates may not change fields other than `spec.containers[*].image`,"
    "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` "
    "(only additions to existing tolerations),`spec.terminationGracePeriodSeconds` "
    "(allow it to be set to 1 if it was previously negative)"
)


def timestamp(now: datetime) -> str:
    """metav1.Time as JSON: RFC 3339 in UTC, whole seconds."""
    return now.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteContext:
    """What a write needs from outside: the clock, fresh ids, and the request's options."""

    now: datetime
    uid: str
    name_suffix: str  # 5 characters appended to generateName
    strict_cidr: bool = True
    field_validation: str = "Strict"
    from_patch: bool = False


@dataclass(frozen=True, slots=True)
class Prepared:
    body: dict[str, Any]
    warnings: tuple[str, ...] = field(default=())


def check_type_meta(resource: Resource, body: Any, url_namespace: str) -> dict[str, Any]:
    """The body as an object of `resource`: kind and apiVersion filled in or checked, and its
    namespace the URL's (BadRequest otherwise, as the create and update handlers answer)."""
    if not isinstance(body, dict):
        raise BadRequest("the body of the request was in an unknown format")
    version = body.get("apiVersion") or resource.api_version
    if version != resource.api_version:
        raise BadRequest(
            f"the API version in the data ({version}) does not match the expected API version "
            f"({resource.api_version})"
        )
    kind = body.get("kind") or resource.kind
    if kind != resource.kind:
        raise BadRequest(
            f'{kind} in version "{resource.version}" cannot be handled as a {resource.kind}: '
            f'no kind "{kind}" is registered for version "{version}"'
        )
    meta = body.get("metadata")
    meta = dict(meta) if isinstance(meta, dict) else {}
    if resource.namespaced:
        namespace = meta.get("namespace") or url_namespace
        if namespace != url_namespace:
            raise BadRequest(
                "the namespace of the provided object does not match the namespace sent on "
                "the request"
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    return {**body, "apiVersion": version, "kind": kind, "metadata": meta}


def _decode(resource: Resource, body: dict[str, Any], ctx: WriteContext) -> tuple[Any, list[str]]:
    """The core object, or BadRequest for what the API server's decoder rejects."""
    obj, errors = decode_object(body, body["metadata"].get("namespace", ""))
    unknown = [e for e in errors if e.type is ErrorType.UNKNOWN_FIELD]
    wrong = [e for e in errors if e.type is not ErrorType.UNKNOWN_FIELD]
    prefix = "" if ctx.from_patch else (
        f'{resource.kind} in version "{resource.version}" cannot be handled as a '
        f"{resource.kind}: "
    )
    if wrong or obj is None:
        raise BadRequest(prefix + ", ".join(e.render() for e in wrong))
    messages = [e.render() for e in unknown]
    if messages and ctx.field_validation == "Strict":
        raise BadRequest(prefix + "strict decoding error: " + ", ".join(messages))
    return default_object(obj), messages if ctx.field_validation == "Warn" else []


def _user_meta(meta: dict[str, Any]) -> dict[str, Any]:
    return {k: dict(meta[k]) for k in _USER_META if meta.get(k)}


def _system_meta(resource: Resource, name: str, namespace: str, ctx: WriteContext) -> dict:
    meta: dict[str, Any] = {"name": name}
    if resource.namespaced:
        meta["namespace"] = namespace
    meta["uid"] = ctx.uid
    if resource.kind == "NetworkPolicy":
        meta["generation"] = 1
    meta["creationTimestamp"] = timestamp(ctx.now)
    return meta


def _policy_errors(policy: NetworkPolicy, ctx: WriteContext) -> list[FieldError]:
    return validate_network_policy(policy, strict_cidr=ctx.strict_cidr)


def _namespace_errors(namespace: Namespace, annotations: dict[str, str]) -> list[FieldError]:
    """ValidateNamespace: ObjectMeta of a cluster-scoped object (labels, then annotations)."""
    return validate_object_meta(
        name=namespace.name,
        labels=namespace.labels,
        annotations=annotations,
        name_fn=name_is_dns_label,
        requires_namespace=False,
    )


def prepare_create(resource: Resource, body: dict[str, Any], ctx: WriteContext) -> Prepared:
    """The object to store for a create; Invalid with every field error if it is not valid."""
    if resource.kind not in ("NetworkPolicy", "Namespace"):
        raise AssertionError(f"{resource.kind} is not created through the API")
    obj, warnings = _decode(resource, body, ctx)
    raw_meta = body["metadata"]
    annotations = dict(raw_meta.get("annotations") or {})
    if isinstance(obj, NetworkPolicy):
        errors = _policy_errors(obj, ctx)
    else:
        errors = _namespace_errors(obj, annotations)
    name = obj.name or (
        obj.generate_name[:58] + ctx.name_suffix if isinstance(obj, NetworkPolicy) else ""
    )
    if errors:
        raise Invalid(resource.group, resource.kind, name, errors)
    meta = _system_meta(resource, name, getattr(obj, "namespace", ""), ctx)
    if isinstance(obj, NetworkPolicy) and obj.generate_name:
        meta["generateName"] = obj.generate_name
    meta.update(_user_meta({"labels": obj.labels.to_dict(), "annotations": annotations}))
    stored = {"apiVersion": resource.api_version, "kind": resource.kind, "metadata": meta}
    if isinstance(obj, NetworkPolicy):
        stored["spec"] = encode_object(obj)["spec"]
    else:
        stored["spec"] = {"finalizers": ["kubernetes"]}
        stored["status"] = {"phase": "Active"}
    return Prepared(stored, tuple(warnings))


# Updates.
def _path_segment_name(name: str, prefix: bool) -> list[str]:
    """path.ValidatePathSegmentName, the name check of the common update validation."""
    if not prefix and name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


def _immutable(path: Path, new: Any, old: Any) -> list[FieldError]:
    return [] if new == old else [FieldError.invalid(path, new, "field is immutable")]


def _meta_update_errors(new: dict[str, Any], old: dict[str, Any]) -> list[FieldError]:
    """ValidateObjectMetaAccessorUpdate: immutable identity, then labels and annotations."""
    errs: list[FieldError] = []
    for key in ("name", "namespace", "uid", "creationTimestamp"):
        errs += _immutable(_META.child(key), new.get(key, ""), old.get(key, ""))
    errs += validate_labels(new.get("labels") or {}, _META.child("labels"))
    errs += validate_annotations(new.get("annotations") or {}, _META.child("annotations"))
    return errs


def _common_update_errors(
    resource: Resource, new: dict[str, Any], old: dict[str, Any]
) -> list[FieldError]:
    """rest.validateCommonFields: ValidateObjectMetaAccessor, then the update checks."""
    errs = validate_object_meta(
        name=new.get("name", ""),
        namespace=new.get("namespace", ""),
        labels=new.get("labels") or {},
        annotations=new.get("annotations") or {},
        name_fn=_path_segment_name,
        requires_namespace=resource.namespaced,
    )
    return errs + _meta_update_errors(new, old)


def _merged_meta(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The old system metadata with the new labels and annotations (uid kept if not sent)."""
    meta = {k: v for k, v in old.items() if k not in (*_USER_META, "resourceVersion")}
    if new.get("uid"):
        meta["uid"] = new["uid"]
    meta.update(_user_meta(new))
    return meta


def prepare_update(
    resource: Resource, old: dict[str, Any], body: dict[str, Any], ctx: WriteContext
) -> Prepared:
    """The object to store for an update of `old` to `body` (both whole objects)."""
    new_meta = {**body["metadata"], "creationTimestamp": old["metadata"]["creationTimestamp"]}
    new_meta.setdefault("uid", old["metadata"]["uid"])
    body = {**body, "metadata": new_meta}
    obj, warnings = _decode(resource, body, ctx)
    errors = _common_update_errors(resource, new_meta, old["metadata"])
    meta = _merged_meta(old["metadata"], new_meta)
    stored: dict[str, Any] = {"apiVersion": resource.api_version, "kind": resource.kind}
    if isinstance(obj, NetworkPolicy):
        own = _policy_errors(obj, ctx)
        update_errors = _meta_update_errors(new_meta, old["metadata"])
        errors += own + update_errors + [e for e in own if e.field.startswith("spec")]
        stored["spec"] = encode_object(obj)["spec"]
        if stored["spec"] != old.get("spec"):
            meta["generation"] = int(old["metadata"].get("generation", 1)) + 1
    elif isinstance(obj, Namespace):
        meta.setdefault("labels", {})[NAMESPACE_NAME_LABEL] = obj.name
        errors += _meta_update_errors({**new_meta, "labels": meta["labels"]}, old["metadata"])
        stored["spec"], stored["status"] = old.get("spec"), old.get("status")
    elif isinstance(obj, Pod):
        errors += _meta_update_errors(new_meta, old["metadata"])
        errors += validate_object_meta(
            name=obj.name,
            namespace=obj.namespace,
            labels=obj.labels,
            annotations=new_meta.get("annotations") or {},
            name_fn=name_is_dns_subdomain,
        )
        errors += [e for e in validate_pod(obj) if not e.field.startswith("metadata")]
        if body.get("spec") != old.get("spec"):
            errors.append(FieldError.forbidden(Path("spec"), _POD_SPEC_RULE))
        stored["spec"], stored["status"] = old.get("spec"), old.get("status")
    if errors:
        raise Invalid(resource.group, resource.kind, meta["name"], errors)
    stored["metadata"] = meta
    return Prepared({k: v for k, v in stored.items() if v is not None}, tuple(warnings))
