"""The console's policy form: the seeds' defaults, the CIDR syntax, errors with the form's field
paths, and the way back from a manifest to the form (round trips), from
tests/data/console/forms.yaml and the examples' policies."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from apiserver_support import EXAMPLES
from console_support import ConsoleEnv
from podwall.console import writes
from podwall.console.errors import Unprocessable
from podwall.console.forms import PolicyForm, form_to_manifest, manifest_to_form
from podwall.inputs import read_documents

CATALOGUE = yaml.safe_load((Path(__file__).parent / "data" / "console" / "forms.yaml").read_text())


def _params(section: str) -> list[Any]:
    return [pytest.param(case, id=case["name"]) for case in CATALOGUE[section]]


def _policy(spec: dict[str, Any], name: str = "web", namespace: str = "apps") -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace}, "spec": spec}


@pytest.mark.parametrize("case", _params("cases"))
def test_a_form_gives_the_policy_the_seeds_describe(case: dict[str, Any]):
    form = PolicyForm.model_validate(case["form"])
    manifest, errors = form_to_manifest(form)
    assert errors == []
    assert manifest == _policy(case["spec"], manifest["metadata"]["name"],
                               case["form"]["namespace"])
    assert writes.validate_manifest(manifest) == []  # the API server would take it


@pytest.mark.parametrize("case", _params("cases"))
def test_the_form_reads_back_from_its_manifest(case: dict[str, Any]):
    form = PolicyForm.model_validate(case["form"])
    manifest, _ = form_to_manifest(form)
    again = manifest_to_form(manifest)
    assert again is not None
    assert form_to_manifest(again) == (manifest, [])
    if case.get("canonical", True):
        assert again == form


@pytest.mark.parametrize("case", _params("errors"))
def test_a_form_that_cannot_be_saved_says_every_error(case: dict[str, Any]):
    with pytest.raises(Unprocessable) as raised:
        writes.form_manifest(PolicyForm.model_validate(case["form"]))
    assert raised.value.extra["messages"] == case["messages"]
    assert str(raised.value) == case["messages"][0]


@pytest.mark.parametrize("case", _params("inexpressible"))
def test_a_policy_the_form_cannot_express_has_no_form(case: dict[str, Any]):
    assert manifest_to_form(_policy(case["spec"])) is None


def _normal(manifest: dict[str, Any]) -> dict[str, Any]:
    """The spec with Kubernetes' equivalent spellings made one: the protocol defaulted, an
    empty podSelector beside a namespaceSelector dropped, a rule's peers in one order."""
    spec = copy.deepcopy(manifest["spec"])
    for field, peers_field in (("ingress", "from"), ("egress", "to")):
        for rule in spec.get(field) or []:
            for port in rule.get("ports") or []:
                port.setdefault("protocol", "TCP")
            for peer in rule.get(peers_field) or []:
                if "namespaceSelector" in peer and peer.get("podSelector") in ({}, None):
                    peer.pop("podSelector", None)
            rule[peers_field] = sorted(rule.get(peers_field) or [], key=repr)
    spec.setdefault("policyTypes", ["Ingress", "Egress"] if spec.get("egress") else ["Ingress"])
    return spec


def _example_policies() -> list[Any]:
    documents = read_documents([str(EXAMPLES)])
    return [pytest.param(d.manifest, id=d.source.rsplit("/", 1)[-1])
            for d in documents if d.manifest.get("kind") == "NetworkPolicy"]


@pytest.mark.parametrize("manifest", _example_policies())
def test_an_example_policy_the_form_expresses_comes_back_the_same(manifest: dict[str, Any]):
    form = manifest_to_form(manifest)
    if form is None:  # counted below: the form must express a fair share of the examples
        return
    again, errors = form_to_manifest(form)
    assert errors == []
    assert _normal(again) == _normal(manifest)
    assert again["metadata"]["name"] == manifest["metadata"]["name"]


def test_the_form_expresses_most_of_the_seeds_examples():
    policies = [p.values[0] for p in _example_policies()]
    expressed = [p["metadata"]["name"] for p in policies if manifest_to_form(p) is not None]
    assert len(policies) >= 8 and len(expressed) >= len(policies) // 2, expressed


def test_unknown_form_fields_are_refused():
    with pytest.raises(ValueError, match="extra"):
        PolicyForm.model_validate({"name": "web", "colour": "red"})
    with pytest.raises(ValueError, match="extra"):
        PolicyForm.model_validate({"name": "web", "ingress": [{"ports": "80"}]})


# The REST edge: POST /forms/policy.
def test_the_form_endpoint_answers_the_manifest_and_its_yaml(console_env: ConsoleEnv):
    form = CATALOGUE["cases"][10]["form"]
    response = console_env.client.post("/api/v1/forms/policy", json={"form": form})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["manifest"] == form_to_manifest(PolicyForm.model_validate(form))[0]
    assert yaml.safe_load(body["yaml"]) == body["manifest"]


def test_the_form_endpoint_answers_422_with_the_form_paths(console_env: ConsoleEnv):
    case = next(c for c in CATALOGUE["errors"] if c["name"].startswith("every rule"))
    response = console_env.client.post("/api/v1/forms/policy", json={"form": case["form"]})
    assert response.status_code == 422
    assert response.json() == {"detail": case["messages"][0], "messages": case["messages"]}
