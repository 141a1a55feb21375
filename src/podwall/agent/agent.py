"""The node agent, wired: watchers fill the cache, the reconciler syncs, HTTP reports.

Threads: one watcher per kind (they only write the cache and mark it dirty), the HTTP server,
and the caller's, which runs the reconcile loop until `stop()`. Stopping leaves podwall's table
in the kernel, enforcing the last ruleset: a restarted (or upgraded) agent takes over from it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from podwall.agent.backoff import Backoff
from podwall.agent.cache import Cache
from podwall.agent.errors import AgentError
from podwall.agent.http import HealthServer, parse_listen
from podwall.agent.kube import KindApi, api_client, kind_apis
from podwall.agent.logs import LOGGER
from podwall.agent.metrics import AgentMetrics
from podwall.agent.reconcile import Reconciler
from podwall.agent.startup import FailurePolicy, prepare_table
from podwall.agent.sync import NodeSync
from podwall.agent.view import ClusterView
from podwall.agent.watch import WATCH_TIMEOUT, Watcher
from podwall.dataplane.apply import (
    NftApplier,
    Runner,
    host_runner,
    netns_runner,
    read_counters,
)
from podwall.dataplane.incremental import IncrementalCompiler
from podwall.dataplane.libnft import LibnftRunner, LibnftUnavailable
from podwall.dataplane.names import PodMatch
from podwall.semantics.options import Options

__all__ = ["Agent", "AgentConfig"]

STALL = 60.0  # seconds without a loop turn after which /healthz fails
LOOP_WAIT = 5.0  # the reconcile loop turns at least this often


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentConfig:
    node: str
    kubeconfig: str | None = None
    context: str | None = None
    netns: str | None = None  # enforce in this network namespace (None: the agent's own)
    listen: str = "127.0.0.1:9180"
    failure_policy: FailurePolicy = FailurePolicy.CLOSED
    options: Options = field(default_factory=Options)
    pod_match: PodMatch = PodMatch.INTERFACE  # address: bridge CNIs (flannel)
    strict_cidr: bool = True
    resync_period: float = 300.0
    max_backoff: float = 30.0
    watch_timeout: int = WATCH_TIMEOUT


def nft_runner(netns: str | None, log: logging.Logger) -> Runner:
    """libnftables in-process, bound to `netns`; the nft command when the library is missing."""
    try:
        return LibnftRunner(netns)
    except LibnftUnavailable as err:
        log.warning("using the nft command instead of libnftables", extra={"error": str(err)})
        return host_runner if netns is None else netns_runner(netns)
    except OSError as err:
        raise AgentError(f"cannot enter network namespace {netns!r}: {err.strerror}") from err


class Agent:
    def __init__(
        self,
        config: AgentConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        log: logging.Logger | None = None,
        apis: Mapping[str, KindApi] | None = None,
        runner: Runner | None = None,
    ) -> None:
        self.config = config
        self.log = log or logging.getLogger(LOGGER)
        self.clock = clock
        self.stopping = threading.Event()
        self.metrics = AgentMetrics(clock)
        self.cache = Cache()
        self.runner = runner or nft_runner(config.netns, self.log)
        self.applier = NftApplier(self.runner)
        self.sync = NodeSync(
            self.cache,
            ClusterView(strict_cidr=config.strict_cidr),
            lambda: IncrementalCompiler(config.node, config.options, config.pod_match),
            self.applier,
            metrics=self.metrics,
            log=self.log,
            clock=clock,
        )
        backoff = Backoff(cap=config.max_backoff)
        self.reconciler = Reconciler(
            self.sync, clock=clock, resync_period=config.resync_period, backoff=backoff,
            on_error=self._sync_failed,
        )
        apis = apis or kind_apis(api_client(config.kubeconfig, config.context))
        self.watchers = [self._watcher(apis[kind], backoff) for kind in self.cache.kinds]
        self._report()
        self.http = HealthServer(parse_listen(config.listen), self.metrics.registry,
                                 health=self.health, ready=self.readiness)

    def _watcher(self, api: KindApi, backoff: Backoff) -> Watcher:
        return Watcher(api, self.cache, self.reconciler.mark_dirty, metrics=self.metrics,
                       log=self.log, stop=self.stopping, backoff=backoff,
                       watch_timeout=self.config.watch_timeout)

    def _report(self) -> None:
        c = self.config
        self.metrics.info.info({"node": c.node, "netns": c.netns or "",
                                "failure_policy": c.failure_policy.value})
        self.metrics.ready.set_function(lambda: float(self.readiness()[0]))
        self.metrics.watch_denied(self._read_denied)

    def _read_denied(self) -> dict[str, int]:
        return {name: packets for name, (packets, _bytes) in read_counters(self.runner).items()}

    def _sync_failed(self, err: Exception, delay: float) -> None:
        self.metrics.syncs.labels(result="error").inc()
        self.log.error("sync failed: the last applied ruleset stays in force",
                       exc_info=err, extra={"retry_in": delay})

    def start(self) -> Agent:
        """Settle the failure policy, then serve HTTP and start watching."""
        c = self.config
        action = prepare_table(self.applier, c.failure_policy, c.options, c.pod_match)
        self.log.info(
            f"podwall agent starting: {c.failure_policy.value}; {action.value}",
            extra={
                "node": c.node, "netns": c.netns, "listen": "{}:{}".format(*self.http.address),
                "failure_policy": c.failure_policy.value, "startup": action.name.lower(),
                "ipblock_matches_cluster": c.options.ipblock_matches_cluster,
                "allow_node_local": c.options.allow_node_local, "strict_cidr": c.strict_cidr,
                "pod_match": c.pod_match.value,
                "resync_period": c.resync_period,
            },
        )
        self.http.start()
        for watcher in self.watchers:
            watcher.start()
        return self

    def run(self) -> None:
        """Reconcile in this thread until `stop()`."""
        self.reconciler.run(self.stopping, max_wait=LOOP_WAIT)
        self.log.info("podwall agent stopped: the table stays, enforcing the last ruleset")

    def stop(self) -> None:
        """Ask `run` to return; safe from signal handlers and other threads."""
        self.stopping.set()
        self.reconciler.wake()
        for watcher in self.watchers:
            watcher.close()

    def close(self) -> None:
        self.http.stop()

    def health(self) -> tuple[bool, str]:
        stalled = self.clock() - self.reconciler.heartbeat
        if stalled > STALL:
            return False, f"the reconcile loop has not turned for {stalled:.0f}s"
        dead = [w.kind for w in self.watchers if w.thread.ident and not w.thread.is_alive()]
        if dead and not self.stopping.is_set():
            return False, f"watch threads ended: {', '.join(dead)}"
        return True, "ok"

    def readiness(self) -> tuple[bool, str]:
        if not self.sync.good:
            waiting = [s.kind for s in self.cache.status() if not s.listed]
            why = f"waiting for the first list of {', '.join(waiting)}" if waiting else (
                "no good sync yet")
            return False, why
        since = f"{self.metrics.seconds_since_good():.0f}s since the last good sync"
        if self.reconciler.failures:
            return False, (f"the last {self.reconciler.failures} syncs failed: enforcing the "
                           f"last applied ruleset ({since})")
        down = [s.kind for s in self.cache.status() if not s.live]
        if down:
            return False, (f"watch down for {', '.join(down)}: enforcing the last known state "
                           f"({since})")
        return True, "ok"
