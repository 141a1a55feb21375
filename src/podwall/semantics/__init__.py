"""The semantics core: who may connect to whom, one flow at a time or as a whole matrix."""

from podwall.semantics.decide import (
    Decision,
    Flow,
    Reason,
    Side,
    Verdict,
    decide,
    isolating_policies,
    selects,
)
from podwall.semantics.endpoints import ClusterIndex, Endpoint, EndpointKind, UnknownEndpoint
from podwall.semantics.explain import PodExplanation, explain_pod
from podwall.semantics.matrix import Matrix, compute_matrix, declared_ports, disagreements
from podwall.semantics.options import Options
from podwall.semantics.ports import PortSpec, parse_port_spec
from podwall.semantics.selectors import matches_selector

__all__ = [
    "ClusterIndex",
    "Decision",
    "Endpoint",
    "EndpointKind",
    "Flow",
    "Matrix",
    "Options",
    "PodExplanation",
    "PortSpec",
    "Reason",
    "Side",
    "UnknownEndpoint",
    "Verdict",
    "compute_matrix",
    "decide",
    "declared_ports",
    "disagreements",
    "explain_pod",
    "isolating_policies",
    "matches_selector",
    "parse_port_spec",
    "selects",
]
