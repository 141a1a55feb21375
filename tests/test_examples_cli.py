"""The bundled examples through the real command line: verdicts the seeds promise, outputs,
and exit codes scripts rely on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

EXAMPLES = str(Path(__file__).parents[1] / "examples")

# (what the seed says, from, to, port, allowed)
SEED_FLOWS = [
    ("role=frontend reaches role=db on 6379", "default/frontend", "default/db", "6379/TCP", True),
    ("another pod of default may not reach db", "default/web", "default/db", "6379/TCP", False),
    ("a project=myproject namespace reaches db", "myproject/client", "default/db", "6379", True),
    ("only TCP 6379 of db is opened", "default/frontend", "default/db", "80/TCP", False),
    ("db egress reaches 172.16.0.0/16", "default/db", "172.16.5.5", "443/TCP", True),
    ("but not the excepted 172.16.0.40", "default/db", "172.16.0.40", "443/TCP", False),
    ("db egress reaches role=web", "default/db", "default/web", "80/TCP", True),
    ("db egress reaches nothing else", "default/db", "default/frontend", "80", False),
    ("default-deny-all blocks egress of demo pods", "demo/worker", "demo/demo", "80/TCP", False),
    ("allow-all-demo opens app=demo's egress", "demo/demo", "default/web", "80/TCP", True),
    ("default-deny-all blocks ingress of demo pods", "default/web", "demo/worker", "80/TCP", False),
    ("pod-based-policy: app=pod2 reaches app=pod1", "default/pod2", "default/pod1", "80", True),
    ("namespace-based-policy: demo-namespace reaches pod1", "demo-namespace/visitor",
     "default/pod1", "80/TCP", True),
    ("no policy admits web to pod1", "default/web", "default/pod1", "80/TCP", False),
    ("ip-based-policy admits 10.10.10.0/24 to pod1", "10.10.10.7", "default/pod1", "80/TCP", True),
    ("tiers: UI reaches API", "apps/ui", "apps/api", "8080/TCP", True),
    ("tiers: UI may not skip to the database", "apps/ui", "apps/database", "5432/TCP", False),
    ("tiers: API reaches the database", "apps/api", "apps/database", "5432/TCP", True),
    ("DNS egress: API reaches kube-dns on 53/UDP", "apps/api", "kube-system/coredns", "53/UDP",
     True),
    ("DNS egress is DNS only", "apps/api", "kube-system/coredns", "9153/TCP", False),
    ("default deny in apps keeps other namespaces out", "default/web", "apps/api", "8080", False),
    ("a hostNetwork pod is node traffic: its node reaches db", "kube-system/node-exporter",
     "default/db", "6379/TCP", True),
    ("node traffic to a pod on another node is judged", "kube-system/node-exporter",
     "apps/database", "5432/TCP", False),
]


@pytest.mark.parametrize(("src", "dst", "port", "allowed"), [f[1:] for f in SEED_FLOWS],
                         ids=[f[0] for f in SEED_FLOWS])
def test_check_gives_the_seed_verdict_and_exit_code(podwall_cli, src, dst, port, allowed):
    result = podwall_cli("check", "-f", EXAMPLES, "--from", src, "--to", dst, "--port", port,
                         "-o", "json")
    assert result.returncode == (0 if allowed else 1), result.stderr
    data = json.loads(result.stdout)
    assert data["verdict"] == ("allowed" if allowed else "denied")


def test_check_names_the_rule_that_allowed_the_flow(podwall_cli):
    result = podwall_cli("check", "-f", EXAMPLES, "--from", "default/frontend", "--to",
                         "default/db", "--port", "6379/TCP", "-o", "yaml")
    data = yaml.safe_load(result.stdout)
    assert data["ingress"]["isolatedBy"] == ["default/access-demo1", "default/access-demo2",
                                             "default/access-demo4"]
    allowed_by = {(r["policy"], r["path"]) for r in data["ingress"]["reasons"]}
    assert allowed_by == {("default/access-demo1", "spec.ingress[0].from[0]"),
                          ("default/access-demo4", "spec.ingress[0].from[0]")}


def test_denied_flow_says_why_nothing_matched(podwall_cli):
    result = podwall_cli("check", "-f", EXAMPLES, "--from", "default/web", "--to", "default/db",
                         "--port", "6379", "-o", "json")
    reasons = json.loads(result.stdout)["ingress"]["reasons"]
    assert {"policy": "default/access-demo2", "path": "spec.ingress[0].from",
            "text": "default/web is not among all pods in namespaces project=myproject"} in reasons


def test_no_node_traffic_flag_judges_the_node_like_any_source(podwall_cli):
    result = podwall_cli("check", "-f", EXAMPLES, "--from", "kube-system/node-exporter", "--to",
                         "default/db", "--port", "6379", "--no-node-traffic")
    assert result.returncode == 1


@pytest.mark.parametrize(("args", "message"), [
    (["--from", "default/nope", "--to", "default/db", "--port", "80"], "no pod 'default/nope'"),
    (["--from", "default/web", "--to", "default/db", "--port", "80/ICMP"], "protocol must be"),
    (["--from", "default/web", "--to", "default/db", "--port", "0"], "between 1 and 65535"),
], ids=["unknown pod", "unknown protocol", "port out of range"])
def test_bad_arguments_exit_2_with_a_clear_message(podwall_cli, args, message):
    result = podwall_cli("check", "-f", EXAMPLES, *args)
    assert result.returncode == 2
    assert message in result.stderr


def test_matrix_json_shape_is_the_documented_interface(podwall_cli):
    result = podwall_cli("matrix", "-f", EXAMPLES, "-o", "json", "--port", "6379/TCP",
                         "--port", "53/UDP")
    data = json.loads(result.stdout)
    assert set(data) == {"pods", "ports", "allowed"}
    assert data["ports"] == [{"port": 6379, "protocol": "TCP"}, {"port": 53, "protocol": "UDP"}]
    n = len(data["pods"])
    assert all(len(grid) == n and all(len(row) == n for row in grid)
               for grid in data["allowed"].values())
    i, j = data["pods"].index("default/frontend"), data["pods"].index("default/db")
    assert data["allowed"]["6379/TCP"][i][j] is True


def test_matrix_namespace_flag_limits_the_pods(podwall_cli):
    data = json.loads(podwall_cli("matrix", "-f", EXAMPLES, "-n", "apps", "-o", "json").stdout)
    assert data["pods"] == ["apps/api", "apps/database", "apps/ui"]


def test_matrix_csv_has_a_row_per_port_and_pair(podwall_cli):
    result = podwall_cli("matrix", "-f", EXAMPLES, "-n", "apps", "-o", "csv", "--port", "8080")
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "port,protocol,from,to,allowed"
    assert "8080,TCP,apps/ui,apps/api,true" in lines
    assert len(lines) == 1 + 9


@pytest.mark.parametrize(("fmt", "magic"), [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_matrix_draws_a_heatmap(podwall_cli, tmp_path, fmt, magic):
    target = tmp_path / f"matrix.{fmt}"
    result = podwall_cli("matrix", "-f", EXAMPLES, "-o", fmt, "--out", str(target))
    assert result.returncode == 0, result.stderr
    assert target.read_bytes().startswith(magic)


def test_explain_describes_isolation_and_reach(podwall_cli):
    result = podwall_cli("explain", "-f", EXAMPLES, "-n", "apps", "database", "-o", "json")
    [pod] = json.loads(result.stdout)
    assert pod["ingress"]["isolatedBy"] == ["apps/database", "apps/default-deny"]
    assert pod["ingress"]["reachableFrom"]["5432/TCP"] == ["apps/api"]
    assert pod["egress"]["allowedBy"][0]["peers"] == (
        "pods k8s-app=kube-dns in namespaces kubernetes.io/metadata.name=kube-system")


def test_explain_table_is_plain_words(podwall_cli):
    result = podwall_cli("explain", "-f", EXAMPLES, "default/db")
    assert "isolated by default/access-demo1" in result.stdout
    assert "from pods role=frontend in namespace default on 6379/TCP" in result.stdout


def test_analyze_runs_on_the_bundled_examples_by_default(podwall_cli):
    result = podwall_cli("analyze")
    assert result.returncode == 0, result.stderr
    assert "Read 8 namespaces, 19 pods and 25 NetworkPolicies" in result.stdout
    assert "Who can talk to whom" in result.stdout


def test_stdin_accepts_what_kubectl_prints(podwall_cli):
    docs = [d for f in sorted(Path(EXAMPLES).rglob("*.yaml"))
            for d in yaml.safe_load_all(f.read_text()) if d]
    listing = yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": docs})
    result = podwall_cli("matrix", "-f", "-", "-o", "json", "--port", "6379", stdin=listing)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["pods"]) == 19


@pytest.mark.parametrize(("args", "message"), [
    (["validate", "-f", EXAMPLES, "-o", "csv"], "Invalid value for '-o'"),
    (["check", "-f", EXAMPLES, "--from", "default/web"], "Missing option '--to'"),
    (["matrix", "-f", "/nonexistent/podwall"], "no such file or directory"),
    (["matrix"], "no input: give one or more -f"),
], ids=["unsupported output", "missing option", "missing file", "no input"])
def test_usage_errors_exit_2_without_a_traceback(podwall_cli, args, message):
    result = podwall_cli(*args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_check_csv_has_one_row_per_reason(podwall_cli):
    result = podwall_cli("check", "-f", EXAMPLES, "--from", "default/web", "--to", "default/db",
                         "--port", "6379", "-o", "csv")
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("from,to,port,protocol,verdict,direction")
    assert len(lines) == 1 + 4 and all(",denied," in line for line in lines[1:])


def test_explain_csv_has_one_row_per_allowing_rule(podwall_cli):
    result = podwall_cli("explain", "-f", EXAMPLES, "-n", "apps", "api", "-o", "csv")
    lines = result.stdout.strip().splitlines()
    assert lines[0] == "pod,direction,isolated,isolated_by,policy,path,peers,ports"
    assert "apps/api,Ingress,true,apps/backend apps/default-deny,apps/backend,spec.ingress[0]," \
           "pods tier=frontend in namespace apps,8080/TCP" in lines


@pytest.mark.parametrize("scope", [[], ["-n", "apps"], ["-n", "nowhere"]],
                         ids=["all pods", "one namespace", "no pods"])
def test_matrix_json_yaml_and_csv_agree_cell_for_cell(podwall_cli, scope):
    def run(fmt: str) -> str:
        return podwall_cli("matrix", "-f", EXAMPLES, *scope, "-o", fmt).stdout

    as_json, as_yaml = json.loads(run("json")), yaml.safe_load(run("yaml"))
    assert as_json == as_yaml
    rows = [line.split(",") for line in run("csv").splitlines()[1:]]
    pods, grids = as_json["pods"], as_json["allowed"]
    assert len(rows) == len(pods) ** 2 * len(as_json["ports"])
    for port, protocol, src, dst, word in rows:
        assert grids[f"{port}/{protocol}"][pods.index(src)][pods.index(dst)] == (word == "true")


def test_bare_pod_names_are_looked_up_in_the_namespace_flag(podwall_cli):
    result = podwall_cli("check", "-f", EXAMPLES, "-n", "apps", "--from", "ui", "--to", "api",
                         "--port", "8080", "-o", "json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert (data["from"], data["to"]) == ("apps/ui", "apps/api")


def test_disagreements_name_every_differing_cell_off_the_diagonal():
    import numpy as np

    from podwall.semantics import Matrix, PortSpec, disagreements

    port = PortSpec(80, "TCP")
    a = Matrix(pods=("x/a", "x/b"), ports=(port,), allowed={"80/TCP": np.array(
        [[True, True], [False, True]])})
    b = Matrix(pods=("x/a", "x/b"), ports=(port,), allowed={"80/TCP": np.array(
        [[False, True], [True, True]])})
    assert disagreements(a, b) == ["x/b -> x/a 80/TCP: denied, expected allowed"]
    assert len(disagreements(a, b, scored_diagonal=True)) == 2
    assert disagreements(a, a) == []


def test_explain_lists_inbound_reach_on_the_pods_own_ports_only(podwall_cli):
    [db] = json.loads(podwall_cli("explain", "-f", EXAMPLES, "default/db", "-o", "json").stdout)
    assert list(db["ingress"]["reachableFrom"]) == ["6379/TCP"]
    assert "80/TCP" in db["egress"]["reaches"]


def _command_paths(group, prefix=()):
    """Every command path of a click group, sub-groups included."""
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        yield path
        if hasattr(command, "commands"):  # a group (typer vendors its own click)
            yield from _command_paths(command, path)


def _all_commands():
    import typer.main

    from podwall.cli import app

    return list(_command_paths(typer.main.get_command(app)))


@pytest.mark.parametrize("path", _all_commands(), ids=" ".join)
def test_every_command_help_renders(path):
    """--help must teach, never crash (rich once read `PORT[/PROTOCOL]` as markup)."""
    from typer.testing import CliRunner

    from podwall.cli import app

    result = CliRunner().invoke(app, [*path, "--help"], terminal_width=100)
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output
