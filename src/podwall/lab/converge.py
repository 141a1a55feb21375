"""Knowing the lab's agents have applied a change: each node's kernel table against the expected.

The agent reports no "synced up to resourceVersion N", so after an API write the lab compares
what each node's kernel holds with what the node should hold: `compile_ruleset` of the cluster
the API now describes (the agent's incremental compiler yields the same ruleset byte for byte).
Both sides are read back from a kernel as `nft -j list table` (the expected one loaded into a
throwaway network namespace, `unshare -n`), so nft's own normalisation applies to both; handles,
counter values, the elements of dynamic sets (denied flows) and the order in which chains and
sets were created are left out of the comparison.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from podwall.dataplane import compile_ruleset, render_ruleset
from podwall.dataplane.names import TABLE
from podwall.lab.errors import LabError
from podwall.model import Cluster
from podwall.semantics import Options

__all__ = ["Table", "expected_tables", "kernel_table", "normalize", "wait_converged"]

Table = dict[str, Any]  # the normalised listing
CONVERGE_TIMEOUT = 20.0
_LIST = ["nft", "-j", "list", "table", "inet", TABLE]


def normalize(listing: Mapping[str, Any]) -> Table:
    """`nft -j list table` output, less what differs between equal rulesets."""
    objects: dict[str, Any] = {}
    rules: dict[str, list[Any]] = {}
    for item in listing.get("nftables", []):
        (kind, body), = item.items()
        if kind == "metainfo":
            continue
        body = {k: v for k, v in body.items() if k != "handle"}
        if kind == "rule":
            rules.setdefault(body["chain"], []).append(body["expr"])
            continue
        if kind == "counter":
            body = {k: v for k, v in body.items() if k not in ("packets", "bytes")}
        flags = body.get("flags", [])
        if kind in ("set", "map") and ("timeout" in flags or "dynamic" in flags):
            body.pop("elem", None)
        if "elem" in body:
            body["elem"] = sorted(body["elem"], key=lambda e: json.dumps(e, sort_keys=True))
        objects[f"{kind} {body.get('name', '')}"] = body
    return {"objects": objects, "rules": rules}


def kernel_table(netns: str) -> Table | None:
    """The normalised podwall table in a lab namespace; None when there is none."""
    done = subprocess.run(["ip", "netns", "exec", netns, *_LIST], capture_output=True,
                          text=True, check=False)
    return normalize(json.loads(done.stdout)) if done.returncode == 0 else None


def _loaded(text: str) -> Table:
    done = subprocess.run(["unshare", "-n", "sh", "-c", f"nft -f - && {' '.join(_LIST)}"],
                          input=text, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise LabError(f"cannot load the expected ruleset to compare: {done.stderr.strip()}")
    return normalize(json.loads(done.stdout))


def expected_tables(
    cluster: Cluster, nodes: Sequence[str], options: Options
) -> dict[str, Table]:
    """node -> the normalised table it should hold."""
    return {n: _loaded(render_ruleset(compile_ruleset(cluster, n, options))) for n in nodes}


def wait_converged(
    expected: Mapping[str, Table],
    netns_of: Callable[[str], str],
    timeout: float = CONVERGE_TIMEOUT,
    *,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Return (seconds waited) once every node's kernel table equals the expected one."""
    start = clock()
    pending = sorted(expected)
    while True:
        pending = [n for n in pending if kernel_table(netns_of(n)) != expected[n]]
        waited = clock() - start
        if not pending:
            return waited
        if waited > timeout:
            raise LabError(
                f"the agents of {', '.join(pending)} have not applied the change within "
                f"{timeout:.0f}s (the API has it): see `podwall lab status` and the agent logs"
            )
        sleep(0.02)
