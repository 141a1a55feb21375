"""Analysis on a live cluster: the commands read namespaces, pods and policies through the
official client from the lab API (a real Kubernetes-compatible server), and `podwall snapshot`
saves them so the same analysis runs offline with the same answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from apiserver_support import running_server
from podwall.errors import InputError
from podwall.kube import ClusterSource, read_cluster

ROOT = Path(__file__).resolve().parent.parent
POLICIES = ROOT / "examples" / "policies"


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """A lab API holding the seeds' access-demo policies; yields its kubeconfig path."""
    from kubernetes import client, config

    tmp = tmp_path_factory.mktemp("live")
    with running_server(tmp / "api.db") as server:
        path = server.write_kubeconfig(tmp / "kubeconfig")
        api = client.NetworkingV1Api(config.new_client_from_config(config_file=str(path)))
        for name in ("access-demo1", "access-demo2"):
            doc = yaml.safe_load((POLICIES / f"{name}.yaml").read_text())
            api.create_namespaced_network_policy(doc["metadata"].get("namespace", "default"), doc)
        yield path


def test_read_cluster_returns_manifests_as_the_api_sent_them(live):
    manifests = [m for _, m in read_cluster(ClusterSource(str(live)))]
    kinds = {m["kind"] for m in manifests}
    assert kinds == {"Namespace", "Pod", "NetworkPolicy"}
    policy = next(m for m in manifests if m["kind"] == "NetworkPolicy")
    assert policy["apiVersion"] == "networking.k8s.io/v1"
    assert "managedFields" not in policy["metadata"]


@pytest.mark.parametrize(
    "flags",
    [
        pytest.param(["--kubeconfig", "{kc}"], id="--kubeconfig"),
        pytest.param(["-f", "kube:"], id="-f kube: with $KUBECONFIG"),
        pytest.param([], id="no -f: $KUBECONFIG is the default"),
    ],
)
def test_matrix_of_a_live_cluster_equals_the_matrix_of_its_snapshot(
    live, tmp_path, podwall_cli, monkeypatch, flags
):
    monkeypatch.setenv("KUBECONFIG", str(live))
    snap = tmp_path / "snap.yaml"
    saved = podwall_cli("snapshot", "-o", str(snap), "--kubeconfig", str(live))
    assert saved.returncode == 0, saved.stderr
    assert "NetworkPolicies" in saved.stderr
    args = [a.replace("{kc}", str(live)) for a in flags]
    from_live = podwall_cli("matrix", *args, "-o", "json", "--port", "6379/TCP")
    offline = podwall_cli("matrix", "-f", str(snap), "-o", "json", "--port", "6379/TCP")
    assert from_live.returncode == 0, from_live.stderr
    assert json.loads(from_live.stdout) == json.loads(offline.stdout)
    assert len(json.loads(offline.stdout)["pods"]) > 0


def test_lint_and_diff_read_live_clusters(live, tmp_path, podwall_cli):
    lint = podwall_cli("lint", "--kubeconfig", str(live), "-o", "json", "--fail-on", "none")
    assert lint.returncode == 0, lint.stderr
    assert "findings" in json.loads(lint.stdout)
    snap = tmp_path / "snap.yaml"
    podwall_cli("snapshot", "-o", str(snap), "--kubeconfig", str(live))
    same = podwall_cli("diff", str(snap), "kube:", "--kubeconfig", str(live), "--exit-code")
    assert same.returncode == 0, same.stdout + same.stderr


def test_an_unreachable_cluster_is_a_clear_input_error(tmp_path, podwall_cli):
    dead = tmp_path / "dead.kubeconfig"
    dead.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": {"server": "http://127.0.0.1:9"}}],
                "users": [{"name": "u", "user": {}}],
                "contexts": [{"name": "x", "context": {"cluster": "c", "user": "u"}}],
                "current-context": "x",
            }
        )
    )
    run = podwall_cli("matrix", "--kubeconfig", str(dead), "-o", "json")
    assert run.returncode == 2
    assert "cannot list Namespaces from" in run.stderr


def test_no_input_and_no_kubeconfig_says_what_to_give(monkeypatch, tmp_path):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    with pytest.raises(InputError, match="no input: give one or more -f"):
        read_cluster(ClusterSource())


def test_an_unknown_context_names_the_kubeconfig(live):
    with pytest.raises(InputError, match="kubeconfig"):
        read_cluster(ClusterSource(str(live), "no-such-context"))
