"""List and watch one kind into the cache, in a thread of its own; events only mark dirty.

A watcher lists its kind (page by page), replaces the cache's copy, then watches from the
list's resourceVersion with bookmarks, resuming from the last version seen whenever the server
ends a watch normally. It lists again, instead of resuming, when the version has expired (410
Gone, as a status or an ERROR event) and after any failure (connection refused or reset,
timeouts, bad answers), waiting with exponential backoff between failures: a list is the only
way to learn of deletions missed while disconnected. Meanwhile the cache keeps the last state
it knew, so the node keeps enforcing the last good ruleset; the kind is marked not live.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from podwall.agent.backoff import Backoff
from podwall.agent.cache import Cache
from podwall.agent.errors import AgentError, WatchExpired
from podwall.agent.kube import ApiException, KindApi, iter_lines, shutdown
from podwall.agent.metrics import AgentMetrics

__all__ = ["Watcher"]

WATCH_TIMEOUT = 240  # seconds a watch lasts before the server ends it and we resume
_EVENTS = ("ADDED", "MODIFIED", "DELETED")
_SHORT_WATCH = 1.0  # seconds: a watch ending sooner, empty, counts as a failure


class Watcher:
    def __init__(
        self,
        api: KindApi,
        cache: Cache,
        on_change: Callable[[], None],
        *,
        metrics: AgentMetrics,
        log: logging.Logger,
        stop: threading.Event,
        backoff: Backoff | None = None,
        watch_timeout: int = WATCH_TIMEOUT,
    ) -> None:
        self.api = api
        self.kind = api.kind
        self.cache = cache
        self._on_change = on_change
        self._metrics = metrics
        self._log = log
        self._stop = stop
        self._backoff = backoff or Backoff()
        self._watch_timeout = watch_timeout
        self._lock = threading.Lock()
        self._response: Any = None
        self._delivered = False  # the last watch delivered at least one event
        self.thread = threading.Thread(target=self.run, name=f"watch-{self.kind}", daemon=True)

    def start(self) -> Watcher:
        self.thread.start()
        return self

    def close(self) -> None:
        """Unblock the thread if it is reading a watch (call after setting `stop`)."""
        with self._lock:
            response = self._response
        if response is not None:
            try:
                shutdown(response)
            except Exception:  # closing is best effort: the thread also checks `stop`
                self._log.debug("closing the watch failed", exc_info=True)

    def run(self) -> None:
        """Failures in a row back off exponentially; only a watch that delivered something
        resets the count (a list that succeeds before a watch that fails at once does not:
        the API would otherwise be listed twice a second)."""
        failures = 0
        listed = False
        while not self._stop.is_set():
            try:
                if not listed:
                    self._list()
                    listed = True
                if not self._stop.is_set():
                    self._watch()
                    failures = 0
            except WatchExpired as err:
                listed = False
                self._log.info("resourceVersion expired: listing again",
                               extra={"kind": self.kind, "reason": str(err)})
            except Exception as err:
                if self._stop.is_set():
                    return
                failures = 1 if self._delivered else failures + 1
                self._delivered = False
                delay = self._backoff.delay(failures)
                self._failed(err, "watch" if listed else "list", delay)
                listed = False
                self._stop.wait(delay)

    def _failed(self, err: Exception, stage: str, delay: float) -> None:
        self.cache.set_live(self.kind, False)
        self._metrics.watch_up.labels(kind=self.kind).set(0)
        self._metrics.errors.labels(kind=stage).inc()
        self._log.warning(
            f"{stage} failed: keeping the last known state; listing again",
            extra={"kind": self.kind, "error": _describe(err), "retry_in": delay},
        )

    def _list(self) -> None:
        items: list[dict[str, Any]] = []
        version, token = "", ""
        while True:
            try:
                page = self.api.list_page(token)
            except ApiException as err:
                if err.status == 410:  # the continue token expired: start over
                    items, version, token = [], "", ""
                    continue
                raise
            items.extend(page.get("items") or [])
            meta = page.get("metadata") or {}
            version = version or str(meta.get("resourceVersion") or "")
            token = str(meta.get("continue") or "")
            if not token:
                break
        changed = self.cache.replace(self.kind, items, version)
        self._metrics.relists.labels(kind=self.kind).inc()
        self._metrics.watch_up.labels(kind=self.kind).set(1)
        self._log.info("listed", extra={"kind": self.kind, "objects": len(items),
                                        "resource_version": version, "changed": changed})
        self._on_change()  # even unchanged: the cache is live again, a sync can be good

    def _watch(self) -> None:
        self._delivered = False
        try:
            response = self.api.watch(self.cache.resource_version(self.kind), self._watch_timeout)
        except ApiException as err:
            if err.status == 410:
                raise WatchExpired(err.reason or "Gone") from err
            raise
        with self._lock:
            self._response = response
        started, lines = time.monotonic(), 0
        try:
            for line in iter_lines(response):
                if self._stop.is_set():
                    return
                lines += 1
                self._handle(json.loads(line))
            if not lines and time.monotonic() - started < _SHORT_WATCH:
                raise AgentError("the watch ended at once, with no event")  # do not spin
        finally:
            self._delivered = lines > 0
            with self._lock:
                self._response = None
            response.release_conn()

    def _handle(self, event: dict[str, Any]) -> None:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "BOOKMARK":
            version = (obj.get("metadata") or {}).get("resourceVersion")
            if version:
                self.cache.bookmark(self.kind, str(version))
        elif kind in _EVENTS:
            if self.cache.apply(self.kind, kind, obj):
                self._on_change()
        elif kind == "ERROR":
            if obj.get("code") == 410:
                raise WatchExpired(str(obj.get("message") or "Gone"))
            raise AgentError(f"watch error {obj.get('code')}: {obj.get('message')}")
        else:
            raise AgentError(f"unknown watch event type {kind!r}")


def _describe(err: Exception) -> str:
    if isinstance(err, ApiException):
        return f"HTTP {err.status}: {err.reason}"
    return f"{type(err).__name__}: {err}"
