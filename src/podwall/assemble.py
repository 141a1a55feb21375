"""From manifests to a Cluster: decode, default, validate, and fill in what kubectl would.

Pure: takes manifests, returns objects plus every notice, warning and error. Objects without a
namespace take the default one (`-n`, else `default`); a namespace that pods or policies use but
that is not declared is implied with only its `kubernetes.io/metadata.name` label, with a
warning. Kinds other than Namespace, Pod and NetworkPolicy are skipped with a notice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from podwall.decode import KINDS, Decoded, decode_object, object_name
from podwall.defaults import default_namespace, default_object
from podwall.model import Cluster, Namespace, NetworkPolicy, Pod
from podwall.validation import (
    FieldError,
    ObjectInvalid,
    validate_namespace,
    validate_network_policy,
    validate_pod,
)

__all__ = ["Loaded", "assemble", "build_cluster", "undeclared_namespace_warning"]


@dataclass(frozen=True, slots=True)
class Loaded:
    cluster: Cluster
    objects: tuple[Decoded, ...]  # every valid object, defaulted, in input order
    notices: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    invalid: tuple[ObjectInvalid, ...] = field(default=())


def _validator(strict_cidr: bool) -> Mapping[type, Callable[[Any], list[FieldError]]]:
    return {
        NetworkPolicy: lambda p: validate_network_policy(p, strict_cidr=strict_cidr),
        Pod: validate_pod,
        Namespace: validate_namespace,
    }


def _identity(obj: Decoded) -> tuple[str, str]:
    if isinstance(obj, Namespace):
        return ("Namespace", obj.name)
    return (type(obj).__name__, f"{obj.namespace}/{obj.name}")


def assemble(
    manifests: Sequence[tuple[str, Mapping[str, Any]]],
    default_ns: str = "default",
    strict_cidr: bool = True,
) -> Loaded:
    """`manifests` are (source, manifest) pairs, as `inputs.read_documents` yields them."""
    validators = _validator(strict_cidr)
    notices: list[str] = []
    warnings: list[str] = []
    invalid: list[ObjectInvalid] = []
    by_identity: dict[tuple[str, str], Decoded] = {}
    for source, manifest in manifests:
        kind = manifest.get("kind")
        if kind not in KINDS:
            notices.append(
                f"{source}: skipped {kind or 'an object without kind'} "
                f"{object_name(manifest, default_ns)!r} (podwall reads "
                "Namespace, Pod and NetworkPolicy)"
            )
            continue
        obj, errors = decode_object(manifest, default_ns)
        if obj is not None:
            obj = default_object(obj)
            errors = errors + validators[type(obj)](obj)
        if errors or obj is None:
            invalid.append(ObjectInvalid(str(kind), object_name(manifest, default_ns), errors))
            continue
        ident = _identity(obj)
        if ident in by_identity:
            warnings.append(f"{source}: {ident[0]} {ident[1]!r} is defined again; the last wins")
        by_identity[ident] = obj
    objects = tuple(by_identity.values())
    return Loaded(
        cluster=_cluster(objects, warnings),
        objects=objects,
        notices=tuple(notices),
        warnings=tuple(warnings),
        invalid=tuple(invalid),
    )


def build_cluster(objects: Sequence[Decoded]) -> tuple[Cluster, tuple[str, ...]]:
    """The Cluster of decoded, defaulted and valid objects, and its warnings (implied
    namespaces): for callers that decode objects one at a time, as the node agent does."""
    warnings: list[str] = []
    return _cluster(objects, warnings), tuple(warnings)


def undeclared_namespace_warning(name: str) -> str:
    """What assembling says of a namespace that objects use but no Namespace declares."""
    return (f"namespace {name!r} is used but not declared: assuming it has only "
            f"the label kubernetes.io/metadata.name={name}")


def _cluster(objects: Sequence[Decoded], warnings: list[str]) -> Cluster:
    namespaces = {o.name: o for o in objects if isinstance(o, Namespace)}
    pods = sorted((o for o in objects if isinstance(o, Pod)), key=lambda p: (p.namespace, p.name))
    policies = sorted(
        (o for o in objects if isinstance(o, NetworkPolicy)), key=lambda p: (p.namespace, p.name)
    )
    for name in sorted({o.namespace for o in (*pods, *policies)} - set(namespaces)):
        warnings.append(undeclared_namespace_warning(name))
        namespaces[name] = default_namespace(Namespace(name=name, implied=True))
    return Cluster(
        namespaces=tuple(namespaces[n] for n in sorted(namespaces)),
        pods=tuple(pods),
        policies=tuple(policies),
    )
