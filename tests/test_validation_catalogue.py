"""The NetworkPolicy validation catalogue, run as the API server runs a create: decode, default,
validate, and compare every rendered error, in order.

The catalogue (tests/data/validation/networkpolicy.yaml) holds every NetworkPolicy case of
upstream's validation_test.go plus one case per validation rule; see its header.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from podwall.decode import decode_object
from podwall.defaults import default_object
from podwall.model import NetworkPolicy
from podwall.validation import validate_network_policy

CATALOGUE = Path(__file__).parent / "data" / "validation" / "networkpolicy.yaml"
CASES: list[dict[str, Any]] = yaml.safe_load(CATALOGUE.read_text())


def test_catalogue_names_are_unique() -> None:
    names = [case["name"] for case in CASES]
    assert len(names) == len(set(names))


def test_catalogue_entries_have_the_documented_shape() -> None:
    for case in CASES:
        assert set(case) <= {"name", "upstream", "options", "manifest", "errors"}, case["name"]
        assert set(case.get("options") or {}) <= {"strict_cidr"}, case["name"]
        assert all(isinstance(err, str) for err in case["errors"]), case["name"]


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_network_policy_create(case: dict[str, Any]) -> None:
    obj, decode_errors = decode_object(case["manifest"])
    assert [err.render() for err in decode_errors] == []
    assert isinstance(obj, NetworkPolicy)
    policy = default_object(obj)
    errors = validate_network_policy(policy, **(case.get("options") or {}))
    assert [err.render() for err in errors] == case["errors"]
