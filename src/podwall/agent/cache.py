"""The agent's copy of the API's Namespaces, Pods and NetworkPolicies, as raw manifests.

Objects are keyed by kind, then (namespace, name). For each kind the cache also keeps the
resourceVersion to resume watching from, whether the kind was ever listed, and whether its
watch is live. Why "ever listed" matters: a sync before every kind is listed would enforce a
partial view (pods without their policies open up), so the agent syncs only once all are.
Manifests are stored as the API sent them, with `kind` and `apiVersion` filled in (list items
lack them), and are never modified afterwards: a snapshot shares them. Thread-safe: watchers
write, the sync reads snapshots.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from podwall.decode import KINDS

__all__ = ["Cache", "KindStatus", "Manifest", "Snapshot"]

Manifest = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Snapshot:
    manifests: tuple[Manifest, ...]
    synced: bool  # every kind was listed at least once
    live: bool  # ... and every kind's watch is connected now
    generation: int  # counts changes: equal generations hold equal objects


@dataclass(frozen=True, slots=True)
class KindStatus:
    kind: str
    objects: int
    listed: bool
    live: bool
    resource_version: str


def _key(obj: Manifest) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    return (str(meta.get("namespace") or ""), str(meta.get("name") or ""))


def _version(obj: Manifest) -> str:
    return str((obj.get("metadata") or {}).get("resourceVersion") or "")


def _typed(kind: str, obj: Manifest) -> Manifest:
    if obj.get("kind") == kind and obj.get("apiVersion") == KINDS[kind]:
        return obj
    return {**obj, "kind": kind, "apiVersion": KINDS[kind]}


def _same(old: Manifest | None, new: Manifest) -> bool:
    if old is None:
        return False
    version = _version(new)
    return version == _version(old) if version else old == new


class Cache:
    def __init__(self, kinds: Iterable[str] = tuple(KINDS)) -> None:
        self.kinds = tuple(kinds)
        self._lock = threading.Lock()
        self._objects: dict[str, dict[tuple[str, str], Manifest]] = {k: {} for k in self.kinds}
        self._versions: dict[str, str] = dict.fromkeys(self.kinds, "")
        self._listed: set[str] = set()
        self._live: set[str] = set()
        self._generation = 0

    def replace(self, kind: str, items: Iterable[Manifest], resource_version: str) -> bool:
        """A fresh list of `kind`: it replaces what was cached; True when anything changed."""
        fresh = {_key(item): _typed(kind, item) for item in items}
        with self._lock:
            old = self._objects[kind]
            changed = old.keys() != fresh.keys() or any(
                not _same(old.get(key), obj) for key, obj in fresh.items()
            )
            if changed:
                self._objects[kind] = {k: old[k] if _same(old.get(k), v) else v
                                       for k, v in fresh.items()}
                self._generation += 1
            self._versions[kind] = resource_version
            self._listed.add(kind)
            self._live.add(kind)
        return changed

    def apply(self, kind: str, event_type: str, obj: Manifest) -> bool:
        """One watch event (ADDED, MODIFIED or DELETED); True when it changed the cache."""
        key = _key(obj)
        with self._lock:
            objects = self._objects[kind]
            version = _version(obj)
            if version:
                self._versions[kind] = version
            if event_type == "DELETED":
                changed = objects.pop(key, None) is not None
            else:
                changed = not _same(objects.get(key), obj)
                if changed:
                    objects[key] = _typed(kind, obj)
            if changed:
                self._generation += 1
        return changed

    def bookmark(self, kind: str, resource_version: str) -> None:
        """A BOOKMARK: resume watching from here, nothing changed."""
        with self._lock:
            self._versions[kind] = resource_version

    def resource_version(self, kind: str) -> str:
        with self._lock:
            return self._versions[kind]

    def set_live(self, kind: str, live: bool) -> None:
        with self._lock:
            if live:
                self._live.add(kind)
            else:
                self._live.discard(kind)

    def snapshot(self) -> Snapshot:
        with self._lock:
            manifests = tuple(o for k in self.kinds for o in self._objects[k].values())
            synced = self._listed.issuperset(self.kinds)
            live = synced and self._live.issuperset(self.kinds)
            return Snapshot(manifests, synced, live, self._generation)

    def status(self) -> tuple[KindStatus, ...]:
        with self._lock:
            return tuple(
                KindStatus(k, len(self._objects[k]), k in self._listed, k in self._live,
                           self._versions[k])
                for k in self.kinds
            )
