"""The only place the lab runs `ip`: network namespaces named `podwall-...`, and nothing else.

Every command names its namespace explicitly (`ip -n NAME`, `ip netns exec NAME`), and the name
must carry NETNS_PREFIX, so a bug cannot reach the host's own namespace. In the root namespace
the lab only adds, lists and deletes `podwall-` namespaces; a command that moves an interface
(`... netns X`) must move it into another lab namespace.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from typing import IO

from podwall.lab.errors import LabError

__all__ = [
    "NETNS_PREFIX",
    "add_namespaces",
    "check_netns_name",
    "delete_namespaces",
    "exec_in",
    "ip_batch",
    "list_namespaces",
    "namespace_pids",
    "set_sysctls",
    "spawn_in",
]

NETNS_PREFIX = "podwall-"
_NAME = re.compile(r"[a-z0-9][a-z0-9.-]*")
_SYSCTL_KEY = re.compile(r"net(\.[A-Za-z0-9_-]+)+")
_TIMEOUT = 60.0


def check_netns_name(name: str) -> str:
    """The name itself, if it is a lab namespace name; anything else is a programming error."""
    if not name.startswith(NETNS_PREFIX) or not _NAME.fullmatch(name) or len(name) > 200:
        raise LabError(f"refusing to touch network namespace {name!r}: not a {NETNS_PREFIX}* name")
    return name


def _run(argv: Sequence[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        list(argv), input=stdin, capture_output=True, text=True, timeout=_TIMEOUT, check=False
    )
    if result.returncode != 0:
        raise LabError(f"`{' '.join(argv)}` failed: {_failure(result.stderr, stdin)}")
    return result


def _failure(stderr: str, stdin: str | None) -> str:
    """ip's error, with the batch line it names (`Command failed -:7`) quoted."""
    text = " ".join(stderr.split())
    found = re.search(r"Command failed -:(\d+)", stderr)
    if found and stdin:
        lines = stdin.splitlines()
        number = int(found.group(1))
        if 0 < number <= len(lines):
            text += f" (line: {lines[number - 1]!r})"
    return text


def _check_moves(command: str) -> None:
    words = command.split()
    for i, word in enumerate(words[:-1]):
        if word == "netns":
            check_netns_name(words[i + 1])


def ip_batch(netns: str, commands: Iterable[str]) -> None:
    """Run `ip` commands (one per line, without `ip`) inside one lab namespace, in one process."""
    lines = list(commands)
    for line in lines:
        _check_moves(line)
    if lines:
        _run(["ip", "-n", check_netns_name(netns), "-batch", "-"], "\n".join(lines) + "\n")


def exec_in(
    netns: str, argv: Sequence[str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    """Run a command inside a lab namespace (e.g. `nft -f -` in a node); raises on failure."""
    return _run(["ip", "netns", "exec", check_netns_name(netns), *argv], stdin)


def spawn_in(
    netns: str, argv: Sequence[str], log: IO[bytes], env: Mapping[str, str]
) -> subprocess.Popen[bytes]:
    """Start a long-lived process inside a lab namespace, in its own session.

    `ip netns exec` execs the command, so the returned pid is the command's own.
    """
    return subprocess.Popen(
        ["ip", "netns", "exec", check_netns_name(netns), *argv],
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(env),
        start_new_session=True,
    )


def set_sysctls(netns: str, settings: Mapping[str, str | int]) -> None:
    """Write `net.*` sysctls of one lab namespace (per-namespace keys only, one process)."""
    writes = []
    for key, value in settings.items():
        if not _SYSCTL_KEY.fullmatch(key) or not str(value).isdigit():
            raise LabError(f"refusing to write sysctl {key}={value}")
        writes.append(f"echo {value} > /proc/sys/{key.replace('.', '/')}")
    if writes:
        exec_in(netns, ["sh", "-ec", "; ".join(writes)])


def add_namespaces(names: Iterable[str]) -> None:
    """Create lab namespaces (and nothing else) from the root namespace, in one process."""
    lines = [f"netns add {check_netns_name(n)}" for n in names]
    if lines:
        _run(["ip", "-batch", "-"], "\n".join(lines) + "\n")


def delete_namespaces(names: Iterable[str]) -> None:
    """Delete lab namespaces that exist; absent ones are skipped, so this is idempotent."""
    wanted = {check_netns_name(n) for n in names}
    present = sorted(wanted & set(list_namespaces()))
    if present:
        _run(["ip", "-force", "-batch", "-"], "".join(f"netns del {n}\n" for n in present))


def list_namespaces(prefix: str = NETNS_PREFIX) -> list[str]:
    """Named network namespaces whose name starts with `prefix` (itself a lab prefix)."""
    if not prefix.startswith(NETNS_PREFIX):
        raise LabError(f"refusing to list namespaces by prefix {prefix!r}")
    if shutil.which("ip") is None:
        return []
    out = _run(["ip", "-j", "netns", "list"]).stdout.strip()
    entries = json.loads(out) if out else []
    return sorted(e["name"] for e in entries if e["name"].startswith(prefix))


def namespace_pids(name: str) -> list[int]:
    """Processes living in a lab namespace (to stop its agents before deleting it)."""
    out = _run(["ip", "netns", "pids", check_netns_name(name)]).stdout
    return [int(word) for word in out.split()]
