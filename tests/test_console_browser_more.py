"""More of the console in a real browser (tests/browser_support.py serves it and drives Debian's
chromium): updating a policy through the form, a policy only YAML can express, the graph and
its namespace filter, explaining a connection and a pod, API tokens, login throttling, and
what a viewer cannot change. Each step's screenshot goes under test-artifacts/console/.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx
import yaml
from playwright.sync_api import Locator, Page, Response, expect

from browser_support import Served, add_user, allowed, cell, log_in, rest

VIEWER_PASSWORD = "viewer-password-456"
MATCH_EXPRESSIONS_POLICY = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata:
  name: web-from-pod1
  namespace: default
spec:
  podSelector:
    matchExpressions:
    - key: role
      operator: In
      values: [web]
  ingress:
  - from:
    - podSelector:
        matchLabels:
          app: pod1
"""


def lab_policy(kubeconfig: str, namespace: str, name: str) -> dict[str, Any]:
    """The policy as the lab API server holds it: a GET on its Kubernetes API."""
    config = yaml.safe_load(kubeconfig)
    server = config["clusters"][0]["cluster"]["server"]
    token = config["users"][0]["user"]["token"]
    answer = httpx.get(
        f"{server}/apis/networking.k8s.io/v1/namespaces/{namespace}/networkpolicies/{name}",
        headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def is_session(response: Response) -> bool:
    return response.url.endswith("/api/v1/session") and response.request.method == "POST"


def svg_behind(page: Page, picture: Locator, query: str) -> str:
    """The graph picture, once it has loaded from a URL holding `query`: the SVG it shows."""
    expect(picture).to_have_attribute("src", re.compile(re.escape(query)))
    expect(picture).to_have_js_property("complete", True)
    assert picture.evaluate("image => image.naturalWidth > 0"), "the graph did not render"
    answer = page.request.get(picture.get_attribute("src"))
    assert answer.ok and answer.headers["content-type"].startswith("image/svg+xml")
    return answer.text()


# Changing policies.
def test_a_policy_updated_through_the_form_reaches_the_cluster_and_its_history(
    page: Page, shot: Callable[[str], None], lab: Served, lab_kubeconfig: str,
):
    log_in(page, lab.admin_password)
    page.goto("/#/c/lab/policies")
    nav = page.get_by_role("navigation", name="Cluster views")
    expect(nav.get_by_role("link", name="New policy")).to_be_visible()  # for an admin
    page.locator('tr[data-policy="default/access-demo1"]').get_by_role(
        "link", name="Edit in form").click()
    expect(page.get_by_role("heading", name="Policy default/access-demo1")).to_be_visible()
    expect(page.get_by_label("Name", exact=True)).to_have_value("access-demo1")
    expect(page.get_by_label("Name", exact=True)).to_be_disabled()
    expect(page.locator(".kv-row .kv-key")).to_have_value("role")
    expect(page.locator(".kv-row .kv-value")).to_have_value("db")
    port = page.locator('[data-path="ingress[0].port"]')
    expect(port).to_have_value("6379")
    expect(page.locator('[data-path="ingress[0].pod_labels"]')).to_have_value("role=frontend")
    shot("form-of-an-existing-policy")

    port.fill("80")
    page.get_by_role("button", name="Preview changes").click()
    preview = page.get_by_role("region", name="Preview")
    expect(preview.locator(".opened li")).to_have_text(["default/frontend → default/db TCP/80"])
    expect(preview.locator(".closed li")).to_have_text(["default/frontend → default/db TCP/6379"])
    shot("form-update-preview")
    preview.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Updated default/access-demo1")
    expect(page.get_by_role("heading", name="Policies of lab")).to_be_visible()

    stored = lab_policy(lab_kubeconfig, "default", "access-demo1")
    assert stored["spec"]["ingress"][0]["ports"] == [{"port": 80, "protocol": "TCP"}]
    assert stored["spec"]["podSelector"] == {"matchLabels": {"role": "db"}}

    page.locator('tr[data-policy="default/access-demo1"]').get_by_role(
        "link", name="History").click()
    latest = page.locator(".history-entry").first
    expect(latest).to_have_attribute("data-action", "policy.update")
    expect(latest.locator(".diff .add")).to_have_text([re.compile(r"^\+\s+- port: 80\n$")])
    expect(latest.locator(".diff .del")).to_have_text([re.compile(r"^-\s+- port: 6379\n$")])
    shot("history-of-the-form-update")


def test_a_policy_the_form_cannot_express_is_edited_as_yaml(
    page: Page, shot: Callable[[str], None], lab: Served, lab_kubeconfig: str,
):
    with rest(lab.url, lab.admin_password) as api:
        created = api.post("/clusters/lab/policies", json={"yaml": MATCH_EXPRESSIONS_POLICY})
        assert created.status_code == 201, created.text
    log_in(page, lab.admin_password)
    page.goto("/#/c/lab/edit/default/web-from-pod1/form")  # asked for the form: gets YAML
    expect(page).to_have_url(re.compile(r"/edit/default/web-from-pod1/yaml$"))
    tabs = page.get_by_role("navigation", name="Editor")
    expect(tabs.get_by_role("link", name="Form")).to_be_disabled()
    expect(tabs.get_by_role("link", name="Form")).to_have_attribute(
        "title", re.compile("fields the form cannot show"))
    expect(tabs.locator("a", has_text="Form")).to_have_count(0)
    editor = page.get_by_label("Policy YAML")
    expect(editor).to_have_value(re.compile("operator: In"))
    expect(page.locator(".validation.ok")).to_be_visible()
    shot("form-tab-disabled")

    editor.fill(editor.input_value().replace("app: pod1", "app: pod2"))
    expect(page.locator(".validation.ok")).to_contain_text("1 valid, 0 invalid")
    page.get_by_role("button", name="Preview changes").click()
    preview = page.get_by_role("region", name="Preview")
    for kind, title, source in [("opened", "Opens", "pod2"), ("closed", "Closes", "pod1")]:
        # a rule without ports: every port the lab's pods declare (7 of them), on web
        expect(preview.locator(f".{kind} h3")).to_have_text(f"{title} 7 connections")
        expect(preview.locator(f".{kind} li")).to_have_text(
            [re.compile(rf"^default/{source} → default/web ")] * 7)
        expect(preview.locator(f".{kind}")).to_contain_text(
            f"default/{source} → default/web TCP/80")
    shot("yaml-edit-preview")
    preview.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text("Updated default/web-from-pod1")
    expect(page.locator('tr[data-policy="default/web-from-pod1"]')).to_contain_text("role In (web)")

    stored = lab_policy(lab_kubeconfig, "default", "web-from-pod1")
    assert stored["spec"]["ingress"][0]["from"] == [
        {"podSelector": {"matchLabels": {"app": "pod2"}}}]
    assert stored["spec"]["podSelector"]["matchExpressions"][0]["operator"] == "In"


# Understanding.
def test_the_graph_shows_the_lab_and_the_namespace_filter_narrows_it(
    page: Page, shot: Callable[[str], None], lab: Served,
):
    log_in(page, lab.admin_password)
    page.goto("/#/c/lab/connectivity")
    expect(page.locator("#matrix-summary")).to_contain_text("of 169 pod-to-pod connections")
    page.get_by_role("tab", name="Graph").click()
    expect(page.get_by_role("tab", name="Graph")).to_have_attribute("aria-selected", "true")
    graph = page.locator("img.graph")
    chips = page.locator(".pod-chips .chip")
    expect(chips).to_have_count(13)
    whole = svg_behind(page, graph, "port=80")
    assert 'data-pod="default/web"' in whole and 'data-pod="demo/worker"' in whole
    shot("graph")

    page.get_by_label("Namespace").select_option("demo")
    expect(page.locator("#matrix-summary")).to_contain_text("of 4 pod-to-pod connections")
    expect(chips).to_have_text(["demo/demo", "demo/worker"])
    narrowed = svg_behind(page, graph, "namespace=demo")
    assert 'data-pod="demo/worker"' in narrowed and 'data-pod="default/web"' not in narrowed
    assert 'data-from="demo/demo" data-to="demo/worker"' in narrowed
    shot("graph-of-demo")

    chips.filter(has_text="demo/worker").click()
    explanation = page.locator(".explain")
    expect(explanation.get_by_role("heading", name="demo/worker")).to_be_visible()
    expect(explanation).to_contain_text("Inbound: not isolated")


def test_a_heatmap_cell_explains_its_connection_and_a_pod_lists_its_policies(
    page: Page, shot: Callable[[str], None], lab: Served,
):
    log_in(page, lab.admin_password)
    page.goto("/#/c/lab/connectivity")
    page.get_by_label("Port").fill("6379")
    expect(page.locator("#matrix-summary")).to_contain_text("on 6379/TCP")
    explanation = page.locator(".explain")
    for source, verdict, path, text in [
        ("default/frontend", "allowed", "spec.ingress[0].from[0]", "allowed: pods role=frontend"),
        ("default/web", "denied", "spec.ingress[0].from",
         "default/web is not among pods role=frontend"),
    ]:
        expect(cell(page, source, "default/db")).to_have_class(allowed(verdict))
        cell(page, source, "default/db").click()
        expect(explanation.get_by_role("heading")).to_have_text(f"{source} → default/db")
        expect(explanation.locator(".verdict")).to_have_text(verdict)
        reason = explanation.locator(".reasons li", has_text="default/access-demo1")
        expect(reason.locator("code")).to_have_text(f" {path}")
        expect(reason).to_contain_text(text)
        shot(f"explain-{verdict}")

    page.locator('text.pod-label[data-pod="default/db"]').first.click()
    expect(explanation.get_by_role("heading", name="default/db", exact=True)).to_be_visible()
    expect(explanation).to_contain_text("Inbound: isolated: only what a policy allows.")
    policies = explanation.get_by_role("heading", name="Policies selecting it")
    expect(policies).to_be_visible()
    expect(explanation.locator("ul:not(.reasons):not(.id-list) li")).to_have_text(
        ["default/access-demo1"])
    expect(explanation.get_by_role("heading", name="Reachable from (1)")).to_be_visible()
    shot("explain-pod")


# Security.
def test_an_api_token_made_in_the_account_screen_works_until_it_is_revoked(
    page: Page, shot: Callable[[str], None], lab: Served,
):
    log_in(page, lab.admin_password)
    page.locator("#account-link").click()
    expect(page.get_by_role("heading", name="Account: admin")).to_be_visible()
    expect(page.get_by_text("No API tokens yet.")).to_be_visible()
    page.get_by_label("Token name").fill("ci-pipeline")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator(".callout code.secret")
    expect(secret).to_have_text(re.compile(r"^pwc_\S+$"))
    row = page.locator("tbody tr", has_text="ci-pipeline")
    expect(row).to_contain_text("never")
    shot("token-created")
    token = secret.text_content() or ""
    bearer = {"Authorization": f"Bearer {token}"}
    me = httpx.get(f"{lab.url}/api/v1/me", headers=bearer, timeout=30)
    assert me.status_code == 200 and me.json()["username"] == "admin", me.text

    page.get_by_role("link", name="Clusters").click()
    page.locator("#account-link").click()
    expect(row).to_be_visible()
    expect(secret).to_have_count(0)  # shown once
    expect(page.get_by_role("main")).not_to_contain_text(token)
    expect(row.locator("td").nth(2)).not_to_have_text("never")  # the script's request
    row.get_by_role("button", name="Revoke").click()
    page.get_by_role("dialog").get_by_role("button", name="Revoke").click()
    expect(page.get_by_text("No API tokens yet.")).to_be_visible()
    shot("token-revoked")
    refused = httpx.get(f"{lab.url}/api/v1/me", headers=bearer, timeout=30)
    assert refused.status_code == 401, refused.text


def test_five_wrong_passwords_throttle_the_login(
    page: Page, shot: Callable[[str], None], first_run: Served,
):
    page.goto("/")
    page.get_by_label("Username").fill("admin")
    alert = page.get_by_role("alert")
    for attempt in range(5):
        page.get_by_label("Password", exact=True).fill(f"wrong-password-{attempt}")
        with page.expect_response(is_session) as answer:
            page.get_by_role("button", name="Log in").click()
        assert answer.value.status == 401
        expect(alert).to_have_text("Wrong username or password.")
    shot("wrong-password")
    page.get_by_label("Password", exact=True).fill(first_run.admin_password)  # even the right one
    with page.expect_response(is_session) as answer:
        page.get_by_role("button", name="Log in").click()
    assert answer.value.status == 429
    assert answer.value.headers["retry-after"].isdigit()
    expect(alert).to_contain_text("Too many failed logins for 'admin': try again in 15 minutes.")
    expect(page.get_by_role("heading", name="podwall console")).to_be_visible()
    expect(page.get_by_role("button", name="Log in")).to_be_enabled()
    shot("throttled")


def test_a_viewer_has_no_control_to_create_delete_or_revert(
    page: Page, shot: Callable[[str], None], lab: Served,
):
    with rest(lab.url, lab.admin_password) as api:
        gone = api.delete("/clusters/lab/policies/default/access-demo1")
        assert gone.status_code == 204, gone.text
    add_user(lab, "vera", VIEWER_PASSWORD, role="viewer")
    with rest(lab.url, VIEWER_PASSWORD, username="vera") as api:
        entries = api.get("/clusters/lab/history").json()
    assert [(e["action"], e["revertable"]) for e in entries] == [("policy.delete", True)]

    log_in(page, VIEWER_PASSWORD, username="vera")
    nav = page.get_by_role("navigation", name="Cluster views")
    expect(nav.get_by_role("link")).to_have_text(
        ["Clusters", "Policies", "History", "Who can talk to whom"])
    page.goto("/#/c/lab/history")
    entry = page.locator('.history-entry[data-action="policy.delete"]')
    expect(entry).to_contain_text("default/access-demo1")
    expect(entry.locator(".diff .del").first).to_be_visible()
    expect(page.get_by_role("button")).to_have_text(["Log out"])  # no Revert
    shot("viewer-history")

    page.goto("/#/c/lab/policies")
    expect(page.get_by_text("No policies match.")).to_be_visible()
    expect(page.get_by_role("main").get_by_role("button")).to_have_count(0)  # no Delete
    expect(page.get_by_role("link", name=re.compile("^New from"))).to_have_count(0)
    for mode in ("form", "yaml"):  # a viewer typing the URL is sent to the list, told why
        page.goto(f"/#/c/lab/new/{mode}")
        expect(page).to_have_url(re.compile(r"/c/lab/policies$"))
        expect(page.get_by_role("status")).to_contain_text("you can look, not create")
    expect(page.get_by_label("Policy YAML")).to_have_count(0)
    shot("viewer-new-policy")
