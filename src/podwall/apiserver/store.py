"""The lab API's storage: objects and their change history in one SQLite file.

This module owns etcd's part. Every write takes the next value of one global counter as its
resourceVersion (stored in the object's metadata) and appends an event (ADDED, MODIFIED,
DELETED) to a log that watches replay. The log keeps the last `history` events; a watch from an
older resourceVersion gets `Compacted` (410 Gone at the HTTP edge), as after etcd compaction.

Writes run in `BEGIN IMMEDIATE` transactions, so several processes may share the file; after
each commit the store calls its listeners (the HTTP edge wakes its watches with them).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from podwall.apiserver.errors import Compacted, KeyExists, KeyNotFound, VersionConflict

__all__ = ["DEFAULT_HISTORY", "Event", "Store"]

DEFAULT_HISTORY = 1000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects (
    resource TEXT NOT NULL, namespace TEXT NOT NULL, name TEXT NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (resource, namespace, name));
CREATE TABLE IF NOT EXISTS events (
    rv INTEGER PRIMARY KEY, resource TEXT NOT NULL, namespace TEXT NOT NULL,
    name TEXT NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL, prev TEXT);
INSERT OR IGNORE INTO meta VALUES ('rv', 0), ('compacted', 0);
"""


@dataclass(frozen=True, slots=True)
class Event:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    resource: str
    namespace: str
    name: str
    object: dict[str, Any]
    previous: dict[str, Any] | None  # the object before a MODIFIED or DELETED event


def _key(body: dict[str, Any]) -> tuple[str, str]:
    meta = body["metadata"]
    return meta.get("namespace", ""), meta["name"]


def object_rv(body: dict[str, Any]) -> int:
    return int(body["metadata"].get("resourceVersion") or 0)


class Store:
    """Objects keyed by (resource, namespace, name); `resource` is e.g. `pods` or
    `networkpolicies.networking.k8s.io`, and namespace is "" for cluster-scoped kinds."""

    def __init__(self, path: str | Path, *, history: int = DEFAULT_HISTORY) -> None:
        self.path = Path(path)
        self.history = history
        self._lock = threading.RLock()
        self._listeners: list[Callable[[int], None]] = []
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across crashes of us
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def subscribe(self, listener: Callable[[int], None]) -> None:
        """Call `listener(rv)` after every committed write."""
        self._listeners.append(listener)

    def unsubscribe(self, listener: Callable[[int], None]) -> None:
        self._listeners.remove(listener)

    # Reads.
    def _meta(self, key: str) -> int:
        return int(self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()[0])

    def current_rv(self) -> int:
        with self._lock:
            return self._meta("rv")

    def compacted_rv(self) -> int:
        with self._lock:
            return self._meta("compacted")

    def get(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM objects WHERE resource = ? AND namespace = ? AND name = ?",
                (resource, namespace, name),
            ).fetchone()
        return json.loads(row[0]) if row else None

    def list(
        self, resource: str, namespace: str | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """Every object of `resource` (in `namespace` if given), by namespace then name, and the
        resourceVersion the list is consistent at."""
        query = "SELECT body FROM objects WHERE resource = ?"
        args: tuple[str, ...] = (resource,)
        if namespace is not None:
            query += " AND namespace = ?"
            args += (namespace,)
        with self._lock:
            self._db.execute("BEGIN")
            try:
                rows = self._db.execute(query + " ORDER BY namespace, name", args).fetchall()
                rv = self._meta("rv")
            finally:
                self._db.execute("COMMIT")
        return [json.loads(r[0]) for r in rows], rv

    def events_since(self, rv: int, resource: str) -> tuple[list[Event], int]:
        """The events of `resource` after `rv`, and the resourceVersion they run up to;
        Compacted if some of them are gone."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                compacted = self._meta("compacted")
                if rv < compacted:
                    raise Compacted(rv, compacted)
                rows = self._db.execute(
                    "SELECT rv, type, resource, namespace, name, body, prev FROM events "
                    "WHERE rv > ? AND resource = ? ORDER BY rv",
                    (rv, resource),
                ).fetchall()
                upto = self._meta("rv")
            finally:
                self._db.execute("COMMIT")
        events = [
            Event(r[0], r[1], r[2], r[3], r[4], json.loads(r[5]), json.loads(r[6] or "null"))
            for r in rows
        ]
        return events, upto

    # Writes.
    @contextmanager
    def _write(self) -> Iterator[list[int]]:
        """One transaction; yields a cell for the new resourceVersion, notifies after commit."""
        cell: list[int] = []
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cell.append(self._meta("rv") + 1)
                yield cell
                rv = cell[0]
                self._db.execute("UPDATE meta SET value = ? WHERE key = 'rv'", (rv,))
                self._compact_locked(rv - self.history)
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        for listener in list(self._listeners):
            listener(rv)

    def _compact_locked(self, upto: int) -> None:
        if upto > self._meta("compacted"):
            self._db.execute("DELETE FROM events WHERE rv <= ?", (upto,))
            self._db.execute("UPDATE meta SET value = ? WHERE key = 'compacted'", (upto,))

    def compact(self, upto: int | None = None) -> None:
        """Forget the events up to `upto` (default: all of them), as etcd compaction does."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._compact_locked(self._meta("rv") if upto is None else upto)
            self._db.execute("COMMIT")

    def _put(
        self,
        resource: str,
        body: dict[str, Any],
        rv: int,
        event: str,
        previous: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        body = {**body, "metadata": {**body["metadata"], "resourceVersion": str(rv)}}
        namespace, name = _key(body)
        text = json.dumps(body, separators=(",", ":"))
        if event != "DELETED":
            self._db.execute(
                "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?)",
                (resource, namespace, name, text),
            )
        prev = json.dumps(previous, separators=(",", ":")) if previous is not None else None
        self._db.execute(
            "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?)",
            (rv, resource, namespace, name, event, text, prev),
        )
        return body

    def _stored_locked(self, resource: str, namespace: str, name: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT body FROM objects WHERE resource = ? AND namespace = ? AND name = ?",
            (resource, namespace, name),
        ).fetchone()
        return json.loads(row[0]) if row else None

    def create(self, resource: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._write() as rv:
            if self._stored_locked(resource, *_key(body)) is not None:
                raise KeyExists(_key(body))
            return self._put(resource, body, rv[0], "ADDED")

    def update(
        self, resource: str, body: dict[str, Any], expect_rv: int | None = None
    ) -> dict[str, Any]:
        """Replace the object; with `expect_rv`, only if it is still at that resourceVersion."""
        with self._write() as rv:
            stored = self._stored_locked(resource, *_key(body))
            if stored is None:
                raise KeyNotFound(_key(body))
            if expect_rv is not None and object_rv(stored) != expect_rv:
                raise VersionConflict(_key(body))
            return self._put(resource, body, rv[0], "MODIFIED", stored)

    def delete(
        self, resource: str, namespace: str, name: str, expect_rv: int | None = None
    ) -> dict[str, Any]:
        """Remove the object; returns it as last stored, at the deletion's resourceVersion."""
        with self._write() as rv:
            stored = self._stored_locked(resource, namespace, name)
            if stored is None:
                raise KeyNotFound((namespace, name))
            if expect_rv is not None and object_rv(stored) != expect_rv:
                raise VersionConflict((namespace, name))
            self._db.execute(
                "DELETE FROM objects WHERE resource = ? AND namespace = ? AND name = ?",
                (resource, namespace, name),
            )
            return self._put(resource, stored, rv[0], "DELETED", stored)

    def list_at(self, resource: str, rv: int, namespace: str | None = None) -> list[dict]:
        """The objects as they were at resourceVersion `rv`, rebuilt by undoing later events;
        Compacted if the history no longer reaches back that far."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                rows = self._db.execute(
                    "SELECT body FROM objects WHERE resource = ?", (resource,)
                ).fetchall()
                compacted = self._meta("compacted")
                if rv < compacted:
                    raise Compacted(rv, compacted)
                later = self._db.execute(
                    "SELECT type, namespace, name, prev FROM events "
                    "WHERE rv > ? AND resource = ? ORDER BY rv DESC",
                    (rv, resource),
                ).fetchall()
            finally:
                self._db.execute("COMMIT")
        state = {_key(body): body for body in (json.loads(r[0]) for r in rows)}
        for kind, ns, name, prev in later:
            if kind == "ADDED":
                state.pop((ns, name), None)
            else:
                state[(ns, name)] = json.loads(prev)
        return [
            state[k] for k in sorted(state) if namespace is None or k[0] == namespace
        ]

    def is_empty(self) -> bool:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM objects").fetchone()[0] == 0
