"""`podwall lint` checks, table-driven over the catalogues in tests/data/lint (see its README):
every code has a case that triggers it and a corrected case that stays quiet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from podwall.assemble import assemble
from podwall.lint import CODES, Finding, Severity, ignored_codes, lint_cluster
from podwall.model import Cluster
from podwall.semantics import Options

DATA = Path(__file__).parent / "data" / "lint"
EXAMPLES = Path(__file__).parent.parent / "src" / "podwall" / "examples"
CASE_KEYS = {"name", "codes", "base", "ipblock", "manifests", "expect"}


def _catalogues() -> list[tuple[str, dict[str, Any], dict[str, Any]]]:
    found = []
    for path in sorted(DATA.glob("*.yaml")):
        catalogue = yaml.safe_load(path.read_text())
        for case in catalogue["cases"]:
            found.append((f"{path.stem}: {case['name']}", catalogue, case))
    return found


CASES = _catalogues()


def cluster_of(catalogue: dict[str, Any], case: dict[str, Any]) -> Cluster:
    manifests = (catalogue.get("cluster") or []) if case.get("base", True) else []
    manifests = [*manifests, *case.get("manifests", [])]
    loaded = assemble([(case["name"], m) for m in manifests])
    assert not loaded.invalid, [str(e) for e in loaded.invalid]
    return loaded.cluster


def rendered(finding: Finding) -> str:
    return f"{finding.code} {finding.object} {finding.path}".rstrip()


def test_case_names_are_unique_and_shaped() -> None:
    names = [name for name, _, _ in CASES]
    assert len(names) == len(set(names))
    for name, _, case in CASES:
        assert set(case) <= CASE_KEYS, name
        assert set(case["codes"]) <= set(CODES), name


def test_every_code_has_a_triggering_and_a_quiet_case() -> None:
    triggered = {line.split()[0] for _, _, case in CASES for line in case["expect"]}
    quiet = {code for _, _, case in CASES if not case["expect"] for code in case["codes"]}
    assert triggered == set(CODES)
    assert quiet == set(CODES)


@pytest.mark.parametrize(("catalogue", "case"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_lint_case(catalogue: dict[str, Any], case: dict[str, Any]) -> None:
    options = Options(ipblock_matches_cluster=case.get("ipblock", "calico") == "calico")
    findings = lint_cluster(cluster_of(catalogue, case), options)
    got = sorted(rendered(f) for f in findings if f.code in case["codes"])
    assert got == sorted(case["expect"])
    for finding in findings:
        assert finding.message.endswith("."), finding
        assert finding.fix, finding


def test_findings_come_most_severe_first() -> None:
    catalogue, case = next((c[1], c[2]) for c in CASES if c[0].startswith("isolation"))
    ranks = [f.severity.rank for f in lint_cluster(cluster_of(catalogue, case))]
    assert ranks == sorted(ranks, reverse=True)


def test_namespace_scope_keeps_only_that_namespace() -> None:
    catalogue, case = next((c[1], c[2]) for c in CASES if c[0].startswith("isolation"))
    findings = lint_cluster(cluster_of(catalogue, case), namespace="prod")
    assert findings
    assert {f.namespace for f in findings} == {"prod"}


@pytest.mark.parametrize(
    ("value", "codes"),
    [
        ("PW001,PW004", {"PW001", "PW004"}),
        (" pw001 ,  PW002 ", {"PW001", "PW002"}),
        ("PW001 PW002", {"PW001", "PW002"}),
        ("", set()),
    ],
    ids=["comma separated", "spaces and lower case", "space separated", "empty"],
)
def test_ignore_annotation_values(value: str, codes: set[str]) -> None:
    assert ignored_codes(value) == codes


def test_codes_table_is_complete() -> None:
    for code, info in CODES.items():
        assert info.code == code
        assert info.title and info.doc
        assert isinstance(info.severity, Severity)


def test_bundled_examples_lint_without_crashing() -> None:
    """What lint says about examples/ is reported to the lead; here only that it runs."""
    from podwall.inputs import read_documents

    docs = read_documents([str(EXAMPLES)])
    loaded = assemble([(d.source, d.manifest) for d in docs])
    findings = lint_cluster(loaded.cluster)
    assert all(f.code in CODES for f in findings)
