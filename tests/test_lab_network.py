"""The lab for real: network namespaces, veths, agents and probes, with no ruleset loaded.

Needs root (CI is root): without it these tests fail, they never skip. Every namespace this run
creates carries RUN_PREFIX (`podwall-t<pid>-`), so the sweep at the end touches only this run's
namespaces, never another lab on the same machine.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from podwall.dataplane.names import interface_name
from podwall.lab import (
    LabEnvironmentError,
    LabError,
    LabSetupError,
    LabState,
    LabStateError,
    ProbeError,
    default_topology,
    down,
    exec_in,
    load_state,
    parse_topology,
    probe,
    probe_flows,
    registry,
    save_state,
    sctp_available,
    up,
)
from podwall.lab import netns as lab_netns
from podwall.lab.supervise import agent_pids_in, stop_agents
from podwall.lab.wire import AGENT_MODULE
from podwall.semantics import PortSpec

pytestmark = pytest.mark.root

RUN_PREFIX = f"podwall-t{os.getpid()}-"
PORTS = [PortSpec(80, "TCP"), PortSpec(80, "UDP"), PortSpec(81, "TCP"), PortSpec(81, "UDP")]
KEYS = ("x/a", "x/b", "x/c", "y/a", "y/b", "y/c", "z/a", "z/b", "z/c")
SMALL = {
    "nodes": [{"name": "node-1", "ipv4": "198.51.100.1", "ipv6": "2001:db8:ffff::1"}],
    "namespaces": [{"name": "x"}],
    "pods": [
        {
            "namespace": "x",
            "name": name,
            "node": "node-1",
            "ipv4": f"10.0.1.{10 + i}",
            "ipv6": f"fd00:10:0:1::{10 + i}",
            "ports": [{"name": "http", "port": 80}],
        }
        for i, name in enumerate(("a", "b"))
    ],
    "externals": [{"name": "ext", "ipv4": "203.0.113.10", "ipv6": "2001:db8:203::10"}],
}


def _root_view() -> dict[str, str]:
    """The host namespace's links, addresses and routes, exactly as `ip -j` prints them."""
    commands = {
        "link": ["ip", "-j", "link"],
        "addr": ["ip", "-j", "addr"],
        "route": ["ip", "-j", "route"],
        "route6": ["ip", "-6", "-j", "route"],
    }
    return {
        k: subprocess.run(v, capture_output=True, text=True, check=True).stdout
        for k, v in commands.items()
    }


def _agents_under(home: Path) -> list[int]:
    """Live agent processes whose control socket lives under `home`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if AGENT_MODULE.encode() in argv and any(str(home).encode() in a for a in argv):
                found.append(int(entry.name))
    return found


@pytest.fixture(scope="module", autouse=True)
def _root_and_sweep() -> Iterator[dict[str, str]]:
    """Fail (not skip) without root; after the module, remove whatever this run left."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root (they build network namespaces): run as root")
    before = _root_view()
    yield before
    left = lab_netns.list_namespaces(RUN_PREFIX)
    stop_agents(agent_pids_in(left))
    lab_netns.delete_namespaces(left)
    for prefix in [RUN_PREFIX, *registry.neighbours(RUN_PREFIX)]:
        registry.unregister(prefix)


@pytest.fixture
def home() -> Iterator[Path]:
    """A short state directory (agent socket paths must fit in 107 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="pw"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def lab() -> Iterator[LabState]:
    path = Path(tempfile.mkdtemp(prefix="pw"))
    state = up(default_topology(), home=path, prefix=RUN_PREFIX)
    try:
        yield state
    finally:
        down(state)
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("family", [4, 6], ids=["IPv4", "IPv6"])
def test_every_pod_reaches_every_pod_on_every_port(lab: LabState, family: int):
    matrix = probe(lab, PORTS, ip_family=family)
    assert matrix.pods == KEYS
    assert [p.key for p in matrix.ports] == ["80/TCP", "80/UDP", "81/TCP", "81/UDP"]
    denied = {k: np.argwhere(~grid).tolist() for k, grid in matrix.allowed.items()}
    assert denied == {k: [] for k in matrix.allowed}


@pytest.mark.parametrize("family", [4, 6], ids=["IPv4", "IPv6"])
def test_pods_and_the_external_host_reach_each_other_and_hear_the_right_reply(
    lab: LabState, family: int
):
    ext = lab.topology.external("ext")
    flows = [(key, ext.ip(family), port) for key in KEYS for port in PORTS]
    flows += [("ext", lab.topology.pod(key).ip(family), port) for key in KEYS for port in PORTS]
    results = probe_flows(lab, flows)
    assert [(r.src, r.dst_ip, r.port.key, r.outcome) for r in results if not r.ok] == []
    assert {r.reply for r in results[: len(KEYS) * 4]} == {"ext"}
    assert [r.reply for r in results[len(KEYS) * 4 :: 4]] == list(KEYS)


def test_the_root_namespace_is_untouched_while_the_lab_is_up(lab, _root_and_sweep):
    assert _root_view() == _root_and_sweep


def test_nodes_wire_pods_as_calico_does(lab: LabState):
    node = lab.node_netns("node-1")
    veth = interface_name("x", "a")
    links = exec_in(node, ["ip", "-br", "link"]).stdout
    assert veth in links and interface_name("x", "b") not in links  # x/b lives on node-2
    routes = exec_in(node, ["ip", "route"]).stdout
    assert f"10.0.1.10 dev {veth} scope link" in routes
    assert "10.0.1.11 via 198.51.100.2 dev eth0" in routes
    assert "0.0.0.0" not in routes and "default" not in routes
    assert exec_in(node, ["cat", f"/proc/sys/net/ipv4/conf/{veth}/proxy_arp"]).stdout == "1\n"
    pod_routes = exec_in(lab.names.pod("x", "a"), ["ip", "route"]).stdout
    assert "default via 169.254.1.1 dev eth0 onlink" in pod_routes
    pod_routes6 = exec_in(lab.names.pod("x", "a"), ["ip", "-6", "route"]).stdout
    assert "default via fe80::1 dev eth0" in pod_routes6


def test_a_dropped_flow_times_out_and_nothing_else_changes(lab: LabState):
    """A ruleset applied inside a node namespace is what the probes see (as the lead's will)."""
    node, veth = lab.node_netns("node-2"), interface_name("x", "b")
    ruleset = (
        "table inet podwall_test {\n chain forward {\n"
        "  type filter hook forward priority filter; policy accept;\n"
        f'  oifname "{veth}" tcp dport 80 drop\n }}\n}}\n'
    )
    exec_in(node, ["nft", "-f", "-"], stdin=ruleset)
    try:
        matrix = probe(lab, [PortSpec(80, "TCP"), PortSpec(81, "TCP")], timeout=0.5)
    finally:
        exec_in(node, ["nft", "delete", "table", "inet", "podwall_test"])
    expected = np.ones((9, 9), dtype=bool)
    expected[:, KEYS.index("x/b")] = False
    expected[KEYS.index("x/b"), KEYS.index("x/b")] = True  # to itself: never leaves the pod
    assert (matrix.allowed["80/TCP"] == expected).all()
    assert matrix.allowed["81/TCP"].all()


def test_unknown_sources_and_pods_are_refused(lab: LabState):
    with pytest.raises(ProbeError, match="no such lab pod: q/q"):
        probe(lab, PORTS, pods=["x/a", "q/q"])
    with pytest.raises(LabError, match="neither a lab pod"):
        probe_flows(lab, [("nobody", "10.0.1.10", PORTS[0])])


def test_destinations_must_be_addresses_not_names(lab: LabState):
    result = probe_flows(lab, [("x/a", "x-b.example", PORTS[0])])[0]
    assert not result.ok and result.outcome.startswith("error:")


@pytest.mark.parametrize(
    ("root", "missing", "message"),
    [
        (False, None, "podwall lab needs root: it creates network namespaces"),
        (True, "ip", r"needs the `ip` command: install iproute2 \(apt-get install iproute2\)"),
        (True, "nft", r"needs the `nft` command: install nftables \(apt-get install nftables\)"),
    ],
    ids=["not root", "no ip", "no nft"],
)
def test_up_refuses_where_the_lab_cannot_work(
    monkeypatch: pytest.MonkeyPatch, home: Path, root: bool, missing: str | None, message: str
):
    monkeypatch.setattr(os, "geteuid", lambda: 0 if root else 1000)
    real_which = shutil.which
    monkeypatch.setattr(shutil, "which", lambda t: None if t == missing else real_which(t))
    with pytest.raises(LabEnvironmentError, match=message):
        up(parse_topology(SMALL), home=home, prefix=f"{RUN_PREFIX}e-")
    assert load_state(home) is None


def test_sctp_is_probed_only_where_the_kernel_has_it(lab: LabState):
    assert lab.sctp == sctp_available()
    assert bool(lab.notices) != lab.sctp
    sctp = PortSpec(80, "SCTP")
    if lab.sctp:
        # The default topology serves no SCTP: the port is closed, so the probe fails fast.
        assert not probe_flows(lab, [("x/a", "10.0.1.11", sctp)])[0].ok
    else:
        with pytest.raises(ProbeError, match="no SCTP"):
            probe(lab, [sctp])


def test_down_after_a_crash_removes_every_namespace_and_agent(home: Path, _root_and_sweep):
    prefix = f"{RUN_PREFIX}c-"
    state = up(parse_topology(SMALL), home=home, prefix=prefix)
    assert len(state.agents) == 3 and len(lab_netns.list_namespaces(prefix)) == 5
    with pytest.raises(LabStateError, match="already up"):
        up(parse_topology(SMALL), home=home, prefix=prefix)
    os.kill(state.agents["x/a"].pid, signal.SIGKILL)  # the crash: one agent dies, the CLI too
    del state
    removed = down(home=home)  # knows the lab only from the state file
    assert lab_netns.list_namespaces(prefix) == []
    assert _agents_under(home) == []
    assert load_state(home) is None and not (home / "lab" / "run").exists()
    assert len(removed.namespaces) == 5
    assert _root_view() == _root_and_sweep


def test_down_sweeps_unrecorded_namespaces_and_is_idempotent(home: Path):
    prefix = f"{RUN_PREFIX}s-"
    lab_netns.add_namespaces([f"{prefix}stray"])
    assert down(home=home, prefix=prefix).namespaces == (f"{prefix}stray",)
    assert lab_netns.list_namespaces(prefix) == []
    assert down(home=home, prefix=prefix).namespaces == ()


def test_down_spares_the_labs_of_other_homes_and_longer_prefixes(tmp_path: Path):
    """`podwall-` starts `podwall-ci-`: a sweep by prefix alone would take a neighbour's lab."""
    outer, inner = f"{RUN_PREFIX}o-", f"{RUN_PREFIX}o-i-"
    homes = [Path(tempfile.mkdtemp(prefix="pw")) for _ in range(3)]
    first, second, stranger = homes
    try:
        up(parse_topology(SMALL), home=first, prefix=outer)
        up(parse_topology(SMALL), home=second, prefix=inner)
        inner_namespaces = lab_netns.list_namespaces(inner)
        assert len(inner_namespaces) == 5 and len(lab_netns.list_namespaces(outer)) == 10

        with pytest.raises(LabStateError, match=f"the lab in {first} uses the namespace prefix"):
            up(parse_topology(SMALL), home=stranger, prefix=outer)
        stateless = subprocess.run(
            ["podwall", "lab", "down", "--prefix", outer],
            env={**os.environ, "PODWALL_HOME": str(stranger)},
            capture_output=True, text=True, timeout=120, check=False,
        )
        assert stateless.returncode == 0, stateless.stderr
        assert "removed 0 namespaces" in stateless.stdout
        assert "left 10 namespaces of other labs that are up" in stateless.stdout
        assert len(lab_netns.list_namespaces(outer)) == 10

        removed = down(home=first)
        assert len(removed.namespaces) == 5 and list(removed.spared) == inner_namespaces
        assert lab_netns.list_namespaces(outer) == inner_namespaces
        assert len(_agents_under(second)) == 3 and registry.holder(outer) is None
        assert len(down(home=second).namespaces) == 5
        assert registry.holder(inner) is None
    finally:
        for home in homes:
            down(home=home, prefix=outer)
            shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize("recorded", [None, ["gone"]], ids=["no state file", "no namespace"])
def test_a_stale_registration_does_not_stop_the_sweep(home: Path, recorded: list[str] | None):
    """A lab registered from a home whose state file is gone, or whose recorded namespaces are
    (after a reboot), is no lab: its prefix is swept, and `up` may take it."""
    prefix = f"{RUN_PREFIX}r-"
    other = home / "other"
    if recorded is not None:
        save_state(LabState(home=other, prefix=prefix,
                            namespaces=[f"{prefix}{name}" for name in recorded]))
    registry.register(prefix, other)
    lab_netns.add_namespaces([f"{prefix}stray"])
    assert down(home=home, prefix=prefix).namespaces == (f"{prefix}stray",)
    assert registry.holder(prefix) is None


def test_a_failed_up_removes_what_it_made(home: Path):
    prefix = f"{RUN_PREFIX}f-"
    with pytest.raises(LabSetupError, match="did not answer"):
        up(parse_topology(SMALL), home=home, prefix=prefix, ready_timeout=0.0)
    assert lab_netns.list_namespaces(prefix) == []
    assert _agents_under(home) == []
    assert load_state(home) is None


def test_an_agent_starting_up_is_alive_even_when_its_cmdline_reads_empty(tmp_path: Path):
    """`ip netns exec` execs the agent; for an instant in between, /proc/<pid>/cmdline reads
    empty (about 2% of starts here), so the start-up wait asks our child process whether it
    died instead of reading its command line."""
    from podwall.lab import supervise

    child = subprocess.Popen(["sleep", "30"])  # alive, and no agent by its command line
    supervise._children[child.pid] = child
    record = supervise.AgentRecord(name="p", netns="podwall-none", socket=str(tmp_path / "s"),
                                   log=str(tmp_path / "log"), pid=child.pid)
    try:
        assert not supervise.is_agent(child.pid, record.socket)
        assert not supervise._has_exited(record)
        child.kill()
        child.wait()
        assert supervise._has_exited(record)
    finally:
        supervise._children.pop(child.pid, None)
        if child.poll() is None:
            child.kill()
            child.wait()
