"""A proposed change to a cluster's policies, before anything is saved: the state it leads to,
exactly which connections it opens and closes (`podwall diff`'s engine), and the lint findings
it adds; and lint findings as the console shows them. Pure, like `insight`: a cluster and the
proposal's text in, plain data out.

A proposal is YAML (or JSON) of NetworkPolicies, each created, or replacing the stored one of
the same `ns/name`, plus policies to delete. It is read and validated as the API server would
(`podwall validate`); any error answers 422 with every message as the API server prints it.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import islice

import numpy as np

from podwall.assemble import assemble, build_cluster, undeclared_namespace_warning
from podwall.console.errors import Unprocessable
from podwall.console.insight import Insight, LintResult, lint_state
from podwall.diff import Changes, compare, diff_data, diff_summary, summarize
from podwall.errors import InputError
from podwall.inputs import read_documents
from podwall.lint import Finding
from podwall.model import Cluster, NetworkPolicy
from podwall.validation import render_errors

__all__ = [
    "CELL_LIMIT",
    "Proposal",
    "apply_proposal",
    "finding_data",
    "lint_data",
    "parse_proposal",
    "preview",
]

CELL_LIMIT = 5000  # opened and closed cells listed one by one up to here each; counts are exact
POLICY_KIND = "NetworkPolicy"


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    policies: tuple[NetworkPolicy, ...]  # to create, or to replace by ns/name
    deletions: tuple[str, ...]  # ns/name
    warnings: tuple[str, ...] = ()


def _invalid(messages: Sequence[str]) -> Unprocessable:
    return Unprocessable(messages[0], extra={"messages": list(messages)})


def parse_proposal(
    text: str, deletions: Sequence[tuple[str, str]], *, namespace: str = "default",
    legacy_cidr: bool = False,
) -> Proposal:
    """The proposal's policies, defaulted and valid, or 422 {detail, messages}."""
    try:
        documents = read_documents(["-"], stdin=io.StringIO(text)) if text.strip() else []
    except InputError as err:
        raise _invalid([str(err).replace("-: ", "", 1)]) from err
    others = [
        f"{_where(d.source)}{d.manifest.get('kind') or 'an object without kind'}: only "
        "NetworkPolicy objects can be proposed"
        for d in documents if d.manifest.get("kind") != POLICY_KIND
    ]
    if others:
        raise _invalid(others)
    loaded = assemble([(d.source, d.manifest) for d in documents], namespace,
                      strict_cidr=not legacy_cidr)
    if loaded.invalid:
        raise _invalid([render_errors(i.kind, i.name, i.errors) for i in loaded.invalid])
    policies = tuple(o for o in loaded.objects if isinstance(o, NetworkPolicy))
    # The proposal alone declares no namespace; whether its namespaces exist is a question
    # for the cluster it is previewed on (see `preview`), not for the YAML.
    implied = {undeclared_namespace_warning(n.name) for n in loaded.cluster.namespaces
               if n.implied}
    warnings = tuple(w for w in loaded.warnings if w not in implied)
    return Proposal(policies=policies, deletions=tuple(f"{ns}/{name}" for ns, name in deletions),
                    warnings=warnings)


def _where(source: str) -> str:
    """`- document 2` -> `document 2: `; a lone document needs no position."""
    rest = source.removeprefix("-").strip()
    return f"{rest}: " if rest else ""


def apply_proposal(cluster: Cluster, proposal: Proposal) -> Cluster:
    """The cluster with the proposal applied; 422 when it deletes a policy the cluster lacks."""
    stored = {p.key for p in cluster.policies}
    missing = [key for key in proposal.deletions if key not in stored]
    if missing:
        raise _invalid([f'NetworkPolicy "{key}" is not in the cluster\'s last sync: '
                        "nothing to delete" for key in missing])
    gone = set(proposal.deletions) | {p.key for p in proposal.policies}
    kept = [p for p in cluster.policies if p.key not in gone]
    implied = {n.name for n in cluster.namespaces if n.implied}
    namespaces = [n for n in cluster.namespaces if n.name not in implied]
    new, _ = build_cluster([*namespaces, *cluster.pods, *kept, *proposal.policies])
    return new


def _cells(changes: Changes, which: str, limit: int) -> tuple[list[dict], int]:
    """Up to `limit` changed (from, to, port, protocol) cells pod by pod, and how many in all."""
    grids = changes.opened_cells if which == "opened" else changes.closed_cells
    count = max(changes.unit_count, 1)
    weights = changes.weights().reshape(-1) if changes.unit_count else np.zeros(0, np.int64)
    members: list[list[str]] = [[] for _ in range(changes.unit_count)]
    for key, unit in zip(changes.pod_keys, changes.unit_of_pod.tolist(), strict=True):
        members[unit].append(key)
    found: list[dict] = []
    total = 0
    for spec in changes.ports:
        flat = grids[spec.key]
        total += int(weights[flat].sum()) if len(flat) else 0
        for a, b in zip(*np.divmod(flat, count), strict=True):
            pairs = ((s, d) for s in members[a] for d in members[b] if s != d)
            found += [
                {"from": src, "to": dst, "port": spec.port, "protocol": spec.protocol}
                for src, dst in islice(pairs, max(limit - len(found), 0))
            ]
    return found, total


def finding_data(finding: Finding, *, new: bool = False) -> dict:
    """A lint finding for the console: `policy` names the NetworkPolicy it is on (empty for a
    pod or namespace finding); `new` marks what a proposed change would add."""
    return {
        "code": finding.code,
        "title": finding.info.title,
        "severity": finding.severity.value,
        "kind": finding.kind,
        "name": finding.name,
        "policy": finding.name if finding.kind == "NetworkPolicy" else "",
        "path": finding.path,
        "message": finding.message,
        "fix": finding.fix,
        "new": new,
    }


def lint_data(result: LintResult, before: LintResult | None = None) -> dict:
    """Findings (`new` marks those absent before), counts per severity, skipped codes."""
    seen = {_identity(f) for f in before.findings} if before is not None else None
    findings = [finding_data(f, new=seen is not None and _identity(f) not in seen)
                for f in result.findings]
    summary = {s: sum(f["severity"] == s for f in findings) for s in ("error", "warning", "info")}
    return {"findings": findings, "summary": summary, "skipped": list(result.skipped)}


def _identity(finding: Finding) -> tuple[str, str, str, str]:
    return (finding.code, finding.kind, finding.name, finding.path)


def preview(insight: Insight, proposal: Proposal, limit: int = CELL_LIMIT) -> dict:
    """What saving the proposal would do: opened and closed cells (on every port some pod
    declares), the diff report's summary and groups, and the lint findings it adds."""
    old = insight.cluster
    new = apply_proposal(old, proposal)
    changes = compare(old, new, options=insight.options)
    report = summarize(changes)
    opened, opened_count = _cells(changes, "opened", limit)
    closed, closed_count = _cells(changes, "closed", limit)
    before, after = insight.lint(), lint_state(new)
    added = lint_data(after, before)
    return {
        "opened": opened,
        "closed": closed,
        "opened_count": opened_count,
        "closed_count": closed_count,
        "truncated": opened_count > len(opened) or closed_count > len(closed),
        "summary": diff_summary(report),
        "policies": diff_data(report)["policies"],
        "diff": diff_data(report),
        "findings": [f for f in added["findings"] if f["new"]],
        "warnings": [*proposal.warnings, *_missing_namespaces(old, proposal)],
    }


def _missing_namespaces(cluster: Cluster, proposal: Proposal) -> list[str]:
    """Policies in a namespace the cluster lacks: the API server would answer 404."""
    present = {n.name for n in cluster.namespaces if not n.implied}
    missing = sorted({p.namespace for p in proposal.policies} - present)
    return [f"namespace {name!r} does not exist in the cluster: the API server would refuse "
            "policies in it" for name in missing]
