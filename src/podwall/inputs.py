"""Reading what kubectl prints: files, directories, stdin; YAML or JSON; documents and Lists.

This module owns the file-system edge. `read_documents` turns `-f` arguments into manifests,
flattening `kind: List` and typed lists (`PodList`, ...) whose items may lack kind and
apiVersion, exactly as `kubectl get ns,pods,networkpolicies -A -o yaml` prints them.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import yaml

from podwall.errors import InputError

__all__ = ["Document", "read_documents"]

_SUFFIXES = {".yaml", ".yml", ".json"}
# libyaml's loader when PyYAML was built with it: an order of magnitude faster on big dumps.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True, slots=True)
class Document:
    source: str  # file path (or "-"), and the document's position in it
    manifest: dict[str, Any]


def _parse(text: str, source: str) -> list[object]:
    stripped = text.lstrip()
    try:
        if stripped.startswith(("{", "[")):
            data = json.loads(text)
            return data if isinstance(data, list) else [data]
        return [doc for doc in yaml.load_all(text, Loader=_YAML_LOADER) if doc is not None]
    except json.JSONDecodeError as err:
        raise InputError(f"{source}: invalid JSON at line {err.lineno}: {err.msg}") from err
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(err, "problem", None) or str(err)
        raise InputError(f"{source}: invalid YAML{where}: {problem}") from err


def _flatten(doc: object, source: str) -> Iterator[Document]:
    if not isinstance(doc, Mapping):
        raise InputError(f"{source}: expected a Kubernetes object, found {type(doc).__name__}")
    kind = str(doc.get("kind", ""))
    if kind.endswith("List") and isinstance(doc.get("items"), list):
        item_kind = kind.removesuffix("List")
        for i, item in enumerate(doc["items"]):
            where = f"{source} items[{i}]"
            if isinstance(item, Mapping) and item_kind and "kind" not in item:
                item = {"kind": item_kind, "apiVersion": doc.get("apiVersion"), **item}
            yield from _flatten(item, where)
        return
    yield Document(source=source, manifest=dict(doc))


def _files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in _SUFFIXES)
    if path.is_file():
        return [path]
    raise InputError(f"{path}: no such file or directory")


def read_documents(paths: Sequence[str], stdin: TextIO | None = None) -> list[Document]:
    """Every object in every `-f` argument, in order."""
    documents: list[Document] = []
    for arg in paths:
        if arg == "-":
            sources = [("-", (stdin or sys.stdin).read())]
        else:
            sources = [(str(f), f.read_text(encoding="utf-8")) for f in _files(Path(arg))]
        for name, text in sources:
            parsed = _parse(text, name)
            for i, doc in enumerate(parsed):
                where = name if len(parsed) == 1 else f"{name} document {i + 1}"
                documents.extend(_flatten(doc, where))
    return documents
