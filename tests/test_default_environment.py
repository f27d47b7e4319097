"""An organization's default environment: where a delivery that names no environment counts
(OpsLevel's `environment` is optional, seed 004). Set in the admin; stored as the deployment's
environment, with "" kept as the environment sent."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployments.models import Deployment, EnvironmentAlias
from deployments.recording.importing import import_lines
from periscope.models import Organization
from tests.rollup_checks import assert_api_matches_reference
from tests.webhooks import post_webhook

RANGE = {"from": "2026-01-01", "to": "2026-01-10"}


def deploy(ident: str, **fields) -> dict:
    body = {
        "dedup_id": ident,
        "service": "cart",
        "deployer": {"email": "ci@example.com"},
        "deployed_at": "2026-01-02T10:00:00Z",
        "description": f"Deploy {ident}",
        **fields,
    }
    return {k: v for k, v in body.items() if v is not None}


def send(api, key, body):
    response = post_webhook(api, "opslevel", body, key=key)
    assert response.status_code == 202, response.content
    return response


def deployments(api, key, organization, environment):
    got = assert_api_matches_reference(
        api, key, organization=organization, params=RANGE | {"environment": environment}
    )
    return got["summary"]["deploymentFrequency"]["deployments"]


@pytest.fixture
def staging_default(other_org):
    # The other organization counts its unnamed deliveries as staging.
    Organization.objects.filter(pk=other_org.pk).update(default_environment="staging")
    other_org.refresh_from_db()
    return other_org


def test_a_deploy_without_environment_counts_in_the_default_production(
    api, org, key, staging_default, other_key
):
    assert org.default_environment == "production"
    send(api, key, deploy("d1"))
    send(api, key, deploy("d2", environment="   "))
    send(api, other_key, deploy("d1"))
    stored = Deployment.objects.filter(organization=org).order_by("external_id")
    assert [(d.environment, d.environment_raw) for d in stored] == [
        ("production", ""),
        ("production", ""),
    ]
    assert deployments(api, key, org, "production") == 2
    # The other organization's went to its own default, and only there.
    theirs = Deployment.objects.get(organization=staging_default)
    assert (theirs.environment, theirs.environment_raw) == ("staging", "")
    assert deployments(api, other_key, staging_default, "production") == 0
    assert deployments(api, other_key, staging_default, "staging") == 1


def test_a_named_environment_is_never_replaced_by_the_default(api, org, key, staging_default):
    send(api, key, deploy("d1", environment="Staging"))
    d = Deployment.objects.get(organization=org)
    assert (d.environment, d.environment_raw) == ("staging", "Staging")


def test_the_admin_sets_the_default_normalized(api, org, key, staff_client, other_org):
    url = f"/admin/periscope/organization/{org.pk}/change/"
    page = staff_client.get(url)
    assert page.status_code == 200
    assert "default_environment" in page.content.decode()
    response = staff_client.post(
        url, {"slug": org.slug, "name": org.name, "default_environment": "  Preview "}
    )
    assert response.status_code == 302, response.content
    org.refresh_from_db()
    assert org.default_environment == "preview"
    send(api, key, deploy("d1"))
    assert Deployment.objects.get(organization=org).environment == "preview"
    other_org.refresh_from_db()
    assert other_org.default_environment == "production"


def test_the_admin_refuses_an_empty_default(org, staff_client):
    url = f"/admin/periscope/organization/{org.pk}/change/"
    response = staff_client.post(
        url, {"slug": org.slug, "name": org.name, "default_environment": "   "}
    )
    assert response.status_code == 200
    assert "default_environment" in response.context["adminform"].form.errors
    org.refresh_from_db()
    assert org.default_environment == "production"


def test_an_import_applies_the_default(org, staging_default):
    report = import_lines(
        lines=[json.dumps(deploy("i1")), json.dumps(deploy("i2", environment="qa"))],
        organization=staging_default,
        fmt="opslevel",
    )
    assert report.created == 2
    stored = Deployment.objects.filter(organization=staging_default).order_by("external_id")
    assert [(d.environment, d.environment_raw) for d in stored] == [("staging", ""), ("qa", "qa")]
    assert not Deployment.objects.filter(organization=org).exists()


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(environment=st.text(alphabet=st.characters(codec=None), max_size=120) | st.none())
def test_any_environment_name_is_stored_or_refused_never_a_500(api, org, key, environment):
    body = deploy("h", environment=environment)
    del body["dedup_id"]  # every post a new deploy
    response = post_webhook(api, "opslevel", json.dumps(body).encode(), key=key)
    assert response.status_code in (202, 400), response.content
    if response.status_code == 400:
        [error] = response.json()["errors"]
        assert error["title"] == "Environment Error"
        return
    stored = Deployment.objects.filter(organization=org).latest("id")
    assert stored.environment_raw == (environment or "").strip()
    sent = stored.environment_raw.lower()
    alias = EnvironmentAlias.objects.filter(organization=org, name=sent).first()
    expected = alias.environment if alias else sent[:100]
    assert stored.environment == (expected or "production")
