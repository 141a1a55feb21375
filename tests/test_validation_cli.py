"""Every upstream validation and defaulting case through the real `podwall validate` command.

The catalogue (tests/data/validation/networkpolicy.yaml) holds each manifest as a user writes
it and the API server's rendered errors; the command must print exactly those errors wrapped as
kubectl prints a 422, and exit 1 — or, for valid ones, exit 0. Defaulting cases
(tests/data/defaulting/networkpolicy.yaml) compare `validate -o yaml` with the stored form.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml

from conftest import write_manifests
from podwall.decode import object_name

DATA = Path(__file__).parent / "data"
VALIDATION = yaml.safe_load((DATA / "validation" / "networkpolicy.yaml").read_text())
DEFAULTING = yaml.safe_load((DATA / "defaulting" / "networkpolicy.yaml").read_text())


def _args(case: dict[str, Any], directory: Path) -> list[str]:
    write_manifests(directory, [case["manifest"]])
    args = ["validate", "-f", str(directory)]
    if not (case.get("options") or {}).get("strict_cidr", True):
        args.append("--legacy-cidr")
    return args


@pytest.fixture(scope="module")
def validate_results(podwall_cli, tmp_path_factory):
    """All catalogue cases, run concurrently (each in its own directory and process)."""

    def run(i_case: tuple[int, dict[str, Any]]):
        i, case = i_case
        return podwall_cli(*_args(case, tmp_path_factory.mktemp(f"case{i}")))

    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(run, enumerate(VALIDATION)))


@pytest.mark.parametrize("i", range(len(VALIDATION)), ids=[c["name"] for c in VALIDATION])
def test_validate_command_prints_the_api_servers_errors(i, validate_results):
    case, result = VALIDATION[i], validate_results[i]
    if not case["errors"]:
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.strip() == "1 valid, 0 invalid"
        return
    assert result.returncode == 1, result.stdout + result.stderr
    lines = list(dict.fromkeys(case["errors"]))
    head = f'NetworkPolicy "{object_name(case["manifest"])}" is invalid: '
    expected = head + (lines[0] if len(lines) == 1 else "\n" + "\n".join(f"* {x}" for x in lines))
    assert result.stdout == expected + "\n0 valid, 1 invalid\n"


@pytest.mark.parametrize("case", DEFAULTING, ids=[c["name"] for c in DEFAULTING])
def test_validate_prints_the_stored_form_after_defaulting(case, podwall_cli, tmp_path):
    write_manifests(tmp_path, [case["manifest"]])
    result = podwall_cli("validate", "-f", str(tmp_path), "-o", "yaml")
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout) == case["stored"]


def test_validate_reports_every_invalid_object_and_keeps_going(podwall_cli, tmp_path):
    bad = [c["manifest"] for c in VALIDATION if c["errors"]][:3]
    good = [{**c["manifest"], "metadata": {"name": f"good-{i}", "namespace": "bar"}}
            for i, c in enumerate([c for c in VALIDATION if not c["errors"]][:2])]
    write_manifests(tmp_path, [*bad, *good])
    result = podwall_cli("validate", "-f", str(tmp_path))
    assert result.returncode == 1
    assert result.stdout.count(" is invalid: ") == 3
    assert result.stdout.endswith("2 valid, 3 invalid\n")


def test_analysis_refuses_invalid_input_and_names_the_field(podwall_cli, tmp_path):
    write_manifests(tmp_path, [{
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": "p", "namespace": "x"},
        "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": 79}]}]},
    }])
    result = podwall_cli("matrix", "-f", str(tmp_path), "-o", "json")
    assert result.returncode == 2
    assert result.stdout == ""
    assert ('NetworkPolicy "x/p" is invalid: spec.ingress[0].ports[0].endPort: Invalid value: '
            "79: must be greater than or equal to `port`") in result.stderr
