"""One convention for Periscope's own endpoints: camelCase keys in every answer and filter,
every stored field a consumer may want; the vendor formats keep their vendors' words; and
every error on an API URL is JSON, with DEBUG on or off."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from deployments.models import Deployment
from deployments.recording.api import DeploymentList
from tests.builders import build_history
from tests.factories import DeploymentFactory, IncidentFactory, make_key, make_service
from tests.payloads.hivel import SEED_CURL_BODY
from tests.webhooks import post_webhook

T0 = datetime(2024, 3, 4, tzinfo=UTC)


def get(api, key, url, **params):
    return api.get(url, params, HTTP_AUTHORIZATION=f"Bearer {key}")


def snake_keys(node, path="") -> list[str]:
    """Every key with an underscore, outside a deployment's metadata (the sender's object)."""
    found = []
    if isinstance(node, dict):
        for k, v in node.items():
            if "_" in k:
                found.append(f"{path}.{k}")
            if k != "metadata":
                found += snake_keys(v, f"{path}.{k}")
    elif isinstance(node, list):
        for item in node:
            found += snake_keys(item, f"{path}[]")
    return found


@pytest.fixture
def history(org, other_org):
    build_history(org)
    service = make_service(org, "api", team="payments", description="Billing API")
    deployment = DeploymentFactory(
        organization=org,
        service=service,
        service_name="api",
        service_key="api",
        environment_raw="Prod",
        status_raw="SUCCEEDED",
        triggered_by="ada",
        description="Roll out invoices v2",
        commit_sha="b" * 40,
        previous_commit_sha="a" * 40,
        repository_url="https://github.com/acme/api",
        metadata={"build_number": "12", "pr_numbers": [7]},
        started_at=T0,
        completed_at=T0,
    )
    IncidentFactory(
        organization=org, service=service, service_name="api", started_at=T0, deployment=deployment
    )
    DeploymentFactory(organization=other_org, service_name="api", service_key="api")
    return deployment


PERISCOPE_URLS = [
    "/api/deployments",
    "/api/services",
    "/api/incidents",
    "/api/changes",
    "/api/changes?kind=commit",
    "/api/metrics/dora?from=2024-01-01&to=2024-06-01",
]


@pytest.mark.parametrize("url", PERISCOPE_URLS)
def test_every_periscope_list_answers_camel_case(api, key, history, url):
    response = get(api, key, url)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body.get("results", body.get("series")), body  # something to check
    assert snake_keys(body) == []


def test_every_periscope_detail_answers_camel_case(api, key, org, history):
    lists = {u: get(api, key, u).json()["results"][0]["id"] for u in PERISCOPE_URLS[:4]}
    for url, pk in lists.items():
        response = get(api, key, f"{url}/{pk}")
        assert response.status_code == 200, (url, response.content)
        assert snake_keys(response.json()) == [], url
    shipped = Deployment.objects.get(organization=org, external_id="d2")
    detail = get(api, key, f"/api/deployments/{shipped.pk}").json()
    assert detail["changes"] and snake_keys(detail) == []
    assert {"leadSeconds", "deployedAt"} <= set(detail["changes"][0])


def test_a_deployment_exposes_every_stored_field(api, key, history):
    row = get(api, key, "/api/deployments", service="api").json()["results"][0]
    assert row["triggeredBy"] == "ada"
    assert row["description"] == "Roll out invoices v2"
    assert row["environmentAsSent"] == "Prod"
    assert row["statusAsSent"] == "SUCCEEDED"
    assert row["previousCommitSha"] == "a" * 40
    assert row["repositoryUrl"] == "https://github.com/acme/api"
    assert {"recoveredAt", "createdAt", "updatedAt", "externalId", "serviceName"} <= set(row)
    assert "rawPayload" not in row and "serviceKey" not in row


def test_a_deployments_metadata_keeps_the_senders_keys(api, key, history):
    detail = get(api, key, f"/api/deployments/{history.pk}").json()
    assert detail["metadata"] == {"build_number": "12", "pr_numbers": [7]}
    assert detail["incidents"][0]["attributedBy"] is not None


def test_vendor_metadata_is_answered_as_the_vendor_sent_it(api, org, key):
    post_webhook(api, "hivel", SEED_CURL_BODY, key=key)
    pk = Deployment.objects.get(organization=org).pk
    metadata = get(api, key, f"/api/deployments/{pk}").json()["metadata"]
    assert metadata["pr_number"] == "71" and metadata["build_number"] == "12345"


def test_incidents_and_services_expose_their_fields(api, key, org, history):
    incident = get(api, key, "/api/incidents").json()["results"][0]
    assert {"externalId", "startedAt", "resolvedAt", "createdAt", "updatedAt"} <= set(incident)
    service = get(api, key, "/api/services", name="api").json()["results"][0]
    assert service["description"] == "Billing API"
    assert "repositoryUrl" in service and "createdAt" in service
    assert {"name": "api", "kind": "name"} in service["aliases"]


@pytest.mark.parametrize(
    ("camel", "snake", "value"),
    [
        ("hasIncident", "has_incident", "true"),
        ("commitSha", "commit_sha", "b" * 40),
        ("completedBefore", "completed_before", "2024-03-05T00:00:00Z"),
    ],
)
def test_deployment_filters_are_camel_case_and_still_read_snake_case(
    api, key, history, camel, snake, value
):
    everything = {r["id"] for r in get(api, key, "/api/deployments").json()["results"]}
    by_camel = {
        r["id"] for r in get(api, key, "/api/deployments", **{camel: value}).json()["results"]
    }
    by_snake = {
        r["id"] for r in get(api, key, "/api/deployments", **{snake: value}).json()["results"]
    }
    assert history.pk in by_camel and by_camel < everything
    assert by_snake == by_camel


def test_incident_filters_are_camel_case(api, key, history):
    before = get(api, key, "/api/incidents", startedBefore="2024-03-05T00:00:00Z").json()
    after = get(api, key, "/api/incidents", startedAfter="2024-03-05T00:00:00Z").json()
    assert len(before["results"]) == 1 and after["results"] == []
    bad = get(api, key, "/api/incidents", startedAfter="soon")
    assert bad.status_code == 400 and "startedAfter" in bad.json()["error"]


def test_a_vendor_format_answers_in_its_vendors_words(api, key):
    response = post_webhook(api, "hivel", SEED_CURL_BODY, key=key)
    assert response.status_code == 200
    assert response.json()["deployment_id"] == "deploy-20250922-1200"  # not deploymentId


def test_schema_is_camel_case_for_periscope_and_vendor_shaped_for_vendors(api, db):
    schema = api.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    assert {"triggeredBy", "externalId", "environmentAsSent"} <= set(
        components["Deployment"]["properties"]
    )
    assert "attributedBy" in components["Incident"]["properties"]
    assert "repositoryUrl" in components["Service"]["properties"]
    names = {p["name"] for p in schema["paths"]["/api/deployments"]["get"]["parameters"]}
    assert {"completedAfter", "hasIncident", "commitSha"} <= names
    hivel = schema["paths"]["/api/hooks/v2/deployment"]["post"]
    hivel_in = hivel["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert "event_type" in components[hivel_in.rsplit("/", 1)[1]]["properties"]


# --- errors are JSON on every API URL -------------------------------------------------------


@pytest.fixture(params=[True, False], ids=["debug", "no-debug"])
def debug(request, settings):
    settings.DEBUG = request.param
    return request.param


@pytest.mark.parametrize(
    "url",
    ["/api/deployments/abc", "/api/nothing-here", "/api/", "/api/services/1/extra", "/events/x"],
)
def test_unknown_api_route_is_json_404(api, key, debug, url):
    response = get(api, key, url)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"error": "Not found"}


def test_another_organizations_object_is_json_404(api, other_org, history, debug):
    response = get(api, make_key(other_org), f"/api/deployments/{history.pk}")
    assert response.status_code == 404 and "error" in response.json()


def test_wrong_method_is_json_405(api, key, debug):
    response = api.delete("/api/deployments", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 405
    assert "DELETE" in response.json()["error"]


def test_a_crash_is_json_500(key, debug, monkeypatch):
    def crash(self):
        raise RuntimeError("boom")

    monkeypatch.setattr(DeploymentList, "get_queryset", crash)
    client = Client(raise_request_exception=False)
    response = client.get("/api/deployments", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 500
    assert response.json() == {"error": "Internal server error"}
    assert "boom" not in response.content.decode()


def test_the_docs_page_stays_html(api, db, debug):
    assert api.get("/api/docs/")["Content-Type"].startswith("text/html")
