"""Real packets beside what the policies mean: a cluster's prober, and the cell-by-cell
comparison of what the packets did with what the stored policies allow.

A prober is given by whoever can send packets inside a cluster: `podwall up` gives one for the
lab it runs (each pod's agent opens real connections from inside the pod, as `podwall lab
probe` does). The console asks it about one port and sets the observed matrix beside the
computed one. A disagreement means the data plane does not enforce what the policies say, or
that the console's copy is stale (synchronise).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from podwall.console.insight import Insight
from podwall.semantics import Matrix, PortSpec

__all__ = ["Prober", "probe_data"]

Prober = Callable[[PortSpec], Matrix]  # the observed matrix on one port, pods keyed ns/name


def probe_data(insight: Insight, observed: Matrix, port: PortSpec) -> dict:
    """Observed and computed `[from][to]` over the pods both know, in the heatmap's order, and
    every cell where they disagree."""
    position = {key: i for i, key in enumerate(observed.pods)}
    pods = [p for p in insight.pods_in([]) if p.key in position]
    at = np.array([position[p.key] for p in pods], dtype=np.intp)
    seen = observed.allowed[port.key][np.ix_(at, at)]
    computed = insight.grid(port, pods)
    rows, cols = np.nonzero(seen != computed)
    return {
        "port": port.port,
        "protocol": port.protocol,
        "pods": [p.key for p in pods],
        "observed": seen.tolist(),
        "computed": computed.tolist(),
        "probes": len(pods) ** 2,
        "agree": not len(rows),
        "disagreements": [
            {"from": pods[i].key, "to": pods[j].key, "observed": bool(seen[i, j]),
             "computed": bool(computed[i, j])}
            for i, j in zip(rows.tolist(), cols.tolist(), strict=True)
        ],
    }
