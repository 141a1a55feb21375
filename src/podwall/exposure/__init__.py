"""`podwall exposure`: which pods can be reached from outside the cluster, from any namespace, or
from pods that do not exist yet, and (egress) what each pod can reach likewise. np-guard's
exposure analysis (netpol-analyzer `list --exposure`), with the policy and field path that
grants each exposure.

Semantics (upstream NetworkPolicy, judged per pod and direction):
- A pod no policy of that policyType selects is not isolated (hostNetwork pods never are):
  it is exposed to everything, reported as np-guard does in two halves, `0.0.0.0/0 and ::/0`
  and `entire-cluster`, on every port. A rule with no peers (`from`/`to` empty) is as open,
  on its ports.
- outside-cluster: an ipBlock that admits an address no pod or node in the input holds and
  outside every declared cluster network (`networks`, the CLI's --cluster-cidr).
- any-namespace: a peer with namespaceSelector {}: every namespace, including ones created
  later. With no or an empty podSelector it is `entire-cluster`; otherwise
  `[all namespaces]/[pod with {L}]`. Also an ipBlock reaching into a declared cluster network
  when ipBlocks match pod addresses (Calico's reading, the default).
- future-pods: a selector admitting pods not created yet: every any-namespace peer; a
  namespaceSelector on labels (a new namespace may carry them) or naming a namespace not in the
  input; in fixed namespaces, a podSelector that is absent or {} (`ns/[all pods]`), only
  excludes labels, or matches no current pod. A podSelector naming labels that current pods
  carry is taken as meant (new replicas are expected), not as exposure.
Ports: each rule's ports as written (ingress named ports resolved on the pod; unresolved ones
open nothing), or with `ports` only those asked for. Node traffic (a pod's own node) is
allowed by the `allow_node_local` option and noted, never counted.

Pure: `analyze_exposure` reads a Cluster and returns an ExposureReport; `report` renders it.
`peers` judges one peer, `addresses` owns the ipBlock arithmetic, `findings` the types.
"""

from podwall.exposure.analyze import admitted_ports, analyze_exposure
from podwall.exposure.findings import ALL_PORTS, Exposure, ExposureKind, ExposureReport, Grant
from podwall.exposure.peers import ENTIRE_CLUSTER, PeerExposure, judge_peer
from podwall.exposure.report import exposure_data, exposure_view

__all__ = [
    "ALL_PORTS",
    "ENTIRE_CLUSTER",
    "Exposure",
    "ExposureKind",
    "ExposureReport",
    "Grant",
    "PeerExposure",
    "admitted_ports",
    "analyze_exposure",
    "exposure_data",
    "exposure_view",
    "judge_peer",
]
