"""Run IBM np-guard's network-config-analyzer (NCA, ``pip install network-config-analyzer``) as
the peer tool for podwall benchmarks.

The command timed is the connectivity-map query on the split layout that
``synthetic.write_cluster(..., split=True)`` writes::

    python -m nca --connectivity DIR/policies --pod_list DIR/pods.yaml \\
        --ns_list DIR/namespaces.yaml --output_format txt --file_out OUT

Why the result is checked, not just the exit code: NCA exits 0 and prints an allow-all map when
it finds no policies (e.g. an empty directory), and exits 4 with a one-line "does not have any
peers" output when it finds no pods.  ``run_nca_connectivity`` therefore also requires a positive
"cluster has N unique endpoints" line and an output that is not allow-all.

Where NCA's semantics differ from Kubernetes (and hence from podwall); compare with care:

* ipBlocks never match pods.  NCA ignores ``status.podIP(s)`` altogether and models every ipBlock
  as an IP-range endpoint disjoint from all pods, so a rule ``ipBlock: 10.64.0.0/10`` (covering
  the pod CIDRs) admits no pod in NCA, while CNIs such as Calico/Cilium apply it to pod IPs.
  The same holds for the IPv6 2001:db8::/32 block that covers the dual-stack pods.
* Pods are deduplicated.  NCA keeps at most two pods per (namespace, owner workload, label set)
  and drops the rest before analysis ("cluster has N unique endpoints"); the default ``txt``
  output is aggregated firewall rules over workloads/label selectors, and even
  ``--output_endpoints pods`` lists only the kept representatives, so NCA never produces a full
  pod-by-pod matrix.  Its cost grows with distinct workloads, not pods.
* Only name, namespace, labels, ownerReferences, serviceAccountName and container named ports of
  a Pod are read; nodeName, hostIP, phase and pod IPs are ignored.
* Its YAML loader turns every integer-looking scalar into an int, even when quoted, so a label
  value like ``"2024"`` is rejected as "must be a string" (the generator avoids such values).
* If a policy names ``k8s-app: kube-dns`` and no such pod exists, NCA silently adds a
  kube-dns pod of its own ("adding complementary kube-dns elements"); our clusters include one.
* IPv6 connections are printed only when a policy mentions IPv6 (else ``--print_ipv6``).
* The default ``txt`` format spends most of its time minimising firewall rules; the raw
  ``txt_no_fw_rules`` listing of workload pairs is several times faster (see README).
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

try:  # benchmarks/ is a source root (see pyproject's ruff config); also allow the package path
    from synthetic import generate_cluster, write_cluster
except ModuleNotFoundError:
    from benchmarks.synthetic import generate_cluster, write_cluster

BASE_SIZES = [(100, 20), (500, 50), (1000, 100), (2000, 200)]
ENDPOINTS_RE = re.compile(r"cluster has (\d+) unique endpoints, (\d+) namespaces")
RUNTIME_RE = re.compile(r"Total run time:\s*([\d.]+) seconds")


@dataclass(frozen=True)
class NcaResult:
    """Wall time of one NCA run (including interpreter start-up) and whether it really worked."""

    seconds: float
    ok: bool
    detail: str
    endpoints: int = 0  # NCA's deduplicated endpoint count, 0 if unknown


def nca_version() -> str:
    """Installed network-config-analyzer version, or 'not installed'."""
    try:
        return metadata.version("network-config-analyzer")
    except metadata.PackageNotFoundError:
        return "not installed"


def nca_command(directory: Path, out_file: Path, output_format: str = "txt") -> list[str]:
    """The exact argv used; ``python -m nca`` is the ``nca`` script without the PATH lookup."""
    return [sys.executable, "-m", "nca",
            "--connectivity", str(directory / "policies"),
            "--pod_list", str(directory / "pods.yaml"),
            "--ns_list", str(directory / "namespaces.yaml"),
            "--output_format", output_format,
            "--file_out", str(out_file)]


def _looks_allow_all(text: str) -> bool:
    """True when no connection in the map is port-restricted: the signature of unread policies."""
    conns = [ln for ln in text.splitlines() if "All connections" in ln or "protocols:" in ln]
    return bool(conns) and all("All connections" in ln for ln in conns)


def run_nca_connectivity(directory: str | Path, timeout_s: float,
                         output_format: str = "txt") -> NcaResult:
    """Run NCA's connectivity map on a split cluster directory, killing it after ``timeout_s``.

    ``directory`` must hold ``policies/``, ``pods.yaml`` and ``namespaces.yaml``.  The map is
    written to ``directory/nca_connectivity.<format>``.
    """
    root = Path(directory)
    missing = [p for p in ("policies", "pods.yaml", "namespaces.yaml") if not (root / p).exists()]
    if missing:
        return NcaResult(0.0, False, f"missing {missing}; use write_cluster(..., split=True)")
    out_file = root / f"nca_connectivity.{output_format}"
    out_file.unlink(missing_ok=True)
    cmd = nca_command(root, out_file, output_format)
    start = time.perf_counter()
    # own session so a timeout kills exactly this NCA process group and nothing else
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return NcaResult(time.perf_counter() - start, False, f"timeout after {timeout_s:g} s")
    seconds = time.perf_counter() - start
    found = ENDPOINTS_RE.search(stdout)
    endpoints = int(found.group(1)) if found else 0
    reported = RUNTIME_RE.search(stdout)
    text = out_file.read_text(encoding="utf-8") if out_file.exists() else ""
    problems = []
    if proc.returncode != 0:
        problems.append(f"exit code {proc.returncode}")
    if endpoints == 0:
        problems.append("no pods read")
    if not text.strip():
        problems.append("empty output")
    elif _looks_allow_all(text):
        problems.append("allow-all output (policies not read?)")
    detail = (f"endpoints={endpoints} namespaces={found.group(2) if found else '?'} "
              f"nca_reported={reported.group(1) if reported else '?'}s "
              f"output_lines={len(text.splitlines())}")
    if problems:
        tail = (stderr.strip().splitlines() or stdout.strip().splitlines() or [""])[-1]
        detail = "; ".join(problems) + f"; {detail}; last message: {tail[:200]}"
    return NcaResult(seconds, not problems, detail, endpoints)


def _sizes(max_pods: int) -> list[tuple[int, int]]:
    """The base sizes, then doubling (10 pods per policy) up to ``max_pods``."""
    sizes = [s for s in BASE_SIZES if s[0] <= max_pods]
    pods = BASE_SIZES[-1][0] * 2
    while pods <= max_pods:
        sizes.append((pods, pods // 10))
        pods *= 2
    return sizes


def main(argv: list[str] | None = None) -> int:
    """Time NCA on growing synthetic clusters until every format times out or fails."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--timeout", type=float, default=600.0, help="seconds per NCA run")
    ap.add_argument("--formats", default="txt",
                    help="comma-separated NCA --output_format values, e.g. txt,txt_no_fw_rules")
    ap.add_argument("--max-pods", type=int, default=64000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", help="where clusters are written (default: a temp dir)")
    args = ap.parse_args(argv)
    formats = [f.strip() for f in args.formats.split(",") if f.strip()]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="podwall-nca-"))
    print(f"NCA {nca_version()}, Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, "
          f"timeout {args.timeout:g} s, clusters in {workdir}")
    print(f"command: {' '.join(nca_command(Path('DIR'), Path('OUT'), formats[0]))}")
    header = f"{'pods':>6} {'policies':>8} {'endpoints':>9}  {'format':<16} {'wall s':>8}  result"
    print(header)
    print("-" * len(header))
    alive = set(formats)
    for pods, policies in _sizes(args.max_pods):
        if not alive:
            break
        directory = workdir / f"{pods}_{policies}"
        write_cluster(generate_cluster(pods, policies, args.seed), directory, split=True)
        for fmt in formats:
            if fmt not in alive:
                continue
            res = run_nca_connectivity(directory, args.timeout, fmt)
            print(f"{pods:>6} {policies:>8} {res.endpoints or '-':>9}  {fmt:<16} "
                  f"{res.seconds:>8.2f}  {'ok' if res.ok else 'FAILED'}: {res.detail}",
                  flush=True)
            if not res.ok:
                alive.discard(fmt)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
