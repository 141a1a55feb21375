"""Time and peak memory of podwall's connectivity matrix on synthetic clusters, beside NCA.

Usage:
    python benchmarks/matrix_bench.py                 # the issue's targets + NCA where it finishes
    python benchmarks/matrix_bench.py --no-nca        # podwall only
    python benchmarks/matrix_bench.py --sizes 2000x200 --nca-timeout 900

Each size runs in a fresh process so its peak RSS is its own. podwall's time is split into
`load` (decode, default and validate every manifest: the API server's work) and `matrix` (the
vectorised computation); `total` is both. NCA runs its `--connectivity` query on the same
generated files (`benchmarks/nca_peer.py`); its time includes its own parsing.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from synthetic import generate_cluster, write_cluster

# (pods, policies, ports): "one" = only 80/TCP; "all" = every port some pod declares.
TARGETS = [(1000, 200, "one"), (1000, 200, "all"), (5000, 500, "one"), (10000, 1000, "one")]
NCA_SIZES = [(100, 20), (500, 50), (1000, 100), (1000, 200), (2000, 200)]


def measure_once(pods: int, policies: int, ports: str) -> dict[str, float]:
    """Run in a child process: generate, load, compute; report seconds and peak RSS."""
    from podwall.assemble import assemble
    from podwall.semantics import PortSpec, compute_matrix

    manifests = generate_cluster(pods, policies, seed=1)
    start = time.perf_counter()
    loaded = assemble([("bench", m) for m in manifests])
    loaded_at = time.perf_counter()
    if loaded.invalid:
        raise SystemExit(f"generator produced invalid objects: {loaded.invalid[0]}")
    chosen = [PortSpec(80, "TCP")] if ports == "one" else None
    matrix = compute_matrix(loaded.cluster, chosen)
    done = time.perf_counter()
    allowed = sum(int(g.sum()) for g in matrix.allowed.values())
    return {
        "load_s": loaded_at - start,
        "matrix_s": done - loaded_at,
        "total_s": done - start,
        "ports": len(matrix.ports),
        "allowed_cells": allowed,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _child(pods: int, policies: int, ports: str) -> dict[str, float]:
    cmd = [sys.executable, __file__, "--one", f"{pods}x{policies}", "--ports", ports]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


NCA_FORMATS = ("txt", "txt_no_fw_rules")  # its default, and its fastest (no rule minimising)


def _nca(pods: int, policies: int, timeout: float) -> dict[str, float | None]:
    """NCA's wall time per output format on the same cluster; None when it did not finish."""
    from nca_peer import run_nca_connectivity

    times: dict[str, float | None] = {}
    with tempfile.TemporaryDirectory() as tmp:
        write_cluster(generate_cluster(pods, policies, seed=1), tmp, split=True)
        for fmt in NCA_FORMATS:
            result = run_nca_connectivity(tmp, timeout, output_format=fmt)
            times[fmt] = result.seconds if result.ok else None
    return times


def _parse_size(text: str) -> tuple[int, int]:
    pods, _, policies = text.partition("x")
    return int(pods), int(policies)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--ports", default="one", choices=["one", "all"])
    parser.add_argument("--sizes", nargs="*", help="PODSxPOLICIES; default: the issue's targets")
    parser.add_argument("--no-nca", action="store_true", help="skip the NCA comparison")
    parser.add_argument("--nca-timeout", type=float, default=600.0)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure_once(*_parse_size(args.one), args.ports)))
        return
    targets = [(*_parse_size(s), args.ports) for s in args.sizes] if args.sizes else TARGETS
    print(
        f"{'pods':>6} {'policies':>8} {'ports':>5} {'load s':>7} {'matrix s':>8} "
        f"{'total s':>7} {'peak MiB':>8}"
    )
    for pods, policies, ports in targets:
        r = _child(pods, policies, ports)
        print(
            f"{pods:>6} {policies:>8} {int(r['ports']):>5} {r['load_s']:>7.2f} "
            f"{r['matrix_s']:>8.2f} {r['total_s']:>7.2f} {r['peak_rss_mib']:>8.0f}",
            flush=True,
        )
    if args.no_nca:
        return
    print("\nSame generated clusters; podwall: load + matrix for every declared port;")
    print("NCA --connectivity in its default format (txt) and its fastest (txt_no_fw_rules):")
    print(
        f"{'pods':>6} {'policies':>8} {'podwall s':>9} {'NCA txt s':>10} {'NCA no-fw s':>11} "
        f"{'podwall faster by':>17}"
    )
    sizes = [_parse_size(s) for s in args.sizes] if args.sizes else NCA_SIZES
    for pods, policies in sizes:
        ours = _child(pods, policies, "all")["total_s"]
        theirs = _nca(pods, policies, args.nca_timeout)
        shown = [
            f"{t:.2f}" if t is not None else f"> {args.nca_timeout:.0f}" for t in theirs.values()
        ]
        finished = [t for t in theirs.values() if t is not None]
        ratio = f"{min(finished) / ours:.0f}x" if finished else "-"
        print(
            f"{pods:>6} {policies:>8} {ours:>9.2f} {shown[0]:>10} {shown[1]:>11} {ratio:>17}",
            flush=True,
        )


if __name__ == "__main__":
    main()
