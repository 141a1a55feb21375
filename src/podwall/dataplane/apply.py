"""Apply rulesets with nft: text in, status out, no decisions about policy.

Every update is one `nft -f` transaction, dry-run first with `nft -c`: a failed check or apply
leaves the kernel's previous ruleset as it was (nft transactions are atomic). Equal state
means no nft call at all. Knowing the last applied ruleset, only what changed is sent; if that
fails (the kernel's table drifted, or was removed), the whole table is replaced atomically.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from podwall.dataplane.names import DIRECTION_WORDS, TABLE, TABLE_FAMILY, denied_set
from podwall.dataplane.ruleset import (
    Chain,
    NftMap,
    NftSet,
    Ruleset,
    replace_script,
    update_script,
)
from podwall.errors import PodwallError

__all__ = [
    "ApplyError",
    "ApplyResult",
    "DeniedFlow",
    "NftApplier",
    "Runner",
    "host_runner",
    "netns_runner",
    "read_counters",
    "read_drops",
    "ruleset_from_json",
    "ruleset_to_json",
]

Runner = Callable[[Sequence[str], str | None], subprocess.CompletedProcess[str]]


def host_runner(args: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nft", *args], input=stdin, capture_output=True, text=True, check=False)


def netns_runner(netns: str) -> Runner:
    """Run nft inside a network namespace (`ip netns exec NS nft ...`)."""

    def run(args: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        cmd = ["ip", "netns", "exec", netns, "nft", *args]
        return subprocess.run(cmd, input=stdin, capture_output=True, text=True, check=False)

    return run


class ApplyError(PodwallError):
    exit_code = 1

    def __init__(self, message: str, script: str) -> None:
        super().__init__(message)
        self.script = script


@dataclass(frozen=True, slots=True)
class ApplyResult:
    mode: str  # "unchanged" | "update" | "replace"
    script: str
    seconds: float


class NftApplier:
    def __init__(self, runner: Runner = host_runner, last: Ruleset | None = None) -> None:
        self.runner = runner
        self.last = last

    def _run(self, script: str) -> None:
        for args in (["-c", "-f", "-"], ["-f", "-"]):
            done = self.runner(args, script)
            if done.returncode != 0:
                stage = "check" if "-c" in args else "apply"
                raise ApplyError(f"nft {stage} failed: {done.stderr.strip()}", script)

    def apply(self, ruleset: Ruleset) -> ApplyResult:
        start = time.perf_counter()
        if self.last is not None:
            script = update_script(self.last, ruleset)
            if script == "":
                return ApplyResult("unchanged", "", time.perf_counter() - start)
            if script is not None:
                try:
                    self._run(script)
                except ApplyError:
                    pass  # the kernel's table is not what we last applied: replace it whole
                else:
                    self.last = ruleset
                    return ApplyResult("update", script, time.perf_counter() - start)
        script = replace_script(ruleset)
        self._run(script)
        self.last = ruleset
        return ApplyResult("replace", script, time.perf_counter() - start)

    def check(self, text: str) -> str:
        """`nft -c` on any text: "" when accepted, else nft's message."""
        done = self.runner(["-c", "-f", "-"], text)
        return "" if done.returncode == 0 else done.stderr.strip()

    def remove(self) -> None:
        """Delete podwall's table (nothing else), if it exists."""
        self.runner(
            ["-f", "-"],
            f"table {TABLE_FAMILY} {TABLE} {{\n}}\ndelete table {TABLE_FAMILY} {TABLE}\n",
        )
        self.last = None


def ruleset_to_json(ruleset: Ruleset) -> dict[str, Any]:
    return asdict(ruleset)


def ruleset_from_json(data: dict[str, Any]) -> Ruleset:
    def tuples(items: list[Any]) -> tuple[Any, ...]:
        return tuple(tuple(i) if isinstance(i, list) else i for i in items)

    return Ruleset(
        counters=tuple(data["counters"]),
        sets=tuple(
            NftSet(**{k: tuples(v) if isinstance(v, list) else v for k, v in s.items()})
            for s in data["sets"]
        ),
        maps=tuple(
            NftMap(**{k: tuples(v) if isinstance(v, list) else v for k, v in m.items()})
            for m in data["maps"]
        ),
        chains=tuple(
            Chain(**{k: tuple(v) if isinstance(v, list) else v for k, v in c.items()})
            for c in data["chains"]
        ),
    )


@dataclass(frozen=True, slots=True)
class DeniedFlow:
    direction: str  # "egress": the source's policies denied it; "ingress": the destination's
    src: str
    dst: str
    protocol: str
    port: int


def _nft_json(runner: Runner, args: Sequence[str]) -> list[dict[str, Any]]:
    done = runner(["-j", *args], None)
    if done.returncode != 0:
        return []
    return json.loads(done.stdout).get("nftables", [])


def read_drops(runner: Runner) -> list[DeniedFlow]:
    """Denied new connections the kernel recorded in the last hour, by direction."""
    flows = []
    for word in DIRECTION_WORDS:
        for family in (4, 6):
            listing = ["list", "set", TABLE_FAMILY, TABLE, denied_set(word, family)]
            for item in _nft_json(runner, listing):
                for elem in item.get("set", {}).get("elem", []):
                    value = (
                        elem.get("elem", {}).get("val", elem) if isinstance(elem, dict) else elem
                    )
                    src, dst, proto, port = value["concat"]
                    flows.append(
                        DeniedFlow(word, str(src), str(dst), str(proto).upper(), int(port))
                    )
    return sorted(set(flows), key=lambda f: (f.src, f.dst, f.protocol, f.port, f.direction))


def read_counters(runner: Runner) -> dict[str, tuple[int, int]]:
    """Named counter -> (packets, bytes) in podwall's table."""
    out = {}
    for item in _nft_json(runner, ["list", "counters", "table", TABLE_FAMILY, TABLE]):
        counter = item.get("counter")
        if counter:
            out[counter["name"]] = (int(counter["packets"]), int(counter["bytes"]))
    return out
