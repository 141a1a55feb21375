"""Which labs are up on this machine, by namespace prefix, so one lab's `down` spares another's.

Prefixes nest (`podwall-` starts `podwall-ci-`), so sweeping namespaces by prefix alone would
take a neighbour lab's. Each lab registers its prefix and home here at `up` and unregisters at
`down`; a sweep leaves the namespaces of any longer registered prefix. The registry lives in
/run (a tmpfs, emptied at boot like the network namespaces it describes), one file per prefix.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from podwall.lab.netns import check_netns_name

__all__ = ["REGISTRY", "holder", "neighbours", "register", "split_owned", "unregister"]

REGISTRY = Path("/run/podwall/labs")


def register(prefix: str, home: Path, registry: Path = REGISTRY) -> None:
    """Record that the lab whose state is under `home` owns `prefix`."""
    registry.mkdir(parents=True, exist_ok=True, mode=0o700)
    (registry / check_netns_name(prefix)).write_text(f"{home}\n")


def unregister(prefix: str, registry: Path = REGISTRY) -> None:
    (registry / check_netns_name(prefix)).unlink(missing_ok=True)


def holder(prefix: str, registry: Path = REGISTRY) -> Path | None:
    """The home of the lab registered with exactly `prefix`, if any."""
    try:
        return Path((registry / check_netns_name(prefix)).read_text().strip())
    except FileNotFoundError:
        return None


def neighbours(prefix: str, registry: Path = REGISTRY) -> list[str]:
    """Registered prefixes that extend `prefix`: their namespaces match it but are not its."""
    if not registry.is_dir():
        return []
    return sorted(
        entry.name
        for entry in registry.iterdir()
        if entry.name != prefix and entry.name.startswith(prefix)
    )


def split_owned(
    prefix: str, names: Iterable[str], registry: Path = REGISTRY
) -> tuple[list[str], list[str]]:
    """`names` (all starting with `prefix`) split into this lab's and its neighbours'."""
    others = tuple(neighbours(prefix, registry))
    ours = sorted(n for n in names if not n.startswith(others))
    theirs = sorted(n for n in names if n.startswith(others))
    return ours, theirs
