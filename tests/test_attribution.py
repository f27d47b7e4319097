"""Attributing an incident: deploymentId, else changeId, else the window of 24 hours."""

from datetime import UTC, datetime, timedelta

from deployments.incidents.recorder import record_incident
from tests.factories import DeploymentFactory, make_service

STARTED = datetime(2024, 3, 4, 12, 0, tzinfo=UTC)


def deployment(org, *, hours_before, status="success", service=None, name="api", **kwargs):
    completed = STARTED - timedelta(hours=hours_before)
    return DeploymentFactory(
        organization=org,
        service=service,
        service_name=name,
        service_key=name.lower(),
        status=status,
        started_at=completed,
        completed_at=completed,
        **kwargs,
    )


def record(org, **kwargs):
    values = {
        "organization": org,
        "external_id": "INC-1",
        "title": "down",
        "service_name": "api",
        "started_at": STARTED,
    }
    return record_incident(**(values | kwargs))


def test_deployment_id_wins(org):
    api = make_service(org, "api")
    named = deployment(org, hours_before=100, service=api, external_id="release-7")
    deployment(org, hours_before=1, service=api, change_id="CHG-1")
    result = record(org, deployment_id="release-7", change_id="CHG-1")
    assert (result.deployment_id, result.attributed_by) == (named.pk, "deployment_id")


def test_change_id_next(org):
    api = make_service(org, "api")
    changed = deployment(org, hours_before=50, service=api, change_id="CHG-1")
    deployment(org, hours_before=1, service=api)
    result = record(org, deployment_id="unknown", change_id="CHG-1")
    assert (result.deployment_id, result.attributed_by) == (changed.pk, "change_id")


def test_window_takes_the_latest_successful_production_deployment_before(org):
    api = make_service(org, "api")
    deployment(org, hours_before=5, service=api)
    latest = deployment(org, hours_before=2, service=api)
    deployment(org, hours_before=1, service=api, status="failure")
    deployment(org, hours_before=1, service=api, environment="staging")
    deployment(org, hours_before=-1, service=api)  # after the incident started
    deployment(org, hours_before=0.5, name="other")  # another service
    result = record(org)
    assert (result.deployment_id, result.attributed_by) == (latest.pk, "window")


def test_window_is_24_hours_by_default(org):
    api = make_service(org, "api")
    deployment(org, hours_before=24.01, service=api)
    assert record(org).deployment_id is None
    exactly = deployment(org, hours_before=24, service=api)
    assert record(org).deployment_id == exactly.pk


def test_window_is_a_setting(org, settings):
    settings.INCIDENT_ATTRIBUTION_WINDOW_HOURS = 1
    api = make_service(org, "api")
    deployment(org, hours_before=2, service=api)
    assert record(org).deployment_id is None


def test_unmatched_service_pairs_by_its_name(org):
    sent = deployment(org, hours_before=3, name="Worker")
    result = record(org, service_name="worker")
    assert result.deployment_id == sent.pk


def test_no_deployment_and_other_organizations_are_never_chosen(org, other_org):
    deployment(other_org, hours_before=1, external_id="release-7", change_id="CHG-1")
    result = record(org, deployment_id="release-7", change_id="CHG-1")
    assert (result.deployment_id, result.attributed_by) == (None, "")


def test_non_production_incident_is_not_window_attributed(org):
    api = make_service(org, "api")
    deployment(org, hours_before=1, service=api)
    assert record(org, environment="staging").deployment_id is None
