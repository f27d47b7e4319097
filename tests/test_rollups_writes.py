"""What a write notes for the rollups (deployments/rollups/maintain.py), checked through the
API a user reads and `check_rollups` (any drift between the rollups and the raw rows fails):
a repeat that moves a deployment refreshes the cell it left, and successes folded together
refresh the failures between them."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client

from tests.factories import OrganizationFactory, make_key, make_service
from tests.rollup_checks import assert_api_matches_reference, check_rollups
from tests.webhooks import post_webhook

T0 = datetime(2024, 3, 4, 10, 0, tzinfo=UTC)  # a Monday
RANGE = {"from": "2024-03-01", "to": "2024-03-20", "interval": "day"}


def _body(ident: str, status: str, completed: datetime, service: str = "checkout", **extra):
    return {
        "deploymentId": ident,
        "commitSha": "a" * 40,
        "environment": "production",
        "status": status,
        "startedAt": (completed - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "completedAt": completed.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "service": service,
        **extra,
    }


@pytest.fixture
def world(settings):
    settings.RATE_LIMITS = {}
    org, other = OrganizationFactory(slug="moves"), OrganizationFactory(slug="moves-other")
    for organization in (org, other):
        make_service(organization, "checkout", team="payments")
        make_service(organization, "billing", team="payments")
    key, other_key = make_key(org), make_key(other)
    api = Client()
    # The other organization holds the same ids: nothing of it may move with them.
    for ident, status in (("x", "failure"), ("s1", "success")):
        post_webhook(api, "periscope", _body(ident, status, T0), key=other_key)
    return api, org, other, key


def _read(api: Client, key: str) -> dict:
    """A metrics read (it folds the notes committed so far)."""
    response = api.get("/api/metrics/dora", RANGE, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200, response.content
    return response.json()


def _concluded_per_day(report: dict) -> dict[str, int]:
    """Per day, the deployments the change failure rate counts (successes and failures)."""
    return {
        point["start"][:10]: point["changeFailureRate"]["total"]
        for point in report["series"]
        if point["changeFailureRate"]["total"]
    }


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"completed": T0 + timedelta(days=2)},  # another day
        {"service": "billing"},  # another service
        {"environment": "staging"},  # out of production
        {"status": "success", "completed": T0 + timedelta(days=3)},  # recovered, later
    ],
    ids=["day", "service", "environment", "status-and-day"],
)
def test_a_repeat_that_moves_a_deployment_refreshes_the_cell_it_left(world, change):
    api, org, other, key = world
    assert post_webhook(api, "periscope", _body("x", "failure", T0), key=key).status_code == 201
    _read(api, key)  # folded: the failure is in its cell
    body = _body(
        "x",
        change.get("status", "failure"),
        change.get("completed", T0 + timedelta(minutes=1)),
        service=change.get("service", "checkout"),
    )
    if "environment" in change:
        body["environment"] = change["environment"]
    assert post_webhook(api, "periscope", body, key=key).status_code == 200
    report = _read(api, key)

    moved_to = change.get("completed", T0)
    expected = {} if "environment" in change else {moved_to.date().isoformat(): 1}
    assert _concluded_per_day(report) == expected
    assert_api_matches_reference(api=api, key=key, organization=org, params=RANGE)
    check_rollups()  # no drift, in either organization


@pytest.mark.django_db
def test_successes_folded_together_refresh_the_failures_between_them(world):
    """Two successes noted before one fold, nothing before the first: the failure on a day
    between them, folded before, is recovered by the second."""
    api, org, other, key = world
    post_webhook(api, "periscope", _body("f", "failure", T0 + timedelta(days=2)), key=key)
    _read(api, key)
    post_webhook(api, "periscope", _body("s1", "success", T0), key=key)
    post_webhook(api, "periscope", _body("s2", "success", T0 + timedelta(days=4)), key=key)
    report = _read(api, key)

    recovery = report["summary"]["failedDeploymentRecoveryTime"]
    assert recovery["recovered"] == 1
    assert recovery["medianSeconds"] == pytest.approx(2 * 86400, rel=0.01)
    assert_api_matches_reference(api=api, key=key, organization=org, params=RANGE)
    check_rollups()
