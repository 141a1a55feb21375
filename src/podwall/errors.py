"""podwall's exception tree; each error carries the exit code the CLI uses for it.

PodwallError (exit 2: the input or the request is wrong)
├── InputError        a file, document or argument cannot be read
└── InvalidObjects    objects failed decoding or validation (each an ObjectInvalid)
"""

from __future__ import annotations

from podwall.validation.field import ObjectInvalid

__all__ = ["EXIT_DENIED", "EXIT_OK", "EXIT_USAGE", "InputError", "InvalidObjects", "PodwallError"]

EXIT_OK = 0
EXIT_DENIED = 1  # `check`: the flow is denied; `validate`: some object is invalid
EXIT_USAGE = 2  # bad input or arguments


class PodwallError(Exception):
    exit_code = EXIT_USAGE


class InputError(PodwallError):
    pass


class InvalidObjects(PodwallError):
    def __init__(self, invalid: list[ObjectInvalid]) -> None:
        self.invalid = invalid
        super().__init__("\n".join(str(err) for err in invalid))
