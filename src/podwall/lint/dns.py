"""PW001: egress isolation that leaves no way to resolve names.

The most reported NetworkPolicy outage: a default-deny egress policy without a DNS rule. For each
egress-isolated pod, the rules of the policies isolating it must allow UDP 53 and TCP 53 to
kube-dns (pods k8s-app=kube-dns in kube-system), or to NodeLocal DNSCache (169.254.20.10,
hostNetwork: only an ipBlock reaches it). When the input holds no kube-dns pod, one is assumed
(CoreDNS's port names `dns`/`dns-tcp`, no address: only a /0 ipBlock covers it). A policy that
selects no pod is judged with its namespace's podSelector-{} egress policies, so linting policy
files alone still catches the mistake.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace

from podwall.lint.context import Context, shorten
from podwall.lint.findings import Finding
from podwall.model import (
    NAMESPACE_NAME_LABEL,
    ContainerPort,
    Direction,
    IPBlock,
    Labels,
    NetworkPolicy,
    Pod,
    Protocol,
)
from podwall.semantics import ClusterIndex, Endpoint, EndpointKind, isolating_policies
from podwall.semantics.rules import peer_matches, port_matches

__all__ = ["DNS_FIX", "NODELOCAL_DNS", "check_dns_egress"]

DNS_NAMESPACE = "kube-system"
DNS_LABELS = Labels({"k8s-app": "kube-dns"})
NODELOCAL_DNS = "169.254.20.10"
_PROTOCOLS = (Protocol.UDP.value, Protocol.TCP.value)

DNS_FIX = """egress:
- to:
  - namespaceSelector:
      matchLabels:
        kubernetes.io/metadata.name: kube-system
    podSelector:
      matchLabels:
        k8s-app: kube-dns
  - ipBlock:
      cidr: 169.254.20.10/32  # NodeLocal DNSCache is hostNetwork: selectors cannot match it
  ports:
  - protocol: UDP
    port: 53
  - protocol: TCP
    port: 53"""


def _assumed_dns_pod() -> Pod:
    return Pod(
        name="kube-dns",
        namespace=DNS_NAMESPACE,
        labels=DNS_LABELS,
        ports=(
            ContainerPort(container_port=53, protocol="UDP", name="dns"),
            ContainerPort(container_port=53, protocol="TCP", name="dns-tcp", position=1),
        ),
    )


def _is_dns_pod(pod: Pod) -> bool:
    return pod.namespace == DNS_NAMESPACE and all(
        pod.labels.get(k) == v for k, v in DNS_LABELS.items()
    )


def _dns_endpoints(ctx: Context) -> tuple[list[Endpoint], ClusterIndex]:
    """kube-dns as endpoints, plus an index that knows kube-system's labels even if implied."""
    pods = [p for p in ctx.cluster.pods if _is_dns_pod(p)] or [_assumed_dns_pod()]
    index = replace(ctx.index, namespace_labels=dict(ctx.index.namespace_labels))
    index.namespace_labels.setdefault(DNS_NAMESPACE, Labels({NAMESPACE_NAME_LABEL: DNS_NAMESPACE}))
    ends = [index.pod_endpoint(p) for p in pods]
    nodelocal = Endpoint(kind=EndpointKind.EXTERNAL, ips=(NODELOCAL_DNS,), label=NODELOCAL_DNS)
    return [*ends, nodelocal], index


def _peer_reaches(peer_ok: bool, block: IPBlock | None, assumed: bool) -> bool:
    if peer_ok:
        return True
    # The assumed kube-dns has no address: only a block covering everything surely holds it.
    return assumed and block is not None and block.cidr.endswith("/0") and not block.except_


def _allowed_protocols(
    policies: Sequence[NetworkPolicy], ctx: Context, ends: list[Endpoint], index: ClusterIndex
) -> set[str]:
    """The DNS protocols some egress rule of `policies` allows to some DNS endpoint."""
    allowed: set[str] = set()
    for policy in policies:
        for rule in policy.egress:
            for end in ends:
                assumed = end.pod is not None and not end.ips
                reach = not rule.peers or any(
                    _peer_reaches(
                        peer_matches(peer, policy.namespace, end, index, ctx.options),
                        peer.ip_block,
                        assumed,
                    )
                    for peer in rule.peers
                )
                if not reach:
                    continue
                allowed |= {
                    proto
                    for proto in _PROTOCOLS
                    if not rule.ports or any(port_matches(e, proto, 53, end) for e in rule.ports)
                }
    return allowed


def _hypothetical_group(ctx: Context, policy: NetworkPolicy) -> tuple[NetworkPolicy, ...]:
    """For a policy that selects no pod: itself plus its namespace's select-all egress ones."""
    others = (
        p
        for p in ctx.cluster.policies
        if p is not policy
        and p.namespace == policy.namespace
        and p.pod_selector.is_empty
        and p.has_type(Direction.EGRESS)
    )
    return (policy, *others)


def _missing_by_policy(ctx: Context) -> dict[str, tuple[set[str], list[str]]]:
    """policy key -> (DNS protocols missing, pods affected) for every policy that breaks DNS."""
    ends, index = _dns_endpoints(ctx)
    memo: dict[tuple[str, ...], set[str]] = {}

    def missing(group: tuple[NetworkPolicy, ...]) -> set[str]:
        key = tuple(p.key for p in group)
        if key not in memo:
            memo[key] = set(_PROTOCOLS) - _allowed_protocols(group, ctx, ends, index)
        return memo[key]

    result: dict[str, tuple[set[str], list[str]]] = {}
    selected: set[str] = set()
    for pod in ctx.cluster.pods:
        if pod.host_network or _is_dns_pod(pod):
            continue
        group = isolating_policies(pod, Direction.EGRESS, ctx.cluster.policies)
        selected |= {p.key for p in group}
        lost = missing(group) if group else set()
        for policy in group if lost else ():
            protos, pods = result.setdefault(policy.key, (set(), []))
            protos |= lost
            pods.append(pod.key)
    for policy in ctx.cluster.policies:
        if policy.has_type(Direction.EGRESS) and policy.key not in selected:
            lost = missing(_hypothetical_group(ctx, policy))
            if lost:
                result[policy.key] = (lost, [])
    return result


def check_dns_egress(ctx: Context) -> Iterator[Finding]:
    """PW001: one finding per egress policy that leaves some pod it selects without DNS."""
    for key, (protos, pods) in sorted(_missing_by_policy(ctx).items()):
        which = " and ".join(f"{p} 53" for p in sorted(protos, reverse=True))
        whom = f"pods {shorten(pods)}" if pods else "the pods it selects"
        yield Finding(
            code="PW001",
            kind="NetworkPolicy",
            name=key,
            path="spec.egress",
            message=f"{whom} are isolated for egress and no egress rule of the policies "
            f"selecting them allows {which} to kube-dns, so DNS lookups time out.",
            fix="Allow DNS (here, or in a podSelector: {} policy of the namespace); with "
            f"NodeLocal DNSCache the ipBlock {NODELOCAL_DNS}/32 is needed:\n{DNS_FIX}",
        )
