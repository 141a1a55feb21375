"""Results as plain data (for `-o json|yaml|csv`): the stable shapes other tools read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np
import yaml

from podwall.semantics import Decision, Matrix, PodExplanation, Side
from podwall.semantics.explain import DirectionExplanation

__all__ = [
    "decision_csv",
    "decision_data",
    "dump",
    "explanation_csv",
    "explanation_data",
    "matrix_data",
    "write_matrix",
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
    """The matrix as one document (small matrices; `write_matrix` streams large ones)."""
    return {
        "pods": list(matrix.pods),
        "ports": [{"port": p.port, "protocol": p.protocol} for p in matrix.ports],
        "allowed": {key: grid.tolist() for key, grid in matrix.allowed.items()},
    }


_WORDS = np.array(["false", "true"])


def _row(values: np.ndarray) -> str:
    return "[" + ", ".join(_WORDS[values.astype(np.intp)]) + "]"


def write_matrix(matrix: Matrix, fmt: str, stream: TextIO) -> None:
    """Write the matrix as json, yaml or csv row by row, never holding the text in memory.

    JSON and YAML carry the documented shape ({"pods", "ports", "allowed"}); JSON strings are
    valid YAML scalars, so both share the row writer.
    """
    if fmt == "csv":
        stream.write("port,protocol,from,to,allowed\n")
        for spec in matrix.ports:
            grid = matrix.allowed[spec.key]
            for i, src in enumerate(matrix.pods):
                head = f"{spec.port},{spec.protocol},{src},"
                stream.writelines(
                    f"{head}{dst},{word}\n"
                    for dst, word in zip(matrix.pods, _WORDS[grid[i].astype(np.intp)], strict=True)
                )
        return
    pods = [json.dumps(p) for p in matrix.pods]
    ports = [{"port": p.port, "protocol": p.protocol} for p in matrix.ports]
    if fmt == "json":
        stream.write(
            f'{{"pods": [{", ".join(pods)}],\n "ports": {json.dumps(ports)},\n "allowed": {{'
        )
        for k, spec in enumerate(matrix.ports):
            grid = matrix.allowed[spec.key]
            stream.write(("," if k else "") + f"\n  {json.dumps(spec.key)}: [")
            for i in range(len(pods)):
                stream.write(("," if i else "") + "\n   " + _row(grid[i]))
            stream.write("]")
        stream.write("}}\n")
        return
    stream.write("pods:\n" + "".join(f"- {p}\n" for p in pods) if pods else "pods: []\n")
    stream.write(
        "ports:\n" + "".join(f"- port: {p['port']}\n  protocol: {p['protocol']}\n" for p in ports)
        if ports
        else "ports: []\n"
    )
    stream.write("allowed:\n" if matrix.ports else "allowed: {}\n")
    for spec in matrix.ports:
        grid = matrix.allowed[spec.key]
        stream.write(
            f"  {json.dumps(spec.key)}:\n" if len(pods) else f"  {json.dumps(spec.key)}: []\n"
        )
        for i in range(len(pods)):
            stream.write("  - " + _row(grid[i]) + "\n")


def _csv(header: list[str], rows: list[list[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[str(v).lower() if isinstance(v, bool) else v for v in r] for r in rows])
    return out.getvalue()


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
