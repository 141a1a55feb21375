"""Results as plain data (for `-o json|yaml|csv`): the stable shapes other tools read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any

import yaml

from podwall.semantics import Decision, Matrix, PodExplanation, Side
from podwall.semantics.explain import DirectionExplanation

__all__ = [
    "decision_csv",
    "decision_data",
    "dump",
    "explanation_csv",
    "explanation_data",
    "matrix_csv",
    "matrix_data",
]


def _side(side: Side) -> dict[str, Any]:
    return {
        "allowed": side.allowed,
        "isolated": bool(side.isolated_by),
        "isolatedBy": list(side.isolated_by),
        "reasons": [
            {k: v for k, v in (("text", r.text), ("policy", r.policy), ("path", r.path)) if v}
            for r in side.reasons
        ],
    }


def decision_data(decision: Decision) -> dict[str, Any]:
    flow = decision.flow
    return {
        "verdict": decision.verdict.value,
        "from": flow.src.label,
        "to": flow.dst.label,
        "port": flow.port,
        "protocol": flow.protocol,
        "egress": _side(decision.egress),
        "ingress": _side(decision.ingress),
        "notes": list(decision.notes),
    }


def matrix_data(matrix: Matrix) -> dict[str, Any]:
    return matrix.to_json()


def _csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[str(v).lower() if isinstance(v, bool) else v for v in r] for r in rows])
    return out.getvalue()


def matrix_csv(matrix: Matrix) -> str:
    """One row per (port, source, destination): easy to filter with any tool."""
    rows: list[list[object]] = [
        [spec.port, spec.protocol, src, dst, bool(matrix.allowed[spec.key][i, j])]
        for spec in matrix.ports
        for i, src in enumerate(matrix.pods)
        for j, dst in enumerate(matrix.pods)
    ]
    return _csv(["port", "protocol", "from", "to", "allowed"], rows)


def decision_csv(decision: Decision) -> str:
    """One row per reason, each carrying the flow and both directions' verdicts."""
    flow = decision.flow
    head = [flow.src.label, flow.dst.label, flow.port, flow.protocol, decision.verdict.value]
    rows: list[list[object]] = [
        [*head, side.direction.value, side.allowed, r.policy, r.path, r.text]
        for side in (decision.egress, decision.ingress)
        for r in side.reasons
    ]
    header = [
        "from",
        "to",
        "port",
        "protocol",
        "verdict",
        "direction",
        "direction_allowed",
        "policy",
        "path",
        "reason",
    ]
    return _csv(header, rows)


def explanation_csv(explanations: Sequence[PodExplanation]) -> str:
    """One row per allowing rule (or per direction when nothing isolates the pod)."""
    rows: list[list[object]] = []
    for e in explanations:
        for d in (e.ingress, e.egress):
            isolated_by = " ".join(d.isolated_by)
            if not d.allowances:
                rows.append([e.pod, d.direction.value, d.isolated, isolated_by, "", "", "", ""])
            rows += [
                [e.pod, d.direction.value, True, isolated_by, a.policy, a.path, a.peers, a.ports]
                for a in d.allowances
            ]
    header = ["pod", "direction", "isolated", "isolated_by", "policy", "path", "peers", "ports"]
    return _csv(header, rows)


def _direction(d: DirectionExplanation) -> dict[str, Any]:
    return {
        "isolated": d.isolated,
        "isolatedBy": list(d.isolated_by),
        "allowedBy": [
            {"policy": a.policy, "path": a.path, "peers": a.peers, "ports": a.ports}
            for a in d.allowances
        ],
    }


def explanation_data(explanations: Sequence[PodExplanation]) -> list[dict[str, Any]]:
    return [
        {
            "pod": e.pod,
            "notes": list(e.notes),
            "ingress": {**_direction(e.ingress), "reachableFrom": dict_lists(e.reachable_from)},
            "egress": {**_direction(e.egress), "reaches": dict_lists(e.reaches)},
        }
        for e in explanations
    ]


def dict_lists(mapping: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    return {k: list(v) for k, v in mapping.items()}


def dump(data: object, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(data, indent=2) + "\n"
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
