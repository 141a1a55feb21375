"""The `lint` command through typer, on a local app that registers it as cli.py will
(`app.command()(lint)`): output shapes, --fail-on exit codes, annotation silencing, bad input.
"""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import pytest
import typer
import yaml
from typer.testing import CliRunner

from podwall.cli_lint import lint
from podwall.errors import EXIT_USAGE, InvalidObjects
from podwall.lint import CODES

DATA = Path(__file__).parent / "data" / "lint"

app = typer.Typer()
app.command()(lint)


@app.callback()
def _root() -> None:
    """Keeps `lint` a subcommand, as in the real app."""


runner = CliRunner()


def _write(tmp_path: Path, catalogue: str, case_name: str) -> Path:
    """The cluster of one catalogue case, as one multi-document YAML file."""
    data = yaml.safe_load((DATA / catalogue).read_text())
    case = next(c for c in data["cases"] if c["name"] == case_name)
    path = tmp_path / "cluster.yaml"
    path.write_text(yaml.safe_dump_all([*data["cluster"], *case["manifests"]]))
    return path


DENY = "default-deny egress without a DNS rule breaks name lookups"  # PW001 (error)
REDUNDANT = "a rule covered by a broader rule of the same policy"  # PW012 (info) only
SILENCED = "the lint-ignore annotation silences the code on that policy"


@pytest.fixture
def deny(tmp_path: Path) -> Path:
    return _write(tmp_path, "dns.yaml", DENY)


def test_json_lists_findings_and_a_summary(deny: Path) -> None:
    result = runner.invoke(app, ["lint", "-f", str(deny), "-o", "json", "--fail-on", "none"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["summary"]["error"] >= 1
    pw001 = [f for f in data["findings"] if f["code"] == "PW001"]
    assert pw001[0]["object"] == 'NetworkPolicy "default/deny-egress"'
    assert pw001[0]["path"] == "spec.egress"
    assert "169.254.20.10/32" in pw001[0]["fix"]


def test_sarif_has_rules_results_and_logical_locations(deny: Path) -> None:
    result = runner.invoke(app, ["lint", "-f", str(deny), "-o", "sarif"])
    data = json.loads(result.stdout)
    assert data["version"] == "2.1.0"
    run = data["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids == sorted(CODES)
    first = run["results"][0]
    assert first["ruleId"] == "PW001"
    assert rule_ids[first["ruleIndex"]] == "PW001"
    assert first["level"] == "error"
    assert first["message"]["text"]
    location = first["locations"][0]["logicalLocations"][0]
    assert location["fullyQualifiedName"] == 'NetworkPolicy "default/deny-egress".spec.egress'


def test_junit_has_one_testcase_per_code_and_failures_per_finding(deny: Path) -> None:
    result = runner.invoke(app, ["lint", "-f", str(deny), "-o", "junit"])
    root = ET.fromstring(result.stdout.split("?>", 1)[1])
    cases = root.findall("./testsuite/testcase")
    assert len(cases) == len(CODES)
    by_code = {c.get("name", "").split()[0]: c for c in cases}
    assert len(by_code["PW001"].findall("failure")) == 1
    assert by_code["PW002"].findall("failure") == []


def test_table_names_code_object_and_fix(deny: Path) -> None:
    result = runner.invoke(app, ["lint", "-f", str(deny)])
    assert "PW001" in result.stdout
    assert 'NetworkPolicy "default/deny-egress"' in result.stdout
    assert "fix:" in result.stdout


@pytest.mark.parametrize(
    ("case", "fail_on", "code"),
    [
        (DENY, "error", 1),
        (DENY, "none", 0),
        (REDUNDANT, "error", 0),
        (REDUNDANT, "warning", 1),
        (REDUNDANT, "info", 1),
    ],
    ids=[
        "an error fails the default --fail-on error",
        "--fail-on none never fails",
        "warnings alone pass --fail-on error",
        "--fail-on warning fails on warnings",
        "--fail-on info fails on anything",
    ],
)
def test_fail_on_sets_the_exit_code(tmp_path: Path, case: str, fail_on: str, code: int) -> None:
    catalogue = "dns.yaml" if case == DENY else "redundancy.yaml"
    path = _write(tmp_path, catalogue, case)
    result = runner.invoke(app, ["lint", "-f", str(path), "--fail-on", fail_on, "-o", "json"])
    assert result.exit_code == code, result.output


def test_annotation_silences_the_finding(tmp_path: Path) -> None:
    path = _write(tmp_path, "dns.yaml", SILENCED)
    result = runner.invoke(app, ["lint", "-f", str(path), "-o", "json"])
    assert result.exit_code == 0, result.output
    codes = {f["code"] for f in json.loads(result.stdout)["findings"]}
    assert "PW001" not in codes


def test_invalid_input_raises_the_exit_2_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p}\n"
        "spec: {podSelector: {}, ingress: [{ports: [{port: 80, endPort: 79}]}]}\n"
    )
    result = runner.invoke(app, ["lint", "-f", str(bad)])
    assert isinstance(result.exception, InvalidObjects)
    assert result.exception.exit_code == EXIT_USAGE


def test_bad_option_value_is_a_usage_error(deny: Path) -> None:
    result = runner.invoke(app, ["lint", "-f", str(deny), "--fail-on", "sometimes"])
    assert result.exit_code == EXIT_USAGE


def test_the_installed_command_lints_the_examples(podwall_cli) -> None:
    """Through the real `podwall lint`: SARIF for code-scanning UIs, exit codes for CI."""
    import json
    from pathlib import Path

    examples = str(Path(__file__).parents[1] / "examples")
    sarif = podwall_cli("lint", "-f", examples, "-o", "sarif")
    assert sarif.returncode == 1  # the seeds' egress policies block DNS: errors
    run = json.loads(sarif.stdout)["runs"][0]
    assert {r["ruleId"] for r in run["results"]} >= {"PW001"}
    assert podwall_cli("lint", "-f", examples, "--fail-on", "none").returncode == 0


def test_sarif_results_carry_only_properties_the_schema_allows(podwall_cli) -> None:
    """A SARIF `fix` needs artifactChanges (file edits), which lint has not: advice goes in
    the result's property bag, where strict consumers accept it."""
    import json
    from pathlib import Path

    examples = str(Path(__file__).parents[1] / "examples")
    run = json.loads(podwall_cli("lint", "-f", examples, "-o", "sarif").stdout)["runs"][0]
    allowed = {"ruleId", "ruleIndex", "level", "message", "locations", "properties"}
    for result in run["results"]:
        assert set(result) <= allowed
        assert result["properties"]["fix"]


def test_lint_finds_exactly_the_mistakes_in_the_examples(podwall_cli) -> None:
    """Issue 3's bar: every planted mistake is found, and nothing else is reported."""
    import yaml

    root = Path(__file__).parents[1]
    expected = yaml.safe_load((root / "tests/data/lint-examples/expected.yaml").read_text())
    run = podwall_cli("lint", "-f", str(root / "examples"), "-o", "json", "--fail-on", "none")
    assert run.returncode == 0, run.stderr
    found = [(f["code"], f["object"], f["path"]) for f in json.loads(run.stdout)["findings"]]
    assert sorted(found) == sorted((e["code"], e["object"], e["path"]) for e in expected)


def test_every_planted_mistake_names_the_code_it_raises(podwall_cli) -> None:
    """Each policy annotated `podwall.dev/planted-mistake: "PWnnn: ..."` raises PWnnn."""
    import yaml

    root = Path(__file__).parents[1]
    planted = {}
    for doc in yaml.safe_load_all((root / "examples/policies/shop-mistakes.yaml").read_text()):
        note = doc["metadata"].get("annotations", {}).get("podwall.dev/planted-mistake")
        if note:
            planted[f'NetworkPolicy "shop/{doc["metadata"]["name"]}"'] = note.split(":")[0]
    run = podwall_cli("lint", "-f", str(root / "examples"), "-o", "json", "--fail-on", "none")
    codes = {(f["object"], f["code"]) for f in json.loads(run.stdout)["findings"]}
    assert len(planted) == 10
    for obj, code in planted.items():
        assert (obj, code) in codes, (obj, code)
