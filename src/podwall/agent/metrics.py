"""The agent's Prometheus metrics, in a registry of its own (so tests can run several agents).

Names (all `podwall_agent_`): `sync_duration_seconds` (histogram), `syncs_total{result}`,
`errors_total{kind}` (list, watch, compile, apply, counters), `ruleset_{chains,rules,sets,
maps,elements,counters}`, `isolated_pods{direction}`, `invalid_objects{kind}` (skipped),
`cache_objects{kind}`, `watch_up{kind}`, `relists_total{kind}`, `seconds_since_last_good_sync`,
`ready`, `info{node,failure_policy,netns}`, and `denied_connections_total{direction,namespace,
pod}`, read from the ruleset's per-pod deny counters at scrape time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import CounterMetricFamily, Metric

from podwall.dataplane.names import (
    DIRECTION_WORDS,
    EGRESS_DISPATCH,
    INGRESS_DISPATCH,
    interface_name,
)
from podwall.dataplane.ruleset import Ruleset
from podwall.model import Cluster

__all__ = ["AgentMetrics", "DeniedCollector", "accumulate", "counter_owners"]

P = "podwall_agent_"
SYNC_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
ERROR_KINDS = ("list", "watch", "compile", "apply", "counters")
SYNC_RESULTS = ("unchanged", "update", "replace", "waiting", "error")
Owner = tuple[str, str, str]  # (direction, namespace, pod)
_DISPATCH = {EGRESS_DISPATCH: "egress", INGRESS_DISPATCH: "ingress"}


def accumulate(
    totals: Mapping[str, float], last: Mapping[str, int], readings: Mapping[str, int]
) -> dict[str, float]:
    """Monotonic totals from kernel counters that restart at zero whenever the table is
    replaced: a reading below the last one counts from zero. Counters gone are dropped."""
    out = {}
    for name, value in readings.items():
        before = last.get(name)
        delta = value if before is None or value < before else value - before
        out[name] = totals.get(name, 0.0) + delta
    return out


def counter_owners(ruleset: Ruleset, cluster: Cluster, node: str) -> dict[str, Owner]:
    """Deny counter name -> whose it is, read from the ruleset's counter maps (interface ->
    counter) and the node's pods' interface names."""
    local = [p for p in cluster.pods if p.node_name == node]
    pods = {f'"{interface_name(p.namespace, p.name)}"': (p.namespace, p.name) for p in local}
    pods |= {ip: (p.namespace, p.name) for p in local for ip in p.ips}  # maps keyed by address
    owners = {}
    for nft_map in ruleset.maps:
        direction = nft_map.name.rsplit("_", 1)[-1]
        if nft_map.value_type != "counter" or direction not in DIRECTION_WORDS:
            continue
        for iface, counter in nft_map.elements:
            if iface in pods:
                owners[counter.strip('"')] = (direction, *pods[iface])
    return owners


class DeniedCollector:
    """`denied_connections_total`: packets of new connections the node's policies dropped
    (each retried SYN counts), per pod and direction, read from nftables at each scrape."""

    def __init__(self, read: Callable[[], Mapping[str, int]], on_error: Callable[[], None]):
        self._read = read
        self._on_error = on_error
        self._lock = threading.Lock()
        self._totals: dict[str, float] = {}
        self._last: dict[str, int] = {}
        self.owners: dict[str, Owner] = {}

    def _family(self) -> CounterMetricFamily:
        return CounterMetricFamily(
            f"{P}denied_connections",
            "New-connection packets dropped by NetworkPolicy, per local pod and direction",
            labels=["direction", "namespace", "pod"],
        )

    def describe(self) -> Iterator[Metric]:
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        with self._lock:
            try:
                readings = dict(self._read())
            except Exception:  # a failed read keeps the last totals
                self._on_error()
            else:
                self._totals = accumulate(self._totals, self._last, readings)
                self._last = readings
            for name, total in sorted(self._totals.items()):
                owner = self.owners.get(name)
                if owner is not None:
                    family.add_metric(list(owner), total)
        yield family


class AgentMetrics:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.registry = r = CollectorRegistry()
        self._clock = clock
        self.started = clock()
        self.last_good: float | None = None
        self.sync_seconds = Histogram(
            f"{P}sync_duration_seconds", "Seconds a sync took: decode, compile and apply",
            buckets=SYNC_BUCKETS, registry=r,
        )
        self.syncs = Counter(f"{P}syncs", "Syncs by result (unchanged, update, replace, "
                             "waiting for the first list, error)", ["result"], registry=r)
        self.errors = Counter(f"{P}errors", "Errors by kind", ["kind"], registry=r)
        for kind in ERROR_KINDS:
            self.errors.labels(kind=kind)
        for result in SYNC_RESULTS:
            self.syncs.labels(result=result)
        self.ruleset = {
            part: Gauge(f"{P}ruleset_{part}", f"{part.capitalize()} in the applied ruleset",
                        registry=r)
            for part in ("chains", "rules", "sets", "maps", "elements", "counters")
        }
        self.isolated = Gauge(f"{P}isolated_pods", "Local pods isolated, by direction",
                              ["direction"], registry=r)
        self.invalid = Gauge(f"{P}invalid_objects", "Objects skipped as invalid, by kind",
                             ["kind"], registry=r)
        self.cached = Gauge(f"{P}cache_objects", "Objects cached, by kind", ["kind"], registry=r)
        self.watch_up = Gauge(f"{P}watch_up", "1 while the kind's watch is live", ["kind"],
                              registry=r)
        self.relists = Counter(f"{P}relists", "Lists of a kind (first, after 410 Gone or a "
                               "broken connection)", ["kind"], registry=r)
        since = Gauge(f"{P}seconds_since_last_good_sync", "Seconds since a sync last applied "
                      "a live cache (since the start before the first)", registry=r)
        since.set_function(self.seconds_since_good)
        self.ready = Gauge(f"{P}ready", "1 once synced, while the cache is live", registry=r)
        self.info = Info(P.rstrip("_"), "The agent's node and settings", registry=r)
        self.denied: DeniedCollector | None = None

    def seconds_since_good(self) -> float:
        return self._clock() - (self.started if self.last_good is None else self.last_good)

    def watch_denied(self, read: Callable[[], Mapping[str, int]]) -> DeniedCollector:
        self.denied = DeniedCollector(read, lambda: self.errors.labels(kind="counters").inc())
        self.registry.register(self.denied)
        return self.denied

    def record_ruleset(self, ruleset: Ruleset) -> None:
        sizes: dict[str, Any] = {
            "chains": len(ruleset.chains),
            "rules": sum(len(c.rules) for c in ruleset.chains),
            "sets": len(ruleset.sets),
            "maps": len(ruleset.maps),
            "elements": sum(len(s.elements) for s in ruleset.sets)
            + sum(len(m.elements) for m in ruleset.maps),
            "counters": len(ruleset.counters),
        }
        for part, value in sizes.items():
            self.ruleset[part].set(value)
        for nft_map in ruleset.maps:
            word = _DISPATCH.get(nft_map.name)
            if word is not None:
                self.isolated.labels(direction=word).set(len(nft_map.elements))
