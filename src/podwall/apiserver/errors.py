"""The lab API's exception tree; each error carries its HTTP code and renders as a Status.

ApiError (a metav1.Status with status Failure; `code` and `reason` as apimachinery sets them)
├── BadRequest            400 BadRequest: undecodable body, bad selector, URL/body mismatch
├── Unauthorized          401 Unauthorized: a bearer token is required and was not sent
├── Forbidden             403 Forbidden: e.g. deleting `default` or a namespace of lab pods
├── NotFound              404 NotFound: `networkpolicies.networking.k8s.io "x" not found`
├── PathNotFound          404 NotFound: a URL nothing is served at
├── MethodNotSupported    405 MethodNotAllowed: creating or deleting the topology's pods
├── NotAcceptable         406 NotAcceptable: no representation the client accepts
├── Conflict              409 Conflict: a stale resourceVersion or a failed precondition
├── AlreadyExists         409 AlreadyExists
├── Expired               410 Expired: a resourceVersion older than the compacted history
├── UnsupportedMediaType  415 UnsupportedMediaType: a body or patch type not served
├── Invalid               422 Invalid: field errors, as `podwall validate` reports them
├── Unprocessable         422 Invalid: a patch that cannot apply (a failed JSON patch test)
└── TooLargeResourceVersion 504 Timeout: a resourceVersion the store has not reached

StoreError (the store's own failures, mapped to the above by the registry)
├── KeyExists, KeyNotFound, VersionConflict
└── Compacted             the events a watch asks for are gone
"""

from __future__ import annotations

from typing import Any

from podwall.validation import ErrorType, FieldError

__all__ = [
    "AlreadyExists",
    "ApiError",
    "BadRequest",
    "Compacted",
    "Conflict",
    "Expired",
    "Forbidden",
    "Invalid",
    "KeyExists",
    "KeyNotFound",
    "MethodNotSupported",
    "NotAcceptable",
    "NotFound",
    "PathNotFound",
    "StoreError",
    "TooLargeResourceVersion",
    "Unauthorized",
    "Unprocessable",
    "UnsupportedMediaType",
    "VersionConflict",
    "status_success",
]

# field.ErrorType -> the StatusCause type it travels as (apimachinery's CauseType strings).
_CAUSE_TYPES = {
    ErrorType.NOT_FOUND: "FieldValueNotFound",
    ErrorType.REQUIRED: "FieldValueRequired",
    ErrorType.DUPLICATE: "FieldValueDuplicate",
    ErrorType.INVALID: "FieldValueInvalid",
    ErrorType.NOT_SUPPORTED: "FieldValueNotSupported",
    ErrorType.FORBIDDEN: "FieldValueForbidden",
    ErrorType.TOO_LONG: "FieldValueTooLong",
    ErrorType.TOO_MANY: "FieldValueTooMany",
    ErrorType.INTERNAL: "InternalError",
    ErrorType.UNKNOWN_FIELD: "FieldValueInvalid",
}


class ApiError(Exception):
    """A request that fails; `status()` is the body the API server sends."""

    code = 500
    reason = "InternalError"

    def __init__(self, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
        }
        if self.details is not None:
            body["details"] = self.details
        body["code"] = self.code
        return body


def _details(group: str, resource: str, name: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if name:
        out["name"] = name
    if group:
        out["group"] = group
    out["kind"] = resource
    return out


def _qualified(group: str, resource: str) -> str:
    return f"{resource}.{group}" if group else resource


class BadRequest(ApiError):
    code, reason = 400, "BadRequest"


class Unauthorized(ApiError):
    code, reason = 401, "Unauthorized"

    def __init__(self) -> None:
        super().__init__("Unauthorized")


class Forbidden(ApiError):
    code, reason = 403, "Forbidden"

    def __init__(self, group: str, resource: str, name: str, why: str) -> None:
        super().__init__(
            f'{_qualified(group, resource)} "{name}" is forbidden: {why}',
            _details(group, resource, name),
        )


class NotFound(ApiError):
    code, reason = 404, "NotFound"

    def __init__(self, group: str, resource: str, name: str) -> None:
        super().__init__(
            f'{_qualified(group, resource)} "{name}" not found', _details(group, resource, name)
        )


class PathNotFound(ApiError):
    """A URL the server does not serve at all (apiserver's generic 404 body)."""

    code, reason = 404, "NotFound"

    def __init__(self) -> None:
        super().__init__("the server could not find the requested resource", {})


class MethodNotSupported(ApiError):
    code, reason = 405, "MethodNotAllowed"

    def __init__(self, group: str, resource: str, action: str) -> None:
        super().__init__(
            f'{action} is not supported on resources of kind "{_qualified(group, resource)}"',
            _details(group, resource),
        )


class NotAcceptable(ApiError):
    code, reason = 406, "NotAcceptable"


class Conflict(ApiError):
    code, reason = 409, "Conflict"

    def __init__(self, group: str, resource: str, name: str, why: str) -> None:
        super().__init__(
            f'Operation cannot be fulfilled on {_qualified(group, resource)} "{name}": {why}',
            _details(group, resource, name),
        )


class AlreadyExists(ApiError):
    code, reason = 409, "AlreadyExists"

    def __init__(self, group: str, resource: str, name: str) -> None:
        super().__init__(
            f'{_qualified(group, resource)} "{name}" already exists',
            _details(group, resource, name),
        )


class Expired(ApiError):
    code, reason = 410, "Expired"


class UnsupportedMediaType(ApiError):
    code, reason = 415, "UnsupportedMediaType"


class Unprocessable(ApiError):
    """A well-formed request the server cannot carry out (a patch that does not apply)."""

    code, reason = 422, "Invalid"


class Invalid(ApiError):
    """NewInvalid: every field error as a cause; the message aggregates them, repeats dropped."""

    code, reason = 422, "Invalid"

    def __init__(self, group: str, kind: str, name: str, errors: list[FieldError]) -> None:
        self.errors = errors
        qualified = f"{kind}.{group}" if group else kind
        rendered = list(dict.fromkeys(err.render() for err in errors))
        if not rendered:
            message = f'{qualified} "{name}" is invalid'
        elif len(rendered) == 1:
            message = f'{qualified} "{name}" is invalid: {rendered[0]}'
        else:
            message = f'{qualified} "{name}" is invalid: [{", ".join(rendered)}]'
        details = {"name": name, **({"group": group} if group else {}), "kind": kind}
        details["causes"] = [
            {"reason": _CAUSE_TYPES[err.type], "message": err.body(), "field": err.field}
            for err in errors
        ]
        super().__init__(message, details)


class TooLargeResourceVersion(ApiError):
    code, reason = 504, "Timeout"

    def __init__(self, asked: int, current: int) -> None:
        super().__init__(
            f"Too large resource version: {asked}, current: {current}",
            {
                "causes": [
                    {"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}
                ],
                "retryAfterSeconds": 1,
            },
        )


def status_success(group: str, resource: str, name: str, uid: str) -> dict[str, Any]:
    """What a delete answers for kinds that do not return the deleted object."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {**_details(group, resource, name), "uid": uid},
    }


class StoreError(Exception):
    pass


class KeyExists(StoreError):
    pass


class KeyNotFound(StoreError):
    pass


class VersionConflict(StoreError):
    pass


class Compacted(StoreError):
    def __init__(self, asked: int, oldest: int) -> None:
        super().__init__(f"too old resource version: {asked} ({oldest})")
        self.asked = asked
        self.oldest = oldest
