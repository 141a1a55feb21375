"""One sync of the node: the cache's snapshot, decoded, compiled for the node and applied.

The reconciler calls it; it raises on failure (the reconciler retries) and never leaves the
kernel half-updated (the applier's transactions are atomic). It does nothing until every kind
has been listed once, so a starting agent never enforces a partial view. Invalid objects are
skipped, logged once each, and counted; everything else is enforced. A periodic resync also
checks that podwall's table still exists, and replaces it whole if someone removed it. A sync
is "good" when it applied a live cache (every watch connected): /readyz and
`seconds_since_last_good_sync` follow good syncs only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from podwall.agent.cache import Cache
from podwall.agent.metrics import AgentMetrics, counter_owners
from podwall.agent.startup import table_exists
from podwall.agent.view import ClusterView
from podwall.dataplane.apply import ApplyError, NftApplier
from podwall.dataplane.incremental import IncrementalCompiler
from podwall.dataplane.ruleset import Ruleset
from podwall.validation import ObjectInvalid

__all__ = ["NodeSync"]


class NodeSync:
    def __init__(
        self,
        cache: Cache,
        view: ClusterView,
        new_compiler: Callable[[], IncrementalCompiler],
        applier: NftApplier,
        *,
        metrics: AgentMetrics,
        log: logging.Logger,
        clock: Callable[[], float],
    ) -> None:
        self.cache = cache
        self.view = view
        self._new_compiler = new_compiler
        self.compiler = new_compiler()
        self.applier = applier
        self._metrics = metrics
        self._log = log
        self._clock = clock
        self._invalid_seen: frozenset[str] = frozenset()
        self.good = False  # a good sync happened
        self.ruleset: Ruleset | None = None  # the last one applied

    def __call__(self, resync: bool) -> None:
        start = self._clock()
        snapshot = self.cache.snapshot()
        for status in self.cache.status():
            self._metrics.cached.labels(kind=status.kind).set(status.objects)
        if not snapshot.synced:
            self._metrics.syncs.labels(result="waiting").inc()
            self._log.debug("not every kind is listed yet: nothing to apply")
            return
        view = self.view.update(snapshot.manifests)
        self._report_invalid(view.invalid)
        try:
            ruleset = self.compiler.compile(view.cluster)
        except Exception:
            self._metrics.errors.labels(kind="compile").inc()
            self.compiler = self._new_compiler()  # its memory may be half-updated
            raise
        if resync and not table_exists(self.applier.runner):
            self._log.warning("podwall's table is missing from the kernel: replacing it")
            self.applier.last = None
        try:
            result = self.applier.apply(ruleset)
        except ApplyError:
            self._metrics.errors.labels(kind="apply").inc()
            raise
        self.ruleset = ruleset
        seconds = self._clock() - start
        self._metrics.sync_seconds.observe(seconds)
        self._metrics.syncs.labels(result=result.mode).inc()
        self._metrics.record_ruleset(ruleset)
        if self._metrics.denied is not None:
            self._metrics.denied.owners = counter_owners(
                ruleset, view.cluster, self.compiler.node
            )
        if snapshot.live:
            self._metrics.last_good = self._clock()
            self.good = True
        level = logging.DEBUG if result.mode == "unchanged" else logging.INFO
        self._log.log(level, "synced", extra={
            "mode": result.mode, "compile": self.compiler.mode, "seconds": round(seconds, 4),
            "live": snapshot.live, "resync": resync, "generation": snapshot.generation,
            "pods": len(view.cluster.pods), "policies": len(view.cluster.policies),
            "invalid": len(view.invalid),
        })

    def _report_invalid(self, invalid: tuple[ObjectInvalid, ...]) -> None:
        by_kind = dict.fromkeys(self.cache.kinds, 0)
        for err in invalid:
            by_kind[err.kind] = by_kind.get(err.kind, 0) + 1
        for kind, count in by_kind.items():
            self._metrics.invalid.labels(kind=kind).set(count)
        seen = frozenset(str(err) for err in invalid)
        for err in invalid:
            if str(err) not in self._invalid_seen:
                self._log.warning("skipping an invalid object; enforcing everything else",
                                  extra={"kind": err.kind, "object": err.name, "error": str(err)})
        self._invalid_seen = seen
