"""POST /api/incidents: recording, updating (resolving) and validating incidents."""

import pytest

from deployments.models import Incident
from tests.factories import make_key, make_service
from tests.webhooks import check_webhook, post_webhook

URL = "/api/incidents"
INCIDENT = {
    "id": "INC-1",
    "title": "Checkout returns 500",
    "service": "checkout",
    "severity": "SEV1",
    "startedAt": "2024-03-04T11:00:00Z",
    "url": "https://status.example.com/INC-1",
}


def test_creates_then_resolves_by_repeating_the_id(api, org, key):
    service = make_service(org, "Checkout")
    created = check_webhook(api, "incidents", INCIDENT, 201, key=key)
    assert created.json()["action"] == "created"
    incident = Incident.objects.get(organization=org, external_id="INC-1")
    assert incident.service == service
    assert incident.environment == "production"
    assert incident.resolved_at is None

    check_webhook(
        api,
        "incidents",
        {**INCIDENT, "resolvedAt": "2024-03-04T12:30:00+01:00"},
        200,
        {
            "action": "updated",
            "incidentId": incident.pk,
            "deploymentId": None,
            "attributedBy": None,
        },
        key=key,
    )
    incident.refresh_from_db()
    assert incident.resolved_at.isoformat() == "2024-03-04T11:30:00+00:00"
    assert Incident.objects.count() == 1


def test_unknown_service_is_kept_as_sent(api, org, key):
    post_webhook(
        api, "incidents", {**INCIDENT, "service": "  Billing-API ", "environment": "prod"}, key=key
    )
    incident = Incident.objects.get()
    assert incident.service is None
    assert incident.service_key == "billing-api"
    assert incident.environment == "production"  # the organization's environment aliases


@pytest.mark.parametrize(
    "change, field",
    [
        ({"id": ""}, "id"),
        ({"title": None}, "title"),
        ({"service": 3}, "service"),
        ({"startedAt": "yesterday"}, "startedAt"),
        ({"resolvedAt": "2024-03-04T10:00:00Z"}, "resolvedAt"),  # before startedAt
        ({"severity": ["high"]}, "severity"),
    ],
)
def test_invalid_payloads_name_the_field(api, key, change, field):
    response = check_webhook(api, "incidents", {**INCIDENT, **change}, 400, key=key)
    error = response.json()["error"]
    assert error.startswith("Invalid payload:")
    assert field in error
    assert Incident.objects.count() == 0


def test_body_must_be_a_json_object(api, key):
    response = api.post(
        URL, "[1]", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {key}"
    )
    assert response.status_code == 400
    assert "body" in response.json()["error"]


def test_needs_an_ingest_key(api, org):
    check_webhook(api, "incidents", INCIDENT, 401, key="psk_nope")
    read_only = make_key(org, scopes=("read",))
    check_webhook(api, "incidents", INCIDENT, 403, key=read_only)  # a valid key, not for ingest
    assert Incident.objects.count() == 0


def test_same_id_in_two_organizations_is_two_incidents(api, key, other_key):
    check_webhook(api, "incidents", INCIDENT, 201, key=key)
    check_webhook(api, "incidents", INCIDENT, 201, key=other_key)
    assert Incident.objects.count() == 2


def test_list_shows_only_the_keys_organization(api, key, other_key):
    post_webhook(api, "incidents", INCIDENT, key=key)
    post_webhook(api, "incidents", {**INCIDENT, "id": "OTHER"}, key=other_key)
    response = api.get(URL, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200
    assert [i["externalId"] for i in response.json()["results"]] == ["INC-1"]
    other_id = Incident.objects.get(external_id="OTHER").pk
    detail = api.get(f"{URL}/{other_id}", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert detail.status_code == 404
