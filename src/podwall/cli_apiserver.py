"""`podwall lab api-server`: the lab's Kubernetes API, for the real kubectl and client libraries.

Serves Namespaces, the topology's Pods and NetworkPolicies over plain HTTP on 127.0.0.1 (the
old kube-apiserver insecure port, 8080, by default), with state in SQLite so it survives a
restart, until SIGINT or SIGTERM. `--kubeconfig-out` writes a kubeconfig to point kubectl at it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from podwall.cli_common import say
from podwall.lab.errors import LabError
from podwall.lab.state import lab_home
from podwall.lab.topology import resolve_topology

__all__ = ["api_server"]

DEFAULT_PORT = 8080


def api_server(
    db: Annotated[
        Path | None,
        typer.Option("--db", help="SQLite file holding the API's state (default: "
                     "$PODWALL_HOME/lab/api.db)"),
    ] = None,
    port: Annotated[int, typer.Option("--port", help="TCP port; 0 picks a free one")] = (
        DEFAULT_PORT
    ),
    host: Annotated[str, typer.Option("--host", help="Address to listen on")] = "127.0.0.1",
    kubeconfig_out: Annotated[
        Path | None,
        typer.Option("--kubeconfig-out", help="Write a kubeconfig for this server here"),
    ] = None,
    topology: Annotated[
        str | None,
        typer.Option("--topology", help="Bundled topology name (upstream-e2e, examples) or a "
                     "topology YAML file whose namespaces and pods the API serves"),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="PODWALL_API_TOKEN",
                     help="Require this bearer token (default: no authentication)"),
    ] = None,
    legacy_cidr: Annotated[
        bool,
        typer.Option("--legacy-cidr", help="Validate CIDRs as before StrictIPCIDRValidation"),
    ] = False,
) -> None:
    """Serve the lab as a Kubernetes API: kubectl apply/get/describe/label/delete work on it."""
    db = db or lab_home() / "lab" / "api.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    try:
        from podwall.apiserver.server import ApiServer  # the web stack loads only here

        server = ApiServer(
            db,
            topology=resolve_topology(topology),
            host=host,
            port=port,
            token=token,
            strict_cidr=not legacy_cidr,
        )
    except OSError as err:
        raise LabError(f"cannot serve on {host}:{port}: {err.strerror or err}") from err
    server.handle_signals()
    say(f"lab API serving {server.url} (state in {db})")
    if kubeconfig_out is not None:
        server.write_kubeconfig(kubeconfig_out)
        say(f"kubeconfig written: export KUBECONFIG={kubeconfig_out}")
    sys.stdout.flush()
    server.serve_forever()
