"""GET /api/metrics/dora: a two-week history whose every number is worked out on paper below."""

from datetime import UTC, datetime

import pytest

from services.catalog import create_service
from tests.builders import build_history
from tests.factories import DeploymentFactory, IncidentFactory, make_key, make_service
from tests.rollup_checks import assert_api_matches_reference

URL = "/api/metrics/dora"
RANGE = {"from": "2024-03-04", "to": "2024-03-18", "interval": "week"}  # two ISO weeks


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def deploy(org, name, status, completed, *, service=None, environment="production"):
    return DeploymentFactory(
        organization=org,
        service=service,
        service_name=name,
        service_key=name.lower(),
        status=status,
        environment=environment,
        started_at=utc(completed),
        completed_at=utc(completed),
    )


@pytest.fixture
def history(org, other_org):
    api = make_service(org, "api", team="payments")
    d = {}
    d["d1"] = deploy(org, "api", "success", "2024-03-04T10:00", service=api)
    d["d2"] = deploy(org, "api", "failure", "2024-03-05T10:00", service=api)
    d["d3"] = deploy(org, "api", "success", "2024-03-05T12:00", service=api)  # d2 recovered: 2 h
    d["d4"] = deploy(org, "api", "rolled_back", "2024-03-11T00:00", service=api)  # on the boundary
    d["d5"] = deploy(org, "api", "cancelled", "2024-03-11T01:00", service=api)  # counted nowhere
    d["d6"] = deploy(org, "api", "success", "2024-03-11T04:00", service=api)  # d4 recovered: 4 h
    d["d7"] = deploy(org, "api", "failure", "2024-03-12T00:00", service=api)  # never recovered
    deploy(org, "api", "failure", "2024-03-06T00:00", service=api, environment="staging")
    # "Worker" is not catalogued: an unmatched name, grouped by its key.
    d["w1"] = deploy(org, "Worker", "success", "2024-03-06T00:00")
    d["w2"] = deploy(org, "Worker", "failure", "2024-03-07T00:00")
    d["w3"] = deploy(org, "Worker", "success", "2024-03-07T06:00")  # w2 recovered: 6 h
    # Another organization's data must never show up.
    other_api = make_service(other_org, "api")
    for day in ("05", "06", "12"):
        deploy(other_org, "api", "failure", f"2024-03-{day}T09:00", service=other_api)

    def incident(external_id, service_name, started, resolved=None, deployment=None, service=None):
        IncidentFactory(
            organization=org,
            external_id=external_id,
            title=external_id,
            service=service,
            service_name=service_name,
            service_key=service_name.lower(),
            started_at=utc(started),
            resolved_at=utc(resolved) if resolved else None,
            deployment=deployment,
        )

    incident("inc1", "api", "2024-03-04T11:00", "2024-03-04T12:30", d["d1"], api)  # 5400 s
    incident("inc2", "api", "2024-03-13T00:00", None, None, api)  # open, no deployment
    incident("inc3", "Worker", "2024-03-06T02:00", "2024-03-06T03:00", d["w1"])  # 3600 s
    IncidentFactory(
        organization=other_org,
        external_id="x",
        service_name="api",
        started_at=utc("2024-03-05T00:00"),
        resolved_at=utc("2024-03-05T00:01"),
    )
    return d


def get(api, key, **params):
    return api.get(URL, params, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_summary_numbers_worked_out_on_paper(api, key, history):
    response = get(api, key, **RANGE)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["benchmarks"] == "dora-2023"
    assert body["range"] == {
        "from": "2024-03-04T00:00:00Z",
        "to": "2024-03-18T00:00:00Z",
        "environment": "production",
        "service": None,
        "team": None,
        "interval": "week",
    }
    summary = body["summary"]
    # Reached production: d1 d3 d4 d6 w1 w3; days 4th 5th 6th 7th 11th; 6 over 14 days.
    # Deployment days per week: 4 and 1, median 2.5 -> high.
    assert summary["deploymentFrequency"] == {
        "deployments": 6,
        "deploymentDays": 5,
        "perDay": pytest.approx(6 / 14),
        "level": "high",
    }
    # Terminal: d1 d2 d3 d4 d6 d7 w1 w2 w3 = 9; failed d2 d7 w2; rolled back d4;
    # incident-caused (successful, with an attributed incident) d1 w1: 6 / 9.
    assert summary["changeFailureRate"] == {
        "rate": pytest.approx(6 / 9),
        "failed": 3,
        "rolledBack": 1,
        "incidentCaused": 2,
        "total": 9,
        "level": "low",
    }
    # Recovered: d2 7200, d4 14400, w2 21600; d7 open. Median 14400 (< 1 day: high);
    # p90 is the ceil(0.9 * 3) = 3rd value.
    assert summary["failedDeploymentRecoveryTime"] == {
        "medianSeconds": 14400,
        "p90Seconds": 21600,
        "recovered": 3,
        "open": 1,
        "level": "high",
    }
    # Resolved in range: inc1 5400, inc3 3600 -> median 4500; inc2 still open.
    assert summary["incidentTimeToRestore"] == {"medianSeconds": 4500, "resolved": 2, "open": 1}
    # No commit data: no change with a known start; the five successful production
    # deployments d1 d3 d6 w1 w3 shipped none (rolled-back d4 is not a success).
    assert summary["leadTime"] == {
        "medianSeconds": None,
        "p90Seconds": None,
        "meanSeconds": None,
        "changes": 0,
        "level": None,
        "deploymentsWithoutChanges": 5,
        "codingMeanSeconds": None,
        "reviewMeanSeconds": None,
        "waitingMeanSeconds": None,
    }


def test_weekly_series_and_the_boundary_deployment(api, key, history):
    series = get(api, key, **RANGE).json()["series"]
    assert [(b["start"], b["end"]) for b in series] == [
        ("2024-03-04T00:00:00Z", "2024-03-11T00:00:00Z"),
        ("2024-03-11T00:00:00Z", "2024-03-18T00:00:00Z"),
    ]
    first, second = series
    assert first["deploymentFrequency"]["deployments"] == 4  # d1 d3 w1 w3
    assert first["deploymentFrequency"]["deploymentDays"] == 4
    assert first["changeFailureRate"]["rate"] == pytest.approx(4 / 6)
    assert first["failedDeploymentRecoveryTime"] == {
        "medianSeconds": 14400,  # mean of 7200 and 21600
        "p90Seconds": 21600,
        "recovered": 2,
        "open": 0,
        "level": "high",
    }
    assert first["incidentTimeToRestore"] == {"medianSeconds": 4500, "resolved": 2, "open": 0}
    # d4 completed exactly at 2024-03-11T00:00Z: it belongs to the second week.
    assert second["deploymentFrequency"]["deployments"] == 2  # d4 d6
    assert second["changeFailureRate"] == {
        "rate": pytest.approx(2 / 3),
        "failed": 1,
        "rolledBack": 1,
        "incidentCaused": 0,
        "total": 3,
        "level": "low",
    }
    assert second["failedDeploymentRecoveryTime"]["recovered"] == 1
    assert second["failedDeploymentRecoveryTime"]["open"] == 1
    assert second["incidentTimeToRestore"] == {"medianSeconds": None, "resolved": 0, "open": 1}


def test_range_ending_on_the_boundary_excludes_it(api, key, history):
    body = get(api, key, **{"from": "2024-03-04", "to": "2024-03-11T00:00:00Z"}).json()
    assert body["summary"]["changeFailureRate"]["rolledBack"] == 0
    assert body["summary"]["deploymentFrequency"]["deployments"] == 4


def test_daily_buckets_are_clipped_to_the_range(api, key, history):
    body = get(
        api,
        key,
        **{"from": "2024-03-05T12:00:00Z", "to": "2024-03-07T06:00:00Z", "interval": "day"},
    ).json()
    assert [(b["start"], b["end"]) for b in body["series"]] == [
        ("2024-03-05T12:00:00Z", "2024-03-06T00:00:00Z"),
        ("2024-03-06T00:00:00Z", "2024-03-07T00:00:00Z"),
        ("2024-03-07T00:00:00Z", "2024-03-07T06:00:00Z"),
    ]
    # d3 at 12:00 is in (from inclusive), w3 at 06:00 on the 7th is out (to exclusive).
    assert [b["deploymentFrequency"]["deployments"] for b in body["series"]] == [1, 1, 0]


def test_service_filter_and_team(api, key, history):
    body = get(api, key, service="api", **RANGE).json()["summary"]
    assert body["deploymentFrequency"]["deployments"] == 4  # d1 d3 d4 d6
    assert body["changeFailureRate"]["total"] == 6
    assert body["changeFailureRate"]["incidentCaused"] == 1  # d1
    assert body["failedDeploymentRecoveryTime"]["recovered"] == 2
    assert body["failedDeploymentRecoveryTime"]["medianSeconds"] == pytest.approx(10800)
    assert body["incidentTimeToRestore"] == {"medianSeconds": 5400, "resolved": 1, "open": 1}
    team = get(api, key, team="payments", **RANGE).json()["summary"]
    assert team == body
    worker = get(api, key, service="worker", **RANGE).json()["summary"]
    assert worker["deploymentFrequency"]["deployments"] == 2
    assert worker["changeFailureRate"]["incidentCaused"] == 1  # w1
    assert worker["failedDeploymentRecoveryTime"]["medianSeconds"] == 21600
    assert worker["incidentTimeToRestore"]["resolved"] == 1


def test_accepting_a_suggestion_changes_no_number(api, key, org, history):
    queries = ({}, {"service": "Worker"}, {"service": "worker", "interval": "day"})
    before = [get(api, key, **RANGE | q).json() for q in queries]
    create_service(organization=org, name="Worker")  # adopts the unmatched deployments
    after = [get(api, key, **RANGE | q).json() for q in queries]
    assert before[1]["summary"]["deploymentFrequency"]["deployments"] == 2
    assert after == before


def test_empty_range_gives_nulls_not_zeros(api, key, history):
    body = get(api, key, **{"from": "2023-01-02", "to": "2023-01-09"}).json()["summary"]
    assert body["changeFailureRate"]["rate"] is None
    assert body["changeFailureRate"]["level"] is None
    assert body["failedDeploymentRecoveryTime"]["medianSeconds"] is None
    assert body["failedDeploymentRecoveryTime"]["level"] is None
    assert body["incidentTimeToRestore"]["medianSeconds"] is None
    assert body["leadTime"]["medianSeconds"] is None
    assert body["deploymentFrequency"]["deployments"] == 0


def test_time_zones_in_the_query_string(api, key, history):
    utc = get(api, key, **RANGE).json()
    for start in ("2024-03-04T02:00:00+02:00", "2024-03-04T02:00:00 02:00"):  # "+" lost in a URL
        shifted = get(
            api, key, **{**RANGE, "from": start, "to": "2024-03-17T19:00:00-05:00"}
        ).json()
        assert shifted["range"]["from"] == "2024-03-04T00:00:00Z"
        assert shifted["summary"] == utc["summary"]


def test_failures_without_recovery_and_incidents_without_deployments(api, key, org):
    deploy(org, "solo", "failure", "2024-03-05T00:00")
    IncidentFactory(
        organization=org,
        external_id="lonely",
        service_name="solo",
        service_key="solo",
        started_at=utc("2024-03-06T00:00"),
    )
    body = get(api, key, **RANGE).json()["summary"]
    assert body["failedDeploymentRecoveryTime"] == {
        "medianSeconds": None,
        "p90Seconds": None,
        "recovered": 0,
        "open": 1,
        "level": None,
    }
    assert body["changeFailureRate"]["rate"] == 1.0
    assert body["incidentTimeToRestore"] == {"medianSeconds": None, "resolved": 0, "open": 1}


@pytest.mark.parametrize(
    "params, field",
    [
        ({"from": "yesterday"}, "from"),
        ({"to": "2024-13-01"}, "to"),
        ({"interval": "year"}, "interval"),
        ({"from": "2024-03-18", "to": "2024-03-04"}, "from"),
        ({"from": "2024-03-04", "to": "2024-03-04"}, "from"),
        # PostgreSQL refused a NUL in a text parameter: answered 503 "database unavailable".
        ({"service": "pay\x00ments"}, "service contains a NUL character"),
        ({"team": "\x00"}, "team contains a NUL character"),
        ({"environment": "prod\x00"}, "environment contains a NUL character"),
    ],
)
def test_bad_query_parameters_are_400_naming_them(api, key, params, field):
    response = get(api, key, **params)
    assert response.status_code == 400
    assert field in response.json()["error"]


def test_needs_a_read_key(api, org):
    assert api.get(URL).status_code == 401
    ingest_only = make_key(org, scopes=("ingest",))
    response = api.get(URL, HTTP_AUTHORIZATION=f"Bearer {ingest_only}")
    assert response.status_code == 403
    assert "read" in response.json()["error"]


def test_other_organization_sees_none_of_it(api, other_key, history):
    body = get(api, other_key, **RANGE).json()["summary"]
    assert body["deploymentFrequency"]["deployments"] == 0
    assert body["changeFailureRate"]["failed"] == 3
    assert body["incidentTimeToRestore"]["resolved"] == 1


def test_median_of_even_count_and_nearest_rank_p90(api, key, org):
    # Ten failures recovered after 1, 2, ..., 10 hours (one pair per day, out of order).
    for day, hours in enumerate([3, 1, 4, 10, 5, 9, 2, 6, 8, 7], start=4):
        deploy(org, "p", "failure", f"2024-03-{day:02d}T00:00")
        deploy(org, "p", "success", f"2024-03-{day:02d}T{hours:02d}:00")
    body = get(api, key, **RANGE).json()["summary"]["failedDeploymentRecoveryTime"]
    # Median of 1..10 h = (5 + 6) / 2 h; p90 = the ceil(0.9 * 10) = 9th smallest = 9 h.
    assert body["medianSeconds"] == 5.5 * 3600
    assert body["p90Seconds"] == 9 * 3600
    assert body["level"] == "high"


def test_lead_time_from_linked_changes_worked_out_on_paper(api, key, org, other_org):
    """d1 ships a (1 h) and b (2 h) at 5 h; d2 ships PR #7 (first commit f1 at 3 h) and the
    direct commit c (7 h) at 8 h. Changes: c 1 h, b 3 h, a 4 h, PR #7 5 h."""
    build_history(org)
    build_history(other_org)  # the same history elsewhere must not double anything
    response = get(api, key, **{"from": "2026-01-01", "to": "2026-01-02"})
    lead = response.json()["summary"]["leadTime"]
    assert lead == {
        "medianSeconds": 3.5 * 3600,  # mean of the two middle values, 3 h and 4 h
        "p90Seconds": 5 * 3600,  # rank ceil(0.9 * 4) = 4
        "meanSeconds": 3.25 * 3600,
        "changes": 4,
        "level": "elite",
        "deploymentsWithoutChanges": 0,
        "codingMeanSeconds": 1.5 * 3600,  # f1 at 3 h -> opened at 4.5 h
        "reviewMeanSeconds": 1.5 * 3600,  # opened 4.5 h -> merged 6 h
        "waitingMeanSeconds": 2 * 3600,  # merged 6 h -> deployed 8 h
    }


def test_a_range_starting_inside_a_day_counts_an_open_incident_once(api, key, history):
    # inc2 opened at midnight on the 13th and is still open; a range from 06:00 that day
    # reads the whole days from the 14th and that day's first six hours from the raw rows.
    response = get(
        api, key, **{"from": "2024-03-13T06:00:00Z", "to": "2024-03-18", "interval": "day"}
    )
    summary = response.json()["summary"]
    assert summary["incidentTimeToRestore"]["open"] == 1
    assert_api_matches_reference(
        api,
        key,
        organization=history["d1"].organization,
        params={"from": "2024-03-13T06:00:00Z", "to": "2024-03-18", "interval": "day"},
    )
