"""What the console's browser tests share: the console served over real HTTP (uvicorn on
127.0.0.1, a fresh SQLite file) with the lab API server as its cluster, Debian's chromium driven
headless by Playwright, and the helpers that log in and take screenshots.

Each step's screenshot is saved under test-artifacts/console/ (PODWALL_ARTIFACTS overrides).
The browser reaches nothing but 127.0.0.1: background networking is off, every other host name
fails to resolve, and a request anywhere else fails the test, as does a script error or a
Content-Security-Policy violation. Tests wait with Playwright's auto-waiting `expect`.

The fixtures (`first_run`, `lab`, `browser`, `page`, `shot`) reach every test through
tests/conftest.py.
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
from playwright.sync_api import Browser, Locator, Page, Route, expect, sync_playwright

from apiserver_support import ROOT
from podwall.console import CSRF_HEADER, Console, create_console

__all__ = [
    "ARTIFACTS",
    "NEW_PASSWORD",
    "Served",
    "add_user",
    "allowed",
    "browser",
    "cell",
    "first_run",
    "guarded_page",
    "lab",
    "log_in",
    "page",
    "rest",
    "screenshots",
    "serving",
    "shot",
]

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-default-apps", "--disable-sync", "--no-first-run",
    "--disable-features=Translate,OptimizationHints,MediaRouter",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
]
ARTIFACTS = Path(os.environ.get("PODWALL_ARTIFACTS") or ROOT / "test-artifacts" / "console")
NEW_PASSWORD = "browser-admin-password"

expect.set_options(timeout=10_000)


# Serving the console.
@contextlib.contextmanager
def serving(console: Console) -> Iterator[str]:
    """`console` on 127.0.0.1:<free port> in a thread (real HTTP); always stopped."""
    from conftest import wait_for  # here, not at the top: conftest imports this module

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
def rest(url: str, password: str, username: str = "admin") -> Iterator[httpx.Client]:
    """The console's REST API over HTTP, logged in (as admin unless told), CSRF header set."""
    with httpx.Client(base_url=f"{url}/api/v1", timeout=30) as client:
        answer = client.post("/session", json={"username": username, "password": password})
        assert answer.status_code == 200, answer.text
        client.headers[CSRF_HEADER] = answer.json()["csrf_token"]
        yield client


def add_user(served: Served, username: str, password: str, *, role: str) -> None:
    """A user (global role `user`) holding `role` on the cluster lab."""
    with rest(served.url, served.admin_password) as api:
        created = api.post("/users", json={"username": username, "password": password})
        assert created.status_code == 201, created.text
        bound = api.put(f"/clusters/lab/bindings/{username}", json={"role": role})
        assert bound.status_code == 200, bound.text


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


@contextlib.contextmanager
def guarded_page(browser: Browser, url: str) -> Iterator[Page]:
    """A page on the console at `url`; asking anywhere else, a script error or a CSP violation
    fails the test when the page closes."""
    watch = Watch(url)
    context = browser.new_context(base_url=url, viewport={"width": 1400, "height": 900})
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
def page(browser: Browser, first_run: Served) -> Iterator[Page]:
    with guarded_page(browser, first_run.url) as opened:
        yield opened


def screenshots(page: Page, test: str) -> Callable[[str], None]:
    """save("step") saves the page as <artifacts>/<test>-<n>-<step>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    test = re.sub(r"[^A-Za-z0-9_.-]+", "_", test)
    count = iter(range(1, 100))

    def save(step: str) -> None:
        page.screenshot(path=ARTIFACTS / f"{test}-{next(count):02d}-{step}.png", full_page=True)

    return save


@pytest.fixture
def shot(page: Page, request: pytest.FixtureRequest) -> Callable[[str], None]:
    return screenshots(page, request.node.name)


# Steps the tests share.
def log_in(page: Page, password: str, *, username: str = "admin",
           lands_on: str = "Clusters") -> None:
    """Log in; returns once the page named `lands_on` shows."""
    page.goto("/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name=lands_on)).to_be_visible()


def cell(page: Page, source: str, destination: str) -> Locator:
    """The heatmap's cell for the connection source -> destination ("ns/pod" each)."""
    return page.locator(f'rect.cell[data-from="{source}"][data-to="{destination}"]')


def allowed(state: str) -> re.Pattern[str]:
    """A cell's class names its state ("allowed" or "denied") as a whole word."""
    return re.compile(rf"\b{state}\b")
