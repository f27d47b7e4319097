"""POST /api/webhooks/pagerduty/<org>: PagerDuty v3 events from real fixtures, signed per org."""

import json

import pytest

from deployments.models import Incident
from periscope.secrets import hmac_sha256_hex, set_webhook_secret
from tests.factories import make_service
from tests.payloads.pagerduty import fixture

SECRET = "pd-secret-1"


def post(api, body: bytes, *, slug="acme", signature: str | None = "good"):
    headers = {}
    if signature == "good":
        headers["HTTP_X_PAGERDUTY_SIGNATURE"] = "v1=" + hmac_sha256_hex(secret=SECRET, body=body)
    elif signature is not None:
        headers["HTTP_X_PAGERDUTY_SIGNATURE"] = signature
    return api.post(
        f"/api/webhooks/pagerduty/{slug}", body, content_type="application/json", **headers
    )


@pytest.fixture
def signed_org(org):
    set_webhook_secret(organization=org, provider="pagerduty", secret=SECRET)
    return org


def test_triggered_opens_an_incident_on_the_aliased_service(api, signed_org):
    service = make_service(signed_org, "Payments", aliases=["pig208"])
    response = post(api, fixture("incident.triggered.v3.json"))
    assert response.status_code == 200, response.content
    incident = Incident.objects.get(organization=signed_org)
    assert incident.external_id == "PFQZPSY"
    assert incident.title == "Test Incident 3"
    assert incident.service == service
    assert incident.source == "pagerduty"
    assert incident.severity == "high"
    assert incident.url == "https://pig208.pagerduty.com/incidents/PFQZPSY"
    assert incident.started_at.isoformat() == "2021-06-04T13:35:29.781000+00:00"
    assert incident.resolved_at is None


def test_resolved_resolves_the_open_incident(api, signed_org):
    triggered = json.loads(fixture("incident.triggered.v3.json"))
    post(api, json.dumps(triggered).encode())
    resolved = json.loads(fixture("incident.resolved.v3.json"))
    resolved["event"]["data"]["id"] = "PFQZPSY"  # the two fixtures are different incidents
    resolved["event"]["occurred_at"] = "2021-06-04T14:35:29.781Z"
    response = post(api, json.dumps(resolved).encode())
    assert response.status_code == 200
    assert response.json()["action"] == "updated"
    incident = Incident.objects.get()
    assert incident.started_at.isoformat() == "2021-06-04T13:35:29.781000+00:00"
    assert (incident.resolved_at - incident.started_at).total_seconds() == 3600


def test_resolved_fixture_for_an_unseen_incident_is_recorded_resolved(api, signed_org):
    response = post(api, fixture("incident.resolved.v3.json"))
    assert response.status_code == 200
    incident = Incident.objects.get(external_id="PCPZE64")
    assert incident.resolved_at == incident.started_at
    assert incident.service is None and incident.service_key == "pig208"


@pytest.mark.parametrize("signature", [None, "v1=" + "0" * 64, "sha256=abc", ""])
def test_missing_or_bad_signature_is_401(api, signed_org, signature):
    response = post(api, fixture("incident.triggered.v3.json"), signature=signature)
    assert response.status_code == 401
    assert "error" in response.json()
    assert Incident.objects.count() == 0


def test_one_of_several_rotated_signatures_is_enough(api, signed_org):
    body = fixture("incident.triggered.v3.json")
    good = "v1=" + hmac_sha256_hex(secret=SECRET, body=body)
    assert post(api, body, signature=f"v1={'a' * 64},{good}").status_code == 200


def test_another_organizations_secret_does_not_sign(api, signed_org, other_org):
    set_webhook_secret(organization=other_org, provider="pagerduty", secret="other")
    body = fixture("incident.triggered.v3.json")
    response = post(api, body, slug="globex")  # signed with acme's secret
    assert response.status_code == 401
    assert Incident.objects.count() == 0


def test_no_secret_configured_is_401_and_unknown_org_404(api, org):
    assert post(api, fixture("incident.triggered.v3.json")).status_code == 401
    assert post(api, fixture("incident.triggered.v3.json"), slug="nobody").status_code == 404


def test_other_event_types_are_acknowledged(api, signed_org):
    body = json.loads(fixture("incident.triggered.v3.json"))
    body["event"]["event_type"] = "incident.acknowledged"
    response = post(api, json.dumps(body).encode())
    assert response.status_code == 200
    assert response.json() == {"action": "ignored"}
    assert Incident.objects.count() == 0


def test_signed_but_malformed_is_400_naming_the_field(api, signed_org):
    body = json.loads(fixture("incident.triggered.v3.json"))
    del body["event"]["data"]["id"]
    response = post(api, json.dumps(body).encode())
    assert response.status_code == 400
    assert "event.data.id" in response.json()["error"]
