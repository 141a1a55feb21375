"""The node agent: follow a Kubernetes API, enforce its NetworkPolicies on this node's pods.

`cache` holds the API's objects; `watch` lists and watches them (one thread per kind);
`view` decodes them into a Cluster (invalid objects skipped); `reconcile` is the
level-triggered runner; `sync` compiles and applies the node's ruleset; `startup` is the
failure policy before the first sync; `metrics`, `http` and `logs` report; `agent` wires it all.
"""

from podwall.agent.agent import Agent, AgentConfig
from podwall.agent.backoff import Backoff
from podwall.agent.cache import Cache, Snapshot
from podwall.agent.errors import AgentError, ConfigError, WatchExpired
from podwall.agent.logs import JsonFormatter, setup_logging
from podwall.agent.metrics import AgentMetrics, accumulate, counter_owners
from podwall.agent.reconcile import Reconciler
from podwall.agent.startup import FailurePolicy, StartupAction, isolating_ruleset, prepare_table
from podwall.agent.sync import NodeSync
from podwall.agent.view import ClusterView, View

__all__ = [
    "Agent",
    "AgentConfig",
    "AgentError",
    "AgentMetrics",
    "Backoff",
    "Cache",
    "ClusterView",
    "ConfigError",
    "FailurePolicy",
    "JsonFormatter",
    "NodeSync",
    "Reconciler",
    "Snapshot",
    "StartupAction",
    "View",
    "WatchExpired",
    "accumulate",
    "counter_owners",
    "isolating_ruleset",
    "prepare_table",
    "setup_logging",
]
