"""What a lint finding is, and the one table of check codes (title, severity, documentation).

Codes are stable: a code, once published, keeps its meaning, so CI filters and the
`podwall.dev/lint-ignore` annotation keep working across releases. Renderers and the CLI read
titles and severities from `CODES` only.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "CODES",
    "IGNORE_ANNOTATION",
    "CodeInfo",
    "Finding",
    "Severity",
]

IGNORE_ANNOTATION = "podwall.dev/lint-ignore"


class Severity(StrEnum):
    """How bad a finding is; `rank` orders them (error highest) for --fail-on."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return _RANKS[self]


_RANKS: Mapping[Severity, int] = {Severity.ERROR: 3, Severity.WARNING: 2, Severity.INFO: 1}


@dataclass(frozen=True, slots=True, kw_only=True)
class CodeInfo:
    code: str
    title: str  # a short kebab-case name, as SARIF rules and JUnit test cases show it
    severity: Severity
    doc: str  # one paragraph: what the check looks for and why it matters


def _info(code: str, title: str, severity: Severity, doc: str) -> CodeInfo:
    return CodeInfo(code=code, title=title, severity=severity, doc=doc)


_E, _W, _I = Severity.ERROR, Severity.WARNING, Severity.INFO

CODES: Mapping[str, CodeInfo] = {
    c.code: c
    for c in (
        _info("PW001", "egress-blocks-dns", _E,
              "Pods are isolated for egress, yet no egress rule of the policies selecting them "
              "allows UDP 53 and TCP 53 to kube-dns (k8s-app=kube-dns in kube-system): name "
              "lookups time out. With NodeLocal DNSCache (169.254.20.10, hostNetwork) pod "
              "selectors cannot match the cache; an ipBlock 169.254.20.10/32 is needed."),
        _info("PW002", "peers-or-not-and", _W,
              "One from/to list holds a namespaceSelector-only item and a separate "
              "podSelector-only item. Separate items are OR: every pod of those namespaces, "
              "plus the selected pods of the policy's own namespace. One item holding both "
              "selectors means AND."),
        _info("PW003", "policy-selects-no-pod", _W,
              "The policy's podSelector selects no pod in the input: the policy isolates and "
              "allows nothing (a typo in a label, or the wrong namespace)."),
        _info("PW004", "peer-matches-no-pod", _W,
              "A from/to peer's selectors match no pod in the input: the peer allows nothing."),
        _info("PW005", "namespace-label-unknown", _W,
              "A namespaceSelector requires a label key that no namespace carries; check "
              "`kubectl get ns --show-labels` (kubernetes.io/metadata.name is always set)."),
        _info("PW006", "rules-ignored-by-policy-types", _E,
              "The policy has egress rules but policyTypes lacks Egress (or ingress rules "
              "without Ingress): the API server keeps the rules and every plugin ignores them."),
        _info("PW007", "named-port-undeclared", _W,
              "A named port that no destination pod declares for that protocol matches no "
              "traffic at all."),
        _info("PW008", "named-port-ambiguous", _I,
              "A named port resolves to different numbers on different destination pods; "
              "that is legal, but often not what the author meant."),
        _info("PW009", "ipblock-covers-pods", _W,
              "An ipBlock covers pod addresses. Plugins differ: Calico matches pods by ipBlock, "
              "Cilium does not; use pod and namespace selectors for pods."),
        _info("PW010", "ipblock-covers-nodes", _W,
              "An ipBlock covers node addresses (pods' status.hostIP, hostNetwork pods). "
              "Whether node traffic is matched, and whether it is SNATed first, differs "
              "between plugins and clusters."),
        _info("PW011", "policy-changes-nothing", _I,
              "Removing the whole policy leaves the connectivity matrix (every declared port) "
              "unchanged: it is redundant with other policies."),
        _info("PW012", "rule-changes-nothing", _I,
              "Removing this one rule leaves the connectivity matrix (every declared port) "
              "unchanged: another rule already allows the same traffic."),
        _info("PW013", "pod-left-open", _W,
              "Other pods of the namespace are isolated for ingress, but this pod is selected "
              "by no ingress policy: every pod in the cluster may reach it."),
        _info("PW014", "namespace-without-default-deny", _I,
              "The namespace has pods and no default-deny policy (podSelector {} with a "
              "policyType and no rules for it): new workloads start open."),
    )
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Finding:
    """One problem on one object: `kind` and `name` name it, `path` the field within it."""

    code: str
    kind: str  # NetworkPolicy | Pod | Namespace
    name: str  # ns/name, or the namespace's name
    path: str  # spec.egress[0].to[1]; empty when the object as a whole is meant
    message: str  # what goes wrong in practice, one sentence
    fix: str  # a concrete change, often a YAML snippet

    @property
    def info(self) -> CodeInfo:
        return CODES[self.code]

    @property
    def severity(self) -> Severity:
        return CODES[self.code].severity

    @property
    def object(self) -> str:
        return f'{self.kind} "{self.name}"'

    @property
    def namespace(self) -> str:
        return self.name if self.kind == "Namespace" else self.name.partition("/")[0]

    def sort_key(self) -> tuple[int, str, str, str, str]:
        return (-self.severity.rank, self.code, self.kind, self.name, self.path)
