"""The console in a real browser: Debian's chromium, headless, driven by Playwright, against the
console served over real HTTP with the lab API server as its cluster (tests/browser_support.py
serves it, guards the browser's network and saves each step's screenshot): logging in,
registering clusters, creating policies through the form and as YAML, previewing, bulk delete,
revert, and what a viewer sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from playwright.sync_api import Page, expect

from browser_support import NEW_PASSWORD, Served, add_user, allowed, cell, log_in, rest
from podwall.console import create_console
from podwall.console.ui import CONTENT_SECURITY_POLICY, STATIC

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
    add_user(lab, "vera", VIEWER_PASSWORD, role="viewer")
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
