"""Watches: what a watch sees of the store's history, and the stream that delivers it.

A watch from resourceVersion "" or "0" (or with `sendInitialEvents=true`) starts with a
synthetic ADDED event per current object; one from resourceVersion N replays the events after
N, or answers a single ERROR event carrying a 410 Expired Status once the history is compacted
past N, as the watch cache does. Selectors apply to the object before and after each change:
an object that starts matching is ADDED for this watch, one that stops matching DELETED.
With `allowWatchBookmarks=true` a BOOKMARK carrying the latest resourceVersion follows every
`bookmark_interval` seconds; `sendInitialEvents` ends its initial events with a BOOKMARK
annotated `k8s.io/initial-events-end: "true"`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from podwall.apiserver.errors import Compacted, Expired
from podwall.apiserver.options import ListOptions, parse_rv
from podwall.apiserver.resources import Resource
from podwall.apiserver.store import Event, Store

__all__ = [
    "INITIAL_EVENTS_END",
    "Notifier",
    "StreamSettings",
    "WatchEvent",
    "watch_changes",
    "watch_start",
    "watch_stream",
]

INITIAL_EVENTS_END = "k8s.io/initial-events-end"


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED
    object: dict[str, Any]


class Notifier:
    """Wakes every waiting watch after a write; `notify` is safe to call from any thread."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._event: asyncio.Event | None = None
        self.closing = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._event = asyncio.Event()

    def _set(self) -> None:
        event, self._event = self._event, asyncio.Event()
        if event is not None:
            event.set()

    def notify(self, _rv: int = 0) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._set)

    async def wait(self, timeout: float) -> None:
        event = self._event
        if event is None or timeout <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)


def watch_start(
    store: Store, resource: Resource, namespace: str | None, opts: ListOptions, initial: bool
) -> tuple[list[WatchEvent], int]:
    """The synthetic ADDED events a watch starts with (for `initial`), and the
    resourceVersion after which it streams changes."""
    if not resource.stored:
        return [], store.current_rv()
    if initial:
        items, rv = store.list(resource.key, namespace)
        return [WatchEvent("ADDED", i) for i in items if opts.matches(resource, i)], rv
    return [], parse_rv(opts.resource_version)


def _seen(resource: Resource, event: Event, opts: ListOptions) -> WatchEvent | None:
    now_matches = opts.matches(resource, event.object)
    if event.type == "ADDED":
        return WatchEvent("ADDED", event.object) if now_matches else None
    before = event.previous is not None and opts.matches(resource, event.previous)
    if event.type == "DELETED":
        return WatchEvent("DELETED", event.object) if before else None
    if before and now_matches:
        return WatchEvent("MODIFIED", event.object)
    if now_matches or before:
        return WatchEvent("ADDED" if now_matches else "DELETED", event.object)
    return None


def watch_changes(
    store: Store, resource: Resource, namespace: str | None, opts: ListOptions, after: int
) -> tuple[list[WatchEvent], int]:
    """The changes after `after` as this watch sees them, and the resourceVersion they reach;
    Expired (410) once the history no longer reaches back to `after`."""
    if not resource.stored:
        return [], store.current_rv()
    try:
        events, upto = store.events_since(after, resource.key)
    except Compacted as err:
        raise Expired(str(err)) from err
    seen = (_seen(resource, e, opts) for e in events
            if namespace is None or e.namespace == namespace)
    return [s for s in seen if s is not None], upto


def _line(kind: str, obj: dict[str, Any]) -> bytes:
    return (json.dumps({"type": kind, "object": obj}, separators=(",", ":")) + "\n").encode()


def _bookmark(resource: Resource, rv: int, initial_end: bool = False) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(rv)}
    if initial_end:
        meta["annotations"] = {INITIAL_EVENTS_END: "true"}
    return _line("BOOKMARK", {"kind": resource.kind, "apiVersion": resource.api_version,
                              "metadata": meta})


@dataclass(frozen=True, slots=True, kw_only=True)
class StreamSettings:
    timeout: float
    bookmarks: bool
    bookmark_interval: float
    poll_interval: float
    initial_end: bool


async def watch_stream(
    store: Store,
    notifier: Notifier,
    resource: Resource,
    namespace: str | None,
    opts: ListOptions,
    start: tuple[list[WatchEvent], int],
    render: Callable[[WatchEvent, bool], dict[str, Any]],
    settings: StreamSettings,
) -> AsyncIterator[bytes]:
    """Newline-delimited watch events until the timeout, the server's shutdown, or a 410;
    `render(event, first)` gives the object each event carries (a Table row, or the object)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + settings.timeout
    events, after = start
    first = True
    for event in events:
        yield _line(event.type, render(event, first))
        first = False
    if settings.initial_end:
        yield _bookmark(resource, after, initial_end=True)
    next_bookmark = loop.time() + settings.bookmark_interval
    while not notifier.closing:
        try:
            events, after = watch_changes(store, resource, namespace, opts, after)
        except Expired as err:
            yield _line("ERROR", err.status())
            return
        for event in events:
            yield _line(event.type, render(event, first))
            first = False
        now = loop.time()
        if now >= deadline:
            return
        if settings.bookmarks and now >= next_bookmark:
            yield _bookmark(resource, after)
            next_bookmark = now + settings.bookmark_interval
        wake = min(deadline, now + settings.poll_interval)
        if settings.bookmarks:
            wake = min(wake, next_bookmark)
        await notifier.wait(wake - now)
