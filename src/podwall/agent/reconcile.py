"""The level-triggered runner: events only mark the state dirty; one loop syncs it whole.

Why level-triggered: a sync reads the whole cached state and makes the kernel match it, so
whatever happened in between, one sync converges. Events are never queued: a burst of them
costs one sync, a failed sync is simply retried (with exponential backoff, keeping the last
good ruleset in place meanwhile), and a periodic resync repairs what drifted unseen. Time comes
from an injected clock and `step()` never sleeps, so tests drive the runner with a fake clock.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from podwall.agent.backoff import Backoff

__all__ = ["Reconciler", "Sync"]

Sync = Callable[[bool], None]  # the argument: this is the periodic resync; raises on failure
OnError = Callable[[Exception, float], None]  # the error and the seconds until the retry


def _ignore(_err: Exception, _delay: float) -> None:
    return None


class Reconciler:
    """Calls `sync` when the state is dirty or a resync is due, at most once per
    `min_interval` (so bursts coalesce), and no sooner than the backoff after a failure."""

    def __init__(
        self,
        sync: Sync,
        *,
        clock: Callable[[], float],
        resync_period: float = 300.0,
        min_interval: float = 0.1,
        backoff: Backoff | None = None,
        on_error: OnError = _ignore,
    ) -> None:
        self._sync = sync
        self._clock = clock
        self._period = resync_period
        self._min_interval = min_interval
        self._backoff = backoff or Backoff()
        self._on_error = on_error
        self._cond = threading.Condition()
        self._dirty = True  # the first step syncs
        self._resync_pending = False
        self._resync_at = clock() + resync_period
        self._not_before = -math.inf
        self.failures = 0  # in a row
        self.syncs = 0  # successful calls
        self.heartbeat = clock()  # the last time the loop ran: /healthz reads it

    def mark_dirty(self) -> None:
        """Something changed: sync soon. Safe from any thread; cheap enough to call per event."""
        with self._cond:
            self._dirty = True
            self._cond.notify_all()

    def wake(self) -> None:
        """Make a waiting `run` look again (to notice that it was asked to stop)."""
        with self._cond:
            self._cond.notify_all()

    @property
    def dirty(self) -> bool:
        with self._cond:
            return self._dirty

    def step(self) -> float:
        """Sync if something is due and allowed now; the seconds until something is due next."""
        now = self._clock()
        self.heartbeat = now
        with self._cond:
            if now >= self._resync_at:
                self._resync_pending = True
            if not (self._dirty or self._resync_pending):
                return self._resync_at - now
            if now < self._not_before:
                return self._not_before - now
            resync = self._resync_pending
            self._dirty = False
        try:
            self._sync(resync)
        except Exception as err:  # any failure: keep what is enforced, retry later
            self.failures += 1
            delay = self._backoff.delay(self.failures)
            with self._cond:
                self._dirty = True
                self._not_before = now + delay
            self._on_error(err, delay)
            return self._next(self._clock())
        done = self._clock()
        self.failures = 0
        self.syncs += 1
        with self._cond:
            if resync:
                self._resync_pending = False
                self._resync_at = done + self._period
            self._not_before = now + self._min_interval
        return self._next(done)

    def _next(self, now: float) -> float:
        with self._cond:
            if self._dirty or self._resync_pending:
                return max(0.0, self._not_before - now)
            return max(0.0, self._resync_at - now)

    def run(self, stop: threading.Event, max_wait: float = 5.0) -> None:
        """Step until `stop` is set; waits (really) between steps, woken early by events."""
        while not stop.is_set():
            delay = self.step()
            with self._cond:
                if stop.is_set():
                    return
                if delay > 0 and not (self._dirty and self._clock() >= self._not_before):
                    self._cond.wait(timeout=min(delay, max_wait))
