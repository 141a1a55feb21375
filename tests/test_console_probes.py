"""The console's probe comparison: what real packets did, cell by cell beside what the stored
policies allow. (Real packets through the lab are tested in test_cli_up.py; here the observed
matrix is the computed one with chosen cells flipped, to see each disagreement named.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from podwall.console.insight import Insight
from podwall.console.probes import probe_data
from podwall.inputs import read_documents
from podwall.semantics import Matrix, PortSpec

ROOT = Path(__file__).parents[1]
REDIS = PortSpec(6379, "TCP")


@pytest.fixture(scope="module")
def insight() -> Insight:
    documents = read_documents([str(ROOT / "examples" / "shop-cluster.yaml"),
                                str(ROOT / "examples" / "cluster.yaml"),
                                str(ROOT / "examples" / "policies" / "access-demo1.yaml")])
    return Insight.from_manifests([d.manifest for d in documents])


def _observed(insight: Insight, flips: list[tuple[str, str]], order: list[str]) -> Matrix:
    """The computed matrix on REDIS, in `order`, with the `flips` cells turned over."""
    pods = [insight.pod(key) for key in order]
    grid = insight.grid(REDIS, pods).copy()
    for src, dst in flips:
        grid[order.index(src), order.index(dst)] ^= True
    return Matrix(pods=tuple(order), ports=(REDIS,), allowed={REDIS.key: grid})


@pytest.mark.parametrize(
    "flips",
    [
        pytest.param([], id="packets that did what the policies say agree"),
        pytest.param([("default/web", "default/db")], id="a denied cell that got through"),
        pytest.param([("default/frontend", "default/db"), ("apps/api", "apps/ui")],
                     id="each disagreeing cell is named, whichever way"),
    ],
)
@pytest.mark.parametrize("reverse", [False, True], ids=["prober's order as the heatmap's",
                                                       "prober in another order"])
def test_disagreements_are_exactly_the_flipped_cells(insight: Insight, flips, reverse: bool):
    order = [p.key for p in insight.pods_in([])]
    observed = _observed(insight, flips, order[::-1] if reverse else order)
    data = probe_data(insight, observed, REDIS)
    assert data["pods"] == order  # the heatmap's order, whatever the prober's
    assert data["agree"] is (not flips)
    found = {(d["from"], d["to"]) for d in data["disagreements"]}
    assert found == set(flips)
    computed = np.array(data["computed"])
    for d in data["disagreements"]:
        i, j = order.index(d["from"]), order.index(d["to"])
        assert d["computed"] == computed[i, j] and d["observed"] != d["computed"]
