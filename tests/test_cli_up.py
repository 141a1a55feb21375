"""`podwall up`, README's first command, as a user runs it: a real process builds the lab (network
namespaces, the lab API server, one agent per node) and serves the console; the test logs in
with the one-time password it printed, finds the cluster "lab" registered and synced, creates a
NetworkPolicy through the console's REST API and sees the lab enforce it on real packets. A
second `podwall up` reuses that lab and leaves it up; Ctrl-C on the first removes every
namespace and process it started. Without nft it says why and still serves the console, with
the lab API alone; refusals (busy port, `--lab` without nft, unknown topology) start nothing.

Each test has its own PODWALL_HOME, HOME, namespace prefix and free ports, so it runs beside
the other lab tests; whatever fails, its processes are killed and its lab is taken down.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, expect

from browser_support import NEW_PASSWORD as BROWSER_PASSWORD
from browser_support import allowed, cell, guarded_page, log_in, screenshots
from conftest import free_port, wait_for
from podwall.lab.netns import list_namespaces
from podwall.lab.probe import probe_flow
from podwall.lab.state import LabState, down, load_state
from podwall.semantics import PortSpec

pytestmark = [pytest.mark.root, pytest.mark.cli]

PODWALL = Path(sys.executable).parent / "podwall"
ACCESS_DEMO1 = (Path(__file__).parents[1] / "examples" / "policies" / "access-demo1.yaml"
                ).read_text()  # default/db admits only role=frontend, on 6379/TCP
REDIS = PortSpec(6379, "TCP")
DB_IP = "10.244.1.10"  # default/db in the examples topology
EXAMPLE_PODS = 18
NEW_PASSWORD = "a long new password"
START = 90.0  # seconds a start may take (building the lab on a loaded 2-core machine)
NO_NFT_PATH = f"{PODWALL.parent}:/usr/bin:/bin"  # Debian keeps nft in /usr/sbin only


def _accepts(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


class Up:
    """One `podwall up` process; its output (stdout and stderr) gathered line by line."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        self.lines: list[str] = []
        self.proc = subprocess.Popen([str(PODWALL), "up", *args], env=env, text=True,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._gather, daemon=True)
        self._reader.start()

    def _gather(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def serving(self) -> str:
        """Wait for the final lines; the console URL they print."""
        wait_for("podwall up to print its URL", lambda: "  stop:" in self.output
                 or self.proc.poll() is not None, timeout=START)
        found = re.search(r"^podwall console: (http://\S+)$", self.output, re.M)
        assert found, self.output
        return found.group(1)

    def password(self) -> str:
        found = re.search(r"^  password: (\S+)$", self.output, re.M)
        assert found, self.output
        return found.group(1)

    def finish(self, timeout: float = 60) -> int:
        """Its exit code, once it has exited and all its output is read."""
        code = self.proc.wait(timeout=timeout)
        self._reader.join(timeout=10)
        return code

    def stop(self, signum: int) -> int:
        self.proc.send_signal(signum)
        return self.finish()


@dataclass
class Place:
    """A PODWALL_HOME, HOME and namespace prefix of this test's own."""

    home: Path
    prefix: str
    env: dict[str, str]
    runs: list[Up] = field(default_factory=list)

    def up(self, *args: str, path: str | None = None) -> Up:
        env = {**self.env, "PATH": path} if path else self.env
        run = Up(env, "--prefix", self.prefix, *args)
        self.runs.append(run)
        return run

    @property
    def state(self) -> LabState:
        state = load_state(self.home)
        assert state is not None, "no lab is recorded"
        return state

    def redis_from(self, src: str) -> bool:
        return probe_flow(self.state, src, DB_IP, REDIS, timeout=0.5).reached


@pytest.fixture
def place() -> Iterator[Place]:
    if os.geteuid() != 0:
        pytest.fail("podwall up's tests build a real lab: they need root (CI runs as root)")
    top = Path(tempfile.mkdtemp(prefix="pwup"))  # short: agents' socket paths must fit
    home, user = top / "podwall", top / "user"
    user.mkdir()
    prefix = f"podwall-u{uuid.uuid4().hex[:6]}-"
    place = Place(home, prefix, {**os.environ, "PODWALL_HOME": str(home), "HOME": str(user)})
    try:
        yield place
    finally:
        for run in place.runs:
            if run.proc.poll() is None:
                run.proc.kill()
                run.proc.wait(timeout=30)
        down(home=home, prefix=prefix)  # sweeps this test's prefix only
        shutil.rmtree(top, ignore_errors=True)


def _log_in(url: str, password: str) -> httpx.Client:
    """Logged in as admin, CSRF header set, the one-time password changed as the console asks."""
    client = httpx.Client(base_url=f"{url}/api/v1", timeout=60)
    session = client.post("/session", json={"username": "admin", "password": password})
    assert session.status_code == 200, session.text
    client.headers["X-CSRF-Token"] = session.json()["csrf_token"]
    assert session.json()["must_change_password"] is True
    changed = client.post("/me/password", json={"current_password": password,
                                                "new_password": NEW_PASSWORD})
    assert changed.status_code == 204, changed.text
    return client


def _lab_cluster(client: httpx.Client) -> dict:
    listed = client.get("/clusters")
    assert listed.status_code == 200, listed.text
    assert [c["name"] for c in listed.json()] == ["lab"]
    return listed.json()[0]


def _policy_names(client: httpx.Client) -> list[str]:
    listed = client.get("/clusters/lab/policies")
    assert listed.status_code == 200, listed.text
    return [f"{p['metadata']['namespace']}/{p['metadata']['name']}" for p in listed.json()["items"]]


def _pids(state: LabState) -> list[int]:
    return [*(r.pid for r in state.services.values()), *(r.pid for r in state.agents.values())]


def _alive(pid: int) -> bool:
    try:
        return bool(Path(f"/proc/{pid}/cmdline").read_bytes())  # a zombie's is empty
    except OSError:
        return False


def test_up_builds_the_lab_and_the_console_enforces_through_it(place: Place):
    port, other = free_port(), free_port()
    first = place.up("--port", str(port))
    url = first.serving()
    assert url == f"http://127.0.0.1:{port}"
    assert "lab up: 2 nodes, 18 pods" in first.output
    client = _log_in(url, first.password())
    lab = _lab_cluster(client)
    assert (lab["state"], lab["counts"]["Pod"]) == ("synced", EXAMPLE_PODS), lab
    assert _policy_names(client) == []
    assert place.redis_from("default/web") and place.redis_from("default/frontend")

    created = client.post("/clusters/lab/policies", json={"yaml": ACCESS_DEMO1})
    assert created.status_code == 201, created.text
    assert _policy_names(client) == ["default/access-demo1"]
    wait_for("access-demo1 on real packets", lambda: not place.redis_from("default/web"))
    assert place.redis_from("default/frontend")
    # the console's own probe: every pod pair on real packets, beside what the policy means
    assert client.get("/clusters/lab/matrix", params={"port": 6379}).json()["can_probe"]
    probed = client.post("/clusters/lab/probe", json={"port": 6379, "protocol": "TCP"}).json()
    assert probed["probes"] == EXAMPLE_PODS**2 and probed["agree"], probed["disagreements"]
    cells = dict(zip(probed["pods"], probed["observed"], strict=True))
    column = probed["pods"].index("default/db")
    assert not cells["default/web"][column] and cells["default/frontend"][column]

    # a second `podwall up` reuses the lab, and can hand out a new one-time password
    second = place.up("--port", str(other), "--reset-admin-password")
    assert second.serving() == f"http://127.0.0.1:{other}"
    assert "reusing the lab that is up" in second.output
    assert client.get("/me").status_code == 401  # the reset ended admin's sessions
    assert _policy_names(_log_in(second.serving(), second.password())) == [
        "default/access-demo1"]
    assert second.stop(signal.SIGTERM) == 0, second.output
    assert "left up" in second.output
    assert not _accepts(other)
    assert not place.redis_from("default/web") and place.redis_from("default/frontend")

    # Ctrl-C on the run that built the lab removes all it started
    state, namespaces = place.state, list_namespaces(place.prefix)
    # the API server and 2 node agents; an agent in each pod and outside host (3)
    assert (len(state.services), len(state.agents)) == (3, EXAMPLE_PODS + 3)
    assert len(namespaces) == EXAMPLE_PODS + 2 + 1 + 3  # pods, nodes, fabric, outside hosts
    pids = _pids(state)
    assert first.stop(signal.SIGINT) == 0, first.output
    assert f"lab down: removed {len(namespaces)} namespaces" in first.output
    assert list_namespaces(place.prefix) == []
    assert [p for p in pids if _alive(p)] == []
    assert load_state(place.home) is None
    assert not _accepts(port)


def test_a_new_user_manages_the_labs_policies_in_the_browser_and_sees_them_enforced(
    place: Place, browser: Browser, request: pytest.FixtureRequest,
):
    """README's promise, as a user lives it: `podwall up`, open the URL, log in with the printed
    password, choose one, create a policy, see the heatmap change and real packets agree."""
    port = free_port()
    run = place.up("--port", str(port))
    with guarded_page(browser, run.serving()) as page:
        shot = screenshots(page, request.node.name)
        log_in(page, run.password(), lands_on="Choose your password")
        page.get_by_label(re.compile("^New password")).fill(BROWSER_PASSWORD)
        page.get_by_label("Repeat the new password").fill(BROWSER_PASSWORD)
        page.get_by_role("button", name="Change password").click()
        expect(page.get_by_role("heading", name="Clusters")).to_be_visible()
        expect(page.locator('tr[data-cluster="lab"]')).to_contain_text("synced")
        shot("the-lab-registered")

        page.goto("/#/c/lab/new/yaml")
        editor = page.get_by_label("Policy YAML")
        editor.fill(ACCESS_DEMO1)
        expect(page.locator(".validation.ok")).to_contain_text("1 valid, 0 invalid")
        page.get_by_role("button", name="Preview changes").click()
        preview = page.get_by_role("region", name="Preview")
        expect(preview.locator(".closed")).to_contain_text("default/web → default/db TCP/6379")
        shot("preview")
        preview.get_by_role("button", name="Create policy").click()
        expect(page.locator('tr[data-policy="default/access-demo1"]')).to_be_visible()
        # (probes run asyncio: off the thread where Playwright's event loop runs)
        with ThreadPoolExecutor(1) as other_thread:
            wait_for("access-demo1 on real packets", lambda: not other_thread.submit(
                place.redis_from, "default/web").result())

        page.goto("/#/c/lab/connectivity?port=6379&protocol=TCP")
        expect(cell(page, "default/web", "default/db")).to_have_class(allowed("denied"))
        expect(cell(page, "default/frontend", "default/db")).to_have_class(allowed("allowed"))
        page.get_by_role("button", name="Check with real packets").click()
        expect(page.locator("#probe-verdict")).to_contain_text(
            f"agree {EXAMPLE_PODS**2} connections opened on 6379/TCP", timeout=60_000)
        expect(page.locator("rect.cell.disagrees")).to_have_count(0)
        shot("real-packets-agree")
    assert run.stop(signal.SIGINT) == 0, run.output
    assert list_namespaces(place.prefix) == []


def test_without_nft_it_says_why_and_serves_the_console_with_the_lab_api(place: Place):
    assert shutil.which("nft", path=NO_NFT_PATH) is None, "this PATH must lack nft"
    assert shutil.which("ip", path=NO_NFT_PATH) is not None, "nft is the one thing lacking"
    port = free_port()
    run = place.up("--port", str(port), path=NO_NFT_PATH)
    url = run.serving()
    assert "no lab network: podwall lab needs the `nft` command: install nftables" in run.output
    client = _log_in(url, run.password())
    lab = _lab_cluster(client)
    assert (lab["state"], lab["counts"]["Pod"]) == ("synced", EXAMPLE_PODS), lab
    created = client.post("/clusters/lab/policies", json={"yaml": ACCESS_DEMO1})
    assert created.status_code == 201, created.text
    assert _policy_names(client) == ["default/access-demo1"]
    assert list_namespaces(place.prefix) == []
    assert load_state(place.home) is None
    assert not client.get("/clusters/lab/matrix").json()["can_probe"]
    refused = client.post("/clusters/lab/probe", json={"port": 6379})
    assert refused.status_code == 404 and "no prober" in refused.json()["detail"]

    assert run.stop(signal.SIGINT) == 0, run.output
    assert "stopped: lab API stopped" in run.output
    assert not _accepts(port)


@pytest.mark.parametrize(
    ("args", "path", "code", "message"),
    [
        pytest.param(["--port", "{busy}"], None, 3, "Address already in use",
                     id="a busy port exits 3 before anything starts"),
        pytest.param(["--port", "{free}", "--lab"], NO_NFT_PATH, 2,
                     "podwall lab needs the `nft` command", id="--lab without nft exits 2"),
        pytest.param(["--port", "{free}", "--topology", "nope"], None, 2,
                     "examples, upstream-e2e", id="an unknown topology exits 2, naming them"),
    ],
)
def test_refusals_start_nothing(place: Place, args: list[str], path: str | None, code: int,
                                message: str):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ports = {"busy": busy.getsockname()[1], "free": free_port()}
        run = place.up(*[a.format(**ports) for a in args], path=path)
        assert run.finish(timeout=START) == code, run.output
    assert message in run.output
    assert list_namespaces(place.prefix) == []
    assert not (place.home / "lab" / "state.json").exists()
    assert not (place.home / "console.db").exists()
