"""The console's exception tree; each error carries the HTTP status the REST edge answers with.

ConsoleError (500: unexpected)
├── Unauthenticated   401  no session, bad token, wrong password
├── Forbidden         403  missing CSRF token, or a role too weak for the cluster
├── NotFound          404  no such cluster or user
├── Conflict          409  the name is taken
├── Unprocessable     422  a kubeconfig, context or YAML that cannot be used
├── TooManyRequests   429  too many failed logins for a username (with Retry-After)
└── BadGateway        502  a cluster that does not answer, or answers with a server error
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "BadGateway",
    "Conflict",
    "ConsoleError",
    "Forbidden",
    "NotFound",
    "TooManyRequests",
    "Unauthenticated",
    "Unprocessable",
]


class ConsoleError(Exception):
    """`extra` joins "detail" in the JSON body (e.g. every validation message); `headers` are
    sent with it (e.g. Retry-After)."""

    status = 500

    def __init__(self, message: str, *, extra: Mapping[str, Any] | None = None,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})


class Unauthenticated(ConsoleError):
    status = 401


class Forbidden(ConsoleError):
    status = 403


class NotFound(ConsoleError):
    status = 404


class Conflict(ConsoleError):
    status = 409


class Unprocessable(ConsoleError):
    status = 422


class TooManyRequests(ConsoleError):
    status = 429


class BadGateway(ConsoleError):
    status = 502
