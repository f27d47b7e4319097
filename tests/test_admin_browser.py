"""Every admin page a person uses, in a real browser at a phone, laptop and desktop width:
nothing wider than the window, no text squeezed into a column too narrow for it, no cell cut
short without its full text, no console error, and no serious or critical accessibility
violation found by axe-core. Then a suggestion mapped from its own page.

Skip with `-m "not browser"`. With PERISCOPE_SCREENSHOTS=1 the run also writes the
screenshots of docs/admin.md, docs/dashboard.md and the README (docs/*.png).
"""

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.test import Client

from demo.history import seed_history
from deployments.models import Deployment
from services.models import ServiceSuggestion
from tests.admin_helpers import deliver
from tests.browser_support import (
    layout_problems,
    record_errors,
    serious_accessibility_violations,
)
from tests.factories import IncidentFactory, make_key
from tests.webhooks import post_webhook

pytestmark = pytest.mark.browser

WIDTHS = (390, 1280, 1440, 1920)
DOCS = Path(__file__).resolve().parents[1] / "docs"
SCREENSHOTS = os.environ.get("PERISCOPE_SCREENSHOTS") == "1"
LONG_NAME = "legacy_" + "nightly_batch_reconciliation_" * 10 + "job"  # no break opportunity


def devgrid(api, key, attributes: dict, when: str) -> None:
    event = {
        "type": "event-deploy",
        "entityId": "billing",
        "timestamp": when,
        "attributes": {"env": "production", "status": "success", **attributes},
    }
    response = post_webhook(api, "devgrid", {"events": [event]}, key=key)
    assert response.status_code in (200, 201, 202), response.content


@pytest.fixture
def catalog(browser, transactional_db, org, other_org):
    """What a person finds after a few months: history, unknown names (one very long), DevGrid
    deployments, a deployment delivered three times, incidents, keys; and a second
    organization whose rows must not show."""
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    seed_history(organization=org, days=100, seed=11, until=today)
    seed_history(organization=other_org, days=5, seed=12, until=today)
    api, key = Client(), make_key(org, name="ci")
    for n in range(3):
        deliver(api, key, f"billing-{n}", service="billing-api")
    deliver(api, key, "long-1", service=LONG_NAME)
    deliver(api, key, "web-1", service="web-frontend")
    repeated = {"service": "checkout", "pipelineName": "Deploy checkout"}
    deliver(api, key, "checkout-1042", status="in_progress", completedAt=None, **repeated)
    deliver(api, key, "checkout-1042", metadata={"version": "3.4.1"}, **repeated)
    deliver(api, key, "checkout-1042", metadata={"version": "3.4.1"}, **repeated)
    devgrid(api, key, {"build_id": "777"}, "2026-11-02T09:15:00Z")
    devgrid(api, key, {}, "2026-11-03T10:20:00Z")
    IncidentFactory(organization=org, service_name="billing-api", title="Invoices not sent")
    make_key(org, name="deploy pipeline (read only)", scopes=("read",))
    return org


@pytest.fixture
def page(browser, live_server, catalog, staff_user):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.errors = record_errors(page)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice-1")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    yield page
    context.close()


def pages(org) -> list[tuple[str, str]]:
    delivered = Deployment.objects.get(organization=org, external_id="checkout-1042")
    long_name = ServiceSuggestion.objects.get(organization=org, name=LONG_NAME)
    checkout = delivered.service
    return [
        ("index", "/admin/"),
        *[
            (f"dashboard {days} days", f"/admin/metrics/dora/?range={days}")
            for days in (7, 30, 90, 365)
        ],
        ("deployments", "/admin/deployments/deployment/"),
        (
            "deployment with its delivery log",
            f"/admin/deployments/deployment/{delivered.pk}/change/",
        ),
        ("services", "/admin/services/service/"),
        ("service", f"/admin/services/service/{checkout.pk}/change/"),
        ("suggestions", "/admin/services/servicesuggestion/"),
        ("suggestion", f"/admin/services/servicesuggestion/{long_name.pk}/change/"),
        ("incidents", "/admin/deployments/incident/"),
        ("API keys", "/admin/periscope/apikey/"),
    ]


def test_every_admin_page_at_every_width(page, live_server, catalog):
    problems = []
    for name, path in pages(catalog):
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": 900})
            page.errors.clear()
            response = page.goto(f"{live_server.url}{path}")
            where = f"{name} at {width}px"
            if response.status != 200:
                problems.append(f"{where}: HTTP {response.status}")
                continue
            problems += [f"{where}: {p}" for p in layout_problems(page)]
            problems += [f"{where}: console: {e}" for e in page.errors]
            if width in (390, 1280):  # axe's rules do not depend on the width beyond these
                problems += [f"{where}: {v}" for v in serious_accessibility_violations(page)]
    assert problems == [], "\n".join(problems)


def test_the_dashboard_charts_keep_their_labels_inside(page, live_server):
    for days in (30, 365):
        page.goto(f"{live_server.url}/admin/metrics/dora/?range={days}")
        outside = page.evaluate(
            """() => [...document.querySelectorAll("svg.chart")].flatMap((svg) => {
                 const box = svg.getBoundingClientRect();
                 return [...svg.querySelectorAll("text")].filter((t) => {
                   const r = t.getBoundingClientRect();
                   return r.width > 0 && (r.left < box.left - 1 || r.right > box.right + 1);
                 }).map((t) => t.textContent);
               })"""
        )
        assert outside == [], days
        units = page.evaluate(
            """() => [...document.querySelectorAll("svg.chart-line")].map((svg) =>
                 [...svg.querySelectorAll("text.axis")].map((t) => t.textContent)
                   .filter((t) => /\\d (min|h|d)$/.test(t)).map((t) => t.split(" ").pop()))"""
        )
        assert all(len(set(axis)) <= 1 for axis in units), units
        printed = page.locator("#dora-range-text code").inner_text()
        assert "%" not in printed, printed


def test_a_suggestion_is_mapped_from_its_own_page(page, live_server, catalog):
    billing = ServiceSuggestion.objects.get(organization=catalog, key="billing-api")
    url = f"{live_server.url}/admin/services/servicesuggestion/{billing.pk}/change/"
    page.goto(url)
    preview = page.locator("#suggestion-preview").inner_text()
    assert "Accepting re-attributes 3 deployments and 1 incident" in preview
    assert page.locator("input[name=_save]").count() == 0
    with page.expect_navigation():
        page.click("#suggestion-create")
    assert "Created service billing-api; re-attributed 3 deployment(s) and 1 incident(s)." in (
        page.locator(".messagelist").inner_text()
    )
    assert Deployment.objects.filter(organization=catalog, service__name="billing-api").count() == 3
    assert page.errors == []


@pytest.mark.skipif(not SCREENSHOTS, reason="PERISCOPE_SCREENSHOTS=1 writes docs/*.png")
def test_screenshots_for_the_docs(page, live_server, catalog):
    base = live_server.url
    written: list[str] = []

    def shot(path: str, file: str, *, width: int = 1280, selector: str | None = None) -> None:
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{base}{path}")
        target = page.locator(selector) if selector else page
        if selector:
            target.screenshot(path=DOCS / file)
        else:
            page.screenshot(path=DOCS / file, full_page=True)
        written.append(file)

    urls = dict(pages(catalog))
    shot(urls["dashboard 90 days"], "dashboard-desktop.png")
    shot(urls["dashboard 90 days"], "dashboard-narrow.png", width=390)
    shot(urls["suggestions"], "admin-suggestions.png")
    shot(urls["suggestion"], "admin-suggestion.png")
    shot(urls["service"], "admin-service-aliases.png")
    shot(
        urls["deployment with its delivery log"],
        "admin-delivery-log.png",
        selector=".periscope-delivery-log",
    )
    # The list's bulk action: attach the selected names to an existing service.
    page.goto(f"{base}{urls['suggestions']}")
    for name in ("billing-api", LONG_NAME):
        pk = ServiceSuggestion.objects.get(organization=catalog, name=name).pk
        page.check(f'input[name=_selected_action][value="{pk}"]')
    page.select_option("select[name=action]", "attach_to_service")
    with page.expect_navigation():
        page.click("button[name=index]")
    page.screenshot(path=DOCS / "admin-attach.png")
    written.append("admin-attach.png")
    # Each picture the docs show was written now, as a PNG of a page that rendered.
    for file in written:
        data = (DOCS / file).read_bytes()
        assert data.startswith(b"\x89PNG") and len(data) > 10_000, file
