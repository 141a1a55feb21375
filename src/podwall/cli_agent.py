"""`podwall agent`: enforce a Kubernetes API's NetworkPolicies on one node's pods, until stopped.

Imports the agent (and the kubernetes client) only when the command runs, so the rest of the
CLI starts as fast as before. SIGTERM and SIGINT stop it; the table stays in the kernel.
"""

from __future__ import annotations

import signal
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from podwall.cli_common import IPBlockMode
from podwall.dataplane.names import PodMatch

__all__ = ["EPILOG", "agent"]

EPILOG = (
    "Example: podwall agent --node node-1 --kubeconfig ~/.kube/config --netns podwall-node-1\n\n"
    "Endpoints on --listen: /metrics (Prometheus), /healthz, /readyz. Logs: JSON lines on stderr."
)


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def agent(
    node: Annotated[str, typer.Option("--node", help="This node's name (pods' spec.nodeName)")],
    kubeconfig: Annotated[
        Path | None,
        typer.Option("--kubeconfig", help="Kubeconfig file (default: $KUBECONFIG, "
                     "~/.kube/config; inside a pod: its service account)"),
    ] = None,
    context: Annotated[
        str | None, typer.Option("--context", help="Kubeconfig context (default: current)")
    ] = None,
    netns: Annotated[
        str | None,
        typer.Option("--netns", help="Enforce in this named network namespace "
                     "(/run/netns/NAME) instead of the agent's own"),
    ] = None,
    listen: Annotated[
        str, typer.Option("--listen", help="HOST:PORT for /metrics, /healthz and /readyz")
    ] = "127.0.0.1:9180",
    fail_closed: Annotated[
        bool,
        typer.Option("--fail-closed/--fail-open",
                     help="Before the first sync, when the kernel has no podwall table: isolate "
                     "every local pod (closed) or enforce nothing (open). An existing table is "
                     "always kept until the first sync replaces it."),
    ] = True,
    pod_match: Annotated[
        PodMatch,
        typer.Option("--pod-match",
                     help="interface: pods by their Calico-style host interface (routed CNIs); "
                     "address: pods by IP, for bridge CNIs such as flannel (needs br_netfilter "
                     "with bridge-nf-call-iptables=1)"),
    ] = PodMatch.INTERFACE,
    ipblock: Annotated[
        IPBlockMode,
        typer.Option("--ipblock", help="calico: ipBlocks match pod and node IPs too; "
                     "cilium: only addresses outside the cluster"),
    ] = IPBlockMode.calico,
    node_traffic: Annotated[
        bool,
        typer.Option("--node-traffic/--no-node-traffic",
                     help="Allow connections from a pod's own node (kubelet probes) whatever "
                     "its ingress policies say"),
    ] = True,
    legacy_cidr: Annotated[
        bool,
        typer.Option("--legacy-cidr", help="Accept CIDRs as API servers before "
                     "StrictIPCIDRValidation did (else such policies are skipped as invalid)"),
    ] = False,
    resync_period: Annotated[
        float, typer.Option("--resync-period", min=0.1,
                            help="Seconds between full resyncs (also repairs a removed table)")
    ] = 300.0,
    max_backoff: Annotated[
        float, typer.Option("--max-backoff", min=0.1,
                            help="Longest wait in seconds between retries (API and nft)")
    ] = 30.0,
    log_level: Annotated[LogLevel, typer.Option("--log-level")] = LogLevel.info,
) -> None:
    """Follow a Kubernetes API and enforce its NetworkPolicies on this node's pods (nftables)."""
    from podwall.agent import Agent, AgentConfig, FailurePolicy, setup_logging
    from podwall.semantics.options import Options

    log = setup_logging(log_level.value)
    config = AgentConfig(
        node=node,
        kubeconfig=str(kubeconfig) if kubeconfig else None,
        context=context,
        netns=netns,
        listen=listen,
        failure_policy=FailurePolicy.CLOSED if fail_closed else FailurePolicy.OPEN,
        options=Options(
            ipblock_matches_cluster=ipblock is IPBlockMode.calico, allow_node_local=node_traffic
        ),
        pod_match=pod_match,
        strict_cidr=not legacy_cidr,
        resync_period=resync_period,
        max_backoff=max_backoff,
    )
    runner = Agent(config, log=log)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: runner.stop())
    runner.start()
    try:
        runner.run()
    finally:
        runner.close()
