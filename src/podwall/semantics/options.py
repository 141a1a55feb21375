"""The choices the NetworkPolicy spec leaves to implementations, made explicit.

Defaults follow upstream's e2e tests and Calico (see README, "Semantics choices"):
- `ipblock_matches_cluster`: an ipBlock matches pod and node addresses too. False gives
  Cilium's behaviour, where ipBlock only ever matches addresses outside the cluster.
- `allow_node_local`: connections from a pod's own node (its node addresses, or a hostNetwork
  pod on that node) to the pod are allowed whatever its ingress policies say, as the API
  reference and kubelet health probes expect.
- `ip_family`: which of a dual-stack pod's addresses a flow uses (None: the pod's primary IP).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Options"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    ipblock_matches_cluster: bool = True
    allow_node_local: bool = True
    ip_family: int | None = None
