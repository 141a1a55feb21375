"""The console in a real browser: Debian's chromium, headless, driven by Playwright, against the
console served over real HTTP (uvicorn on 127.0.0.1) with the lab API server as its cluster.

Each step's screenshot is saved under test-artifacts/console/ (PODWALL_ARTIFACTS overrides).
The browser reaches nothing but 127.0.0.1: background networking is off, every other host name
fails to resolve, and a request anywhere else fails the test, as does a script error or a
Content-Security-Policy violation. Tests wait with Playwright's auto-waiting `expect`.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
import yaml
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route, expect, sync_playwright

from apiserver_support import ROOT
from conftest import wait_for
from podwall.console import CSRF_HEADER, Console, create_console
from podwall.console.ui import CONTENT_SECURITY_POLICY, STATIC

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-default-apps", "--disable-sync", "--no-first-run",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
ARTIFACTS = Path(os.environ.get("PODWALL_ARTIFACTS") or ROOT / "test-artifacts" / "console")
NEW_PASSWORD = "browser-admin-password"
VIEWER_PASSWORD = "viewer-password-123"
UNREACHABLE_KUBECONFIG = yaml.safe_dump({
    "apiVersion": "v1", "kind": "Config", "current-context": "gone",
    "clusters": [{"name": "gone", "cluster": {"server": "http://127.0.0.1:9"}}],
    "users": [{"name": "gone", "user": {"token": "secret-token-gone"}}],
    "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "gone"}}],
})
WEB_ONLY_FROM_POD1 = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: {name}
  namespace: {namespace}
spec:
  podSelector:
    matchLabels:
      {labels}
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: pod1
"""
URL_IN_TEXT = re.compile(r"""(?:https?:)?//[a-z0-9.-]+\.[a-z]{2,}""", re.IGNORECASE)
SVG_NAMESPACE = "http://www.w3.org/2000/svg"

expect.set_options(timeout=10_000)


# Serving the console.
@contextlib.contextmanager
def serving(console: Console) -> Iterator[str]:
    """`console` on 127.0.0.1:<free port> in a thread (real HTTP); always stopped."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(console.app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True,
                              name="podwall-console-browser-test")
    thread.start()
    try:
        wait_for("the console to serve", lambda: server.started or not thread.is_alive())
        assert server.started, "the console did not start"
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        console.app.state.syncs.wait_all()
        console.engine.dispose()


@dataclass
class Served:
    url: str
    admin_password: str  # the admin's password now


@contextlib.contextmanager
def rest(url: str, password: str) -> Iterator[httpx.Client]:
    """The console's REST API over HTTP, logged in as admin, CSRF header set."""
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as client:
        answer = client.post("/session", json={"username": "admin", "password": password})
        assert answer.status_code == 200, answer.text
        client.headers[CSRF_HEADER] = answer.json()["csrf_token"]
        yield client


@pytest.fixture
def first_run(tmp_path: Path) -> Iterator[Served]:
    """A console on a fresh SQLite file, as its first run left it (one-time admin password)."""
    console = create_console(f"sqlite:///{tmp_path / 'console.db'}")
    assert console.admin_password
    with serving(console) as url:
        yield Served(url, console.admin_password)


@pytest.fixture
def lab(first_run: Served, lab_kubeconfig: str) -> Served:
    """The console with the admin's password changed and the lab registered and synced."""
    with rest(first_run.url, first_run.admin_password) as api:
        changed = api.post("/me/password", json={"current_password": first_run.admin_password,
                                                 "new_password": NEW_PASSWORD})
        assert changed.status_code == 204, changed.text
        registered = api.post("/clusters", json={"name": "lab", "kubeconfig": lab_kubeconfig})
        assert registered.status_code == 201, registered.text
        synced = api.post("/clusters/lab/sync", params={"wait": "true"})
        assert synced.json()["state"] == "synced", synced.text
    return Served(first_run.url, NEW_PASSWORD)


# The browser.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install-chromium.sh (as root)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Watch:
    """What the page did that it must not: requests elsewhere, script errors, CSP violations."""

    origin: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _guard(watch: Watch) -> Callable:
    def route(r: Route) -> None:
        if r.request.url.startswith(watch.origin + "/"):
            r.continue_()
        else:
            watch.foreign.append(r.request.url)
            r.abort()
    return route


@pytest.fixture
def page(browser: Browser, first_run: Served) -> Iterator[Page]:
    watch = Watch(first_run.url)
    context = browser.new_context(base_url=first_run.url,
                                  viewport={"width": 1400, "height": 900})
    context.route("**/*", _guard(watch))
    opened = context.new_page()
    opened.on("pageerror", lambda error: watch.errors.append(f"script error: {error}"))
    opened.on("console", lambda message: watch.errors.append(message.text)
              if "Content Security Policy" in message.text else None)
    try:
        yield opened
    finally:
        context.close()
    assert watch.foreign == [], "the page asked for something outside the console"
    assert watch.errors == [], "the page had script errors or CSP violations"


@pytest.fixture
def shot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], None]:
    """shot("step") saves the page as <artifacts>/<test>-<n>-<step>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    count = iter(range(1, 100))

    def save(step: str) -> None:
        page.screenshot(path=ARTIFACTS / f"{test}-{next(count):02d}-{step}.png", full_page=True)

    return save


def log_in(page: Page, password: str, *, username: str = "admin",
           lands_on: str = "Clusters") -> None:
    """Log in; returns once the page named `lands_on` shows."""
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=lands_on)).to_be_visible()


def cell(page: Page, source: str, destination: str):
    return page.locator(f'rect.cell[data-from="{source}"][data-to="{destination}"]')


def allowed(state: str) -> re.Pattern[str]:
    return re.compile(rf"\b{state}\b")


# Serving the page.
@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        pytest.param("/", "text/html", id="the page"),
        pytest.param("/static/app.js", "javascript", id="its script"),
        pytest.param("/static/app.css", "text/css", id="its stylesheet"),
    ],
)
def test_the_page_and_its_assets_carry_a_strict_content_security_policy(
    tmp_path: Path, path: str, content_type: str,
):
    console = create_console(f"sqlite:///{tmp_path / 'console.db'}")
    with TestClient(console.app) as client:
        answer = client.get(path)
    assert answer.status_code == 200
    assert content_type in answer.headers["content-type"]
    assert answer.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in CONTENT_SECURITY_POLICY
    assert answer.headers["x-content-type-options"] == "nosniff"


def test_the_page_loads_nothing_from_anywhere_else():
    files = sorted(STATIC.iterdir())
    assert {"index.html", "app.js", "app.css"} <= {f.name for f in files}
    for asset in files:
        text = asset.read_text().replace(SVG_NAMESPACE, "")
        assert URL_IN_TEXT.findall(text) == [], f"{asset.name} names another site"
        assert "innerHTML" not in text and "outerHTML" not in text, asset.name


# Logging in and clusters.
def test_first_login_forces_a_password_change_then_the_admin_registers_clusters(
    page: Page, shot: Callable[[str], None], first_run: Served, lab_kubeconfig: str,
):
    log_in(page, first_run.admin_password, lands_on="Choose your password")
    shot("forced-password-change")
    page.get_by_label(re.compile("^New password")).fill(NEW_PASSWORD)
    page.get_by_label("Repeat the new password").fill("not the same password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("alert")).to_have_text("The two new passwords differ.")
    page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_role("heading", name="Clusters")).to_be_visible()
    expect(page.get_by_text("No clusters yet")).to_be_visible()
    shot("no-clusters")

    for name, kubeconfig in [("gone", UNREACHABLE_KUBECONFIG), ("lab", lab_kubeconfig)]:
        if name != "gone":  # the form is folded away once a cluster is there
            page.get_by_text("Register a cluster").click()
        page.get_by_label("Name", exact=True).fill(name)
        page.get_by_label("Kubeconfig", exact=True).fill(kubeconfig)
        page.get_by_role("button", name="Register and synchronize").click()
        expect(page.locator(f'tr[data-cluster="{name}"]')).to_be_visible()
    lab_row, gone_row = (page.locator(f'tr[data-cluster="{n}"]') for n in ("lab", "gone"))
    expect(lab_row.locator(".badge")).to_have_text("synced")
    expect(lab_row).to_contain_text("13 pods · 1 policy")
    expect(gone_row.locator(".badge")).to_have_text("unreachable")
    expect(gone_row.locator(".sync-error")).to_contain_text("127.0.0.1")
    shot("clusters")

    lab_row.get_by_role("button", name="Synchronize").click()
    expect(page.get_by_role("status")).to_contain_text("Synchronized lab")
    expect(lab_row.locator(".badge")).to_have_text("synced")

    page.get_by_role("button", name="Log out").click()
    log_in(page, NEW_PASSWORD)
    shot("logged-in-again")


# Creating policies.
def test_a_policy_created_through_the_form_changes_the_heatmap(
    page: Page, shot: Callable[[str], None], lab: Served,
):
    log_in(page, lab.admin_password)
    page.goto("/#/c/lab/connectivity")
    expect(page.locator("#matrix-summary")).to_contain_text("on 80/TCP")
    expect(cell(page, "default/frontend", "default/web")).to_have_class(allowed("allowed"))
    before = page.locator("#matrix-summary").text_content()
    cell(page, "default/frontend", "default/web").click()
    expect(page.locator(".explain .verdict")).to_have_text("allowed")
    shot("heatmap-before")

    page.goto("/#/c/lab/new/form")
    page.get_by_label("Name", exact=True).fill("web-from-pod1")
    page.get_by_label("Reference workload labels").select_option(label="web (role=web)")
    expect(page.locator(".kv-row .kv-key")).to_have_value("role")
    expect(page.locator(".kv-row .kv-value")).to_have_value("web")
    page.get_by_role("button", name="Add inbound rule").click()
    page.locator('[data-path="ingress[0].protocol"]').select_option("TCP")
    page.locator('[data-path="ingress[0].port"]').fill("80")
    page.locator('[data-path="ingress[0].pod_labels"]').fill("app=pod1")
    page.get_by_role("button", name="Preview changes").click()
    preview = page.get_by_role("region", name="Preview")
    expect(preview.locator(".closed")).to_contain_text("default/frontend → default/web TCP/80")
    expect(preview.locator(".opened")).to_contain_text("Opens 0 connections")
    shot("form-preview")
    preview.get_by_role("button", name="Create policy").click()
    expect(page.get_by_role("heading", name="Policies of lab")).to_be_visible()
    expect(page.locator('tr[data-policy="default/web-from-pod1"]')).to_contain_text("role=web")
    shot("created")

    page.goto("/#/c/lab/connectivity")
    expect(cell(page, "default/frontend", "default/web")).to_have_class(allowed("denied"))
    expect(cell(page, "default/pod1", "default/web")).to_have_class(allowed("allowed"))
    expect(page.locator("#matrix-summary")).not_to_have_text(before or "")
    page.locator('text.pod-label[data-pod="default/web"]').first.click()
    expect(page.locator(".explain")).to_contain_text("default/web-from-pod1")
    shot("heatmap-after")


def test_the_form_shows_the_api_servers_message_for_a_bad_cidr_next_to_the_field(
    page: Page, shot: Callable[[str], None], lab: Served,
):
    log_in(page, lab.admin_password)
    page.goto("/#/c/lab/new/form")
    page.get_by_label("Name", exact=True).fill("egress-to-office")
    page.get_by_role("button", name="Add outbound rule").click()
    cidr = page.locator('[data-path="egress[0].cidr"]')
    cidr.fill("10.0.0.0/33")
    error = page.locator(".field", has=cidr).locator(".field-error")
    expect(error).to_have_text(
        'egress[0].cidr: Invalid value: "10.0.0.0/33": must be a valid CIDR value, '
        "(e.g. 10.9.8.0/24 or 2001:db8::/64)")
    expect(cidr).to_have_attribute("aria-invalid", "true")
    shot("bad-cidr")
    cidr.fill("10.0.0.0/16|10.0.1.0/24,10.0.2.0/24")
    expect(error).to_be_hidden()
    page.get_by_text("The policy as YAML").click()
    expect(page.locator(".yaml-out pre")).to_contain_text("10.0.1.0/24")
    shot("good-cidr")


def test_the_yaml_editor_shows_the_api_servers_message_as_you_type(
    page: Page, shot: Callable[[str], None], lab: Served, tmp_path: Path,
):
    log_in(page, lab.admin_password)
    page.goto("/#/c/lab/new/yaml")
    editor = page.get_by_label("Policy YAML")
    expect(page.locator(".validation")).to_contain_text("Valid")
    text = editor.input_value().replace("port: 80", "port: 80\n      endPort: 79")
    editor.fill(text)
    with rest(lab.url, lab.admin_password) as api:  # the API server's words, shown verbatim
        messages = api.post("/validate", json={"yaml": text}).json()["messages"]
    assert "spec.ingress[0].ports[0].endPort: Invalid value: 79: must be greater than or " \
        "equal to `port`" in messages[0]
    expect(page.locator(".validation.bad .message")).to_have_text(messages)
    shot("invalid-as-you-type")

    imported = tmp_path / "web-from-pod1.yaml"
    imported.write_text(WEB_ONLY_FROM_POD1.format(name="web-from-pod1", namespace="default",
                                                  labels="role: web"))
    page.get_by_label("Import a YAML file").set_input_files(imported)
    expect(editor).to_have_value(imported.read_text())
    expect(page.locator(".validation.ok")).to_contain_text("1 valid, 0 invalid")
    page.get_by_role("button", name="Preview changes").click()
    expect(page.get_by_role("region", name="Preview").locator(".closed")).to_contain_text(
        "default/frontend → default/web")
    shot("imported-preview")
    page.get_by_role("button", name="Create policy").click()
    expect(page.locator('tr[data-policy="default/web-from-pod1"]')).to_be_visible()


# Changing and deleting policies.
def test_the_preview_of_an_edit_lists_the_connections_it_opens_and_closes(
    page: Page, shot: Callable[[str], None], lab: Served,
):
    log_in(page, lab.admin_password)
    page.goto("/#/c/lab/policies")
    page.get_by_role("link", name="access-demo1").click()
    editor = page.get_by_label("Policy YAML")
    expect(editor).to_have_value(re.compile("role: frontend"))
    editor.fill(editor.input_value().replace("role: frontend", "role: web"))
    expect(page.locator(".validation.ok")).to_be_visible()
    page.get_by_role("button", name="Preview changes").click()
    preview = page.get_by_role("region", name="Preview")
    expect(preview.locator(".opened")).to_contain_text("default/web → default/db TCP/6379")
    expect(preview.locator(".closed")).to_contain_text("default/frontend → default/db TCP/6379")
    shot("edit-preview")
    preview.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Updated default/access-demo1")
    expect(page.locator('tr[data-policy="default/access-demo1"]')).to_be_visible()
    page.get_by_role("link", name="History", exact=True).first.click()
    latest = page.locator(".history-entry").first
    expect(latest).to_contain_text("default/access-demo1")
    expect(latest.locator(".diff .add", has_text="role: web")).to_be_visible()
    shot("history-of-the-edit")


def test_bulk_delete_lists_the_policies_and_waits_for_confirmation(
    page: Page, shot: Callable[[str], None], lab: Served,
):
    with rest(lab.url, lab.admin_password) as api:
        for name, namespace, labels in [("web-only", "default", "role: web"),
                                        ("demo-only", "demo", "app: demo")]:
            manifest = WEB_ONLY_FROM_POD1.format(name=name, namespace=namespace, labels=labels)
            created = api.post("/clusters/lab/policies", json={"yaml": manifest})
            assert created.status_code == 201, created.text
    log_in(page, lab.admin_password)
    page.goto("/#/c/lab/policies")
    rows = page.locator("tr[data-policy]")
    expect(rows).to_have_count(3)
    page.get_by_label("Select default/web-only").check()
    page.get_by_label("Select demo/demo-only").check()
    page.get_by_role("button", name="Delete selected (2)").click()
    dialog = page.get_by_role("dialog")
    expect(dialog.locator(".delete-list li")).to_have_text(["default/web-only", "demo/demo-only"])
    expect(dialog.locator(".opened")).to_contain_text("default/frontend → default/web")
    shot("confirm-delete")
    dialog.get_by_role("button", name="Cancel").click()
    expect(rows).to_have_count(3)

    page.get_by_role("button", name="Delete selected (2)").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete 2").click()
    expect(page.get_by_role("status")).to_contain_text("Deleted 2 policies")
    expect(rows).to_have_count(1)
    expect(rows).to_have_attribute("data-policy", "default/access-demo1")
    shot("deleted")


def test_revert_in_history_brings_a_deleted_policy_back(
    page: Page, shot: Callable[[str], None], lab: Served,
):
    with rest(lab.url, lab.admin_password) as api:
        gone = api.delete("/clusters/lab/policies/default/access-demo1")
        assert gone.status_code == 204, gone.text
    log_in(page, lab.admin_password)
    page.goto("/#/c/lab/policies")
    expect(page.get_by_text("No policies match.")).to_be_visible()
    page.goto("/#/c/lab/history")
    entry = page.locator('.history-entry[data-action="policy.delete"]')
    expect(entry).to_contain_text("default/access-demo1")
    expect(entry.locator(".diff .del").first).to_be_visible()
    shot("history")
    entry.get_by_role("button", name="Revert").click()
    expect(page.get_by_role("status")).to_contain_text("default/access-demo1 is back")
    expect(entry).to_contain_text("reverted by change #")
    shot("reverted")
    page.goto("/#/c/lab/policies")
    expect(page.locator('tr[data-policy="default/access-demo1"]')).to_contain_text("role=db")


# Roles.
def test_a_viewer_sees_policies_and_pictures_but_nothing_to_change_them_with(
    page: Page, shot: Callable[[str], None], lab: Served,
):
    with rest(lab.url, lab.admin_password) as api:
        created = api.post("/users", json={"username": "vera", "password": VIEWER_PASSWORD})
        assert created.status_code == 201, created.text
        bound = api.put("/clusters/lab/bindings/vera", json={"role": "viewer"})
        assert bound.status_code == 200, bound.text
    log_in(page, VIEWER_PASSWORD, username="vera")
    lab_row = page.locator('tr[data-cluster="lab"]')
    expect(lab_row.locator(".badge")).to_have_text("synced")
    expect(lab_row.get_by_role("button")).to_have_count(0)
    expect(page.get_by_text("Register a cluster")).to_have_count(0)
    page.goto("/#/c/lab/policies")
    expect(page.locator('tr[data-policy="default/access-demo1"]')).to_be_visible()
    expect(page.get_by_role("checkbox")).to_have_count(0)
    expect(page.get_by_role("link", name=re.compile("^New from"))).to_have_count(0)
    shot("viewer-policies")
    page.get_by_role("link", name="access-demo1").click()
    expect(page.get_by_label("Policy YAML")).to_have_value(re.compile("role: frontend"))
    expect(page.get_by_label("Policy YAML")).not_to_be_editable()
    expect(page.get_by_role("button", name="Preview changes")).to_have_count(0)
    page.goto("/#/c/lab/connectivity")
    expect(cell(page, "default/frontend", "default/web")).to_have_class(allowed("allowed"))
