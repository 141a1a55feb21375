"""Label selector matching (metav1.LabelSelector), as labels.Selector.Matches does it.

matchLabels and every matchExpression must all hold (AND); the empty selector matches
everything. NotIn and DoesNotExist match objects that lack the key.
"""

from __future__ import annotations

from collections.abc import Mapping

from podwall.model import LabelSelector, Requirement, SelectorOperator

__all__ = ["matches_requirement", "matches_selector"]


def matches_requirement(req: Requirement, labels: Mapping[str, str]) -> bool:
    has = req.key in labels
    if req.operator == SelectorOperator.IN:
        return has and labels[req.key] in req.values
    if req.operator == SelectorOperator.NOT_IN:
        return not has or labels[req.key] not in req.values
    if req.operator == SelectorOperator.EXISTS:
        return has
    return not has  # DoesNotExist: validation has rejected any other operator


def matches_selector(selector: LabelSelector, labels: Mapping[str, str]) -> bool:
    for key, value in selector.match_labels.items():
        if labels.get(key) != value:
            return False
    return all(matches_requirement(req, labels) for req in selector.match_expressions)
