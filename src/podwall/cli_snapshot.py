"""`podwall snapshot`: save a live cluster's namespaces, pods and NetworkPolicies to a file, so
every analysis can run offline, in CI, or next month on what the cluster looked like today.

The file is a `v1` `List`, as `kubectl get ns,pods,netpol -A -o yaml` prints it, so kubectl and
podwall read it alike. Objects are written as the API server sent them (managedFields dropped);
the snapshot is validated like any input, and invalid objects are kept but reported (exit 2),
because a snapshot should show the cluster as it is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from podwall.assemble import assemble
from podwall.cli_common import warn
from podwall.errors import InvalidObjects
from podwall.kube import ClusterSource, read_cluster

__all__ = ["CONTEXT_HELP", "KUBECONFIG_HELP", "snapshot"]

KUBECONFIG_HELP = "Kubeconfig of a live cluster (default: $KUBECONFIG, then ~/.kube/config)."
CONTEXT_HELP = "Kubeconfig context (default: its current context)."


def snapshot(
    out: Annotated[Path, typer.Option("--output", "-o", help="File to write (YAML List).")],
    kubeconfig: Annotated[str | None, typer.Option(help=KUBECONFIG_HELP)] = None,
    context: Annotated[str | None, typer.Option(help=CONTEXT_HELP)] = None,
    namespace: Annotated[
        str | None,
        typer.Option("--namespace", "-n", help="Keep only this namespace (and its objects)."),
    ] = None,
) -> None:
    """Save a live cluster's namespaces, pods and NetworkPolicies for offline analysis.

    Examples:

      podwall snapshot -o prod.yaml --context prod

      podwall matrix -f prod.yaml -o png --out prod.png
    """
    pairs = read_cluster(ClusterSource(kubeconfig, context))
    items = [m for _, m in pairs if _in_namespace(m, namespace)]
    loaded = assemble([(source, m) for source, m in pairs if _in_namespace(m, namespace)])
    document = {"apiVersion": "v1", "kind": "List", "items": items}
    out.write_text(yaml.safe_dump(document, sort_keys=False))
    kinds = {kind: sum(1 for m in items if m["kind"] == kind) for kind in _KINDS}
    warn(
        f"wrote {out}: {kinds['Namespace']} namespaces, {kinds['Pod']} pods, "
        f"{kinds['NetworkPolicy']} NetworkPolicies"
    )
    if loaded.invalid:
        raise InvalidObjects(list(loaded.invalid))


_KINDS = ("Namespace", "Pod", "NetworkPolicy")


def _in_namespace(manifest: dict, namespace: str | None) -> bool:
    if namespace is None:
        return True
    meta = manifest.get("metadata", {})
    own = meta.get("name") if manifest.get("kind") == "Namespace" else meta.get("namespace")
    return own == namespace
