"""Rollups under concurrency (issue 17, PostgreSQL): 32 deliveries at once to one service,
successes and failures, some of them repeats that change a deployment's status and completion
time. Every request succeeds (no deadlock, no 5xx), the API counts exactly what was recorded,
and `check_rollups` finds no drift."""

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections
from django.test import Client

from deployments.models import Delivery, Deployment
from tests.factories import OrganizationFactory, make_key, make_service
from tests.rollup_checks import assert_api_matches_reference, check_rollups
from tests.webhooks import post_webhook

T0 = datetime(2024, 3, 4, 6, 0, tzinfo=UTC)  # a Monday
RANGE = {"from": "2024-03-04", "to": "2024-03-11"}
RETRIED = range(8)  # d0..d7: a failure, then a retry that succeeded 3 minutes later
SINGLE = range(8, 24)  # d8..d23: one delivery each
SINGLE_STATUS = ["success", "failure", "success", "rolled_back"]


def _body(ident: int, status: str, completed: datetime) -> dict:
    return {
        "deploymentId": f"d{ident}",
        "commitSha": f"{ident + 1:040x}",
        "environment": "production",
        "status": status,
        "startedAt": (completed - timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "completedAt": completed.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "service": "checkout",
    }


def deliveries() -> list[dict]:
    bodies = []
    for ident in RETRIED:
        at = T0 + timedelta(minutes=20 * ident)
        bodies.append(_body(ident, "failure", at))
        # The repeat is newer, so it wins whichever arrives first (the other is stale).
        bodies.append(_body(ident, "success", at + timedelta(minutes=3)))
    for ident in SINGLE:
        bodies.append(_body(ident, SINGLE_STATUS[ident % 4], T0 + timedelta(minutes=20 * ident)))
    assert len(bodies) == 32
    return bodies


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_32_simultaneous_deliveries_to_one_service_leave_exact_rollups(settings):
    settings.RATE_LIMITS = {}
    org = OrganizationFactory(slug="race")
    other = OrganizationFactory(slug="race-other")
    make_service(org, "checkout", team="payments")
    make_service(other, "checkout", team="payments")
    key, other_key = make_key(org), make_key(other)
    api = Client()
    # The other organization's one failure, recorded before the race.
    assert post_webhook(api, "periscope", _body(0, "failure", T0), key=other_key).status_code == 201

    bodies = deliveries()
    barrier = threading.Barrier(len(bodies))
    answers, errors = [], []
    lock = threading.Lock()

    def deliver(body):
        client = Client(raise_request_exception=False)
        try:
            barrier.wait()
            response = post_webhook(client, "periscope", body, key=key)
            with lock:
                answers.append((body["deploymentId"], response.status_code, response.content))
        except Exception as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver, args=(body,)) for body in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a delivery never returned"

    assert errors == []
    failed = [(ident, status, content) for ident, status, content in answers if status >= 300]
    assert failed == []
    assert len(answers) == 32
    assert Deployment.objects.filter(organization=org).count() == 24
    assert Delivery.objects.filter(organization=org).count() == 32

    # By hand: d0..d7 ended successful; d8..d23 cycle success, failure, success, rolled back.
    singles = [SINGLE_STATUS[ident % 4] for ident in SINGLE]
    successes = len(RETRIED) + singles.count("success")
    failures, rolled_back = singles.count("failure"), singles.count("rolled_back")
    for params in (RANGE | {"interval": "day"}, RANGE | {"service": "checkout"}):
        body = assert_api_matches_reference(api, key, organization=org, params=params)
        summary = body["summary"]
        assert summary["deploymentFrequency"]["deployments"] == successes + rolled_back
        assert summary["changeFailureRate"] == {
            "rate": (failures + rolled_back) / 24,
            "failed": failures,
            "rolledBack": rolled_back,
            "incidentCaused": 0,
            "total": 24,
            "level": "low",
        }
        # Every failure but none is followed by a success 20 minutes later (d9 by d10, ...),
        # the last (d23, rolled back) by nothing.
        recovery = summary["failedDeploymentRecoveryTime"]
        assert (recovery["recovered"], recovery["open"]) == (failures + rolled_back - 1, 1)
        assert recovery["medianSeconds"] == pytest.approx(1200, rel=0.01)
    other_body = assert_api_matches_reference(api, other_key, organization=other, params=RANGE)
    assert other_body["summary"]["changeFailureRate"]["total"] == 1

    check_rollups()
    check_rollups(org="race")
