"""The query parameters of reads and writes: selectors, resourceVersion, limit/continue,
fieldValidation, dryRun, force and the field manager, parsed once at the edge.

Parsing errors are 400 BadRequest, worded as the API server words them.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from podwall.apiserver.errors import BadRequest, Conflict
from podwall.apiserver.fields import default_manager
from podwall.apiserver.resources import Resource
from podwall.apiserver.selectors import (
    FieldRequirement,
    LabelRequirement,
    SelectorError,
    matches_fields,
    matches_labels,
    parse_field_selector,
    parse_label_selector,
)
from podwall.apiserver.strategy import FIELD_VALIDATION

__all__ = [
    "ListOptions",
    "WriteOptions",
    "check_preconditions",
    "decode_continue",
    "encode_continue",
    "parse_bool",
    "parse_rv",
]


def parse_bool(value: str | None) -> bool:
    """A boolean query parameter, as Go's strconv.ParseBool reads the true ones."""
    return value in ("1", "t", "T", "true", "TRUE", "True")


def parse_rv(text: str, what: str = "resourceVersion") -> int:
    """A resourceVersion as the store's integer; BadRequest for anything else."""
    if not text.isdigit():
        raise BadRequest(f'{what}: Invalid value: "{text}": must be a valid resource version')
    return int(text)



@dataclass(frozen=True, slots=True, kw_only=True)
class ListOptions:
    labels: tuple[LabelRequirement, ...] = ()
    fields: tuple[FieldRequirement, ...] = ()
    resource_version: str = ""
    resource_version_match: str = ""
    limit: int = 0
    continue_token: str = ""

    @staticmethod
    def parse(resource: Resource, query: dict[str, str]) -> ListOptions:
        """From the request's query; BadRequest for a selector that does not parse."""
        try:
            labels = parse_label_selector(query.get("labelSelector", ""))
            fields = parse_field_selector(query.get("fieldSelector", ""))
        except SelectorError as err:
            raise BadRequest(str(err)) from err
        for req in fields:
            problem = resource.check_field_label(req.field)
            if problem:
                raise BadRequest(problem)
        limit = query.get("limit", "0") or "0"
        if not limit.lstrip("-").isdigit():
            raise BadRequest(f'invalid limit: "{limit}"')
        return ListOptions(
            labels=labels,
            fields=fields,
            resource_version=query.get("resourceVersion", ""),
            resource_version_match=query.get("resourceVersionMatch", ""),
            limit=max(0, int(limit)),
            continue_token=query.get("continue", ""),
        )

    def matches(self, resource: Resource, obj: dict[str, Any]) -> bool:
        """Whether `obj` passes the label and field selectors."""
        labels = (obj.get("metadata") or {}).get("labels") or {}
        return matches_labels(self.labels, labels) and matches_fields(
            self.fields, resource.field_set(obj)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class WriteOptions:
    field_validation: str = "Warn"
    dry_run: bool = False
    force: bool = False
    field_manager: str = ""

    @staticmethod
    def parse(query: dict[str, str], user_agent: str | None = None) -> WriteOptions:
        """From the query; given a User-Agent, the field manager defaults to its product."""
        validation = query.get("fieldValidation") or "Warn"
        if validation not in FIELD_VALIDATION:
            raise BadRequest(
                f'fieldValidation: Unsupported value: "{validation}": supported values: '
                '"Ignore", "Strict", "Warn"'
            )
        dry_run = query.get("dryRun", "")
        if dry_run not in ("", "All"):
            raise BadRequest(f'dryRun: Unsupported value: "{dry_run}": supported values: "All"')
        return WriteOptions(
            field_validation=validation,
            dry_run=dry_run == "All",
            force=parse_bool(query.get("force")),
            field_manager=query.get("fieldManager", "")
            or (default_manager(user_agent) if user_agent is not None else ""),
        )


def encode_continue(rv: int, last: tuple[str, str]) -> str:
    """A `continue` token: the list's resourceVersion and the last (namespace, name) returned."""
    token = json.dumps({"rv": rv, "start": list(last)})
    return base64.urlsafe_b64encode(token.encode()).decode()


def decode_continue(token: str) -> tuple[int, tuple[str, str]]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        namespace, name = data["start"]
        return int(data["rv"]), (str(namespace), str(name))
    except (ValueError, KeyError, TypeError) as err:
        raise BadRequest(f"continue key is not valid: {err}") from err


def check_preconditions(resource: Resource, old: dict[str, Any], pre: dict[str, Any]) -> None:
    """DeleteOptions.preconditions, failing as the storage layer words it."""
    meta = old["metadata"]
    key = "/".join(p for p in ("/registry", resource.plural, meta.get("namespace"), meta["name"])
                   if p)
    checks = (("UID", "uid", meta.get("uid")),
              ("ResourceVersion", "resourceVersion", meta["resourceVersion"]))
    for field, key_name, have in checks:
        want = pre.get(key_name)
        if want is not None and str(want) != str(have):
            raise Conflict(
                resource.group, resource.plural, meta["name"],
                f"StorageError: invalid object, Code: 4, Key: {key}, ResourceVersion: 0, "
                f"AdditionalErrorMsg: Precondition failed: {field} in precondition: {want}, "
                f"{field} in object meta: {have}",
            )
