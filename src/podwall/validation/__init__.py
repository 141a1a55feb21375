"""Validation exactly as the Kubernetes API server performs it, rendered byte for byte.

`field` owns FieldError and its rendering; `apimachinery` the string and IP/CIDR checks;
`meta` ObjectMeta, labels and selectors; `networkpolicy` and `workloads` the objects.
"""

from podwall.validation.apimachinery import (
    IPNet,
    is_dns1123_label,
    is_dns1123_subdomain,
    is_qualified_name,
    is_valid_cidr_for_legacy_field,
    is_valid_ip_for_legacy_field,
    is_valid_label_value,
    is_valid_port_name,
    is_valid_port_num,
    parse_cidr_sloppy,
    parse_ip_sloppy,
)
from podwall.validation.field import (
    ErrorType,
    FieldError,
    GoLiteral,
    ObjectInvalid,
    Path,
    go_quote,
    render_errors,
)
from podwall.validation.meta import (
    generated_name,
    validate_annotations,
    validate_label_name,
    validate_label_selector,
    validate_labels,
    validate_object_meta,
)
from podwall.validation.networkpolicy import validate_network_policy
from podwall.validation.workloads import validate_namespace, validate_pod

__all__ = [
    "ErrorType",
    "FieldError",
    "GoLiteral",
    "IPNet",
    "ObjectInvalid",
    "Path",
    "generated_name",
    "go_quote",
    "is_dns1123_label",
    "is_dns1123_subdomain",
    "is_qualified_name",
    "is_valid_cidr_for_legacy_field",
    "is_valid_ip_for_legacy_field",
    "is_valid_label_value",
    "is_valid_port_name",
    "is_valid_port_num",
    "parse_cidr_sloppy",
    "parse_ip_sloppy",
    "render_errors",
    "validate_annotations",
    "validate_label_name",
    "validate_label_selector",
    "validate_labels",
    "validate_namespace",
    "validate_network_policy",
    "validate_object_meta",
    "validate_pod",
]
