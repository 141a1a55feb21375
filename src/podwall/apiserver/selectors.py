"""`labelSelector` and `fieldSelector` query parameters: parsing and matching, as apimachinery's
`labels.Parse` and `fields.ParseSelector` read them, and `metav1.FormatLabelSelector` printing.

Label syntax: comma-separated requirements, each `key`, `!key`, `key=v`, `key==v`, `key!=v`,
`key in (a,b)`, `key notin (a,b)`, `key>n` or `key<n`; keys and values are validated as label
keys and values. Field syntax: `path=v`, `path==v`, `path!=v`, with `\\` escaping `,`, `=`, `!`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from podwall.model import LabelSelector, SelectorOperator
from podwall.validation import is_qualified_name, is_valid_label_value

__all__ = [
    "FieldRequirement",
    "LabelRequirement",
    "SelectorError",
    "format_label_selector",
    "matches_fields",
    "matches_labels",
    "parse_field_selector",
    "parse_label_selector",
]


class SelectorError(ValueError):
    """A selector that does not parse; its text is the 400's message."""


@dataclass(frozen=True, slots=True)
class LabelRequirement:
    key: str
    operator: str  # exists | !exists | = | == | != | in | notin | gt | lt
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key, "")
        match self.operator:
            case "exists":
                return present
            case "!exists":
                return not present
            case "=" | "==" | "in":
                return present and value in self.values
            case "!=" | "notin":
                return not present or value not in self.values
            case "gt" | "lt":
                if not present or not re.fullmatch(r"-?\d+", value):
                    return False
                bound = int(self.values[0])
                return int(value) > bound if self.operator == "gt" else int(value) < bound
        return False

    def render(self) -> str:
        """labels.Requirement.String(): values sorted, sets in parentheses."""
        if self.operator == "exists":
            return self.key
        if self.operator == "!exists":
            return "!" + self.key
        values = ",".join(sorted(self.values))
        if self.operator in ("in", "notin"):
            return f"{self.key} {self.operator} ({values})"
        symbol = {"gt": ">", "lt": "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{values}"


_TOKEN = re.compile(r"\s*(!=|==|=|!|\(|\)|,|>|<|[^\s!=,()<>]+)")


def _tokens(text: str) -> list[str]:
    out, pos = [], 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        found = _TOKEN.match(text, pos)
        if found is None:  # pragma: no cover - the pattern accepts every character
            raise SelectorError(f"unable to parse requirement: {text[pos:]!r}")
        out.append(found.group(1))
        pos = found.end()
    return out


def _check_key(key: str) -> None:
    errors = is_qualified_name(key)
    if errors:
        raise SelectorError(f'key: Invalid value: "{key}": {"; ".join(errors)}')


def _check_value(key: str, index: int, value: str) -> None:
    errors = is_valid_label_value(value)
    if errors:
        raise SelectorError(
            f'values[{index}][{key}]: Invalid value: "{value}": {"; ".join(errors)}'
        )


def _requirement(tokens: list[str], i: int) -> tuple[int, LabelRequirement]:
    """One requirement from `tokens[i]` on (parseRequirement); its errors get wrapped."""
    negated = tokens[i] == "!"
    i += negated
    key = tokens[i] if i < len(tokens) else ""
    if not key or key in _SYMBOLS:
        raise SelectorError(f"found '{key or 'EOF'}', expected: identifier")
    _check_key(key)
    i += 1
    nxt = tokens[i] if i < len(tokens) else ","
    if negated or nxt == ",":
        return i, LabelRequirement(key, "!exists" if negated else "exists")
    if nxt in ("in", "notin"):
        i, values = _value_set(tokens, i + 1)
        for index, value in enumerate(values):
            _check_value(key, index, value)
        return i, LabelRequirement(key, nxt, values)
    if nxt not in ("=", "==", "!=", ">", "<"):
        raise SelectorError(f"found '{nxt}', expected: in, notin, =, ==, !=, gt, lt")
    value = tokens[i + 1] if i + 1 < len(tokens) and tokens[i + 1] != "," else ""
    op = {">": "gt", "<": "lt"}.get(nxt, nxt)
    if op in ("gt", "lt") and not re.fullmatch(r"-?\d+", value):
        raise SelectorError("for 'Gt', 'Lt' operators, the value must be an integer")
    if op not in ("gt", "lt"):
        _check_value(key, 0, value)
    return i + (2 if value else 1), LabelRequirement(key, op, (value,))


_SYMBOLS = ("!", "=", "==", "!=", "(", ")", ",", ">", "<")


def parse_label_selector(text: str) -> tuple[LabelRequirement, ...]:
    """labels.Parse: requirements in input order ("" selects everything)."""
    tokens = _tokens(text)
    out: list[LabelRequirement] = []
    i = 0
    while i < len(tokens):
        if tokens[i] in _SYMBOLS and tokens[i] != "!":
            raise SelectorError(
                f"found '{tokens[i]}', expected: !, identifier, or 'end of string'"
            )
        try:
            i, requirement = _requirement(tokens, i)
        except SelectorError as err:
            raise SelectorError(f"unable to parse requirement: {err}") from err
        out.append(requirement)
        if i < len(tokens):
            if tokens[i] != ",":
                raise SelectorError(f"found '{tokens[i]}', expected: ',' or 'end of string'")
            i += 1
            if i >= len(tokens) or (tokens[i] in _SYMBOLS and tokens[i] != "!"):
                found = tokens[i] if i < len(tokens) else ""
                raise SelectorError(f"found '{found}', expected: identifier after ','")
    return tuple(out)


def _value_set(tokens: list[str], i: int) -> tuple[int, tuple[str, ...]]:
    if i >= len(tokens) or tokens[i] != "(":
        raise SelectorError("found 'EOF', expected: '('")
    values: list[str] = []
    i += 1
    while i < len(tokens) and tokens[i] != ")":
        if tokens[i] == ",":
            if not values or tokens[i - 1] == ",":
                values.append("")
        else:
            values.append(tokens[i])
        i += 1
    if i >= len(tokens):
        raise SelectorError("found 'EOF', expected: ')'")
    return i + 1, tuple(values) or ("",)


def matches_labels(requirements: tuple[LabelRequirement, ...], labels: Mapping[str, str]) -> bool:
    return all(req.matches(labels) for req in requirements)


@dataclass(frozen=True, slots=True)
class FieldRequirement:
    field: str
    operator: str  # = | !=
    value: str


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, current, escaped = [], [], False
    for ch in text:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_field_selector(text: str) -> tuple[FieldRequirement, ...]:
    """fields.ParseSelector: `a=b,c!=d` (`==` is `=`)."""
    out: list[FieldRequirement] = []
    for term in _split_unescaped(text, ","):
        if not term:
            continue
        found = re.search(r"(?<!\\)(!=|==|=)", term)
        if found is None:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        op = "!=" if found.group(1) == "!=" else "="
        field, value = term[: found.start()], term[found.end() :]
        out.append(FieldRequirement(_unescape(field), op, _unescape(value)))
    return tuple(out)


def matches_fields(requirements: tuple[FieldRequirement, ...], fields: Mapping[str, str]) -> bool:
    return all(
        (fields.get(req.field, "") == req.value) == (req.operator == "=") for req in requirements
    )


def format_label_selector(selector: LabelSelector) -> str:
    """metav1.FormatLabelSelector: requirements sorted by key; `<none>` for the empty one."""
    reqs = [LabelRequirement(k, "=", (v,)) for k, v in selector.match_labels.items()]
    operators = {
        SelectorOperator.IN: "in",
        SelectorOperator.NOT_IN: "notin",
        SelectorOperator.EXISTS: "exists",
        SelectorOperator.DOES_NOT_EXIST: "!exists",
    }
    for expr in selector.match_expressions:
        reqs.append(LabelRequirement(expr.key, operators[expr.operator], expr.values))
    text = ",".join(r.render() for r in sorted(reqs, key=lambda r: r.key))
    return text or "<none>"
