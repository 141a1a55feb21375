"""The three patch types a PATCH request may carry, applied to JSON documents (pure).

- JSON merge patch (RFC 7386, `application/merge-patch+json`): maps merge, null deletes, any
  other value (lists included) replaces. `kubectl label` and `annotate` send these.
- JSON patch (RFC 6902, `application/json-patch+json`): add, remove, replace, move, copy, test.
- Strategic merge patch (`application/strategic-merge-patch+json`), as `kubectl apply` sends
  it: a merge patch where the lists the real Go types tag `patchStrategy:"merge"` merge by
  their `patchMergeKey` (or as sets, for lists of scalars), with the directives `$patch`
  (replace, merge, delete), `$retainKeys`, `$setElementOrder/<list>` and
  `$deleteFromPrimitiveList/<list>`. Every other list is atomic and replaced whole, which is
  how all NetworkPolicy lists behave (`+listType=atomic`).

Errors raise PatchError (`status` 400 for a malformed patch, 422 for one that cannot apply).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "MERGE_KEYS",
    "PatchError",
    "apply_json_patch",
    "apply_merge_patch",
    "apply_patch",
    "apply_strategic_merge_patch",
]

# kind -> {field path (list indices as "*"): merge key ("" = a set of scalars)}.
_META_KEYS = {"metadata.finalizers": "", "metadata.ownerReferences": "uid"}
_CONTAINER_KEYS = {"ports": "containerPort", "env": "name", "volumeMounts": "mountPath"}
MERGE_KEYS: Mapping[str, Mapping[str, str]] = {
    "NetworkPolicy": _META_KEYS,
    "Namespace": _META_KEYS,
    "Pod": {
        **_META_KEYS,
        "spec.containers": "name",
        "spec.initContainers": "name",
        "spec.ephemeralContainers": "name",
        **{f"spec.containers.*.{k}": v for k, v in _CONTAINER_KEYS.items()},
        **{f"spec.initContainers.*.{k}": v for k, v in _CONTAINER_KEYS.items()},
        "spec.volumes": "name",
        "spec.imagePullSecrets": "name",
        "spec.hostAliases": "ip",
        "status.conditions": "type",
        "status.podIPs": "ip",
        "status.hostIPs": "ip",
    },
}

_PATCH = "$patch"
_RETAIN = "$retainKeys"
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"


class PatchError(ValueError):
    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def apply_patch(doc: dict[str, Any], patch_type: str, patch: Any, kind: str) -> dict[str, Any]:
    """`patch` of `patch_type` (json, merge or strategic) applied to `doc`, which must remain
    an object with metadata."""
    if patch_type == "json":
        result = apply_json_patch(doc, patch)
    elif patch_type == "merge":
        if not isinstance(patch, dict):
            raise PatchError("the patch is not a JSON object", 400)
        result = apply_merge_patch(doc, patch)
    else:
        result = apply_strategic_merge_patch(doc, patch, kind)
    if not isinstance(result, dict) or not isinstance(result.get("metadata"), dict):
        raise PatchError("the patched object is not a Kubernetes object", 400)
    return result


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 MergePatch(target, patch)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = apply_merge_patch(out.get(key), value)
    return out


# JSON patch.
def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"JSON pointer {path!r} must start with /", 400)
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _container(doc: Any, parts: list[str], path: str) -> Any:
    node = doc
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise PatchError(f"doc is missing path: {path!r}")
    return node


def _index(node: list[Any], part: str, path: str, adding: bool) -> int:
    if adding and part == "-":
        return len(node)
    if not part.isdigit() or int(part) > len(node) - (0 if adding else 1):
        raise PatchError(f"doc is missing path: {path!r}: index out of range")
    return int(part)


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    return _container(doc, parts, path) if parts else doc


def _add(doc: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent = _container(doc, parts[:-1], path)
    if isinstance(parent, dict):
        parent[parts[-1]] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, parts[-1], path, True), value)
    else:
        raise PatchError(f"doc is missing path: {path!r}")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    parts = _pointer(path)
    if not parts:
        raise PatchError("cannot remove the whole document")
    parent = _container(doc, parts[:-1], path)
    if isinstance(parent, dict) and parts[-1] in parent:
        return doc, parent.pop(parts[-1])
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, parts[-1], path, False))
    raise PatchError(f"doc is missing path: {path!r}")


def apply_json_patch(doc: Any, patch: Any) -> Any:
    """RFC 6902 on a copy of `doc`; any failing operation fails the whole patch."""
    if not isinstance(patch, list):
        raise PatchError("json: cannot unmarshal object into Go value of type jsonpatch.Patch", 400)
    doc = copy.deepcopy(doc)
    for op in patch:
        if not isinstance(op, dict) or "op" not in op:
            raise PatchError("Unexpected kind: missing op", 400)
        kind, path = op["op"], op.get("path", "")
        if kind in ("add", "replace", "test") and "value" not in op:
            raise PatchError(f"missing value for {kind} operation", 400)
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            doc, _ = _remove(doc, path)
        elif kind == "replace":
            _get(doc, path)
            doc, _ = _remove(doc, path) if _pointer(path) else (doc, None)
            doc = _add(doc, path, copy.deepcopy(op["value"]))
        elif kind in ("move", "copy"):
            value = copy.deepcopy(_get(doc, op.get("from", "")))
            if kind == "move":
                doc, value = _remove(doc, op.get("from", ""))
            doc = _add(doc, path, value)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise PatchError(f"testing value {path} failed")
        else:
            raise PatchError(f"Unexpected kind: {kind}", 400)
    return doc


# Strategic merge patch.
def apply_strategic_merge_patch(doc: Any, patch: Any, kind: str) -> Any:
    """StrategicMergePatch(doc, patch) with the merge keys of `kind`'s Go types."""
    if not isinstance(patch, dict):
        raise PatchError("unable to unmarshal the patch into a map", 400)
    base = copy.deepcopy(doc) if isinstance(doc, dict) else {}
    return _merge_map(base, patch, MERGE_KEYS.get(kind, {}), "")


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _merge_map(
    doc: dict[str, Any], patch: dict[str, Any], keys: Mapping[str, str], path: str
) -> dict[str, Any]:
    directive = patch.get(_PATCH)
    if directive == "replace":
        return _strip({k: v for k, v in patch.items() if k != _PATCH})
    if directive == "delete":
        return {}
    if directive not in (None, "merge"):
        raise PatchError(f"Unknown patch type: {directive}, expected replace or delete", 400)
    for key, value in patch.items():
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE) :]
            if isinstance(doc.get(field), list):
                doc[field] = [v for v in doc[field] if v not in (value or [])]
    for key, value in patch.items():
        if key in (_PATCH, _RETAIN) or key.startswith((_ORDER, _DELETE_PRIMITIVE)):
            continue
        field_path = _child(path, key)
        if value is None:
            doc.pop(key, None)
        elif isinstance(value, dict) and isinstance(doc.get(key), dict):
            doc[key] = _merge_map(doc[key], value, keys, field_path)
        elif isinstance(value, list) and field_path in keys:
            doc[key] = _merge_list(doc.get(key) or [], value, keys, field_path)
        else:
            doc[key] = _strip(value)
    for key, order in patch.items():
        if key.startswith(_ORDER) and isinstance(doc.get(key[len(_ORDER) :]), list):
            field = key[len(_ORDER) :]
            doc[field] = _ordered(doc[field], order, keys.get(_child(path, field), ""))
    if isinstance(patch.get(_RETAIN), list):
        retained = set(patch[_RETAIN])
        doc = {k: v for k, v in doc.items() if k in retained}
    return doc


def _merge_list(
    doc: list[Any], patch: list[Any], keys: Mapping[str, str], path: str
) -> list[Any]:
    merge_key = keys[path]
    if not merge_key:  # a set of scalars: union, in patch order after the existing ones
        out = list(doc)
        for item in patch:
            if isinstance(item, dict) and item.get(_PATCH) == "replace":
                return []
            if item not in out:
                out.append(item)
        return out
    if any(isinstance(item, dict) and item.get(_PATCH) == "replace" for item in patch):
        return [_strip(i) for i in patch if not (isinstance(i, dict) and _PATCH in i)]
    out = [copy.deepcopy(i) for i in doc]
    item_path = path + ".*"
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise PatchError(f"map: {item} does not contain declared merge key: {merge_key}")
        found = next(
            (i for i, cur in enumerate(out) if isinstance(cur, dict)
             and cur.get(merge_key) == item[merge_key]),
            None,
        )
        if item.get(_PATCH) == "delete":
            if found is not None:
                out.pop(found)
        elif found is None:
            out.append(_strip(item))
        else:
            out[found] = _merge_map(out[found], item, keys, item_path)
    return out


def _ordered(items: list[Any], order: Any, merge_key: str) -> list[Any]:
    """$setElementOrder: the listed elements in that order, then any others as they were."""
    if not isinstance(order, list):
        return items

    def ident(item: Any) -> Any:
        return json.dumps(item.get(merge_key) if merge_key and isinstance(item, dict) else item)

    rank = {ident(o): i for i, o in enumerate(order)}
    listed = sorted((i for i in items if ident(i) in rank), key=lambda i: rank[ident(i)])
    return listed + [i for i in items if ident(i) not in rank]


def _strip(value: Any) -> Any:
    """A patch value without its directives, as it is stored."""
    if isinstance(value, dict):
        return {
            k: _strip(v)
            for k, v in value.items()
            if v is not None and k not in (_PATCH, _RETAIN)
            and not k.startswith((_ORDER, _DELETE_PRIMITIVE))
        }
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value
