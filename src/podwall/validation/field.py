"""Field errors rendered byte for byte as apimachinery's `field.Error` renders them.

`FieldError.render()` mirrors `(*field.Error).Error()`: `<path>: <type>[: <value>][: <detail>]`,
with Go's value formatting (`%q` for strings, `%v` for numbers). `ObjectInvalid` wraps a list
the way kubectl prints a 422: `NetworkPolicy "ns/name" is invalid: ...`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ErrorType",
    "FieldError",
    "GoLiteral",
    "ObjectInvalid",
    "Path",
    "go_quote",
    "render_errors",
]


class ErrorType(StrEnum):
    """apimachinery's field.ErrorType, by its rendered name."""

    NOT_FOUND = "Not found"
    REQUIRED = "Required value"
    DUPLICATE = "Duplicate value"
    INVALID = "Invalid value"
    NOT_SUPPORTED = "Unsupported value"
    FORBIDDEN = "Forbidden"
    TOO_LONG = "Too long"
    TOO_MANY = "Too many"
    INTERNAL = "Internal error"
    TYPE_INVALID = "Invalid value"
    # Not an apimachinery type: the strict decoder's "unknown field" (rendered as kubectl does).
    UNKNOWN_FIELD = "Unknown field"


# Types whose rendering never shows the bad value.
_VALUELESS = {ErrorType.REQUIRED, ErrorType.FORBIDDEN, ErrorType.TOO_LONG, ErrorType.INTERNAL}


class Path:
    """A field path (`spec.ingress[0].from[1]`), built like apimachinery's field.Path."""

    __slots__ = ("_text",)

    def __init__(self, text: str = "") -> None:
        self._text = text

    def child(self, name: str) -> Path:
        return Path(f"{self._text}.{name}" if self._text else name)

    def index(self, i: int) -> Path:
        return Path(f"{self._text}[{i}]")

    def key(self, k: str) -> Path:
        return Path(f"{self._text}[{k}]")

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Path({self._text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Path) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)


@dataclass(frozen=True, slots=True)
class GoLiteral:
    """A bad value already formatted as Go would print it (e.g. a `%#v` slice)."""

    text: str


def go_quote(text: str) -> str:
    """Go's strconv.Quote for the strings that occur in manifests."""
    out = []
    for ch in text:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _render_value(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, GoLiteral):
        return value.text
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    return json.dumps(value, sort_keys=True)


@dataclass(frozen=True, slots=True)
class FieldError:
    type: ErrorType
    field: str
    bad_value: object = None
    detail: str = ""

    def body(self) -> str:
        """apimachinery's ErrorBody(): the message without the field path."""
        if self.type is ErrorType.UNKNOWN_FIELD:
            return f'unknown field "{self.field}"'
        if self.type in _VALUELESS:
            text = self.type.value
        else:
            text = f"{self.type.value}: {_render_value(self.bad_value)}"
        if self.detail:
            text += f": {self.detail}"
        return text

    def render(self) -> str:
        if self.type is ErrorType.UNKNOWN_FIELD:
            return self.body()
        return f"{self.field}: {self.body()}"

    def __str__(self) -> str:
        return self.render()

    # Constructors named as apimachinery's field package names them.
    @staticmethod
    def required(path: Path, detail: str = "") -> FieldError:
        return FieldError(ErrorType.REQUIRED, str(path), "", detail)

    @staticmethod
    def invalid(path: Path, value: object, detail: str) -> FieldError:
        return FieldError(ErrorType.INVALID, str(path), value, detail)

    @staticmethod
    def forbidden(path: Path, detail: str) -> FieldError:
        return FieldError(ErrorType.FORBIDDEN, str(path), "", detail)

    @staticmethod
    def not_supported(path: Path, value: object, supported: list[str]) -> FieldError:
        detail = "supported values: " + ", ".join(go_quote(s) for s in supported)
        return FieldError(ErrorType.NOT_SUPPORTED, str(path), value, detail)

    @staticmethod
    def duplicate(path: Path, value: object) -> FieldError:
        return FieldError(ErrorType.DUPLICATE, str(path), value, "")

    @staticmethod
    def too_long(path: Path, max_length: int) -> FieldError:
        return FieldError(
            ErrorType.TOO_LONG, str(path), "", f"may not be more than {max_length} bytes"
        )

    @staticmethod
    def too_many(path: Path, actual: int, max_items: int) -> FieldError:
        detail = f"must have at most {max_items} items"
        return FieldError(ErrorType.TOO_MANY, str(path), actual, detail)

    @staticmethod
    def unknown_field(path: Path) -> FieldError:
        return FieldError(ErrorType.UNKNOWN_FIELD, str(path))


def render_errors(kind: str, name: str, errors: list[FieldError]) -> str:
    """kubectl's rendering of a 422: one error inline, several as a bullet list."""
    head = f'{kind} "{name}" is invalid: '
    lines = list(dict.fromkeys(err.render() for err in errors))  # the aggregate drops repeats
    if len(lines) == 1:
        return head + lines[0]
    return head + "\n" + "\n".join(f"* {line}" for line in lines)


class ObjectInvalid(Exception):
    """An object failed decoding or validation; carries every error found."""

    def __init__(self, kind: str, name: str, errors: list[FieldError]) -> None:
        self.kind = kind
        self.name = name
        self.errors = errors
        super().__init__(render_errors(kind, name, errors))
