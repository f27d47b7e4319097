"""POST /api/webhooks/pagerduty/<org>: PagerDuty v3 events from real fixtures, signed per org."""

import json

import pytest

from deployments.models import Incident
from periscope.secrets import hmac_sha256_hex, set_webhook_secret
from tests.factories import make_service
from tests.payloads.pagerduty import fixture
from tests.webhooks import SECRETS, check_webhook, post_webhook


@pytest.fixture
def signed_org(org):
    set_webhook_secret(organization=org, provider="pagerduty", secret=SECRETS["pagerduty"])
    return org


def test_triggered_opens_an_incident_on_the_aliased_service(api, signed_org):
    service = make_service(signed_org, "Payments", aliases=["pig208"])
    check_webhook(api, "pagerduty", fixture("incident.triggered.v3.json"), 200)
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
    post_webhook(api, "pagerduty", json.dumps(triggered).encode())
    resolved = json.loads(fixture("incident.resolved.v3.json"))
    resolved["event"]["data"]["id"] = "PFQZPSY"  # the two fixtures are different incidents
    resolved["event"]["occurred_at"] = "2021-06-04T14:35:29.781Z"
    response = check_webhook(api, "pagerduty", json.dumps(resolved).encode(), 200)
    assert response.json()["action"] == "updated"
    incident = Incident.objects.get()
    assert incident.started_at.isoformat() == "2021-06-04T13:35:29.781000+00:00"
    assert (incident.resolved_at - incident.started_at).total_seconds() == 3600


def test_resolved_fixture_for_an_unseen_incident_is_recorded_resolved(api, signed_org):
    check_webhook(api, "pagerduty", fixture("incident.resolved.v3.json"), 200)
    incident = Incident.objects.get(external_id="PCPZE64")
    assert incident.resolved_at == incident.started_at
    assert incident.service is None and incident.service_key == "pig208"


MISSING = "Missing X-PagerDuty-Signature"
INVALID = "Invalid X-PagerDuty-Signature"


@pytest.mark.parametrize(
    "signature, message",
    [(None, MISSING), ("v1=" + "0" * 64, INVALID), ("sha256=abc", INVALID), ("", MISSING)],
)
def test_missing_or_bad_signature_is_401(api, signed_org, signature, message):
    check_webhook(
        api,
        "pagerduty",
        fixture("incident.triggered.v3.json"),
        401,
        {"error": message},
        secret=None,
        signature=signature,
    )
    assert Incident.objects.count() == 0


def test_one_of_several_rotated_signatures_is_enough(api, signed_org):
    body = fixture("incident.triggered.v3.json")
    good = "v1=" + hmac_sha256_hex(secret=SECRETS["pagerduty"], body=body)
    check_webhook(api, "pagerduty", body, 200, signature=f"v1={'a' * 64},{good}")
    assert Incident.objects.filter(organization=signed_org, external_id="PFQZPSY").exists()


def test_another_organizations_secret_does_not_sign(api, signed_org, other_org):
    set_webhook_secret(organization=other_org, provider="pagerduty", secret="other")
    body = fixture("incident.triggered.v3.json")
    check_webhook(api, "pagerduty", body, 401, slug="globex")  # signed with acme's secret
    assert Incident.objects.count() == 0


def test_an_unknown_organization_answers_as_a_known_one_does(api, signed_org, other_org):
    """No secret set (globex), an unknown slug, a wrong signature (acme): one answer, so the
    endpoint does not tell which organizations exist."""
    body = fixture("incident.triggered.v3.json")
    bad = "v1=" + "0" * 64
    answers = [
        post_webhook(api, "pagerduty", body, slug=slug, signature=signature, secret=secret)
        for slug in ("acme", "globex", "nobody")
        for signature, secret in ((bad, "unused"), (None, None))
    ]
    assert [r.status_code for r in answers] == [401] * 6
    assert len({r.content for r in answers[0::2]}) == 1  # signed, wrongly
    assert len({r.content for r in answers[1::2]}) == 1  # unsigned
    assert Incident.objects.count() == 0


def test_other_event_types_are_acknowledged(api, signed_org):
    body = json.loads(fixture("incident.triggered.v3.json"))
    body["event"]["event_type"] = "incident.acknowledged"
    check_webhook(api, "pagerduty", json.dumps(body).encode(), 200, {"action": "ignored"})
    assert Incident.objects.count() == 0


def test_signed_but_malformed_is_400_naming_the_field(api, signed_org):
    body = json.loads(fixture("incident.triggered.v3.json"))
    del body["event"]["data"]["id"]
    response = check_webhook(api, "pagerduty", json.dumps(body).encode(), 400)
    assert "event.data.id" in response.json()["error"]
