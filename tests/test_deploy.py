"""deploy/: the agent's container build file, its static manifest and its Helm chart.

The chart is rendered by Helm's own template engine: Helm v4's Go SDK, which the
`helm-python-sdk` wheel bundles (no helm binary, no cluster). Every rendered and static object
is validated against the Kubernetes OpenAPI schemas as JSON schemas (`kubernetes-validate`,
strict: an unknown field fails) for the oldest Kubernetes the chart supports and the newest the
schemas know. The invariants a node agent needs (RBAC, hostNetwork, capabilities, probes) are
read from the YAML, and the DaemonSet's arguments are parsed by the real `podwall agent` command.
Nothing here needs root, a cluster or the network; the image itself is not built here.
"""

from __future__ import annotations

import json
import re
import shlex
import tomllib
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Any

import helm_python
import kubernetes_validate
import pytest
import yaml
from kubernetes import client
from packaging.specifiers import SpecifierSet
from typer.main import get_command

from podwall.agent.http import parse_listen
from podwall.agent.kube import kind_apis
from podwall.cli import app

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm" / "podwall"
STATIC = DEPLOY / "kubernetes" / "podwall-agent.yaml"
CONTAINERFILE = DEPLOY / "Containerfile"
CATALOGUE = yaml.safe_load((Path(__file__).parent / "data" / "deploy" / "chart-values.yaml")
                           .read_text())
NAMESPACE = "podwall-system"
NODE = "node-1"
BOOKWORM_PYTHON = "3.11.2"  # Debian bookworm's python3, the image's interpreter
HELM_ONLY_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")
AGENT_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "DaemonSet"}
READ_VERBS = {"get", "list", "watch"}
# The API group and plural of each kind the agent lists and watches.
RESOURCES = {"Namespace": ("", "namespaces"), "Pod": ("", "pods"),
             "NetworkPolicy": ("networking.k8s.io", "networkpolicies")}
GROUP_OF_API = {"CoreV1Api": "", "NetworkingV1Api": "networking.k8s.io"}

Manifest = dict[str, Any]


def _by_name(cases: list[dict]) -> list[Any]:
    return [pytest.param(case, id=case["name"]) for case in cases]


def _sorted(objects: list[Manifest]) -> list[Manifest]:
    return sorted(objects, key=lambda o: (o["kind"], o["metadata"]["name"]))


def render(values: dict, release: str = "podwall") -> tuple[list[Manifest], str]:
    """The chart's objects (sorted by kind and name) and its NOTES, as `helm template` gives."""
    with helm_python.Chart.load(CHART) as chart:
        files = chart.render(values, name=release, namespace=NAMESPACE, is_install=True)
    objects = [doc for path, text in files.items() if path.endswith((".yaml", ".yml"))
               for doc in yaml.safe_load_all(text) if doc]
    notes = next((text for path, text in files.items() if path.endswith("NOTES.txt")), "")
    return _sorted(objects), notes


def static_objects() -> list[Manifest]:
    return _sorted([doc for doc in yaml.safe_load_all(STATIC.read_text()) if doc])


def kube_versions() -> list[str]:
    """The oldest Kubernetes minor the chart supports (Chart.yaml kubeVersion) and the newest
    the schemas describe."""
    floor = yaml.safe_load((CHART / "Chart.yaml").read_text())["kubeVersion"]
    oldest = re.fullmatch(r">=\s*(\d+\.\d+)\.\d+(-0)?", floor)
    assert oldest, f"kubeVersion {floor!r} is not a plain lower bound"
    return [oldest.group(1), kubernetes_validate.latest_version()]


def schema_errors(objects: list[Manifest]) -> list[str]:
    errors = []
    for version in kube_versions():
        for obj in objects:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                where = ".".join(str(p) for p in err.path)
                errors.append(f"{obj['kind']}/{obj['metadata']['name']} on {version}: "
                              f"{where}: {err.message}")
    return errors


def one(objects: list[Manifest], kind: str) -> Manifest:
    found = [o for o in objects if o["kind"] == kind]
    assert len(found) == 1, f"expected one {kind}, found {len(found)}"
    return found[0]


def agent_params(args: list[str]) -> dict[str, Any]:
    """`podwall agent ARGS` as the real command parses them, after the kubelet has expanded
    $(NODE_NAME); enums as their values."""
    expanded = [arg.replace("$(NODE_NAME)", NODE) for arg in args]
    command = get_command(app).commands["agent"]
    params = command.make_context("agent", expanded).params
    return {k: v.value if isinstance(v, Enum) else v for k, v in params.items()}


def rules(role: Manifest) -> set[tuple[str, str, str]]:
    """(apiGroup, resource, verb) for every rule; a rule may hold nothing else."""
    granted = set()
    for rule in role["rules"]:
        assert set(rule) == {"apiGroups", "resources", "verbs"}, rule
        granted |= {(g, r, v) for g in rule["apiGroups"] for r in rule["resources"]
                    for v in rule["verbs"]}
    return granted


def check_agent_objects(objects: list[Manifest], name: str, probe_host: str) -> dict[str, Any]:
    """What any rendering must hold; returns the agent's parsed parameters."""
    agent = [o for o in objects if o["kind"] != "Namespace"]
    assert {o["kind"] for o in agent} == AGENT_KINDS and len(agent) == len(AGENT_KINDS)
    for obj in agent:
        assert obj["metadata"]["name"] == name
        if obj["kind"] in ("ServiceAccount", "DaemonSet"):
            assert obj["metadata"]["namespace"] == NAMESPACE

    expected = {(group, plural, verb) for group, plural in RESOURCES.values()
                for verb in READ_VERBS}
    assert rules(one(agent, "ClusterRole")) == expected
    binding = one(agent, "ClusterRoleBinding")
    assert binding["roleRef"] == {"apiGroup": "rbac.authorization.k8s.io",
                                  "kind": "ClusterRole", "name": name}
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name,
                                    "namespace": NAMESPACE}]

    daemonset = one(agent, "DaemonSet")
    spec, pod = daemonset["spec"], daemonset["spec"]["template"]["spec"]
    assert spec["updateStrategy"] == {"type": "RollingUpdate",
                                      "rollingUpdate": {"maxUnavailable": 1}}
    selector = spec["selector"]["matchLabels"]
    assert selector.items() <= spec["template"]["metadata"]["labels"].items()
    assert pod["hostNetwork"] is True
    assert pod["dnsPolicy"] == "ClusterFirstWithHostNet"
    assert pod["serviceAccountName"] == name
    assert "volumes" not in pod, "the agent needs no volume, least of all a host path"
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["capabilities"] == {"drop": ["ALL"], "add": ["NET_ADMIN"]}
    assert security["allowPrivilegeEscalation"] is False
    assert security.get("privileged", False) is False
    assert security["readOnlyRootFilesystem"] is True
    assert container["env"] == [{"name": "NODE_NAME",
                                 "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]
    assert container["args"][0] == "--node=$(NODE_NAME)"

    params = agent_params(container["args"])
    assert params["node"] == NODE
    host, port = parse_listen(params["listen"])
    (metrics,) = container["ports"]
    assert metrics == {"name": "metrics", "containerPort": port, "hostPort": port,
                       "protocol": "TCP"}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert container[probe]["httpGet"] == {"host": probe_host, "path": path,
                                               "port": "metrics"}
    assert host in (probe_host, "0.0.0.0", "::"), "the probes must reach the listening address"
    return params


@pytest.mark.parametrize("case", _by_name(CATALOGUE["rendered"]))
def test_rendered_chart(case: dict) -> None:
    objects, notes = render(case["values"], case.get("release", "podwall"))
    assert schema_errors(objects) == []
    params = check_agent_objects(objects, case["names"], case["probe_host"])
    assert {k: params[k] for k in case["agent"]} == case["agent"]
    assert f"daemonset/{case['names']}" in notes and f"-n {NAMESPACE}" in notes


def test_the_static_manifest_is_the_chart_with_default_values_plus_its_namespace() -> None:
    rendered, _ = render({})
    for obj in rendered:
        for label in HELM_ONLY_LABELS:
            obj["metadata"]["labels"].pop(label)
    static = static_objects()
    assert [o for o in static if o["kind"] != "Namespace"] == rendered


def test_the_static_manifest() -> None:
    objects = static_objects()
    assert schema_errors(objects) == []
    params = check_agent_objects(objects, "podwall-agent", "127.0.0.1")
    assert params["fail_closed"] is True
    namespace = one(objects, "Namespace")
    assert namespace["metadata"]["name"] == NAMESPACE
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "privileged"
    pod = one(objects, "DaemonSet")["spec"]["template"]["spec"]
    assert pod["tolerations"] == [{"operator": "Exists"}], "every taint, so every node"
    assert pod["priorityClassName"] == "system-node-critical"


@pytest.mark.parametrize(
    "field",
    ["spec.template.spec.hostNetwrk", "spec.template.spec.containers.0.securityContext.caps"],
)
def test_a_misspelt_field_fails_the_schema_check(field: str) -> None:
    objects = static_objects()
    daemonset = one(objects, "DaemonSet")
    *path, last = field.split(".")
    target: Any = daemonset
    for step in path:
        target = target[int(step)] if step.isdigit() else target[step]
    target[last] = True
    errors = schema_errors([daemonset])
    assert len(errors) == len(kube_versions())
    assert all(f"'{last}' was unexpected" in e for e in errors)


@pytest.mark.parametrize("case", _by_name(CATALOGUE["refused"]))
def test_the_chart_refuses_values_its_schema_forbids(case: dict) -> None:
    with pytest.raises(helm_python.HelmValuesError) as err:
        render(case["values"])
    assert case["error"] in str(err.value)


def test_helm_lint_finds_nothing_above_info() -> None:
    report = helm_python.lint(CHART, strict=True)
    assert report["errors"] == []
    assert [m for m in report["messages"] if m["severity"] > 1] == []  # 1: INFO


def test_the_cluster_role_grants_what_the_agent_lists_and_watches() -> None:
    watched = set()
    for kind, api in kind_apis(client.ApiClient()).items():
        group = GROUP_OF_API[type(api.call.__self__).__name__]
        assert RESOURCES[kind][0] == group
        watched.add(RESOURCES[kind])
    granted = {(g, r) for g, r, _ in rules(one(static_objects(), "ClusterRole"))}
    assert granted == watched


# -- the container build file ----------------------------------------------------------------


def instructions() -> Iterator[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Containerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", CONTAINERFILE.read_text())
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            yield word.upper(), rest.strip()


def test_the_containerfile_copies_only_files_of_the_repository() -> None:
    copies = [shlex.split(rest) for word, rest in instructions() if word == "COPY"]
    sources = [s for args in copies if not args[0].startswith("--from=") for s in args[:-1]]
    assert sources, "nothing is copied from the build context"
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file in the repository"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["readme"] in sources


def test_the_containerfile_builds_on_bookworm_without_questions_and_runs_the_agent() -> None:
    steps = list(instructions())
    assert ("ARG", "DEBIAN_IMAGE=debian:bookworm-slim") in steps
    assert [rest for word, rest in steps if word == "FROM"] == [
        "${DEBIAN_IMAGE} AS build", "${DEBIAN_IMAGE}"]
    assert steps.count(("ARG", "DEBIAN_FRONTEND=noninteractive")) == 2
    installs = [rest for word, rest in steps if word == "RUN" and "apt-get install" in rest]
    assert installs and all("-y" in shlex.split(r) for r in installs)
    runtime = shlex.split(installs[-1])
    assert {"python3", "libnftables1", "nftables", "netbase"} <= set(runtime)

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert SpecifierSet(project["requires-python"]).contains(BOOKWORM_PYTHON)
    entrypoint = json.loads(next(rest for word, rest in steps if word == "ENTRYPOINT"))
    assert entrypoint == ["/opt/podwall/bin/podwall", "agent"]
    assert project["scripts"]["podwall"] == "podwall.cli:main"
    assert "agent" in get_command(app).commands


def test_one_version_names_the_package_the_chart_and_the_image() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["appVersion"] == version
    (container,) = one(static_objects(), "DaemonSet")["spec"]["template"]["spec"]["containers"]
    assert container["image"] == f"podwall:{version}"


@pytest.mark.cli
def test_the_image_entrypoint_answers_help(podwall_cli) -> None:
    done = podwall_cli("agent", "--help")
    assert done.returncode == 0, done.stderr
    for flag in ("--node", "--listen", "--fail-closed", "--ipblock", "--resync-period"):
        assert flag in done.stdout

