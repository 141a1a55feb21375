"""Real probes between the lab's pods: the observed matrix, in the core's `Matrix` shape.

Each source pod's agent connects from inside the pod, so the packets take the real path (pod,
node, fabric, node, pod) through whatever ruleset the nodes hold. Denied connections are
dropped, so they cost a timeout: all agents work at once (bounded), each running its probes
concurrently, so a full matrix costs about one timeout, not one per cell.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from podwall.lab.errors import ProbeError
from podwall.lab.state import LabState
from podwall.lab.topology import LabPod, Topology
from podwall.lab.wire import request
from podwall.semantics import Matrix, PortSpec

__all__ = ["DEFAULT_TIMEOUT", "ProbeResult", "probe", "probe_flow", "probe_flows"]

DEFAULT_TIMEOUT = 1.0
DEFAULT_CONCURRENCY = 64  # probes in flight per agent
PARALLEL_AGENTS = 32  # agents asked at once
_SLACK = 5.0  # seconds an agent may take beyond its probes' own timeouts

Flow = tuple[str, str, PortSpec]  # (source endpoint, destination IP, port)


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeResult:
    src: str
    dst_ip: str
    port: PortSpec
    ok: bool
    outcome: str  # connected, timeout, refused, unreachable, unsupported, error: ...
    reply: str  # what the destination said (its name), when it answered
    ms: float

    @property
    def reached(self) -> bool:
        """Did the packets get through? A refusal (TCP RST, ICMP port unreachable) came from
        the destination itself, so the data plane let the connection pass; only silence
        (a timeout) means it was dropped on the way."""
        return self.ok or self.outcome == "refused"


def probe(
    lab_state: LabState,
    ports: Sequence[PortSpec] | None = None,
    ip_family: int = 4,
    pods: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> Matrix:
    """The observed matrix: `allowed[port.key][i, j]` = pods[i] reached pods[j]'s IP (it got
    an answer or a refusal from the destination, rather than silence).

    `ports` defaults to every served port, `pods` (keys `ns/name`) to every pod, in the
    core's order. The diagonal is probed too. `progress(source)` follows each finished source.
    """
    topology = _topology(lab_state)
    chosen = _chosen_pods(topology, pods)
    ports = tuple(_served(lab_state) if ports is None else ports)
    if ip_family not in (4, 6):
        raise ProbeError(f"ip family must be 4 or 6, not {ip_family}")
    if not ports:
        raise ProbeError("no ports to probe")
    flows = [
        (src.key, dst.ip(ip_family), port) for src in chosen for dst in chosen for port in ports
    ]
    results = probe_flows(lab_state, flows, timeout=timeout, progress=progress)
    n = len(chosen)
    grid = np.array([r.reached for r in results], dtype=bool).reshape(n, n, len(ports))
    allowed = {port.key: grid[:, :, k].copy() for k, port in enumerate(ports)}
    return Matrix(pods=tuple(p.key for p in chosen), ports=ports, allowed=allowed)


def probe_flow(
    lab_state: LabState, src: str, dst_ip: str, port: PortSpec, *, timeout: float = DEFAULT_TIMEOUT
) -> ProbeResult:
    """One connection from `src` (a pod `ns/name` or an external host's name) to an IP."""
    return probe_flows(lab_state, [(src, dst_ip, port)], timeout=timeout)[0]


def probe_flows(
    lab_state: LabState,
    flows: Sequence[Flow],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    progress: Callable[[str], None] | None = None,
) -> list[ProbeResult]:
    """Many flows at once, grouped by source; results in the order of `flows`."""
    by_source: dict[str, list[int]] = {}
    for i, (src, _, port) in enumerate(flows):
        lab_state.endpoint(src)  # raises for an unknown source
        _check_protocol(lab_state, port)
        by_source.setdefault(src, []).append(i)
    answers = asyncio.run(_ask_all(lab_state, flows, by_source, timeout, progress))
    results: list[ProbeResult | None] = [None] * len(flows)
    for src, indices in by_source.items():
        for i, answer in zip(indices, answers[src], strict=True):
            _, dst_ip, port = flows[i]
            results[i] = ProbeResult(
                src=src,
                dst_ip=dst_ip,
                port=port,
                ok=bool(answer["ok"]),
                outcome=answer["outcome"],
                reply=answer.get("reply", ""),
                ms=float(answer.get("ms", 0.0)),
            )
    return [r for r in results if r is not None]


async def _ask_all(
    lab_state: LabState,
    flows: Sequence[Flow],
    by_source: Mapping[str, list[int]],
    timeout: float,
    progress: Callable[[str], None] | None,
) -> dict[str, list[dict[str, object]]]:
    limit = asyncio.Semaphore(PARALLEL_AGENTS)

    async def ask(src: str, indices: list[int]) -> tuple[str, list[dict[str, object]]]:
        probes = [
            {"ip": flows[i][1], "port": flows[i][2].port, "protocol": flows[i][2].protocol}
            for i in indices
        ]
        async with limit:
            results = await _ask_agent(lab_state, src, probes, timeout)
        if progress is not None:
            progress(src)
        return src, results

    pairs = await asyncio.gather(*(ask(src, ix) for src, ix in by_source.items()))
    return dict(pairs)


async def _ask_agent(
    lab_state: LabState, src: str, probes: list[dict[str, object]], timeout: float
) -> list[dict[str, object]]:
    record = lab_state.agents.get(src)
    if record is None:
        raise ProbeError(f"no agent is recorded for {src}: is the lab up (`podwall lab up`)?")
    rounds = -(-len(probes) // DEFAULT_CONCURRENCY)
    payload = {"probes": probes, "timeout": timeout, "concurrency": DEFAULT_CONCURRENCY}
    try:
        answer = await request(record.socket, payload, timeout=rounds * timeout + _SLACK)
    except (OSError, TimeoutError, ValueError) as err:
        raise ProbeError(
            f"the agent of {src} (pid {record.pid}) did not answer: {err!r}; see {record.log}, "
            "or run `podwall lab down` and `podwall lab up` again"
        ) from err
    if "results" not in answer:
        raise ProbeError(f"the agent of {src} refused the request: {answer.get('error')}")
    return list(answer["results"])


def _topology(lab_state: LabState) -> Topology:
    if lab_state.topology is None:
        raise ProbeError("no lab is up (`podwall lab up` first)")
    return lab_state.topology


def _chosen_pods(topology: Topology, pods: Sequence[str] | None) -> list[LabPod]:
    ordered = topology.sorted_pods()
    if pods is None:
        return list(ordered)
    unknown = sorted(set(pods) - {p.key for p in ordered})
    if unknown:
        raise ProbeError(f"no such lab pod: {', '.join(unknown)}")
    wanted = set(pods)
    return [p for p in ordered if p.key in wanted]


def _served(lab_state: LabState) -> list[PortSpec]:
    served = _topology(lab_state).served_ports()
    return [PortSpec(p.port, p.protocol) for p in served if p.protocol != "SCTP" or lab_state.sctp]


def _check_protocol(lab_state: LabState, port: PortSpec) -> None:
    if port.protocol == "SCTP" and not lab_state.sctp:
        raise ProbeError(
            f"cannot probe {port.key}: this kernel has no SCTP (socket(IPPROTO_SCTP) fails), "
            "so the lab serves and probes TCP and UDP only"
        )
