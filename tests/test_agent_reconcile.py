"""The agent's level-triggered runner, driven by a fake clock: no sleeps, no threads.

Each case is a script of actions on a fresh Reconciler (resync period 60 s, min interval
0.1 s, backoff 0.5 s doubling up to 4 s) and the syncs it must cause: (seconds since the
start, whether it was the periodic resync). `step` records the delay the runner asks for.
"""

from __future__ import annotations

import pytest

from podwall.agent import Backoff, Reconciler


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(self) -> None:
        self.clock = FakeClock()
        self.start = self.clock.now
        self.calls: list[tuple[float, bool]] = []
        self.failing = 0
        self.errors: list[float] = []
        self.events_during_sync = 0
        self.runner = Reconciler(
            self.sync, clock=self.clock, resync_period=60.0, min_interval=0.1,
            backoff=Backoff(initial=0.5, factor=2.0, cap=4.0),
            on_error=lambda _err, delay: self.errors.append(delay),
        )
        self.delays: list[float] = []

    def sync(self, resync: bool) -> None:
        self.calls.append((round(self.clock.now - self.start, 3), resync))
        for _ in range(self.events_during_sync):
            self.runner.mark_dirty()
        self.events_during_sync = 0
        if self.failing:
            self.failing -= 1
            raise RuntimeError("nft said no")

    def play(self, script: list[tuple]) -> None:
        for action, *args in script:
            if action == "events":
                for _ in range(args[0]):
                    self.runner.mark_dirty()
            elif action == "step":
                self.delays.append(round(self.runner.step(), 3))
            elif action == "advance":
                self.clock.now += args[0]
            elif action == "fail":
                self.failing = args[0]
            elif action == "event_during_sync":
                self.events_during_sync = args[0]
            else:
                raise ValueError(action)


STEP, SETTLE = ("step",), ("advance", 0.1)

CASES = {
    "the first step syncs at once (to notice what the watchers listed)": (
        [STEP],
        [(0.0, False)],
    ),
    "a burst of events before a step costs one sync": (
        [STEP, SETTLE, ("events", 500), STEP, STEP],
        [(0.0, False), (0.1, False)],
    ),
    "events within the min interval wait for it, then coalesce into one sync": (
        [STEP, ("events", 3), STEP, ("advance", 0.05), ("events", 3), STEP, ("advance", 0.05),
         STEP, STEP],
        [(0.0, False), (0.1, False)],
    ),
    "an event arriving during a sync is not lost": (
        [("event_during_sync", 1), STEP, STEP, SETTLE, STEP, SETTLE, STEP],
        [(0.0, False), (0.1, False)],
    ),
    "with nothing dirty, the periodic resync comes after the resync period": (
        [STEP, ("advance", 59.9), STEP, ("advance", 0.1), STEP, ("advance", 60), STEP],
        [(0.0, False), (60.0, True), (120.0, True)],
    ),
    "syncs for events do not postpone the resync": (
        [STEP, ("advance", 30), ("events", 1), STEP, ("advance", 30), STEP],
        [(0.0, False), (30.0, False), (60.0, True)],
    ),
    "a failed sync is retried after a backoff that doubles": (
        [("fail", 3), STEP, STEP, ("advance", 0.5), STEP, ("advance", 0.9), STEP,
         ("advance", 0.1), STEP, ("advance", 2), STEP],
        [(0.0, False), (0.5, False), (1.5, False), (3.5, False)],
    ),
    "the backoff stops growing at its cap": (
        [("fail", 6), *[x for _ in range(7) for x in (STEP, ("advance", 4))]],
        [(0.0, False), (4.0, False), (8.0, False), (12.0, False), (16.0, False),
         (20.0, False), (24.0, False)],
    ),
    "events during the backoff do not cut it short": (
        [("fail", 1), STEP, ("events", 10), STEP, ("advance", 0.4), ("events", 1), STEP,
         ("advance", 0.1), STEP],
        [(0.0, False), (0.5, False)],
    ),
    "a success resets the backoff": (
        [("fail", 1), STEP, ("advance", 0.5), STEP, ("advance", 0.1), ("fail", 1),
         ("events", 1), STEP, ("advance", 0.5), STEP],
        [(0.0, False), (0.5, False), (0.6, False), (1.1, False)],
    ),
    "a failed resync is retried as a resync": (
        [STEP, ("advance", 60), ("fail", 1), STEP, ("advance", 0.5), STEP, ("advance", 1),
         STEP],
        [(0.0, False), (60.0, True), (60.5, True)],
    ),
}


@pytest.mark.parametrize(("script", "syncs"), CASES.values(), ids=list(CASES))
def test_reconciler(script: list[tuple], syncs: list[tuple[float, bool]]) -> None:
    harness = Harness()
    harness.play(script)
    assert harness.calls == syncs


DELAYS = {
    "idle: wait until the resync": ([STEP], [60.0]),
    "dirty within the min interval: wait for its end": ([STEP, ("events", 1), STEP],
                                                         [60.0, 0.1]),
    "after a failure: wait for the backoff": ([("fail", 2), STEP, ("advance", 0.5), STEP],
                                              [0.5, 1.0]),
}


@pytest.mark.parametrize(("script", "delays"), DELAYS.values(), ids=list(DELAYS))
def test_reconciler_says_how_long_to_wait(script: list[tuple], delays: list[float]) -> None:
    harness = Harness()
    harness.play(script)
    assert harness.delays == delays


def test_failures_are_reported_with_their_retry_delay_and_counted() -> None:
    harness = Harness()
    harness.play([("fail", 2), STEP, ("advance", 0.5), STEP, ("advance", 1), STEP])
    assert harness.errors == [0.5, 1.0]
    assert (harness.runner.failures, harness.runner.syncs) == (0, 1)


@pytest.mark.parametrize(
    ("failures", "delay"),
    [(0, 0.0), (1, 0.5), (2, 1.0), (3, 2.0), (7, 30.0), (10_000, 30.0)],
    ids=["none", "first", "second", "third", "capped", "huge counts do not overflow"],
)
def test_backoff(failures: int, delay: float) -> None:
    assert Backoff().delay(failures) == delay
