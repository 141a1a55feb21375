"""ObjectMeta, label and label-selector validation, as apimachinery performs it.

Ports of `apimachinery/pkg/api/validation/{objectmeta,generic}.go` (ValidateObjectMeta, the
name functions, ValidateAnnotations) and `apimachinery/pkg/apis/meta/v1/validation`
(ValidateLabels, ValidateLabelName, ValidateLabelSelector, ValidateLabelSelectorRequirement).

Go ranges over label and annotation maps in random order, so the API server's error order for
several bad keys varies from request to request; podwall iterates keys sorted, its
deterministic choice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from podwall.model import LabelSelector, Requirement, SelectorOperator
from podwall.validation.apimachinery import (
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_label_value,
)
from podwall.validation.field import FieldError, Path

__all__ = [
    "TOTAL_ANNOTATION_SIZE_LIMIT_B",
    "NameFunc",
    "generated_name",
    "name_is_dns_label",
    "name_is_dns_subdomain",
    "validate_annotations",
    "validate_label_name",
    "validate_label_selector",
    "validate_label_selector_requirement",
    "validate_labels",
    "validate_namespace_name",
    "validate_object_meta",
]

TOTAL_ANNOTATION_SIZE_LIMIT_B = 256 * (1 << 10)  # 256 kB

# apiserver's names.SimpleNameGenerator: generateName[:58] + 5 random characters.
_MAX_GENERATED_NAME_LENGTH = 63 - 5
_GENERATED_SUFFIX = "xxxxx"  # deterministic stand-in for the 5 random characters

NameFunc = Callable[[str, bool], list[str]]
"""ValidateNameFunc: (name, prefix) -> messages; prefix means a suffix will be appended."""


def _mask_trailing_dash(name: str) -> str:
    # generic.go maskTrailingDash: `name[:len(name)-2] + "a"` (yes, drops two characters).
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_is_dns_subdomain(name: str, prefix: bool) -> list[str]:
    return is_dns1123_subdomain(_mask_trailing_dash(name) if prefix else name)


def name_is_dns_label(name: str, prefix: bool) -> list[str]:
    return is_dns1123_label(_mask_trailing_dash(name) if prefix else name)


validate_namespace_name: NameFunc = name_is_dns_label


def generated_name(generate_name: str) -> str:
    """The name the API server generates from generateName before validating (BeforeCreate).

    Upstream appends 5 random characters from "bcdfghjklmnpqrstvwxz2456789"; podwall appends
    "xxxxx" so that output stays deterministic.
    """
    base = generate_name.encode("utf-8")[:_MAX_GENERATED_NAME_LENGTH].decode("utf-8", "ignore")
    return base + _GENERATED_SUFFIX


def validate_label_name(name: str, path: Path) -> list[FieldError]:
    return [FieldError.invalid(path, name, msg) for msg in is_qualified_name(name)]


def validate_labels(labels: Mapping[str, str], path: Path) -> list[FieldError]:
    """ValidateLabels: each key's errors, then its value's, keys in sorted order."""
    errs: list[FieldError] = []
    for key in sorted(labels):
        errs += validate_label_name(key, path)
        value = labels[key]
        errs += [FieldError.invalid(path, value, msg) for msg in is_valid_label_value(value)]
    return errs


def validate_annotations(annotations: Mapping[str, str], path: Path) -> list[FieldError]:
    """ValidateAnnotations: keys are qualified names compared in lower case; total size."""
    errs: list[FieldError] = []
    for key in sorted(annotations):
        # "The rule is QualifiedName except that case doesn't matter, so convert to lowercase
        # before checking." The error still shows the key as written.
        errs += [FieldError.invalid(path, key, msg) for msg in is_qualified_name(key.lower())]
    size = sum(len(k.encode("utf-8")) + len(v.encode("utf-8")) for k, v in annotations.items())
    if size > TOTAL_ANNOTATION_SIZE_LIMIT_B:
        errs.append(FieldError.too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT_B))
    return errs


def validate_label_selector_requirement(
    req: Requirement, path: Path, *, allow_invalid_label_value: bool = False
) -> list[FieldError]:
    errs: list[FieldError] = []
    if req.operator in (SelectorOperator.IN, SelectorOperator.NOT_IN):
        if not req.values:
            detail = "must be specified when `operator` is 'In' or 'NotIn'"
            errs.append(FieldError.required(path.child("values"), detail))
    elif req.operator in (SelectorOperator.EXISTS, SelectorOperator.DOES_NOT_EXIST):
        if req.values:
            detail = "may not be specified when `operator` is 'Exists' or 'DoesNotExist'"
            errs.append(FieldError.forbidden(path.child("values"), detail))
    else:
        detail = "not a valid selector operator"
        errs.append(FieldError.invalid(path.child("operator"), req.operator, detail))
    errs += validate_label_name(req.key, path.child("key"))
    if not allow_invalid_label_value:
        for i, value in enumerate(req.values):
            value_path = path.child("values").index(i)
            errs += [FieldError.invalid(value_path, value, m) for m in is_valid_label_value(value)]
    return errs


def validate_label_selector(
    selector: LabelSelector | None, path: Path, *, allow_invalid_label_value: bool = False
) -> list[FieldError]:
    """ValidateLabelSelector; None (an absent selector) is valid."""
    if selector is None:
        return []
    errs = validate_labels(selector.match_labels, path.child("matchLabels"))
    for i, req in enumerate(selector.match_expressions):
        errs += validate_label_selector_requirement(
            req,
            path.child("matchExpressions").index(i),
            allow_invalid_label_value=allow_invalid_label_value,
        )
    return errs


def validate_object_meta(
    *,
    name: str,
    name_fn: NameFunc,
    namespace: str = "",
    generate_name: str = "",
    labels: Mapping[str, str] | None = None,
    annotations: Mapping[str, str] | None = None,
    requires_namespace: bool = True,
    path: Path | None = None,
) -> list[FieldError]:
    """ValidateObjectMeta on create, for the metadata fields podwall models.

    As on the API server, a name is generated from generateName first (see `generated_name`)
    when name is empty. Owner references, finalizers and managedFields are not modelled.
    """
    path = path or Path("metadata")
    errs: list[FieldError] = []
    if generate_name:
        for msg in name_fn(generate_name, True):
            errs.append(FieldError.invalid(path.child("generateName"), generate_name, msg))
        name = name or generated_name(generate_name)
    if not name:
        errs.append(FieldError.required(path.child("name"), "name or generateName is required"))
    else:
        errs += [FieldError.invalid(path.child("name"), name, m) for m in name_fn(name, False)]
    errs += _validate_namespace_field(namespace, requires_namespace, path.child("namespace"))
    errs += validate_labels(labels or {}, path.child("labels"))
    errs += validate_annotations(annotations or {}, path.child("annotations"))
    return errs


def _validate_namespace_field(namespace: str, required: bool, path: Path) -> list[FieldError]:
    if not required:
        # "TODO(thockin): change to "may not be specified on this type" or something"
        return [FieldError.forbidden(path, "not allowed on this type")] if namespace else []
    if not namespace:
        return [FieldError.required(path)]
    return [
        FieldError.invalid(path, namespace, m) for m in validate_namespace_name(namespace, False)
    ]
