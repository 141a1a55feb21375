"""Time `podwall diff` against NCA's `--semantic_diff` on the same synthetic change.

Why: a policy change review must be fast enough to run on every pull request. OLD is a synthetic
cluster (seed 1); NEW is OLD with ~5% of its policies changed or removed and some added, chosen
by a seeded RNG, so both tools see identical, reproducible input. Both sides are written with
`write_cluster(..., split=True)`: podwall reads `cluster.yaml`, NCA the split files::

    python -m nca --semantic_diff NEW/policies --pod_list NEW/pods.yaml
        --ns_list NEW/namespaces.yaml --base_np_list OLD/policies
        --base_pod_list OLD/pods.yaml --base_ns_list OLD/namespaces.yaml
        --output_format txt --file_out OUT

NCA's run counts only when it read both sides (two "cluster has N unique endpoints" lines with
N > 0) and reported a verdict ("semantically equivalent" or not). podwall's time is the whole
command in-process (read, validate, compare, grouping, JSON); NCA's includes interpreter
start-up (about 0.3 s). `--phases` also times podwall's phases one by one, to show where the
time goes.
"""

from __future__ import annotations

import argparse
import copy
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from podwall.cli_common import load_input
from podwall.cli_diff import diff
from podwall.diff import compare, diff_data, summarize
from podwall.render.data import dump

try:  # benchmarks/ is a source root (see pyproject's ruff config); also allow the package path
    from synthetic import generate_cluster, write_cluster
except ModuleNotFoundError:
    from benchmarks.synthetic import generate_cluster, write_cluster

SIZES = [(1000, 100), (2000, 200), (5000, 500)]
ENDPOINTS_RE = re.compile(r"cluster has (\d+) unique endpoints")
Manifest = dict[str, Any]


def _change_spec(spec: dict[str, Any]) -> dict[str, Any]:
    """A realistic edit: the first ingress rule now allows only 9090/TCP, or ingress is denied."""
    spec = copy.deepcopy(spec)
    if spec.get("ingress"):
        spec["ingress"][0]["ports"] = [{"port": 9090, "protocol": "TCP"}]
    else:
        types = spec.get("policyTypes", [])  # NCA only accepts the order Ingress, Egress
        spec["policyTypes"] = ["Ingress", *(t for t in types if t != "Ingress")]
    return spec


def _added_policy(namespace: str, i: int, rng: random.Random) -> Manifest:
    tier = rng.choice(("backend", "database", "cache", "frontend"))
    return {
        "apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
        "metadata": {"name": f"bench-added-{i}", "namespace": namespace},
        "spec": {"podSelector": {"matchLabels": {"tier": tier}}, "policyTypes": ["Ingress"],
                 "ingress": [{"from": [{"podSelector": {}}],
                              "ports": [{"port": 8080, "protocol": "TCP"}]}]},
    }


def change_cluster(manifests: list[Manifest], seed: int = 1) -> list[Manifest]:
    """NEW: ~3% of policies changed, ~2% removed, ~2% added, all chosen by `seed`."""
    rng = random.Random(seed)
    policies = [m for m in manifests if m["kind"] == "NetworkPolicy"]
    rest = [m for m in manifests if m["kind"] != "NetworkPolicy"]
    touched = rng.sample(range(len(policies)), max(2, len(policies) * 5 // 100))
    removed = set(touched[: len(touched) * 2 // 5])
    changed = set(touched) - removed
    out: list[Manifest] = []
    for i, policy in enumerate(policies):
        if i in removed:
            continue
        out.append({**policy, "spec": _change_spec(policy["spec"])} if i in changed else policy)
    namespaces = sorted({p["metadata"]["namespace"] for p in policies})
    out += [_added_policy(rng.choice(namespaces), i, rng)
            for i in range(max(1, len(policies) // 50))]
    return rest + out


def time_podwall(old: Path, new: Path) -> tuple[float, int]:
    """Seconds for the whole `diff -o json` command, and its exit code (1: changes found)."""
    app = typer.Typer()
    app.command()(diff)
    app.command("_")(lambda: None)  # two commands, so `diff` stays a subcommand
    start = time.perf_counter()
    result = CliRunner().invoke(app, ["diff", str(old), str(new), "-o", "json", "--exit-code"])
    seconds = time.perf_counter() - start
    if result.exit_code not in (0, 1):
        raise RuntimeError(f"podwall diff failed: {result.output[-500:]}")
    return seconds, result.exit_code


def time_phases(old: Path, new: Path) -> dict[str, float]:
    """Where podwall's time goes: the same work as `time_podwall`, one phase at a time."""
    marks = [("start", time.perf_counter())]
    sides = [load_input([str(path)], None, False).cluster for path in (old, new)]
    marks.append(("read+validate", time.perf_counter()))
    changes = compare(*sides)
    marks.append(("compare", time.perf_counter()))
    report = summarize(changes)
    marks.append(("group", time.perf_counter()))
    dump(diff_data(report), "json")
    marks.append(("json", time.perf_counter()))
    return {name: t - marks[i][1] for i, (name, t) in enumerate(marks[1:])}


def nca_command(old: Path, new: Path, out_file: Path) -> list[str]:
    return [sys.executable, "-m", "nca",
            "--semantic_diff", str(new / "policies"),
            "--pod_list", str(new / "pods.yaml"), "--ns_list", str(new / "namespaces.yaml"),
            "--base_np_list", str(old / "policies"),
            "--base_pod_list", str(old / "pods.yaml"),
            "--base_ns_list", str(old / "namespaces.yaml"),
            "--output_format", "txt", "--file_out", str(out_file)]


def time_nca(old: Path, new: Path, timeout_s: float) -> tuple[float | None, str]:
    """Seconds, or None with the reason when NCA timed out or did not really read both sides."""
    out_file = new.parent / "nca_semantic_diff.txt"
    out_file.unlink(missing_ok=True)
    start = time.perf_counter()
    proc = subprocess.Popen(nca_command(old, new, out_file), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # its own session: exactly this NCA run
        proc.communicate()
        return None, f"timeout after {timeout_s:g} s"
    seconds = time.perf_counter() - start
    endpoints = [int(n) for n in ENDPOINTS_RE.findall(stdout)]
    text = out_file.read_text(encoding="utf-8") if out_file.exists() else ""
    if len(endpoints) < 2 or min(endpoints) == 0:
        return None, f"did not read both sides (endpoints {endpoints}): {stderr[-200:]}"
    if "semantically equivalent" not in text:
        return None, f"no verdict (exit {proc.returncode}): {stderr[-200:]}"
    lines = sum(1 for ln in text.splitlines() if ln.startswith(("src", "src_ns")))
    return seconds, f"endpoints {endpoints[0]}/{endpoints[1]}, {lines} diff lines"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout", type=float, default=300.0, help="seconds per NCA run")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--sizes", default=",".join(f"{p}/{n}" for p, n in SIZES),
                    help="PODS/POLICIES,... (default: %(default)s)")
    ap.add_argument("--workdir", help="where clusters are written (default: a temp dir)")
    ap.add_argument("--phases", action="store_true",
                    help="also time podwall's phases (read, compare, group, json) separately")
    args = ap.parse_args(argv)
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="podwall-diff-"))
    sizes = [tuple(int(x) for x in s.split("/")) for s in args.sizes.split(",")]
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, NCA timeout "
          f"{args.timeout:g} s, clusters in {workdir}")
    header = f"{'pods':>6} {'policies':>8} {'podwall s':>10} {'NCA s':>9} {'NCA/podwall':>12}  NCA"
    print(header + "\n" + "-" * len(header))
    nca_alive = True
    for pods, policies in sizes:
        old_manifests = generate_cluster(pods, policies, args.seed)
        old = write_cluster(old_manifests, workdir / f"{pods}_{policies}" / "old", split=True)
        new = write_cluster(change_cluster(old_manifests, args.seed),
                            workdir / f"{pods}_{policies}" / "new", split=True)
        ours, code = time_podwall(old / "cluster.yaml", new / "cluster.yaml")
        theirs, detail = time_nca(old, new, args.timeout) if nca_alive else (None, "skipped")
        nca_alive = theirs is not None
        ratio = f"{theirs / ours:>11.1f}x" if theirs else f"{'-':>12}"
        shown = f"{theirs:>9.2f}" if theirs else f"{'-':>9}"
        print(f"{pods:>6} {policies:>8} {ours:>10.2f} {shown} {ratio}  {detail}"
              f"{'' if code else ' (podwall: no change?)'}", flush=True)
        if args.phases:
            phases = time_phases(old / "cluster.yaml", new / "cluster.yaml")
            print("       podwall phases: " + ", ".join(f"{k} {v:.2f} s" for k, v in
                                                      phases.items()), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
