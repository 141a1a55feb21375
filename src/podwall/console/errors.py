"""The console's exception tree; each error carries the HTTP status the REST edge answers with.

ConsoleError (500: unexpected)
├── Unauthenticated   401  no session, bad token, wrong password
├── Forbidden         403  missing CSRF token, or a role too weak for the cluster
├── NotFound          404  no such cluster or user
├── Conflict          409  the name is taken
└── Unprocessable     422  a kubeconfig, context or YAML that cannot be used
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "ConsoleError",
    "Forbidden",
    "NotFound",
    "Unauthenticated",
    "Unprocessable",
]


class ConsoleError(Exception):
    status = 500


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
