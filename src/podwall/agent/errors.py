"""The agent's exceptions; each carries the exit code `podwall agent` ends with.

PodwallError
└── AgentError       (exit 1) the agent cannot start: no nftables, an unusable address
    ├── ConfigError  (exit 2) the kubeconfig, its context or a flag is unusable
    └── WatchExpired (internal) a watch's resourceVersion is older than the API's history
                     (HTTP 410 Gone): the watcher lists again instead of resuming
"""

from __future__ import annotations

from podwall.errors import EXIT_USAGE, PodwallError

__all__ = ["AgentError", "ConfigError", "WatchExpired"]


class AgentError(PodwallError):
    exit_code = 1


class ConfigError(AgentError):
    exit_code = EXIT_USAGE


class WatchExpired(AgentError):
    pass
