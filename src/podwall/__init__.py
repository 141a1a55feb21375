"""podwall: Kubernetes NetworkPolicy exactly as Kubernetes means it.

The pure core is `model` <- `decode`/`defaults`/`validation` <- `semantics`; `inputs` reads
files, `render` and `cli` present results. The names below are the Python API.
"""

from podwall.assemble import Loaded, assemble
from podwall.model import Cluster, Namespace, NetworkPolicy, Pod
from podwall.semantics import (
    ClusterIndex,
    Decision,
    Flow,
    Matrix,
    Options,
    PortSpec,
    compute_matrix,
    decide,
    explain_pod,
)

__all__ = [
    "Cluster",
    "ClusterIndex",
    "Decision",
    "Flow",
    "Loaded",
    "Matrix",
    "Namespace",
    "NetworkPolicy",
    "Options",
    "Pod",
    "PortSpec",
    "assemble",
    "compute_matrix",
    "decide",
    "explain_pod",
]
