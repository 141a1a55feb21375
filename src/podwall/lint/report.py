"""Lint findings rendered for people (a rich table) and for machines (JSON, SARIF 2.1.0, JUnit).

Renderers are pure: findings in, text (or a rich renderable) out. Output is stable for equal
input: findings come sorted, keys are sorted, and nothing carries a timestamp.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree as ET

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from podwall.lint.findings import CODES, Finding, Severity

__all__ = ["render_json", "render_junit", "render_sarif", "render_table", "summary"]

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_STYLE = {Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan"}


def summary(findings: Sequence[Finding]) -> dict[str, int]:
    return {s.value: sum(f.severity is s for f in findings) for s in Severity}


def _summary_line(findings: Sequence[Finding]) -> str:
    counts = summary(findings)
    return ", ".join(f"{n} {sev}" for sev, n in counts.items()) if findings else "no findings"


def _finding_view(f: Finding) -> Text:
    head = Text()
    head.append(f"{f.severity.value:<7} ", style=_STYLE[f.severity])
    head.append(f"{f.code} {f.info.title}  ", style="bold")
    head.append(f"{f.object} {f.path}".rstrip())
    fix = "\n".join("       " + line for line in f.fix.splitlines())
    head.append(f"\n        {f.message}\n  fix:\n{fix}\n")
    return head


def _counts_table(findings: Sequence[Finding]) -> Table:
    table = Table(title=f"lint: {_summary_line(findings)}", title_justify="left")
    for column in ("code", "severity", "check", "findings"):
        table.add_column(column)
    for code in sorted({f.code for f in findings}):
        info = CODES[code]
        count = sum(f.code == code for f in findings)
        severity = Text(info.severity.value, style=_STYLE[info.severity])
        table.add_row(code, severity, info.title, str(count))
    return table


def render_table(findings: Sequence[Finding]) -> RenderableType:
    """Each finding (what, where, why, how to fix), then a table of counts per check."""
    if not findings:
        return Text("lint: no findings")
    return Group(*(_finding_view(f) for f in findings), _counts_table(findings))


def _finding_data(f: Finding) -> dict[str, Any]:
    return {
        "code": f.code,
        "title": f.info.title,
        "severity": f.severity.value,
        "kind": f.kind,
        "name": f.name,
        "object": f.object,
        "path": f.path,
        "message": f.message,
        "fix": f.fix,
    }


def render_json(findings: Sequence[Finding]) -> str:
    data = {"findings": [_finding_data(f) for f in findings], "summary": summary(findings)}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def _sarif_rule(code: str) -> dict[str, Any]:
    info = CODES[code]
    return {
        "id": code,
        "name": info.title,
        "shortDescription": {"text": info.title},
        "fullDescription": {"text": info.doc},
        "defaultConfiguration": {"level": _SARIF_LEVEL[info.severity]},
    }


def _sarif_result(f: Finding, rule_index: int) -> dict[str, Any]:
    fqn = f"{f.object}.{f.path}" if f.path else f.object
    return {
        "ruleId": f.code,
        "ruleIndex": rule_index,
        "level": _SARIF_LEVEL[f.severity],
        "message": {"text": f"{f.object} {f.path}: {f.message}".replace("  ", " ")},
        "locations": [
            {
                "logicalLocations": [
                    {"name": f.path or f.name, "fullyQualifiedName": fqn, "kind": "object"}
                ]
            }
        ],
        # SARIF's `fixes` must carry artifactChanges (file edits); the advice goes in the
        # property bag instead, so strict SARIF consumers accept the file.
        "properties": {"kind": f.kind, "name": f.name, "path": f.path, "fix": f.fix},
    }


def render_sarif(findings: Sequence[Finding], version: str = "") -> str:
    """SARIF 2.1.0: every code as a rule, every finding as a result with a logical location."""
    codes = sorted(CODES)
    driver: dict[str, Any] = {
        "name": "podwall",
        "informationUri": "https://podwall.dev/lint",
        "rules": [_sarif_rule(c) for c in codes],
    }
    if version:
        driver["version"] = version
    run = {
        "tool": {"driver": driver},
        "results": [_sarif_result(f, codes.index(f.code)) for f in findings],
    }
    data = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def render_junit(findings: Sequence[Finding]) -> str:
    """One testcase per check code; each finding of that code is a <failure> in it."""
    suite = ET.Element(
        "testsuite",
        name="podwall lint",
        tests=str(len(CODES)),
        failures=str(len({f.code for f in findings})),
        errors="0",
    )
    for code in sorted(CODES):
        case = ET.SubElement(
            suite, "testcase", classname="podwall.lint", name=f"{code} {CODES[code].title}"
        )
        for f in (f for f in findings if f.code == code):
            failure = ET.SubElement(
                case,
                "failure",
                message=f"{f.object} {f.path}: {f.message}".replace("  ", " "),
                type=f.severity.value,
            )
            failure.text = f"fix: {f.fix}"
    root = ET.Element("testsuites", name="podwall lint")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
