"""The DORA dashboard page in the admin (/admin/metrics/dora/), server side."""

import math
import re
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from unittest import mock
from urllib.parse import parse_qs

import pytest
from django.test import Client

from demo.history import seed_history
from deployments.models import FAILED_STATUSES, Deployment
from metrics import dora, reference
from services.models import Service
from services.selection import select_service

URL = "/admin/metrics/dora/"
TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


@pytest.fixture
def history(org, other_org):
    seed_history(organization=org, days=21, seed=7, until=TODAY)
    seed_history(organization=other_org, days=7, seed=8, until=TODAY)
    return org


@pytest.fixture
def superuser_client(django_user_model):
    user = django_user_model.objects.create_superuser(username="root", password="pw-root-1")
    client = Client()
    client.force_login(user)
    return client


def tile_values(html: str) -> dict[str, str]:
    return dict(re.findall(r'data-metric="(\w+)" data-value="([^"]*)"', html))


def api_query(html: str) -> str:
    return re.search(r'data-api-query="([^"]*)"', html).group(1).replace("&amp;", "&")


def test_anonymous_users_are_sent_to_the_login_page(db):
    response = Client().get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_admin_index_links_to_the_dashboard(staff_client):
    html = staff_client.get("/admin/").content.decode()
    assert URL in html
    # "View site": Periscope has no public site; the dashboard is the page to view.
    view_site = re.search(r'<a href="([^"]*)">View site</a>', html).group(1)
    assert view_site == URL
    assert staff_client.get(view_site).status_code == 200


def test_staff_see_only_their_organizations(history, other_org, staff_client):
    html = staff_client.get(URL).content.decode()
    assert 'value="acme"' in html
    assert 'value="globex"' not in html
    # Nothing of the other organization's open items shows.
    assert "Acme" in html
    assert "Globex" not in html


def test_another_organization_is_404_for_staff(history, staff_client):
    assert staff_client.get(URL, {"org": "globex"}).status_code == 404
    assert staff_client.get(URL, {"org": "nope"}).status_code == 404
    assert staff_client.get(URL, {"org": "acme"}).status_code == 200


def test_superusers_choose_any_organization(history, superuser_client):
    html = superuser_client.get(URL, {"org": "globex"}).content.decode()
    assert 'value="globex" selected' in html


def test_staff_without_a_membership_see_nothing(db, django_user_model, org):
    user = django_user_model.objects.create_user(username="bob", password="x", is_staff=True)
    client = Client()
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 200
    assert "not a member of any organization" in response.content.decode()
    assert client.get(URL, {"org": "acme"}).status_code == 404


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"range": "14"}, "range must be one of: 7, 30, 90, 365, custom"),
        ({"range": "custom"}, "from is required"),
        ({"range": "custom", "from": "2024-03-10", "to": "2024-03-01"}, "from must be before to"),
        ({"range": "custom", "from": "yesterday"}, "from must be"),
        ({"range": "custom", "from": "2024-03-01", "to": "soon"}, "to must be a date"),
        ({"interval": "hour"}, "interval must be one of"),
    ],
)
def test_bad_parameters_are_a_400_naming_the_parameter(staff_client, org, query, message):
    response = staff_client.get(URL, query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_tiles_show_the_numbers_of_the_api(history, staff_client, key):
    for query in ({}, {"range": "7"}, {"range": "90", "service": ""}):
        html = staff_client.get(URL, query).content.decode()
        api = staff_client.get(
            "/api/metrics/dora?" + api_query(html), HTTP_AUTHORIZATION=f"Bearer {key}"
        ).json()
        summary = api["summary"]
        tiles = tile_values(html)
        assert float(tiles["deploymentFrequency"]) == summary["deploymentFrequency"]["perDay"]
        assert float(tiles["changeFailureRate"]) == pytest.approx(
            summary["changeFailureRate"]["rate"], abs=0.0005
        )
        assert float(tiles["failedDeploymentRecoveryTime"]) == pytest.approx(
            summary["failedDeploymentRecoveryTime"]["medianSeconds"], abs=1
        )
        assert f"{summary['deploymentFrequency']['deployments']} deployments" in html
        assert summary["leadTime"]["changes"] > 0
        assert float(tiles["leadTime"]) == pytest.approx(
            summary["leadTime"]["medianSeconds"], abs=1
        )


def test_the_view_reads_dora_report(history, staff_client):
    """One code path: the page's numbers are dora_report's, for the range and the one before."""
    with mock.patch("metrics.dora.dora_report", wraps=dora.dora_report) as spy:
        html = staff_client.get(URL, {"range": "7"}).content.decode()
    assert spy.call_count == 1
    assert spy.call_args.kwargs["previous"] is True
    current = spy.call_args.kwargs["scope"]
    assert current.end - current.start == timedelta(days=7)
    report = dora.dora_report(scope=current, interval="day")
    assert float(tile_values(html)["deploymentFrequency"]) == (
        report.summary.deployment_frequency.per_day
    )
    assert html.count('class="bar point"') == sum(
        1 for m in report.series if m.deployment_frequency.deployments is not None
    )


@pytest.mark.parametrize("service", [None, "checkout", "legacy-batch"])
@pytest.mark.parametrize(
    ("start", "days"),
    [
        (TODAY - timedelta(days=7), 7),  # whole days: read together
        (TODAY - timedelta(days=10), 8),  # ends at a midnight in the past
        (TODAY - timedelta(days=9, hours=5), 4),  # starts inside a day: two reports
        (TODAY - timedelta(days=3), 2.5),  # the range before starts inside a day
    ],
)
def test_the_previous_range_read_with_the_report_is_its_own_report(history, service, start, days):
    selector = select_service(organization=history, value=service) if service else None
    scope = dora.Window(
        organization_id=history.pk,
        start=start,
        end=start + timedelta(days=days),
        service=selector,
    )
    both = dora.dora_report(scope=scope, interval="day", previous=True)
    alone = dora.dora_report(scope=scope, interval="day")
    before = dora.dora_report(
        scope=dora.Window(
            organization_id=history.pk,
            start=scope.start - (scope.end - scope.start),
            end=scope.start,
            service=selector,
        ),
        series=False,
    )
    assert both.summary == alone.summary
    assert both.series == alone.series
    assert both.previous == before.summary
    assert alone.previous is None


def test_service_filter_and_the_per_service_table(history, staff_client, key):
    checkout = Service.objects.get(organization=history, name="checkout")
    html = staff_client.get(URL, {"range": "30", "service": checkout.pk}).content.decode()
    api = staff_client.get(
        "/api/metrics/dora?" + api_query(html), HTTP_AUTHORIZATION=f"Bearer {key}"
    ).json()
    assert parse_qs(api_query(html))["service"] == [str(checkout.pk)]
    assert (
        float(tile_values(html)["deploymentFrequency"])
        == (api["summary"]["deploymentFrequency"]["perDay"])
    )
    # Every row of the table equals dora_report for that one service.
    whole = staff_client.get(URL, {"range": "30"})
    scope = whole.context["scope"]
    rows = [row["item"] for row in whole.context["rows"]]
    assert {r.name for r in rows} >= {"checkout", "search", "web-frontend"}
    for row in rows:
        if row.service_id is None:
            continue
        selector = select_service(organization=history, value=str(row.service_id))
        alone = dora.dora_report(
            scope=dora.Window(**{**scope.__dict__, "service": selector}), series=False
        ).summary
        assert row.deployment_frequency == alone.deployment_frequency
        assert row.change_failure_rate == alone.change_failure_rate
        assert row.failed_deployment_recovery_time == alone.failed_deployment_recovery_time
        # The table sums a service's week and month rows, the report its days: the same
        # floats added in another order, equal to the last few bits.
        table, report = asdict(row.lead_time), asdict(alone.lead_time)
        assert table.keys() == report.keys()
        for name, value in report.items():
            if isinstance(value, float):
                assert math.isclose(table[name], value, rel_tol=1e-12), name
            else:
                assert table[name] == value, name
    link = f"service__id__exact={checkout.pk}"
    assert link in whole.content.decode()


def test_open_items_need_a_person(history, staff_client):
    html = staff_client.get(URL).content.decode()
    assert "1 service name to review" in html  # legacy-batch
    assert re.search(r"Failed, not yet recovered \(\d+\)", html)
    assert f"payments-api-{TODAY:%Y%m%d}-open" in html
    assert f"INC-{TODAY:%Y%m%d}-open" in html


def test_team_and_environment_filters(history, staff_client):
    html = staff_client.get(URL, {"team": "payments"}).content.decode()
    names = {
        row["item"].name for row in staff_client.get(URL, {"team": "payments"}).context["rows"]
    }
    assert names == {"checkout", "payments-api"}
    assert 'value="payments" selected' in html
    staging = staff_client.get(URL, {"environment": "staging"})
    assert staging.status_code == 200
    assert staging.context["scope"].environment == "staging"


def unrecovered_by_definition(scope) -> list[str]:
    """The unrecovered failures of `scope` by their definition: no later success of the group
    (the reference's next-success lookup), newest first."""
    return list(
        dora.deployments_in(scope)
        .filter(status__in=FAILED_STATUSES)
        .annotate(next_success=reference._recovered_at(scope))
        .filter(next_success__isnull=True)
        .order_by("-completed_at", "-id")
        .values_list("external_id", flat=True)
    )


@pytest.mark.parametrize("service", [None, "checkout", "legacy-batch"])
def test_unrecovered_failures_are_those_without_a_later_success(history, service):
    """The per-service shortcut equals the definition: no success completed after it."""
    selector = select_service(organization=history, value=service) if service else None
    scope = dora.Window(
        organization_id=history.pk,
        start=TODAY - timedelta(days=30),
        end=TODAY + timedelta(days=1),
        service=selector,
    )
    expected = unrecovered_by_definition(scope)
    found = [d.external_id for d in dora.unrecovered_failures(scope=scope, limit=100)]
    assert found == expected
    if service != "legacy-batch":
        assert f"payments-api-{TODAY:%Y%m%d}-open" in found or service == "checkout"


def test_unrecovered_failures_of_many_groups_with_different_last_successes(org):
    """Services whose last success falls on different days, one that never succeeded, an
    unmatched name with and one without a success, and the same service in staging: the
    shortcut per last-success day equals the definition, in as many queries as for one group."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from tests.builders import at_hour, deploy
    from tests.factories import make_service

    def at(day: int, hour: int) -> float:  # hours after T0 of `hour` on day `day`
        return day * 24 + hour

    for i in range(24):
        name = f"svc-{i:02d}"
        make_service(org, name)
        last = -(i % 6)  # six distinct last-success days
        deploy(org, f"{name}-old-failure", "a", at(last - 3, 9), service=name, status="failure")
        deploy(org, f"{name}-ok", "a", at(last, 10), service=name)
        # Even: failed after its last success (unrecovered); odd: failed before it (recovered).
        status = "rolled_back" if i % 4 == 0 else "failure"
        deploy(
            org, f"{name}-last", "a", at(last, 12 if i % 2 == 0 else 8), service=name, status=status
        )
    make_service(org, "never")
    for day in (-20, -3):
        deploy(org, f"never-{day}", "a", at(day, 9), service="never", status="failure")
    deploy(org, "loose-ok", "a", at(-5, 10), service="loose-a")
    deploy(org, "loose-failure", "a", at(-2, 10), service="loose-a", status="failure")
    deploy(org, "loose-b-failure", "a", at(-4, 10), service="loose-b", status="failure")
    deploy(
        org, "staging-failure", "a", at(0, 20), service="svc-01", status="failure", env="staging"
    )

    def both(scope):
        expected = unrecovered_by_definition(scope)
        dora.unrecovered_failures(scope=scope)  # folds the writes into the rollups
        with CaptureQueriesContext(connection) as queries:
            found = [d.external_id for d in dora.unrecovered_failures(scope=scope, limit=100)]
        return expected, found, len(queries)

    start, end = at_hour(-30 * 24), at_hour(24)
    scope = dora.Window(organization_id=org.pk, start=start, end=end)
    expected, found, count = both(scope)
    assert found == expected
    assert {f"svc-{i:02d}-last" for i in range(0, 24, 2)} <= set(found)
    assert not {f"svc-{i:02d}-last" for i in range(1, 24, 2)} & set(found)
    assert {"never--20", "never--3", "loose-failure", "loose-b-failure"} <= set(found)
    assert "staging-failure" not in found
    staging = dora.Window(organization_id=org.pk, start=start, end=end, environment="staging")
    assert both(staging)[1] == ["staging-failure"]
    # A window that ends before some last successes: still the definition.
    early = dora.Window(organization_id=org.pk, start=start, end=at_hour(at(-2, 0)))
    expected, found, _ = both(early)
    assert found == expected
    for value in ("svc-02", "never", "loose-a", "loose-b"):
        one = dora.Window(
            organization_id=org.pk,
            start=start,
            end=end,
            service=select_service(organization=org, value=value),
        )
        expected, found, one_count = both(one)
        assert found == expected and found
        assert one_count == count


def test_a_duration_axis_speaks_one_unit():
    from metrics.dashboard import hours_axis

    fmt = hours_axis([20.0, 50.0, None])  # the axis reads 0, 25 h... in days: 0, 1.04 d, 2.1 d
    assert {fmt(v).split()[-1] for v in (25.0, 50.0, 100.0)} == {"d"}
    assert hours_axis([3.0])(25.0) == "25 h"
    assert hours_axis([0.5])(0.25) == "15 min"
    assert fmt(0) == "0"


def test_the_printed_api_query_is_readable_and_works(history, staff_client, key):
    html = staff_client.get(URL + "?range=7").content.decode()
    printed = re.search(r"<code>GET ([^<]+)</code>", html).group(1).replace("&amp;", "&")
    assert "%" not in printed
    assert re.search(r"from=\d{4}-\d\d-\d\dT00:00:00Z", printed)
    response = Client().get(printed, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200, response.content


def test_a_range_before_the_first_deployment_is_measured_from_it(history, staff_client, key):
    html = staff_client.get(URL + "?range=365").content.decode()
    first = Deployment.objects.filter(organization=history, environment="production").order_by(
        "completed_at"
    )
    first_day = first.first().completed_at.date()
    assert re.search(rf"{first_day:%Y-%m-%d} to \d{{4}}-\d\d-\d\d \((\d+) days", html)
    assert f"Measured from the first deployment, {first_day:%Y-%m-%d}" in html
    assert f"from={first_day:%Y-%m-%d}T00" in api_query(html)
    # Within the data, the range is the one chosen.
    assert "Measured from the first deployment" not in staff_client.get(URL + "?range=7").text


# The services table's row as the template printed it before service_row took it over.
ROW_TEMPLATE = (
    "\n"
    "    <tr>\n"
    '      <td data-value="{{ r.item.name|lower }}"><a href="{{ r.url }}">{{ r.item.name }}</a>{% if r.item.service_id is None %} <span class="dora-unmatched">unmatched</span>{% endif %}</td>\n'
    '      <td data-value="{{ r.item.team|lower }}">{{ r.item.team }}</td>\n'
    '      <td data-value="{{ r.item.deployment_frequency.deployments }}">{{ r.item.deployment_frequency.deployments }}</td>\n'
    '      <td data-value="{{ r.item.deployment_frequency.per_day|stringformat:\'r\' }}">{{ r.frequency }} {% if r.item.deployment_frequency.level %}<span class="dora-badge level-{{ r.item.deployment_frequency.level }}">{{ r.item.deployment_frequency.level }}</span>{% endif %}</td>\n'
    '      <td data-value="{{ r.item.lead_time.median_seconds|default_if_none:\'\' }}">{{ r.lead_time }} {% if r.item.lead_time.level %}<span class="dora-badge level-{{ r.item.lead_time.level }}">{{ r.item.lead_time.level }}</span>{% endif %}</td>\n'
    '      <td data-value="{{ r.item.change_failure_rate.rate|default_if_none:\'\' }}">{{ r.cfr }} {% if r.item.change_failure_rate.level %}<span class="dora-badge level-{{ r.item.change_failure_rate.level }}">{{ r.item.change_failure_rate.level }}</span>{% endif %}</td>\n'
    '      <td data-value="{{ r.item.failed_deployment_recovery_time.median_seconds|default_if_none:\'\' }}">{{ r.recovery }} {% if r.item.failed_deployment_recovery_time.level %}<span class="dora-badge level-{{ r.item.failed_deployment_recovery_time.level }}">{{ r.item.failed_deployment_recovery_time.level }}</span>{% endif %}</td>\n'
    "      <td data-value=\"{{ r.item.rework_rate.rate|default_if_none:'' }}\">{{ r.rework }}</td>\n"
    "    </tr>\n  "
)


@pytest.mark.parametrize("unmatched", [False, True])
@pytest.mark.parametrize("empty", [False, True])
def test_a_service_row_is_what_the_template_printed(unmatched, empty):
    from django.template import Context, Template

    from metrics.dashboard import duration, per_day, percent, service_row

    def none_or(value):
        return None if empty else value

    level = None if empty else "elite"
    row = dora.ServiceDora(
        service_id=None if unmatched else 7,
        group="name:a<b" if unmatched else "service:7",
        name='Pay & "Go" <API>',
        team="" if unmatched else "Team <Ops>",
        deployment_frequency=dora.Frequency(
            deployments=0 if empty else 12345, deployment_days=3, per_day=1 / 3, level=level
        ),
        lead_time=dora.LeadTime(
            median_seconds=none_or(1e-7),
            p90_seconds=None,
            mean_seconds=None,
            changes=1,
            level=level,
        ),
        change_failure_rate=dora.ChangeFailureRate(
            rate=none_or(1 / 300000),
            failed=1,
            rolled_back=0,
            incident_caused=0,
            total=3,
            level="low",
        ),
        failed_deployment_recovery_time=dora.Recovery(
            median_seconds=none_or(123456789.5),
            p90_seconds=None,
            recovered=1,
            open=0,
            level=level,
        ),
        rework_rate=dora.ReworkRate(rate=none_or(0.25), rework=1, total=4),
    )
    url = "/admin/deployments/deployment/?organization__id__exact=1&q=a%3Cb"
    expected = Template(ROW_TEMPLATE).render(
        Context(
            {
                "r": {
                    "item": row,
                    "url": url,
                    "frequency": per_day(row.deployment_frequency.per_day),
                    "lead_time": duration(row.lead_time.median_seconds),
                    "cfr": percent(row.change_failure_rate.rate),
                    "recovery": duration(row.failed_deployment_recovery_time.median_seconds),
                    "rework": percent(row.rework_rate.rate),
                }
            }
        )
    )
    assert service_row(row, url=url) == expected
