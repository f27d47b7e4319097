"""Repeat deliveries add to what is stored and never erase it (deployments.recording.repeats), for every
ingest format and for incidents, over HTTP with real keys; the service's metrics are unchanged
by a repeat."""

import json

import pytest

from deployments.models import Delivery, Deployment, Incident, IncidentDelivery, Status
from periscope.secrets import set_webhook_secret
from tests.factories import make_service
from tests.payloads.github import fixture as github_fixture
from tests.payloads.pagerduty import fixture as pagerduty_fixture
from tests.webhooks import SECRETS, check_webhook, post_webhook


@pytest.fixture
def checkout(org, other_org):
    # The other organization has a service of the same name: nothing may cross over.
    make_service(other_org, "checkout")
    return make_service(org, "checkout")


def dora(api, key: str, service: str = "checkout") -> dict:
    response = api.get(
        "/api/metrics/dora",
        {"from": "2019-01-01", "to": "2021-12-31", "service": service, "interval": "month"},
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code == 200, response.content
    return response.json()["summary"]


def stored(org, **lookup) -> Deployment:
    return Deployment.objects.get(organization=org, **lookup)


# --- Periscope: the reproduction ----------------------------------------------------

FIRST = {
    "deploymentId": "d1",
    "commitSha": "abcdef1",
    "environment": "production",
    "status": "in_progress",
    "startedAt": "2021-01-15T10:30:00Z",
    "service": "checkout",
    "branch": "main",
    "pipelineUrl": "https://ci/1",
    "triggeredBy": "ana",
    "metadata": {"a": "1", "b": "2"},
    "rawPayload": {"run": 1},
}
MINIMAL_SUCCESS = {
    "deploymentId": "d1",
    "commitSha": "abcdef1",
    "environment": "production",
    "status": "success",
    "startedAt": "2021-01-15T10:30:00Z",
    "completedAt": "2021-01-15T10:35:00Z",
}


def test_periscope_minimal_second_phase_keeps_every_field_of_the_first(
    api, org, key, other_key, checkout
):
    check_webhook(api, "periscope", FIRST, 201, key=key)
    response = post_webhook(
        api, "periscope", {**MINIMAL_SUCCESS, "metadata": {"b": "3", "c": "4"}}, key=key
    )
    assert response.status_code == 200 and response.json()["action"] == "updated"

    deployment = stored(org, external_id="d1")
    assert deployment.status == Status.SUCCESS
    assert deployment.service_id == checkout.pk
    assert (deployment.service_name, deployment.branch, deployment.pipeline_url) == (
        "checkout",
        "main",
        "https://ci/1",
    )
    assert deployment.triggered_by == "ana"
    assert deployment.raw_payload == {"run": 1}
    # metadata merges key by key; the repeat's keys win.
    assert deployment.metadata == {"a": "1", "b": "3", "c": "4"}

    listed = api.get("/api/deployments", HTTP_AUTHORIZATION=f"Bearer {key}").json()
    row = next(item for item in listed["results"] if item["externalId"] == "d1")
    assert (row["service"], row["branch"], row["pipelineUrl"]) == (
        "checkout",
        "main",
        "https://ci/1",
    )

    before = dora(api, key)
    assert before["deploymentFrequency"]["deployments"] == 1
    check_webhook(api, "periscope", MINIMAL_SUCCESS, 200, key=key)
    assert dora(api, key) == before
    # The other organization saw nothing of it.
    assert dora(api, other_key)["deploymentFrequency"]["deployments"] == 0
    assert Delivery.objects.filter(deployment=deployment).count() == 3


def test_a_field_sent_again_replaces_the_stored_value(api, org, key, checkout):
    make_service(org, "payments")
    check_webhook(api, "periscope", FIRST, 201, key=key)
    moved = {**MINIMAL_SUCCESS, "service": "payments", "branch": "release", "pipelineUrl": ""}
    check_webhook(api, "periscope", moved, 200, key=key)
    deployment = stored(org, external_id="d1")
    assert (deployment.service_name, deployment.branch) == ("payments", "release")
    assert deployment.service_id != checkout.pk
    assert deployment.pipeline_url == "https://ci/1"  # "" says nothing


def test_periscope_older_event_is_stale_and_changes_nothing(api, org, key, checkout):
    check_webhook(api, "periscope", {**MINIMAL_SUCCESS, "status": "failure"}, 201, key=key)
    later = {**MINIMAL_SUCCESS, "completedAt": "2021-01-15T10:50:00Z"}
    check_webhook(api, "periscope", later, 200, key=key)
    # The failure again, as a replay: older than the success stored.
    response = check_webhook(
        api, "periscope", {**MINIMAL_SUCCESS, "status": "failure"}, 200, key=key
    )
    assert response.json()["stale"] is True
    deployment = stored(org, external_id="d1")
    assert deployment.status == Status.SUCCESS
    assert deployment.completed_at.isoformat() == "2021-01-15T10:50:00+00:00"
    actions = list(deployment.deliveries.values_list("action", flat=True))
    assert actions == ["created", "updated", "stale"]


# --- DevGrid ---------------------------------------------------------------------------------


def devgrid_event(**attributes) -> dict:
    return {"events": [{"type": "event-deploy", "entityId": "checkout", **attributes}]}


def test_devgrid_minimal_repeat_keeps_fields_and_a_retry_keeps_the_first_time(
    api, org, key, checkout
):
    first = devgrid_event(
        timestamp="2021-01-15T10:30:00Z",
        attributes={
            "env": "production",
            "status": "in_progress",
            "build_id": "777",
            "build_commit_sha": "abcdef1",
            "build_url": "https://ci/777",
            "initiator": "ana",
            "team": "payments",
        },
    )
    check_webhook(api, "devgrid", first, 201, key=key)
    minimal = devgrid_event(
        timestamp="2021-01-15T10:35:00Z",
        attributes={"env": "production", "status": "success", "build_id": "777"},
    )
    check_webhook(api, "devgrid", minimal, 201, key=key)
    deployment = stored(org, source="devgrid")
    assert deployment.status == Status.SUCCESS
    assert (deployment.commit_sha, deployment.pipeline_url, deployment.triggered_by) == (
        "abcdef1",
        "https://ci/777",
        "ana",
    )
    assert deployment.metadata == {"build_id": "777", "team": "payments"}
    before = dora(api, key)

    # A retry of the same event without a timestamp: the same event, arriving later.
    retry = devgrid_event(attributes={"env": "production", "status": "success", "build_id": "777"})
    response = check_webhook(api, "devgrid", retry, 201, key=key)
    assert response.json()["events"][0]["timestamp"] == "2021-01-15T10:35:00Z"
    deployment.refresh_from_db()
    assert deployment.completed_at.isoformat() == "2021-01-15T10:35:00+00:00"
    assert dora(api, key) == before


# --- Hivel -----------------------------------------------------------------------------------

HIVEL_REQUIRED = {
    "deployment_id": "deploy-1",
    "event_type": "completed",
    "status": "success",
    "repo_url": "https://github.com/acme/checkout",
    "environment": "production",
    "start_time": "2021-01-15T10:30:00Z",
    "end_time": "2021-01-15T10:35:00Z",
    "branch": "main",
}


def test_hivel_minimal_repeat_keeps_the_first_deliverys_fields(api, org, key, checkout):
    full = {
        **HIVEL_REQUIRED,
        "status": "running",
        "commit_hash": "abcdef1234567",
        "build_number": "12",
        "image": "acme/checkout:1",
        "logs_url": "https://logs/1",
    }
    make_service(org, "acme/checkout")  # the repository names the service
    check_webhook(api, "hivel", full, 200, key=key)
    check_webhook(api, "hivel", HIVEL_REQUIRED, 200, key=key)
    deployment = stored(org, source="hivel")
    assert deployment.status == Status.SUCCESS
    assert deployment.commit_sha == "abcdef1234567"
    assert deployment.metadata.get("image") == "acme/checkout:1"
    before = dora(api, key, service="acme/checkout")
    assert before["deploymentFrequency"]["deployments"] == 1
    check_webhook(api, "hivel", HIVEL_REQUIRED, 200, key=key)
    assert dora(api, key, service="acme/checkout") == before


# --- OpsLevel (the first delivery wins; a repeat only changes the status) -----------------


def test_opslevel_minimal_repeat_keeps_the_first_deliverys_fields(api, org, key, checkout):
    first = {
        "dedup_id": "run-1",
        "service": "checkout",
        "description": "Deploy #1",
        "deployed_at": "2021-01-15 10:30:00",
        "environment": "production",
        "status": "running",
        "deploy_url": "https://ci/1",
        "deployer": {"email": "ana@example.com"},
        "commit": {"sha": "abcdef1", "branch": "main"},
    }
    check_webhook(api, "opslevel", first, 202, key=key)
    second = {
        "dedup_id": "run-1",
        "service": "checkout",
        "description": "x",
        "deployed_at": "2021-01-15 10:35:00",
        "deployer": {"email": "bot@example.com"},
        "status": "success",
    }
    check_webhook(api, "opslevel", second, 202, key=key)
    deployment = stored(org, source="opslevel")
    assert deployment.status == Status.SUCCESS
    assert (deployment.environment, deployment.branch, deployment.pipeline_url) == (
        "production",
        "main",
        "https://ci/1",
    )
    before = dora(api, key)
    check_webhook(api, "opslevel", second, 202, key=key)
    assert dora(api, key) == before


# --- GitHub: a signed replay with a new delivery id -----------------------------------------


def github_status(state: str, at: str) -> bytes:
    payload = json.loads(github_fixture("deployment_status.created.success.json"))
    payload["deployment_status"].update(state=state, created_at=at, updated_at=at)
    return json.dumps(payload).encode()


def test_github_replayed_failure_with_a_new_delivery_id_is_stale(api, org):
    set_webhook_secret(organization=org, provider="github", secret=SECRETS["github"])
    failure = github_status("failure", "2019-05-15T15:21:00Z")
    check_webhook(api, "github", failure, 200, event="deployment_status", delivery="1")
    success = github_status("success", "2019-05-15T15:40:00Z")
    check_webhook(api, "github", success, 200, event="deployment_status", delivery="2")
    # The captured failure, replayed.
    response = post_webhook(api, "github", failure, event="deployment_status", delivery="3")
    assert response.status_code == 200 and response.json()["action"] == "stale"
    deployment = stored(org, source="github")
    assert deployment.status == Status.SUCCESS
    assert deployment.completed_at.isoformat() == "2019-05-15T15:40:00+00:00"
    assert list(deployment.deliveries.values_list("action", flat=True)) == [
        "created",
        "updated",
        "stale",
    ]


# --- Incidents -------------------------------------------------------------------------------

INCIDENT = {
    "id": "INC-42",
    "title": "Checkout returns 500",
    "service": "checkout",
    "severity": "SEV1",
    "url": "https://status/42",
    "startedAt": "2021-01-15T11:00:00Z",
    "deploymentId": "d1",
}


def test_resolving_an_incident_without_its_fields_keeps_attribution_and_severity(
    api, org, key, other_key, checkout
):
    check_webhook(api, "periscope", MINIMAL_SUCCESS | {"service": "checkout"}, 201, key=key)
    created = post_webhook(api, "incidents", INCIDENT, key=key).json()
    assert created["attributedBy"] == "deployment_id"
    before = dora(api, key)
    assert before["changeFailureRate"]["incidentCaused"] == 1

    resolve = {
        "id": "INC-42",
        "title": "Checkout returns 500",
        "service": "checkout",
        "startedAt": "2021-01-15T11:00:00Z",
        "resolvedAt": "2021-01-15T12:00:00Z",
    }
    response = check_webhook(api, "incidents", resolve, 200, key=key)
    body = response.json()
    assert (body["deploymentId"], body["attributedBy"]) == (
        created["deploymentId"],
        "deployment_id",
    )
    incident = Incident.objects.get(organization=org, external_id="INC-42")
    assert (incident.severity, incident.url) == ("SEV1", "https://status/42")
    assert incident.resolved_at is not None
    after = dora(api, key)
    assert after["changeFailureRate"] == before["changeFailureRate"]

    # Updated again without resolvedAt: still resolved (null keeps it).
    check_webhook(api, "incidents", {**resolve, "resolvedAt": None}, 200, key=key)
    incident.refresh_from_db()
    assert incident.resolved_at is not None
    assert list(incident.deliveries.values_list("action", flat=True)) == [
        "created",
        "updated",
        "duplicate",
    ]
    assert IncidentDelivery.objects.filter(organization__slug="globex").count() == 0


def test_an_older_resolution_of_an_incident_is_stale(api, org, key, checkout):
    resolved = {**INCIDENT, "resolvedAt": "2021-01-15T12:00:00Z"}
    check_webhook(api, "incidents", resolved, 201, key=key)
    older = {**INCIDENT, "resolvedAt": "2021-01-15T11:30:00Z"}
    response = post_webhook(api, "incidents", older, key=key)
    assert response.status_code == 200 and response.json()["stale"] is True
    incident = Incident.objects.get(organization=org, external_id="INC-42")
    assert incident.resolved_at.isoformat() == "2021-01-15T12:00:00+00:00"


def test_an_incident_repeat_cannot_start_after_its_stored_resolution(api, org, key, checkout):
    resolved = {**INCIDENT, "resolvedAt": "2021-01-15T12:00:00Z"}
    check_webhook(api, "incidents", resolved, 201, key=key)
    response = check_webhook(
        api, "incidents", {**INCIDENT, "startedAt": "2021-01-15T13:00:00Z"}, 400, key=key
    )
    assert "startedAt" in response.json()["error"]


def test_pagerduty_replayed_trigger_does_not_reopen_a_resolved_incident(api, org):
    set_webhook_secret(organization=org, provider="pagerduty", secret=SECRETS["pagerduty"])
    triggered = json.loads(pagerduty_fixture("incident.triggered.v3.json"))
    resolved = json.loads(pagerduty_fixture("incident.resolved.v3.json"))
    # The two real events are of two incidents; make the resolution the first one's, later.
    resolved["event"]["data"]["id"] = triggered["event"]["data"]["id"]
    resolved["event"]["occurred_at"] = "2021-06-04T14:00:00.000Z"

    assert post_webhook(api, "pagerduty", triggered).json()["action"] == "created"
    assert post_webhook(api, "pagerduty", resolved).json()["action"] == "updated"
    replay = post_webhook(api, "pagerduty", triggered)
    assert replay.status_code == 200 and replay.json()["action"] == "stale"
    incident = Incident.objects.get(organization=org, external_id="PFQZPSY")
    assert incident.resolved_at is not None
    assert incident.severity == "high"
    assert list(incident.deliveries.values_list("action", flat=True)) == [
        "created",
        "updated",
        "stale",
    ]


def test_other_organizations_same_ids_are_separate(api, org, other_org, key, other_key, checkout):
    check_webhook(api, "periscope", FIRST, 201, key=key)
    check_webhook(api, "periscope", MINIMAL_SUCCESS, 201, key=other_key)
    mine, theirs = stored(org, external_id="d1"), stored(other_org, external_id="d1")
    assert mine.branch == "main" and theirs.branch == ""
    assert mine.status == Status.IN_PROGRESS and theirs.status == Status.SUCCESS
