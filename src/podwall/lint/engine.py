"""Running every check over a cluster: ordering, namespace scoping and the ignore annotation.

`podwall.dev/lint-ignore: "PW001,PW004"` (or `"all"`) on a NetworkPolicy's metadata silences
those codes for findings on that policy. Pods and namespaces keep no annotations in the model,
so findings on them (PW013, PW014) cannot be silenced per object.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence

from podwall.lint.addresses import check_ipblock_covers_cluster
from podwall.lint.checks import (
    check_and_or_confusion,
    check_ignored_rules,
    check_named_ports,
    check_peer_matches_nothing,
    check_policy_selects_nothing,
)
from podwall.lint.context import Context
from podwall.lint.dns import check_dns_egress
from podwall.lint.findings import IGNORE_ANNOTATION, Finding
from podwall.lint.isolation import check_default_deny, check_pods_left_open
from podwall.lint.redundancy import check_redundancy
from podwall.model import Cluster
from podwall.semantics import Options

__all__ = ["CHECKS", "ignored_codes", "lint_cluster"]

Check = Callable[[Context], Iterable[Finding]]

CHECKS: Sequence[Check] = (
    check_dns_egress,
    check_and_or_confusion,
    check_policy_selects_nothing,
    check_peer_matches_nothing,
    check_ignored_rules,
    check_named_ports,
    check_ipblock_covers_cluster,
    check_redundancy,
    check_pods_left_open,
    check_default_deny,
)


def ignored_codes(value: str) -> frozenset[str]:
    """Codes an annotation value lists: comma or space separated, case-insensitive."""
    return frozenset(c.strip().upper() for c in value.replace(",", " ").split() if c.strip())


def _silenced(cluster: Cluster) -> dict[str, frozenset[str]]:
    return {
        p.key: ignored_codes(p.annotations[IGNORE_ANNOTATION])
        for p in cluster.policies
        if IGNORE_ANNOTATION in p.annotations
    }


def _kept(findings: Iterable[Finding], silenced: dict[str, frozenset[str]]) -> Iterator[Finding]:
    for finding in findings:
        codes = silenced.get(finding.name, frozenset()) if finding.kind == "NetworkPolicy" else ()
        if finding.code in codes or "ALL" in codes:
            continue
        yield finding


def lint_cluster(
    cluster: Cluster,
    options: Options | None = None,
    namespace: str | None = None,
    checks: Sequence[Check] = CHECKS,
) -> list[Finding]:
    """Every finding, most severe first; only objects in `namespace` when one is given."""
    ctx = Context.build(cluster, options)
    found = [f for check in checks for f in check(ctx)]
    kept = _kept(found, _silenced(cluster))
    scoped = [f for f in kept if namespace is None or f.namespace == namespace]
    return sorted(scoped, key=Finding.sort_key)
