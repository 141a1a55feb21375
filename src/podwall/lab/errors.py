"""The lab's exception tree; each error carries the exit code the CLI uses for it.

PodwallError
└── LabError                  the lab cannot do what was asked (exit 2)
    ├── TopologyError         a topology file is invalid: every FieldError, named by field
    ├── LabEnvironmentError   not root, or a required command (ip, nft) is missing
    ├── LabStateError         a lab is already up, or the state file cannot be read
    ├── LabSetupError         building the network or starting the agents failed (torn down)
    └── ProbeError            an agent did not answer, or a probe cannot run (no SCTP)
"""

from __future__ import annotations

from podwall.errors import PodwallError
from podwall.validation.field import FieldError, render_errors

__all__ = [
    "LabEnvironmentError",
    "LabError",
    "LabSetupError",
    "LabStateError",
    "ProbeError",
    "TopologyError",
]


class LabError(PodwallError):
    pass


class TopologyError(LabError):
    def __init__(self, source: str, errors: list[FieldError], reason: str = "") -> None:
        self.source = source
        self.errors = errors
        if reason:
            super().__init__(f'Topology "{source}" cannot be read: {reason}')
        else:
            super().__init__(render_errors("Topology", source, errors))


class LabEnvironmentError(LabError):
    pass


class LabStateError(LabError):
    pass


class LabSetupError(LabError):
    pass


class ProbeError(LabError):
    pass
