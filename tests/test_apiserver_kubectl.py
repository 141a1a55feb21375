"""The seeds' walkthroughs, word for word, with the real kubectl against the lab API.

Each test starts its own server (the seeds' topology, fixed clock, counted uids) on an ephemeral
port with a fresh SQLite file, so every output is repeatable and compared whole: the lines the
seeds print, and golden files for tables, `describe` and `-o yaml`.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from apiserver_support import (
    EXAMPLES,
    TOPOLOGY,
    Kubectl,
    check_golden,
    make_kubectl,
    old_kubectl_path,
    running_server,
)
from podwall.apiserver import ApiServer

Lab = tuple[ApiServer, Kubectl]


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    with running_server(tmp_path / "api.db") as server:
        yield server, make_kubectl(server, tmp_path)


def ok(result) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout


SEED_000 = ["access-demo1", "access-demo2", "access-demo3", "access-demo4"]
# Every seed's policies, by file (not the directory: other examples may join it).
SEED_FILES = [*SEED_000, "demo", "pod-namespace-ip", "apps-tiers"]


def seed_args(names: list[str]) -> list[str]:
    return [arg for name in names for arg in ("-f", str(EXAMPLES / f"{name}.yaml"))]


@pytest.mark.parametrize("name", SEED_000)
def test_kubectl_apply_prints_created_as_the_seed_shows(lab: Lab, name: str) -> None:
    _, kubectl = lab
    out = ok(kubectl("apply", "-f", str(EXAMPLES / f"{name}.yaml")))
    assert out == f"networkpolicy.networking.k8s.io/{name} created\n"


def test_apply_again_is_unchanged_and_a_change_is_configured(lab: Lab, tmp_path: Path) -> None:
    _, kubectl = lab
    created = ok(kubectl("apply", *seed_args(SEED_000)))
    assert ok(kubectl("apply", *seed_args(SEED_000))) == created.replace(" created", " unchanged")
    changed = tmp_path / "access-demo1.yaml"
    changed.write_text((EXAMPLES / "access-demo1.yaml").read_text().replace("6379", "6380"))
    out = ok(kubectl("apply", "-f", str(changed)))
    assert out == "networkpolicy.networking.k8s.io/access-demo1 configured\n"
    port = ok(kubectl("get", "netpol", "access-demo1", "-o",
                      "jsonpath={.metadata.generation} {.spec.ingress[0].ports[0].port}"))
    assert port == "2 6380"


def test_get_describe_and_yaml_as_on_a_cluster(lab: Lab) -> None:
    _, kubectl = lab
    check_golden("apply-seeds.txt", ok(kubectl("apply", *seed_args(SEED_FILES))))
    check_golden("get-networkpolicy-all-namespaces.txt", ok(kubectl("get", "networkpolicy", "-A")))
    check_golden(
        "describe-access-demo1.txt",
        ok(kubectl("describe", "networkpolicy", "access-demo1", "-n", "default")),
    )
    check_golden(
        "describe-allow-dns.txt",
        ok(kubectl("describe", "networkpolicy", "allow-dns", "-n", "apps")),
    )
    check_golden(
        "get-access-demo1.yaml",
        ok(kubectl("get", "networkpolicy", "access-demo1", "-n", "default", "-o", "yaml")),
    )


def test_yaml_round_trips_and_matches_podwall_validate(lab: Lab, podwall_cli) -> None:
    _, kubectl = lab
    source = str(EXAMPLES / "access-demo4.yaml")
    created = ok(kubectl("create", "-f", source))
    assert created == "networkpolicy.networking.k8s.io/access-demo4 created\n"
    served = ok(kubectl("get", "netpol", "access-demo4", "-o", "yaml"))
    replaced = ok(kubectl("replace", "-f", "-", stdin=served))
    assert replaced == "networkpolicy.networking.k8s.io/access-demo4 replaced\n"
    # Replacing an object with itself changes nothing, not even its resourceVersion.
    assert ok(kubectl("get", "netpol", "access-demo4", "-o", "yaml")) == served
    validated = podwall_cli("validate", "-f", source, "-o", "yaml")
    assert validated.returncode == 0, validated.stderr
    assert yaml.safe_load(served)["spec"] == yaml.safe_load(validated.stdout)["spec"]


def test_delete_by_file_then_not_found(lab: Lab) -> None:
    _, kubectl = lab
    source = str(EXAMPLES / "access-demo1.yaml")
    ok(kubectl("apply", "-f", source))
    assert ok(kubectl("delete", "-f", source)) == (
        'networkpolicy.networking.k8s.io "access-demo1" deleted\n'
    )
    gone = kubectl("get", "networkpolicy", "access-demo1", "-n", "default")
    assert gone.returncode == 1
    assert gone.stderr == (
        'Error from server (NotFound): networkpolicies.networking.k8s.io "access-demo1" '
        "not found\n"
    )
    assert kubectl("get", "networkpolicy", "-A").stderr == "No resources found\n"


def test_label_namespaces_and_pods(lab: Lab) -> None:
    _, kubectl = lab
    assert ok(kubectl("label", "namespace", "demo", "env=staging")) == "namespace/demo labeled\n"
    assert ok(kubectl("label", "pod", "db", "-n", "default", "tier=cache")) == "pod/db labeled\n"
    assert ok(kubectl("label", "pod", "db", "tier=cache", "--overwrite")) == (
        "pod/db not labeled\n"
    )
    taken = kubectl("label", "namespace", "apps", "env=staging")
    assert taken.returncode == 1
    assert taken.stderr == (
        "error: 'env' already has a value (production), and --overwrite is false\n"
    )
    check_golden("get-namespaces-show-labels.txt", ok(kubectl("get", "ns", "--show-labels")))
    assert ok(kubectl("get", "pods", "-n", "default", "-l", "tier=cache", "-o", "name")) == (
        "pod/db\n"
    )
    assert ok(kubectl("label", "pod", "db", "tier-")) == "pod/db unlabeled\n"
    assert ok(kubectl("get", "pods", "-l", "tier=cache")) == ""


def test_seed_003_namespaces_are_created_and_labelled(lab: Lab) -> None:
    _, kubectl = lab
    assert ok(kubectl("create", "namespace", "prod")) == "namespace/prod created\n"
    assert ok(kubectl("label", "namespace", "prod", "env=production")) == (
        "namespace/prod labeled\n"
    )
    policy = (
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\n"
        "metadata: {name: same-namespace-only, namespace: prod}\n"
        "spec: {podSelector: {}, policyTypes: [Ingress], ingress: [{from: [{podSelector: {}}]}]}\n"
    )
    assert ok(kubectl("apply", "-f", "-", stdin=policy)) == (
        "networkpolicy.networking.k8s.io/same-namespace-only created\n"
    )
    assert ok(kubectl("get", "ns", "prod", "--show-labels")) == (
        "NAME   STATUS   AGE   LABELS\n"
        "prod   Active   0s    env=production,kubernetes.io/metadata.name=prod\n"
    )
    assert ok(kubectl("delete", "namespace", "prod")) == 'namespace "prod" deleted\n'
    assert ok(kubectl("get", "netpol", "-A", "-o", "name")) == ""


def test_pods_list_with_label_and_field_selectors(lab: Lab) -> None:
    _, kubectl = lab
    check_golden("get-pods-wide.txt", ok(kubectl("get", "pods", "-A", "-o", "wide")))
    on_node = ok(kubectl("get", "pods", "-A", "--field-selector", "spec.nodeName=node-1",
                         "-o", "name"))
    assert on_node.split() == [f"pod/{p}" for p in
                               ("api", "db", "pod2", "web", "demo", "visitor", "coredns")]
    shop = ok(kubectl("get", "pods", "-n", "apps", "-l", "app=shop,tier in (frontend,backend)",
                      "-o", "name"))
    assert shop.split() == ["pod/api", "pod/ui"]
    bad = kubectl("get", "pods", "--field-selector", "status.hostIP=198.51.100.1")
    assert bad.returncode == 1
    assert bad.stderr == (
        'Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label '
        'selector "", field selector "status.hostIP=198.51.100.1": field label not supported: '
        "status.hostIP\n"
    )


def test_invalid_policy_is_a_422_with_the_causes_of_podwall_validate(
    lab: Lab, tmp_path: Path, podwall_cli
) -> None:
    _, kubectl = lab
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: bad}\n"
        "spec:\n  podSelector: {matchLabels: {'bad key': x}}\n  ingress:\n  - ports:\n"
        "    - {port: 0}\n    - {protocol: ICMP}\n    from: [{ipBlock: {cidr: 10.0.0.1/8}}]\n"
    )
    result = kubectl("apply", "-f", str(bad))
    assert result.returncode == 1
    validated = podwall_cli("validate", "-f", str(bad))
    bullets = [line for line in validated.stdout.splitlines() if line.startswith("* ")]
    assert len(bullets) == 4
    assert result.stderr == 'The NetworkPolicy "bad" is invalid: \n' + "".join(
        f"{line}\n" for line in bullets
    )


def test_unknown_fields_are_a_strict_decoding_error(lab: Lab, tmp_path: Path) -> None:
    _, kubectl = lab
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: typo}\n"
        "spec: {podSelectr: {}, ingres: []}\n"
    )
    result = kubectl("apply", "-f", str(typo))
    assert result.returncode == 1
    assert result.stderr == (
        f'Error from server (BadRequest): error when creating "{typo}": NetworkPolicy in '
        'version "v1" cannot be handled as a NetworkPolicy: strict decoding error: unknown '
        'field "spec.ingres", unknown field "spec.podSelectr"\n'
    )


def test_server_side_apply_and_its_conflicts(lab: Lab, tmp_path: Path) -> None:
    _, kubectl = lab
    source = EXAMPLES / "access-demo1.yaml"
    out = ok(kubectl("apply", "--server-side", "-f", str(source)))
    assert out == "networkpolicy.networking.k8s.io/access-demo1 serverside-applied\n"
    other = tmp_path / "other.yaml"
    other.write_text(source.read_text().replace("role: db", "role: cache"))
    conflict = kubectl("apply", "--server-side", "--field-manager=other", "-f", str(other))
    assert conflict.returncode == 1
    assert conflict.stderr.splitlines()[0] == (
        'error: Apply failed with 1 conflict: conflict with "kubectl" using '
        "networking.k8s.io/v1: .spec.podSelector"
    )
    forced = kubectl("apply", "--server-side", "--field-manager=other", "--force-conflicts",
                     "-f", str(other))
    assert ok(forced) == "networkpolicy.networking.k8s.io/access-demo1 serverside-applied\n"
    selector = ok(kubectl("get", "netpol", "access-demo1", "-o", "jsonpath={.spec.podSelector}"))
    assert selector == '{"matchLabels":{"role":"cache"}}'


def test_diff_explain_and_server_dry_run(lab: Lab, tmp_path: Path) -> None:
    _, kubectl = lab
    source = EXAMPLES / "access-demo1.yaml"
    ok(kubectl("apply", "-f", str(source)))
    assert kubectl("diff", "-f", str(source)).returncode == 0
    changed = tmp_path / "changed.yaml"
    changed.write_text(source.read_text().replace("6379", "6380"))
    diff = kubectl("diff", "-f", str(changed))
    assert diff.returncode == 1
    assert "-    - port: 6379\n+    - port: 6380\n" in diff.stdout
    dry = ok(kubectl("apply", "-f", str(changed), "--dry-run=server"))
    assert dry == "networkpolicy.networking.k8s.io/access-demo1 configured (server dry run)\n"
    port = ok(kubectl("get", "netpol", "access-demo1", "-o",
                      "jsonpath={.spec.ingress[0].ports[0].port}"))
    assert port == "6379"
    explained = ok(kubectl("explain", "networkpolicy.spec.podSelector"))
    assert explained.startswith("GROUP:      networking.k8s.io\nKIND:       NetworkPolicy\n")


@pytest.mark.parametrize(
    ("args", "stderr"),
    [
        (("delete", "pod", "db", "-n", "default"),
         'Error from server (MethodNotAllowed): delete is not supported on resources of kind '
         '"pods"\n'),
        (("delete", "namespace", "default"),
         'Error from server (Forbidden): namespaces "default" is forbidden: this namespace may '
         "not be deleted\n"),
        (("delete", "namespace", "apps"),
         'Error from server (Forbidden): namespaces "apps" is forbidden: the lab\'s topology has '
         "pods in this namespace, so it may not be deleted\n"),
        (("get", "networkpolicy", "nope", "-n", "apps"),
         'Error from server (NotFound): networkpolicies.networking.k8s.io "nope" not found\n'),
    ],
    ids=["topology pods cannot be deleted", "default may not be deleted",
         "a namespace with lab pods may not be deleted", "a missing policy is 404"],
)
def test_refusals_read_as_on_a_cluster(lab: Lab, args: tuple[str, ...], stderr: str) -> None:
    _, kubectl = lab
    result = kubectl(*args)
    assert result.returncode == 1
    assert result.stderr == stderr


def test_debian_kubectl_1_20_applies_through_openapi_v2(tmp_path: Path) -> None:
    """kubectl before OpenAPI v3 reads /openapi/v2 before apply validates: without it, it stops
    with NotFound. Debian's kubernetes-client is that kubectl."""
    with running_server(tmp_path / "api.db") as server:
        old = make_kubectl(server, tmp_path, old_kubectl_path())
        assert "v1.20." in ok(old("version", "--client"))
        created = ok(old("apply", *seed_args(SEED_000)))
        assert created == "".join(f"networkpolicy.networking.k8s.io/{n} created\n"
                                  for n in SEED_000)
        assert ok(old("apply", *seed_args(SEED_000))) == created.replace(" created", " unchanged")
        changed = tmp_path / "access-demo1.yaml"
        changed.write_text((EXAMPLES / "access-demo1.yaml").read_text().replace("6379", "6380"))
        assert ok(old("apply", "-f", str(changed))) == (
            "networkpolicy.networking.k8s.io/access-demo1 configured\n")
        assert ok(old("get", "netpol", "access-demo1", "-o",
                      "jsonpath={.spec.ingress[0].ports[0].port}")) == "6380"
        bad = tmp_path / "bad.yaml"
        bad.write_text(yaml.safe_dump({
            "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "bad", "namespace": "default"},
            "spec": {"podSelector": {}, "ingress": [{"ports": [{"port": 80, "endPort": 79}]}]},
        }))
        refused = old("apply", "-f", str(bad))
        assert refused.returncode == 1
        assert ('The NetworkPolicy "bad" is invalid: spec.ingress[0].ports[0].endPort: Invalid '
                "value: 79: must be greater than or equal to `port`") in refused.stderr
        deleted = ok(old("delete", *seed_args(SEED_000)))
        assert deleted.count(" deleted") == len(SEED_000)


@pytest.mark.cli
def test_podwall_lab_api_server_serves_kubectl_until_terminated(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    command = [
        shutil.which("podwall") or "podwall", "lab", "api-server", "--db", str(tmp_path / "a.db"),
        "--port", "0", "--kubeconfig-out", str(kubeconfig), "--topology", str(TOPOLOGY),
    ]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        serving = proc.stdout.readline()
        assert serving.startswith("lab API serving http://127.0.0.1:"), proc.stderr
        assert proc.stdout.readline() == f"kubeconfig written: export KUBECONFIG={kubeconfig}\n"
        kubectl = Kubectl(tmp_path, kubeconfig)
        source = str(EXAMPLES / "access-demo1.yaml")
        assert ok(kubectl("apply", "-f", source)) == (
            "networkpolicy.networking.k8s.io/access-demo1 created\n"
        )
        assert ok(kubectl("get", "pods", "-n", "default", "-o", "name")).split() == [
            "pod/db", "pod/frontend", "pod/pod1", "pod/pod2", "pod/web"
        ]
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
