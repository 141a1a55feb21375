"""The `podwall lint` command: read input as every analysis command does, lint, render, and
exit by severity so CI can gate on it.

Exit codes: 0 no finding at or above --fail-on; 1 some finding at or above it; 2 bad input
(nothing is linted when any object is invalid). Registered in cli.py with `app.command()(lint)`.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from importlib.metadata import PackageNotFoundError, version
from typing import Annotated

import typer
from rich.console import Console

from podwall.cli_common import ClusterSource, IPBlockMode, Kubeconfig, KubeContext, load_input
from podwall.errors import EXIT_DENIED
from podwall.lint import (
    Finding,
    Severity,
    lint_cluster,
    render_json,
    render_junit,
    render_sarif,
    render_table,
)
from podwall.semantics import Options

__all__ = ["FailOn", "LintOutput", "lint"]


class LintOutput(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"
    junit = "junit"


class FailOn(StrEnum):
    error = "error"
    warning = "warning"
    info = "info"
    none = "none"


def _version() -> str:
    try:
        return version("podwall")
    except PackageNotFoundError:
        return ""


def _emit(findings: list[Finding], output: LintOutput) -> None:
    if output is LintOutput.table:
        Console(highlight=False).print(render_table(findings))
    elif output is LintOutput.json:
        sys.stdout.write(render_json(findings))
    elif output is LintOutput.sarif:
        sys.stdout.write(render_sarif(findings, _version()))
    else:
        sys.stdout.write(render_junit(findings))


def fails(findings: list[Finding], fail_on: FailOn) -> bool:
    """Is there a finding at or above the --fail-on severity?"""
    if fail_on is FailOn.none:
        return False
    threshold = Severity(fail_on.value).rank
    return any(f.severity.rank >= threshold for f in findings)


def lint(
    files: Annotated[
        list[str],
        typer.Option(
            "-f",
            "--filename",
            help="File, directory (read recursively) or - for stdin; repeatable.",
        ),
    ] = [],  # noqa: B006 - typer needs a literal default
    kubeconfig: Kubeconfig = None,
    context: KubeContext = None,
    namespace: Annotated[
        str | None,
        typer.Option(
            "-n",
            "--namespace",
            help="Namespace for objects that name none; reports only objects in it.",
        ),
    ] = None,
    output: Annotated[LintOutput, typer.Option("-o", "--output")] = LintOutput.table,
    fail_on: Annotated[
        FailOn,
        typer.Option("--fail-on", help="Exit 1 when a finding of this severity or above exists."),
    ] = FailOn.error,
    legacy_cidr: Annotated[
        bool,
        typer.Option(
            "--legacy-cidr",
            help="Accept CIDRs as API servers before StrictIPCIDRValidation did "
            "(host bits set, leading zeros).",
        ),
    ] = False,
    ipblock: Annotated[
        IPBlockMode,
        typer.Option(
            "--ipblock",
            help="calico: ipBlocks match pod and node IPs too (upstream e2e, Calico); "
            "cilium: ipBlocks only match addresses outside the cluster.",
        ),
    ] = IPBlockMode.calico,
) -> None:
    """Find likely mistakes in policies (codes PW001...).

    DNS blocked by egress policy, AND/OR peers, selectors matching nothing, ignored rules,
    redundant policies, open pods. Silence one policy's finding with the annotation
    podwall.dev/lint-ignore: "PW001,PW004".
    """
    options = Options(ipblock_matches_cluster=ipblock is IPBlockMode.calico)
    loaded = load_input(files, namespace, legacy_cidr, cluster=ClusterSource(kubeconfig, context))
    findings = lint_cluster(loaded.cluster, options, namespace)
    _emit(findings, output)
    if fails(findings, fail_on):
        raise typer.Exit(EXIT_DENIED)
