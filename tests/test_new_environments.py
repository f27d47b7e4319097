"""Environments on the dashboard: the menu lists every environment the organization has
deployments in, and names nobody has named yet (`pro duction`, `Prödüction`) are listed in the
"needs a person" panel with the decision to alias them to an existing environment (their
deployments and incidents move there, the metrics follow) or to keep them.

Deliveries go over the real webhooks; the metrics are checked through GET /api/metrics/dora
against the raw reference (the rollups of both environments must follow a move); a second
organization has the same odd names, which must never show or move.
"""

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deployments.models import Deployment, EnvironmentAlias, Incident
from tests.admin_helpers import deliver
from tests.factories import DeploymentFactory
from tests.rollup_checks import assert_api_matches_reference, rebuild_rollups
from tests.webhooks import post_webhook

DASHBOARD = "/admin/metrics/dora/"
REVIEW = "/admin/metrics/dora/environments/"
RANGE = {"from": "2024-01-01", "to": "2024-02-01"}


def opslevel(api, key, ident, environment):
    body = {
        "dedup_id": ident,
        "service": "cart",
        "deployer": {"email": "ci@example.com"},
        "deployed_at": "2024-01-16T10:00:00Z",
        "environment": environment,
        "description": ident,
        "commit": {"sha": "c0ffee" + "0" * 34, "authoring_date": "2024-01-16T04:00:00Z"},
    }
    response = post_webhook(api, "opslevel", body, key=key)
    assert response.status_code == 202, response.content


def incident(api, key, ident, environment):
    body = {
        "id": ident,
        "title": "Checkout down",
        "service": "cart",
        "environment": environment,
        "startedAt": "2024-01-15T11:00:00Z",
        "resolvedAt": "2024-01-15T12:00:00Z",
    }
    response = post_webhook(api, "incidents", body, key=key)
    assert response.status_code in (200, 201), response.content


@pytest.fixture
def history(api, org, key, other_org, other_key):
    deliver(api, key, "p1", service="cart")
    deliver(api, key, "p2", service="cart", completedAt="2024-01-16T10:35:00Z")
    deliver(api, key, "v1", service="cart", environment="Preview")
    deliver(api, key, "x1", service="cart", environment="pro duction", status="failure")
    deliver(
        api,
        key,
        "x2",
        service="cart",
        environment="Pro Duction",
        completedAt="2024-01-17T10:00:00Z",
    )
    opslevel(api, key, "u1", "Prödüction")
    incident(api, key, "i1", "pro duction")
    # The other organization sent the same odd name, and one of its own.
    deliver(api, other_key, "x1", service="cart", environment="pro duction")
    deliver(api, other_key, "q1", service="cart", environment="qa-globex")


def dashboard(client, **params):
    response = client.get(DASHBOARD, {"range": "custom", **RANGE, **params})
    assert response.status_code == 200, response.content
    return response


def test_the_menu_lists_every_environment_with_deployments(history, staff_client):
    response = dashboard(staff_client)
    assert response.context["environments"] == [
        "preview",
        "pro duction",
        "production",
        "prödüction",
    ]
    html = response.content.decode()
    assert '<option value="preview">preview</option>' in html
    assert "qa-globex" not in html


def test_new_names_are_listed_for_a_person_with_their_counts(history, staff_client):
    response = dashboard(staff_client)
    # Preview is a standard name; production is known; the other organization's never shows.
    assert response.context["new_environments"] == [("pro duction", 2), ("prödüction", 1)]
    assert "pro duction" not in response.context["alias_targets"]
    assert {"production", "preview", "staging"} <= set(response.context["alias_targets"])
    html = response.content.decode()
    assert 'id="dora-new-environments"' in html and "New environments (2)" in html


def test_alias_moves_deployments_incidents_and_metrics(
    api, org, key, other_org, other_key, history, staff_client
):
    before = assert_api_matches_reference(api, key, organization=org, params=RANGE)["summary"]
    assert before["deploymentFrequency"]["deployments"] == 2
    assert before["changeFailureRate"]["total"] == 2
    dashboard(staff_client)  # folds the writes so far

    response = staff_client.post(
        REVIEW,
        {"org": "acme", "name": "pro duction", "decision": "alias", "environment": "production"},
    )
    assert response.status_code == 302
    moved = Deployment.objects.filter(organization=org, external_id__in=["x1", "x2"])
    assert sorted(moved.values_list("environment", "environment_raw")) == [
        ("production", "Pro Duction"),
        ("production", "pro duction"),
    ]
    assert Incident.objects.get(organization=org).environment == "production"
    assert EnvironmentAlias.objects.get(organization=org, name="pro duction").environment == (
        "production"
    )
    after = assert_api_matches_reference(api, key, organization=org, params=RANGE)["summary"]
    # p1, p2, x2 reached production; x1 failed there (recovered by x2 a day later).
    assert after["deploymentFrequency"]["deployments"] == 3
    assert (after["changeFailureRate"]["failed"], after["changeFailureRate"]["total"]) == (1, 4)
    assert after["failedDeploymentRecoveryTime"]["recovered"] == 1
    assert after["incidentTimeToRestore"]["resolved"] == 1
    gone = assert_api_matches_reference(
        api, key, organization=org, params=RANGE | {"environment": "pro duction"}
    )["summary"]
    assert gone["deploymentFrequency"]["deployments"] == 0
    # A later delivery under the name goes straight to production.
    deliver(api, key, "x3", service="cart", environment="PRO DUCTION")
    assert Deployment.objects.get(organization=org, external_id="x3").environment == "production"
    panel = dashboard(staff_client).context["new_environments"]
    assert panel == [("prödüction", 1)]
    # The other organization's deployment under the same name did not move.
    theirs = Deployment.objects.get(organization=other_org, external_id="x1")
    assert theirs.environment == "pro duction"
    assert not EnvironmentAlias.objects.filter(organization=other_org, name="pro duction").exists()


def test_a_success_moved_into_production_links_its_carried_commit(
    api, org, key, history, staff_client
):
    response = staff_client.post(
        REVIEW,
        {"org": "acme", "name": "prödüction", "decision": "alias", "environment": "production"},
    )
    assert response.status_code == 302
    lead = assert_api_matches_reference(api, key, organization=org, params=RANGE)["summary"][
        "leadTime"
    ]
    assert (lead["changes"], lead["medianSeconds"]) == (1, 6 * 3600.0)


def test_keep_makes_the_name_known_and_leaves_its_deployments(api, org, key, history, staff_client):
    response = staff_client.post(
        REVIEW, {"org": "acme", "name": "prödüction", "decision": "keep"}, follow=True
    )
    assert response.status_code == 200
    assert response.context["new_environments"] == [("pro duction", 2)]
    assert "prödüction" in response.context["environments"]
    assert Deployment.objects.get(organization=org, external_id="u1").environment == "prödüction"


def test_deployments_stored_without_environment_can_be_moved(
    api, org, key, other_org, staff_client
):
    # Stored before default environments existed (environment ""), in both organizations.
    for organization in (org, other_org):
        DeploymentFactory(
            organization=organization,
            environment="",
            environment_raw="",
            status="success",
            started_at=datetime(2024, 1, 15, 9, 0, tzinfo=UTC),
            completed_at=datetime(2024, 1, 15, 10, 0, tzinfo=UTC),
        )
    rebuild_rollups()
    page = dashboard(staff_client)
    assert page.context["new_environments"] == [("", 1)]
    assert "" not in page.context["environments"]
    assert "(none sent)" in page.content.decode()
    refused = staff_client.post(REVIEW, {"org": "acme", "name": "", "decision": "keep"})
    assert refused.status_code == 302
    assert Deployment.objects.get(organization=org).environment == ""
    response = staff_client.post(
        REVIEW, {"org": "acme", "name": "", "decision": "alias", "environment": "production"}
    )
    assert response.status_code == 302
    moved = Deployment.objects.get(organization=org)
    assert (moved.environment, moved.environment_raw) == ("production", "")
    assert not EnvironmentAlias.objects.filter(organization=org, name="").exists()
    summary = assert_api_matches_reference(api, key, organization=org, params=RANGE)["summary"]
    assert summary["deploymentFrequency"]["deployments"] == 1
    assert Deployment.objects.get(organization=other_org).environment == ""


@pytest.mark.parametrize(
    "data",
    [
        {"name": "pro duction", "decision": "alias", "environment": ""},
        {"name": "pro duction", "decision": "alias", "environment": "pro duction"},
        {"name": "pro duction", "decision": "alias", "environment": "prödüction"},
        {"name": "production", "decision": "alias", "environment": "staging"},
        {"name": "qa-globex", "decision": "keep"},
        {"name": "pro duction", "decision": "delete"},
    ],
)
def test_refused_decisions_change_nothing(org, history, staff_client, data):
    response = staff_client.post(REVIEW, {"org": "acme", **data}, follow=True)
    assert response.status_code == 200
    assert not EnvironmentAlias.objects.filter(
        organization=org, name__in=["pro duction", "production", "qa-globex"]
    ).exists()
    assert Deployment.objects.filter(organization=org, environment="pro duction").count() == 2


def test_only_staff_of_the_organization_may_decide(api, org, other_org, history, staff_client):
    # Another organization's name: as if it did not exist.
    response = staff_client.post(
        REVIEW, {"org": "globex", "name": "pro duction", "decision": "keep"}
    )
    assert response.status_code == 404
    assert staff_client.get(REVIEW).status_code == 405
    anonymous = api.post(REVIEW, {"org": "acme", "name": "pro duction", "decision": "keep"})
    assert anonymous.status_code == 302 and "/login/" in anonymous["Location"]
    assert not EnvironmentAlias.objects.filter(name="pro duction").exists()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.text(alphabet=st.characters(codec=None), max_size=120),
    environment=st.text(alphabet=st.characters(codec=None), max_size=120),
    decision=st.sampled_from(["alias", "keep", ""]),
)
def test_any_form_input_is_a_redirect_never_a_500(org, staff_client, name, environment, decision):
    # Sent as a browser would: a lone surrogate goes as the (invalid UTF-8) bytes it encodes to.
    fields = {"org": "acme", "name": name, "environment": environment, "decision": decision}
    body = urlencode(fields, encoding="utf-8", errors="surrogatepass")
    response = staff_client.post(REVIEW, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(environment=st.text(alphabet=st.characters(codec=None), min_size=1, max_size=100))
def test_any_new_environment_name_is_listed_or_known(api, org, key, staff_client, environment):
    body = {
        "deploymentId": "h",
        "commitSha": "a1b2c3d4e5f6",
        "environment": environment,
        "status": "success",
        "startedAt": "2024-01-15T10:30:00Z",
        "completedAt": "2024-01-15T10:35:00Z",
    }
    response = post_webhook(api, "periscope", json.dumps(body).encode(), key=key)
    assert response.status_code < 500, response.content
    if response.status_code >= 300:
        return
    stored = Deployment.objects.get(organization=org, external_id="h").environment
    page = dashboard(staff_client, environment=stored or "production")
    listed = dict(page.context["new_environments"])
    assert stored in page.context["environments"] or not stored
    Deployment.objects.filter(organization=org).delete()
    assert listed.get(stored, 1) >= 1
