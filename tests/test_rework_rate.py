"""Deployment rework rate (DORA's fifth metric): a hand-computed history sent over the
webhooks, read from /api/metrics/dora, /metrics and the dashboard.

The history (service "api", production, March 2025; commits named by letters):

    day  deployment  commit  status   why it is (or is not) rework
    3    r1          a       success  -
    4    r2          b       success  the sender said so (`rework: true`)
    5    r3          c       success  the sender said so (`metadata.rollbackInitiated`)
    5    r4          d       failure  said so, but a failure never reached production
    6    r5          e       success  incident INC-1 (api) open, days 6-8
    8    r6          f       success  completed after INC-1 was resolved: no
    11   r7          b       success  a detected rollback: b shipped at r2, before f (r6)
    11   r6          -       rolled back (detected), so the change failure rate counts it

Reached: r1, r2, r3, r5, r6, r7 = 6; rework: r2, r3, r5, r7 = 4.
Week of Mar 3-9: reached r1 r2 r3 r5 r6 = 5, rework r2 r3 r5 = 3.
Week of Mar 10-16: r7 alone, rework.
"""

import pytest

from deployments.models import Deployment, Status
from tests.factories import make_service
from tests.rollup_checks import assert_api_matches_reference, check_rollups
from tests.webhooks import check_webhook

URL = "/api/metrics/dora"
RANGE = {"from": "2025-03-03", "to": "2025-03-17", "interval": "week"}


def sha(letter: str) -> str:
    return (letter * 7).ljust(7, "0")


def deployment(ident, commit, day, hour=10, status="success", **extra):
    return {
        "deploymentId": ident,
        "commitSha": sha(commit),
        "environment": "production",
        "status": status,
        "service": "api",
        "startedAt": f"2025-03-{day:02d}T{hour - 1:02d}:50:00Z",
        "completedAt": f"2025-03-{day:02d}T{hour:02d}:00:00Z",
        **extra,
    }


def send(api, key, payload, status=201):
    return check_webhook(api, "periscope", payload, status, key=key)


@pytest.fixture
def history(api, org, key, other_org, other_key):
    make_service(org, "api")
    send(api, key, deployment("r1", "a", 3))
    send(api, key, deployment("r2", "b", 4, rework=True))
    send(api, key, deployment("r3", "c", 5, metadata={"rollbackInitiated": True}))
    send(api, key, deployment("r4", "d", 5, hour=12, status="failure", rework=True))
    incident = {
        "id": "INC-1",
        "title": "api errors",
        "service": "api",
        "startedAt": "2025-03-06T08:00:00Z",
    }
    check_webhook(api, "incidents", incident, 201, key=key)
    send(api, key, deployment("r5", "e", 6))
    check_webhook(
        api, "incidents", {**incident, "resolvedAt": "2025-03-08T09:00:00Z"}, 200, key=key
    )
    send(api, key, deployment("r6", "f", 8))
    send(api, key, deployment("r7", "b", 11))
    # Staging never counts for production; another organization never shows up.
    send(api, key, {**deployment("s1", "a", 4, rework=True), "environment": "staging"})
    send(api, other_key, deployment("x1", "a", 4, rework=True))


def metrics(api, key, **params):
    response = api.get(URL, {**RANGE, **params}, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200, response.content
    return response.json()


def test_the_summary_counts_declared_rework_rollbacks_and_incident_time(history, api, org, key):
    body = metrics(api, key)
    assert body["summary"]["reworkRate"] == {
        "rate": 4 / 6,
        "rework": 4,
        "total": 6,
        "level": None,
    }
    # The rollback replaced r6: it now counts as rolled back, recovered by r7 (3 days later).
    cfr = body["summary"]["changeFailureRate"]
    assert (cfr["failed"], cfr["rolledBack"], cfr["total"]) == (1, 1, 7)
    assert body["summary"]["failedDeploymentRecoveryTime"]["recovered"] == 2


def test_each_week_has_its_own_rework_rate(history, api, key):
    first, second = metrics(api, key)["series"]
    # Mar 3-9: r1 r2 r3 r5 r6 reached; r2 r3 r5 rework.
    assert first["reworkRate"] == {"rate": 3 / 5, "rework": 3, "total": 5, "level": None}
    # Mar 10-16: r7, the rollback.
    assert second["reworkRate"] == {"rate": 1.0, "rework": 1, "total": 1, "level": None}


def test_the_rollups_agree_with_the_raw_rows(history, api, org, key):
    for params in (RANGE, {**RANGE, "interval": "day"}, {**RANGE, "service": "api"}):
        assert_api_matches_reference(api, key, organization=org, params=params)
    check_rollups()


def test_another_organization_sees_only_its_own(history, api, other_key):
    summary = metrics(api, other_key)["summary"]["reworkRate"]
    assert summary == {"rate": 1.0, "rework": 1, "total": 1, "level": None}


def test_a_repeat_that_says_nothing_keeps_the_declared_rework(history, api, org, key):
    send(api, key, deployment("r2", "b", 4), status=200)
    assert Deployment.objects.get(organization=org, external_id="r2").rework is True
    send(api, key, deployment("r2", "b", 4, rework=False), status=200)
    assert Deployment.objects.get(organization=org, external_id="r2").rework is False
    assert metrics(api, key)["summary"]["reworkRate"]["rework"] == 3


def test_an_incident_sent_late_makes_earlier_deployments_rework(history, api, org, key):
    # Opened on day 3 before r1 and resolved after it: r1 becomes rework too.
    incident = {
        "id": "INC-0",
        "title": "late report",
        "service": "api",
        "startedAt": "2025-03-03T09:00:00Z",
        "resolvedAt": "2025-03-03T11:00:00Z",
    }
    check_webhook(api, "incidents", incident, 201, key=key)
    assert metrics(api, key)["summary"]["reworkRate"]["rework"] == 5
    check_rollups()


def test_rework_must_be_a_boolean(api, org, key):
    response = send(api, key, deployment("bad", "a", 3, rework="yes"), status=400)
    assert response.json() == {"error": "Invalid payload: rework must be true or false"}


def test_devgrid_rollback_and_hotfix_workflows_are_rework(api, org, key):
    make_service(org, "my-app")

    def devgrid(build, description="", **attributes):
        event = {
            "type": "event-deploy",
            "entityId": "my-app",
            "timestamp": "2025-03-04T10:00:00Z",
            "attributes": {
                "env": "production",
                "status": "success",
                "build_id": build,
                "description": description,
                **attributes,
            },
        }
        check_webhook(api, "devgrid", {"events": [event]}, 201, key=key)
        return Deployment.objects.get(organization=org, metadata__build_id=build)

    # The seed's own examples (workflows 5 and 6).
    assert devgrid("1", "Rollback to v2.0.5 due to incident INC0045678").rework is True
    assert devgrid("2", "Hotfix: Critical security patch", deployment_type="hotfix").rework
    assert devgrid("3", "Weekly release 2.1").rework is False


def test_prometheus_exports_the_rework_rate(history, api, org, key, settings):
    from datetime import UTC, datetime

    from metrics.prometheus import organization_samples

    samples = organization_samples(organization=org, now=datetime(2025, 3, 12, tzinfo=UTC))
    rates = [value for name, _labels, value in samples if name == "periscope_dora_rework_rate"]
    # The 30 days before Mar 12: every deployment of the history.
    assert rates == [4 / 6]


def test_the_dashboard_shows_a_fifth_tile(history, staff_client, org):
    response = staff_client.get(
        "/admin/metrics/dora/",
        {"org": "acme", "range": "custom", "from": "2025-03-03", "to": "2025-03-16"},
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert 'data-metric="reworkRate"' in page
    assert "4 of 6 deployments were rework" in page
    assert "Deployment rework rate" in page


def test_the_replaced_deployment_says_what_was_sent_and_what_was_detected(history, org):
    r6 = Deployment.objects.get(organization=org, external_id="r6")
    assert (r6.status, r6.status_raw, r6.rolled_back_detected) == (
        Status.ROLLED_BACK,
        "success",
        True,
    )
    r7 = Deployment.objects.get(organization=org, external_id="r7")
    assert r7.rollback_of_id == r6.pk
    # The delivery log keeps what was sent.
    assert '"status": "success"' in r6.deliveries.get().body
