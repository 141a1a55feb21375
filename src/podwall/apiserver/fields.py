"""Field ownership (`metadata.managedFields`) and server-side apply (pure).

Every write records which manager set which fields, as the API server's field manager does:
`Update` entries for creates, updates and patches (a manager owns the leaves it changed and
others lose them), `Apply` entries for server-side apply. Apply merges the applied
configuration into the live object, removes the fields this manager applied before and no
longer applies (unless another manager owns them too), and refuses to change a field another
manager owns unless forced: 409 `Apply failed with 1 conflict: conflict with "M" using
networking.k8s.io/v1: .spec.ingress`.

Simplifications of structured-merge-diff, stated: field sets are the leaves reached through
maps; every list is atomic (true of all NetworkPolicy lists), and `podSelector` (a
LabelSelector, `structType=atomic`) is a leaf; no `.` entries are written. Fields the request
writes into managedFields itself are kept as written, as upstream does.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from podwall.apiserver.errors import ApiError

__all__ = [
    "ApplyConflict",
    "FieldPath",
    "apply_configuration",
    "default_manager",
    "leaves",
    "record_update",
]

FieldPath = tuple[str, ...]
_ATOMIC: Mapping[str, frozenset[FieldPath]] = {
    "NetworkPolicy": frozenset({("spec", "podSelector")}),
}
_SYSTEM_META = frozenset({
    "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
    "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds",
})
_TOP_SKIPPED = frozenset({"apiVersion", "kind", "status"})


class ApplyConflict(ApiError):
    code, reason = 409, "Conflict"

    def __init__(self, conflicts: list[tuple[str, FieldPath]], api_version: str) -> None:
        by_manager: dict[str, list[str]] = {}
        for manager, path in conflicts:
            by_manager.setdefault(manager, []).append(_render(path))
        if len(conflicts) == 1:
            manager, path = conflicts[0]
            text = (f'Apply failed with 1 conflict: conflict with "{manager}" using '
                    f"{api_version}: {_render(path)}")
        else:
            parts = [
                f'conflicts with "{m}" using {api_version}:\n' + "\n".join(f"- {p}" for p in ps)
                for m, ps in by_manager.items()
            ]
            text = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(parts)
        causes = [
            {"reason": "FieldManagerConflict",
             "message": f'conflict with "{manager}" using {api_version}', "field": _render(path)}
            for manager, path in conflicts
        ]
        super().__init__(text, {"causes": causes})


def _render(path: FieldPath) -> str:
    return "".join(f".{part}" for part in path)


def default_manager(user_agent: str) -> str:
    """The manager name upstream derives from a User-Agent: its product, up to the first /."""
    return (user_agent.split("/", 1)[0] or "unknown")[:128]


def leaves(obj: Mapping[str, Any], kind: str) -> set[FieldPath]:
    """The fields an object sets, as paths through maps (lists and atomic structs are leaves)."""
    atomic = _ATOMIC.get(kind, frozenset())
    out: set[FieldPath] = set()

    def walk(node: Mapping[str, Any], path: FieldPath) -> None:
        for key, value in node.items():
            here = (*path, key)
            if not path and key in _TOP_SKIPPED:
                continue
            if path == ("metadata",) and key in _SYSTEM_META:
                continue
            if isinstance(value, dict) and value and here not in atomic:
                walk(value, here)
            elif value is not None:
                out.add(here)

    walk(obj, ())
    return out


def _get(obj: Mapping[str, Any], path: FieldPath) -> Any:
    node: Any = obj
    for part in path:
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


_MISSING = object()


def _to_fields_v1(paths: Iterable[FieldPath]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(f"f:{part}", {})
    return tree


def _from_fields_v1(tree: Mapping[str, Any], prefix: FieldPath = ()) -> set[FieldPath]:
    out: set[FieldPath] = set()
    for key, sub in tree.items():
        if not key.startswith("f:"):
            continue
        path = (*prefix, key[2:])
        if isinstance(sub, dict) and any(k.startswith("f:") for k in sub):
            out |= _from_fields_v1(sub, path)
        else:
            out.add(path)
    return out


@dataclass(slots=True)
class _Entry:
    manager: str
    operation: str
    api_version: str
    time: str
    fields: set[FieldPath]

    @staticmethod
    def read(raw: Mapping[str, Any]) -> _Entry:
        return _Entry(
            str(raw.get("manager", "")), str(raw.get("operation", "Update")),
            str(raw.get("apiVersion", "")), str(raw.get("time", "")),
            _from_fields_v1(raw.get("fieldsV1") or {}),
        )

    def write(self) -> dict[str, Any]:
        return {
            "manager": self.manager, "operation": self.operation, "apiVersion": self.api_version,
            "time": self.time, "fieldsType": "FieldsV1", "fieldsV1": _to_fields_v1(self.fields),
        }


def _entries(obj: Mapping[str, Any] | None) -> list[_Entry]:
    raw = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    return [_Entry.read(e) for e in raw if isinstance(e, dict)]


def _with_entries(obj: dict[str, Any], entries: list[_Entry]) -> dict[str, Any]:
    kept = [e.write() for e in entries if e.fields]
    meta = {k: v for k, v in obj["metadata"].items() if k != "managedFields"}
    if kept:
        meta["managedFields"] = kept
    return {**obj, "metadata": meta}


def _changed(old: Mapping[str, Any] | None, new: Mapping[str, Any], kind: str) -> set[FieldPath]:
    before = leaves(old, kind) if old else set()
    after = leaves(new, kind)
    return {p for p in before | after if _get(old or {}, p) != _get(new, p)}


def record_update(
    old: Mapping[str, Any] | None,
    new: dict[str, Any],
    requested: Any,
    *,
    manager: str,
    kind: str,
    time: str,
) -> dict[str, Any]:
    """`new` with managedFields after an Update by `manager` (a create when `old` is None).
    `requested` is the managedFields the request itself carried, kept when it changed them."""
    if old is not None and requested is not None and requested != (
        old.get("metadata") or {}
    ).get("managedFields"):
        meta = {**new["metadata"], "managedFields": requested} if requested else {
            k: v for k, v in new["metadata"].items() if k != "managedFields"}
        return {**new, "metadata": meta}
    changed = _changed(old, new, kind)
    present = leaves(new, kind)
    entries = _entries(old)
    for entry in entries:
        entry.fields = (entry.fields - changed) & present
    mine = next((e for e in entries if (e.manager, e.operation) == (manager, "Update")), None)
    if mine is None:
        mine = _Entry(manager, "Update", new["apiVersion"], time, set())
        entries.append(mine)
    mine.fields |= changed & present
    mine.time = time
    return _with_entries(new, entries)


def _merge(live: Any, applied: Any, path: FieldPath, atomic: frozenset[FieldPath]) -> Any:
    if isinstance(live, dict) and isinstance(applied, dict) and path not in atomic:
        out = dict(live)
        for key, value in applied.items():
            out[key] = _merge(live.get(key), value, (*path, key), atomic)
        return out
    return copy.deepcopy(applied)


def _remove(obj: dict[str, Any], path: FieldPath) -> None:
    node: Any = obj
    for part in path[:-1]:
        node = node.get(part) if isinstance(node, dict) else None
    if isinstance(node, dict):
        node.pop(path[-1], None)


def apply_configuration(
    live: dict[str, Any] | None,
    applied: dict[str, Any],
    *,
    manager: str,
    kind: str,
    force: bool,
    time: str,
) -> dict[str, Any]:
    """Server-side apply of `applied` by `manager` onto `live` (None: the object is new):
    the merged object, with managedFields. ApplyConflict unless `force`."""
    atomic = _ATOMIC.get(kind, frozenset())
    mine_now = leaves(applied, kind)
    entries = _entries(live)
    conflicts: list[tuple[str, FieldPath]] = []
    for entry in entries:
        if (entry.manager, entry.operation) == (manager, "Apply"):
            continue
        for path in sorted(entry.fields & mine_now):
            if live is not None and _get(live, path) != _get(applied, path):
                if force:
                    entry.fields.discard(path)
                else:
                    conflicts.append((entry.manager, path))
    if conflicts:
        raise ApplyConflict(conflicts, applied.get("apiVersion", ""))
    mine = next((e for e in entries if (e.manager, e.operation) == (manager, "Apply")), None)
    merged = _merge(live or {}, applied, (), atomic)
    if mine is not None:
        others = set().union(*(e.fields for e in entries if e is not mine))
        for path in sorted(mine.fields - mine_now - others, reverse=True):
            _remove(merged, path)
    else:
        mine = _Entry(manager, "Apply", applied.get("apiVersion", ""), time, set())
        entries.append(mine)
    mine.fields, mine.time = mine_now, time
    merged.setdefault("metadata", {})
    return _with_entries(merged, entries)
