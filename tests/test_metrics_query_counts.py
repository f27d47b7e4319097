"""The metrics pages run a constant number of queries, whatever the range and the catalog
(issue 17: read from the rollups, not per bucket or per service).

- GET /api/metrics/dora daily over 1,000 days, and weekly over 2 years with 50 services;
- the dashboard (/admin/metrics/dora/, a staff user) with 50 services and 300 unmatched names;
- GET /metrics (Prometheus) with 50 services and 300 unmatched names.

The history is bulk-created (around the write paths, so `rebuild_rollups` runs afterwards when
it exists) or imported (import_lines, the import_deployments path); a second organization
has the same catalog size, to prove its rows cost nothing and show nowhere.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest

from deployments.models import Deployment, Incident
from deployments.recording.importing import import_lines
from services.models import Service, ServiceSuggestion
from tests.factories import DeploymentFactory, IncidentFactory, make_service
from tests.rollup_checks import URL, check_rollups, rebuild_rollups

API_QUERIES = 30
# Constants: the dashboard makes four histogram merges, /metrics one, each one query since
# they are merged in Python (rollup_queries.MERGE_IN; merged in SQL, each ran in a savepoint
# with its planner settings on PostgreSQL: 3 statements more, which the bounds still allow). The
# dashboard also lists the organization's environments and new environment names, and finds
# the first deployment a level is measured from (a query each, whatever the size).
DASHBOARD_QUERIES = 55
PROMETHEUS_QUERIES = 25

TODAY = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
START = datetime(2022, 1, 3, tzinfo=UTC)  # a Monday
# The longest daily range the API takes: bucket_count is days + 2 <= 1000 (a 1,000-day range
# of exactly 1,000 buckets is refused: 400).
DAILY_END = "2024-09-27"  # 998 days after START
SERVICES = 50
NAMES = 300
STATUSES = ["success", "success", "failure", "success", "rolled_back", "cancelled"]


def _history(organization, services, *, days: int, start: datetime) -> None:
    """Three deployments a day, rotating over the services, statuses and hours; a few
    unmatched ones; an incident every tenth day. Bulk-created, then the rollups rebuilt."""
    rows, incidents = [], []
    for day in range(days):
        for n in range(3):
            index = day * 3 + n
            service = services[index % len(services)]
            at = start + timedelta(days=day, hours=2 + 7 * n, minutes=index % 50)
            matched = index % 17 != 0
            rows.append(
                DeploymentFactory.build(
                    organization=organization,
                    service=service if matched else None,
                    service_name=service.name if matched else f"loose-{index % 5}",
                    service_key=service.slug if matched else f"loose-{index % 5}",
                    status=STATUSES[index % len(STATUSES)],
                    started_at=at - timedelta(minutes=5),
                    completed_at=at,
                )
            )
    Deployment.objects.bulk_create(rows, batch_size=2000)
    for day in range(0, days, 10):
        started = start + timedelta(days=day, hours=3)
        incidents.append(
            IncidentFactory.build(
                organization=organization,
                external_id=f"INC-{day}",
                service=services[day % len(services)],
                service_name=services[day % len(services)].name,
                service_key=services[day % len(services)].slug,
                started_at=started,
                resolved_at=started + timedelta(hours=1 + day % 7),
            )
        )
    Incident.objects.bulk_create(incidents)


@pytest.fixture
def catalog(org, other_org):
    ours = [make_service(org, f"svc-{n:02}", team=f"team-{n % 4}") for n in range(SERVICES)]
    theirs = [make_service(other_org, f"svc-{n:02}") for n in range(SERVICES)]
    return ours, theirs


@pytest.fixture
def thousand_days(org, other_org, catalog):
    ours, theirs = catalog
    _history(org, ours, days=1000, start=START)
    _history(other_org, theirs, days=200, start=START)
    rebuild_rollups()
    return ours


def get(api, key, **params):
    response = api.get(URL, params, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200, response.content
    return response.json()


def test_a_daily_series_over_1000_days_is_a_constant_number_of_queries(
    api, key, thousand_days, django_assert_max_num_queries
):
    params = {"from": "2022-01-03", "to": DAILY_END, "interval": "day"}
    with django_assert_max_num_queries(API_QUERIES):
        body = get(api, key, **params)
    assert len(body["series"]) == 998
    # What a user checks: every deployment of the range is counted once.
    assert body["summary"]["deploymentFrequency"]["deployments"] == sum(
        b["deploymentFrequency"]["deployments"] for b in body["series"]
    )
    # 3 a day, 5 of every 6 statuses terminal.
    assert body["summary"]["changeFailureRate"]["total"] == 998 * 3 * 5 // 6


@pytest.mark.parametrize(
    "filters", [{}, {"service": "svc-07"}, {"team": "team-1"}], ids=["all", "service", "team"]
)
def test_a_weekly_series_over_two_years_with_50_services_is_a_constant_number_of_queries(
    api, key, thousand_days, filters, django_assert_max_num_queries
):
    params = {"from": "2022-01-03", "to": "2024-01-01", "interval": "week", **filters}
    with django_assert_max_num_queries(API_QUERIES):
        body = get(api, key, **params)
    assert len(body["series"]) == 104
    assert body["summary"]["deploymentFrequency"]["deployments"] > 0


def _recent_imports(organization, *, names: int, services) -> None:
    """Deployments of the last 30 days through the import path: `names` distinct unknown
    names (one suggestion each) and every service."""
    lines = []
    for n in range(names + len(services)):
        at = TODAY - timedelta(days=1 + n % 28, hours=n % 20)
        name = f"unknown-{n:03}" if n < names else services[n - names].name
        lines.append(
            {
                "deploymentId": f"recent-{n}",
                "commitSha": f"{n + 1:040x}",
                "environment": "production",
                "status": ["success", "failure", "success"][n % 3],
                "startedAt": (at - timedelta(minutes=5)).isoformat(),
                "completedAt": at.isoformat(),
                "service": name,
            }
        )
    report = import_lines(
        organization=organization, fmt="periscope", lines=[json.dumps(line) for line in lines]
    )
    assert report.invalid == []
    assert report.created == len(lines)


@pytest.fixture
def many_names(org, other_org, catalog, settings):
    settings.MAX_NEW_SERVICE_NAMES_PER_DAY = 0
    ours, theirs = catalog
    _recent_imports(org, names=NAMES, services=ours)
    _recent_imports(other_org, names=NAMES, services=theirs)
    assert ServiceSuggestion.objects.filter(organization=org).count() == NAMES
    assert Service.objects.filter(organization=org).count() == SERVICES
    # The imports' notes are folded into the rollups by the first read (here the check,
    # which then finds no drift): what follows measures a read of the dashboard as it is
    # refreshed, not the one that folds the writes before it.
    check_rollups()
    return ours


def test_the_dashboard_with_300_unmatched_names_and_50_services(
    staff_client, many_names, django_assert_max_num_queries
):
    with django_assert_max_num_queries(DASHBOARD_QUERIES):
        response = staff_client.get("/admin/metrics/dora/", {"range": "30"})
    assert response.status_code == 200
    html = response.content.decode()
    # One row per service and unmatched name, as the user sees them.
    assert "unknown-299" in html and "svc-49" in html
    assert "Globex" not in html


def test_prometheus_with_300_unmatched_names_and_50_services(
    api, key, many_names, django_assert_max_num_queries
):
    with django_assert_max_num_queries(PROMETHEUS_QUERIES):
        response = api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200
    text = response.content.decode()
    deployments = [
        line for line in text.splitlines() if line.startswith("periscope_dora_deployments{")
    ]
    assert len(deployments) == NAMES + SERVICES
    assert 'service="unknown-000"' in text and 'service="svc-00"' in text
    assert "globex" not in text
