"""PW009/PW010: ipBlocks that cover pod or node addresses, where plugins disagree.

Upstream's e2e tests and Calico match pod addresses by ipBlock; Cilium never does; traffic from
nodes may be SNATed before policy sees it. An ipBlock over cluster addresses therefore means
different things on different clusters, and selectors say it portably.
"""

from __future__ import annotations

from collections.abc import Iterator

from podwall.lint.context import Context, policy_rules, shorten
from podwall.lint.findings import Finding
from podwall.model import IPBlock
from podwall.semantics.rules import ip_in_block

__all__ = ["check_ipblock_covers_cluster"]


def _covered(block: IPBlock, addresses: dict[str, str]) -> list[str]:
    """Names of the owners (pod keys, node names) of addresses inside the block."""
    return sorted({owner for ip, owner in addresses.items() if _inside(ip, block)})


def _inside(ip: str, block: IPBlock) -> bool:
    try:
        return ip_in_block(ip, block)
    except ValueError:
        return False


def _addresses(ctx: Context) -> tuple[dict[str, str], dict[str, str]]:
    """(pod address -> pod key, node address -> node name) from the pods in the input."""
    pods: dict[str, str] = {}
    nodes: dict[str, str] = {}
    for pod in ctx.cluster.pods:
        node = pod.node_name or pod.host_ip
        if pod.host_ip:
            nodes[pod.host_ip] = f"node {node}"
        for ip in pod.ips:
            if pod.host_network:
                nodes[ip] = f"node {node}"
            else:
                pods[ip] = pod.key
    return pods, nodes


def check_ipblock_covers_cluster(ctx: Context) -> Iterator[Finding]:
    """PW009 for pod addresses, PW010 for node addresses, one finding per ipBlock peer."""
    pods, nodes = _addresses(ctx)
    if not pods and not nodes:
        return
    for policy in ctx.cluster.policies:
        for ref in policy_rules(policy):
            for j, peer in enumerate(ref.rule.peers):
                if peer.ip_block is None:
                    continue
                path = f"{ref.peers_path}[{j}].ipBlock"
                cidr = peer.ip_block.cidr
                if hit := _covered(peer.ip_block, pods):
                    yield Finding(
                        code="PW009",
                        kind="NetworkPolicy",
                        name=policy.key,
                        path=path,
                        message=f"{cidr} covers the addresses of pods {shorten(hit)}: Calico "
                        "matches them, Cilium does not, so the same policy allows different "
                        "traffic on different clusters.",
                        fix="Select pods with podSelector/namespaceSelector, and keep ipBlock "
                        "for outside addresses, e.g.\n- ipBlock:\n    cidr: 0.0.0.0/0\n"
                        "    except:\n    - 10.0.0.0/8  # the pod network",
                    )
                if hit := _covered(peer.ip_block, nodes):
                    yield Finding(
                        code="PW010",
                        kind="NetworkPolicy",
                        name=policy.key,
                        path=path,
                        message=f"{cidr} covers {shorten(hit)} (status.hostIP or hostNetwork "
                        "pods): whether node traffic matches depends on the plugin and on SNAT.",
                        fix="Say what you mean for nodes explicitly (a /32 per node address) "
                        "and check the plugin's documentation on host traffic, or except the "
                        "node network from the block.",
                    )
