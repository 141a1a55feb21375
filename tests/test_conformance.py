"""Upstream e2e netpol conformance (tests/data/conformance): every case, every scored cell.

Each step's cluster goes through the real `podwall matrix` command, and each cell is also
decided one flow at a time through the Python API; both must equal upstream's expectations.
"""

from __future__ import annotations

import json

import pytest

from conftest import write_manifests
from netpol_model import Step, load_steps, mismatches
from podwall.assemble import assemble
from podwall.semantics import ClusterIndex, Flow, decide

STEPS = load_steps()


def _id(step: Step) -> str:
    return f"{step.case}[{step.index}]"


def test_catalogue_covers_every_upstream_case():
    assert len({s.case for s in STEPS}) == 48
    assert sum(len(s.probes) for s in STEPS) >= 60


@pytest.mark.parametrize("step", STEPS, ids=_id)
def test_matrix_command_matches_upstream(step: Step, tmp_path, podwall_cli):
    write_manifests(tmp_path, step.manifests)
    args = ["matrix", "-f", str(tmp_path), "-o", "json"]
    for probe in step.probes:
        args += ["--port", probe.key]
    result = podwall_cli(*args)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    wrong = [w for probe in step.probes
             for w in mismatches(probe, data["pods"], data["allowed"][probe.key])]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("step", STEPS, ids=_id)
def test_single_flow_decisions_match_upstream(step: Step):
    loaded = assemble([("case", m) for m in step.manifests])
    assert not loaded.invalid, [str(e) for e in loaded.invalid]
    index = ClusterIndex.build(loaded.cluster)
    endpoints = [index.pod_endpoint(p) for p in loaded.cluster.pods]
    pods = [p.key for p in loaded.cluster.pods]
    for probe in step.probes:
        grid = [[decide(Flow(src=s, dst=d, protocol=probe.protocol, port=probe.port), index).allowed
                 for d in endpoints] for s in endpoints]
        assert not mismatches(probe, pods, grid)
