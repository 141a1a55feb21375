"""Exponential backoff, pure: how long to wait after the n-th failure in a row.

Why capped and without jitter: one agent per node retries against its own kernel and one API
server; the cap bounds how stale a recovered agent can stay, and determinism keeps tests exact.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Backoff"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Backoff:
    initial: float = 0.5
    factor: float = 2.0
    cap: float = 30.0

    def delay(self, failures: int) -> float:
        """Seconds to wait after `failures` failures in a row (0 after none)."""
        if failures <= 0:
            return 0.0
        return min(self.cap, self.initial * self.factor ** min(failures - 1, 64))
