"""The DORA dashboard in a real browser: Playwright driving Debian's Chromium against
pytest-django's live server (tests/browser_support.py).

Skip with `-m "not browser"`. Without /usr/bin/chromium they skip with a reason locally; under
CI (CI=true) a missing Chromium is a failure, not a skip.
"""

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest

from demo.history import seed_history
from services.models import Service
from tests.factories import make_key

pytestmark = pytest.mark.browser

URL = "/admin/metrics/dora/"


@pytest.fixture
def history(browser, transactional_db, org, other_org):
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    seed_history(organization=org, days=32, seed=11, until=today)
    seed_history(organization=other_org, days=5, seed=12, until=today)
    return org


@pytest.fixture
def page(browser, live_server, history, staff_user):
    """A page logged in as a staff member of `org`, recording requests and console errors."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.requests, page.errors = [], []
    page.on("request", lambda request: page.requests.append(request.url))
    page.on(
        "console",
        lambda message: page.errors.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    page.goto(f"{live_server.url}/admin/login/?next={URL}")
    page.fill("#id_username", "alice")
    page.fill("#id_password", "pw-alice-1")
    page.click("input[type=submit]")
    page.wait_for_url(f"**{URL}")
    page.errors.clear()  # the login page's favicon request is Django's, not the dashboard's
    yield page
    context.close()


def api_summary(live_server, page, key: str) -> dict:
    query = page.get_attribute("#dora-range-text", "data-api-query")
    response = httpx.get(
        f"{live_server.url}/api/metrics/dora?{query}", headers={"Authorization": f"Bearer {key}"}
    )
    assert response.status_code == 200, response.text
    return response.json()["summary"]


def assert_tiles_match(page, summary: dict) -> None:
    tile = page.locator('[data-metric="deploymentFrequency"]')
    frequency = summary["deploymentFrequency"]
    assert float(tile.get_attribute("data-value")) == frequency["perDay"]
    assert tile.locator(".dora-value").inner_text() == f"{frequency['perDay']:.2f}/day"
    assert f"{frequency['deployments']} deployments" in tile.inner_text()
    if frequency["level"]:
        assert tile.locator(".dora-badge").inner_text().lower() == frequency["level"]

    tile = page.locator('[data-metric="leadTime"]')
    lead = summary["leadTime"]
    if lead["medianSeconds"] is None:
        assert tile.get_attribute("data-value") == ""
    else:
        assert float(tile.get_attribute("data-value")) == pytest.approx(
            lead["medianSeconds"], abs=1
        )
        assert f"median of {lead['changes']} changes" in tile.inner_text()

    tile = page.locator('[data-metric="changeFailureRate"]')
    cfr = summary["changeFailureRate"]
    if cfr["rate"] is None:
        assert tile.locator(".dora-value").inner_text() == "–"
    else:
        assert tile.locator(".dora-value").inner_text() == f"{cfr['rate'] * 100:.1f} %"
        failed = cfr["failed"] + cfr["rolledBack"] + cfr["incidentCaused"]
        assert f"{failed} of {cfr['total']} deployments" in tile.inner_text()

    tile = page.locator('[data-metric="failedDeploymentRecoveryTime"]')
    recovery = summary["failedDeploymentRecoveryTime"]
    if recovery["medianSeconds"] is not None:
        assert float(tile.get_attribute("data-value")) == pytest.approx(
            recovery["medianSeconds"], abs=1
        )
        assert f"median of {recovery['recovered']} recovered" in tile.inner_text()

    tile = page.locator('[data-metric="reworkRate"]')
    rework = summary["reworkRate"]
    if rework["rate"] is None:
        assert tile.locator(".dora-value").inner_text() == "–"
    else:
        assert float(tile.get_attribute("data-value")) == rework["rate"]
        assert tile.locator(".dora-value").inner_text() == f"{rework['rate'] * 100:.1f} %"
    assert f"{rework['rework']} of {rework['total']} deployments were rework" in tile.inner_text()
    assert tile.locator(".dora-badge").inner_text() == "no level"


def assert_charts_render(page) -> None:
    charts = page.locator("svg.chart")
    assert charts.count() == 5
    bars = page.locator("svg.chart-bar .bar")
    assert bars.count() > 0
    assert max(bar.bounding_box()["height"] for bar in bars.all()) > 20
    assert page.locator("svg.chart-line").nth(0).locator(".point").count() > 0  # lead time
    assert page.locator("svg.chart-line").nth(1).locator(".point").count() > 0  # failure rate
    assert page.locator("svg.chart-line").nth(3).locator(".point").count() > 0  # rework rate
    assert page.locator("svg.chart-bar .marker-failure").count() > 0


def test_tiles_match_the_api_through_range_and_service_changes(page, live_server, org):
    key = make_key(org, scopes=("read",), name="browser")
    assert page.locator(".dora-tile").count() == 5
    assert_tiles_match(page, api_summary(live_server, page, key))
    assert_charts_render(page)

    with page.expect_navigation():
        page.select_option("select[name=range]", "90")
    assert "range=90" in page.url
    summary = api_summary(live_server, page, key)
    assert summary["deploymentFrequency"]["deployments"] > 100
    assert summary["leadTime"]["changes"] > 100
    assert_tiles_match(page, summary)
    assert_charts_render(page)

    checkout = Service.objects.get(organization=org, name="checkout")
    with page.expect_navigation():
        page.select_option("select[name=service]", str(checkout.pk))
    assert f"service={checkout.pk}" in page.url
    summary_checkout = api_summary(live_server, page, key)
    assert (
        0
        < summary_checkout["deploymentFrequency"]["deployments"]
        < (summary["deploymentFrequency"]["deployments"])
    )
    assert_tiles_match(page, summary_checkout)
    assert_charts_render(page)

    assert page.errors == []
    local = urlsplit(live_server.url).netloc
    outside = [
        u for u in page.requests if urlsplit(u).netloc != local and not u.startswith("data:")
    ]
    assert outside == []


def test_the_other_organization_is_not_offered(page, live_server):
    options = page.locator("select[name=org] option").all_inner_texts()
    assert options == ["Acme"]
    response = page.goto(f"{live_server.url}{URL}?org=globex")
    assert response.status == 404


def test_the_services_table_sorts_and_links(page, live_server):
    def deployments_column() -> list[int]:
        return [
            int(v)
            for v in page.locator("#dora-services tbody tr td:nth-child(3)").all_inner_texts()
        ]

    header = page.locator("#dora-services th", has_text="Deployments")
    header.click()
    ascending = deployments_column()
    assert ascending == sorted(ascending) and len(ascending) >= 5
    header.click()
    assert deployments_column() == sorted(ascending, reverse=True)
    page.locator("#dora-services a", has_text="search").click()
    page.wait_for_url(re.compile(r"/admin/deployments/deployment/\?"))
    assert "service__id__exact=" in page.url
    assert page.locator("#result_list tbody tr").count() > 0
    assert page.errors == []


def test_custom_range_and_a_narrow_window(page, live_server):
    page.set_viewport_size({"width": 390, "height": 844})
    page.select_option("select[name=range]", "custom")
    assert page.locator("input[name=from]").is_visible()
    page.fill("input[name=from]", "2020-01-01")
    page.fill("input[name=to]", "2020-01-31")
    with page.expect_navigation():
        page.click("#dora-filters button[type=submit]")
    assert "2020-01-01 to 2020-01-31" in page.locator("#dora-range-text").inner_text()
    assert (
        page.locator('[data-metric="deploymentFrequency"] .dora-value').inner_text() == "0.00/day"
    )
    # Nothing wider than the window: tiles, charts and filters fold; the table scrolls inside.
    page.goto(f"{live_server.url}{URL}?range=90")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    chart_width = page.locator("svg.chart").first.bounding_box()["width"]
    assert 250 < chart_width <= 390
    assert page.errors == []
