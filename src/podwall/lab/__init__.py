"""The lab: a cluster made of Linux network namespaces, with real pods and real probes.

`topology` describes it (pure), `network` builds it (`netns` is the only module running `ip`),
`agent` is the process in each pod, `supervise` runs the agents, `state` holds the lifecycle
(`up`, `down`, the state file) and `probe` measures who can reach whom.
"""

from podwall.lab.errors import (
    LabEnvironmentError,
    LabError,
    LabSetupError,
    LabStateError,
    ProbeError,
    TopologyError,
)
from podwall.lab.netns import NETNS_PREFIX, exec_in
from podwall.lab.network import LabNames, build, teardown
from podwall.lab.probe import ProbeResult, probe, probe_flow, probe_flows
from podwall.lab.state import (
    AgentRecord,
    LabState,
    Removed,
    check_environment,
    down,
    lab_home,
    load_state,
    save_state,
    up,
)
from podwall.lab.topology import (
    DEFAULT_TOPOLOGY_FILE,
    LabExternal,
    LabNamespace,
    LabNode,
    LabPod,
    LabPort,
    Topology,
    default_topology,
    load_topology,
    parse_topology,
    topology_manifests,
)
from podwall.lab.wire import sctp_available

__all__ = [
    "DEFAULT_TOPOLOGY_FILE",
    "NETNS_PREFIX",
    "AgentRecord",
    "LabEnvironmentError",
    "LabError",
    "LabExternal",
    "LabNames",
    "LabNamespace",
    "LabNode",
    "LabPod",
    "LabPort",
    "LabSetupError",
    "LabState",
    "LabStateError",
    "ProbeError",
    "ProbeResult",
    "Removed",
    "Topology",
    "TopologyError",
    "build",
    "check_environment",
    "default_topology",
    "down",
    "exec_in",
    "lab_home",
    "load_state",
    "load_topology",
    "parse_topology",
    "probe",
    "probe_flow",
    "probe_flows",
    "save_state",
    "sctp_available",
    "teardown",
    "topology_manifests",
    "up",
]
