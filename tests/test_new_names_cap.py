"""The daily cap on new service names a webhook can add (deployments/recording/new_names.py):
past it, a delivery under a name nothing matches is a 429 with Retry-After in the format's
error shape and stores nothing; known names, other organizations and imports go on."""

import io
import json

import pytest
from django.core.management import call_command

from deployments.models import Deployment
from services.models import ServiceSuggestion
from tests.factories import make_service
from tests.webhooks import post_webhook


@pytest.fixture
def capped(settings):
    settings.MAX_NEW_SERVICE_NAMES_PER_DAY = 2


def periscope(deployment_id: str, service: str) -> dict:
    return {
        "deploymentId": deployment_id,
        "commitSha": "a1b2c3d4e5f6",
        "environment": "production",
        "status": "success",
        "startedAt": "2024-01-15T10:30:00Z",
        "completedAt": "2024-01-15T10:35:00Z",
        "service": service,
    }


def test_past_the_cap_a_new_name_is_429_and_nothing_is_stored(
    api, org, key, other_org, other_key, capped
):
    make_service(org, "checkout")
    for n in (1, 2):
        assert (
            post_webhook(api, "periscope", periscope(f"d{n}", f"new-{n}"), key=key).status_code
            == 201
        )
    # An already suggested name is not a new one.
    assert post_webhook(api, "periscope", periscope("d3", "new-1"), key=key).status_code == 201
    response = post_webhook(api, "periscope", periscope("d4", "new-3"), key=key)
    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 86400
    assert "PERISCOPE_MAX_NEW_SERVICE_NAMES_PER_DAY" in response.json()["error"]
    assert not Deployment.objects.filter(organization=org, external_id="d4").exists()
    assert not ServiceSuggestion.objects.filter(organization=org, key="new-3").exists()
    # A known service still records; another organization has its own cap.
    assert post_webhook(api, "periscope", periscope("d5", "checkout"), key=key).status_code == 201
    assert (
        post_webhook(api, "periscope", periscope("d6", "new-3"), key=other_key).status_code == 201
    )


def test_each_format_answers_in_its_own_shape(api, org, key, capped):
    ServiceSuggestion.objects.bulk_create(
        [ServiceSuggestion(organization=org, name=f"old-{n}", key=f"old-{n}") for n in (1, 2)]
    )
    devgrid = {"events": [{"type": "event-deploy", "entityId": "fresh",
                           "attributes": {"env": "production", "status": "success"}}]}  # fmt: skip
    response = post_webhook(api, "devgrid", devgrid, key=key)
    assert response.status_code == 429 and "new service names" in response.json()["error"]
    opslevel = {"service": "fresh", "description": "d", "deployed_at": "2024-01-15 10:00:00",
                "deployer": {"email": "ci@example.com"}}  # fmt: skip
    response = post_webhook(api, "opslevel", opslevel, key=key)
    assert response.status_code == 429
    assert "new service names" in response.json()["errors"][0]["detail"]
    assert not Deployment.objects.filter(organization=org).exists()


def test_the_dashboard_says_when_the_cap_is_reached(admin_client, org, capped):
    url = f"/admin/metrics/dora/?org={org.slug}"
    assert "dora-new-names-cap" not in admin_client.get(url).content.decode()
    ServiceSuggestion.objects.bulk_create(
        [ServiceSuggestion(organization=org, name=f"n-{n}", key=f"n-{n}") for n in (1, 2)]
    )
    page = admin_client.get(url).content.decode()
    assert "Daily cap of new service names reached (2 of 2 today)" in page


def test_imports_are_not_capped(tmp_path, org, capped):
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(periscope(f"i{n}", f"imp-{n}")) + "\n" for n in range(5)))
    call_command(
        "import_deployments", str(path), org=org.slug, format="periscope",
        stdout=io.StringIO(), stderr=io.StringIO(), no_progress=True,
    )  # fmt: skip
    assert Deployment.objects.filter(organization=org).count() == 5
