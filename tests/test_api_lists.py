"""GET /api/deployments, /api/services, /api/incidents, /api/changes: filters, cursors, scoping."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import DeploymentFactory, IncidentFactory, make_key, make_service

T0 = datetime(2024, 3, 4, tzinfo=UTC)


def get(api, key, url, **params):
    return api.get(url, params, HTTP_AUTHORIZATION=f"Bearer {key}")


@pytest.fixture
def data(org, other_org):
    api_service = make_service(org, "api", team="payments")
    web = make_service(org, "web", team="growth")
    rows = {}
    for n in range(5):
        rows[f"api{n}"] = DeploymentFactory(
            organization=org,
            service=api_service,
            service_name="api",
            service_key="api",
            status="failure" if n == 4 else "success",
            started_at=T0 + timedelta(hours=n),
            completed_at=T0 + timedelta(hours=n),
        )
    rows["web"] = DeploymentFactory(
        organization=org, service=web, service_name="web", service_key="web", environment="staging"
    )
    rows["loose"] = DeploymentFactory(
        organization=org, service_name="Loose", service_key="loose", started_at=T0, completed_at=T0
    )
    rows["other"] = DeploymentFactory(organization=other_org, service_name="api", service_key="api")
    rows["incident"] = IncidentFactory(
        organization=org,
        external_id="INC-1",
        service=api_service,
        service_name="api",
        service_key="api",
        started_at=T0 + timedelta(hours=5),
        deployment=rows["api4"],
    )
    return rows


def ids(response):
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_deployments_filters(api, key, data):
    assert len(ids(get(api, key, "/api/deployments"))) == 7
    assert set(ids(get(api, key, "/api/deployments", service="api"))) == {
        data[f"api{n}"].pk for n in range(5)
    }
    assert ids(get(api, key, "/api/deployments", service="loose")) == [data["loose"].pk]
    assert ids(get(api, key, "/api/deployments", environment="staging")) == [data["web"].pk]
    assert ids(get(api, key, "/api/deployments", status="failure")) == [data["api4"].pk]
    assert ids(get(api, key, "/api/deployments", has_incident="true")) == [data["api4"].pk]
    assert ids(get(api, key, "/api/deployments", team="GROWTH")) == [data["web"].pk]
    assert ids(get(api, key, "/api/deployments", unmatched="true")) == [data["loose"].pk]
    window = get(
        api,
        key,
        "/api/deployments",
        completed_after="2024-03-04T01:00:00Z",
        completed_before="2024-03-04T03:00:00Z",
    )
    assert set(ids(window)) == {data["api1"].pk, data["api2"].pk}


def test_bad_filter_value_is_400_json(api, key, data):
    response = get(api, key, "/api/deployments", completedAfter="soon")
    assert response.status_code == 400
    assert "completedAfter" in response.json()["error"]


def test_cursor_pagination_walks_every_row_once_with_a_capped_page(api, key, data):
    seen, url, params = [], "/api/deployments", {"limit": 2}
    while url:
        page = api.get(url, params, HTTP_AUTHORIZATION=f"Bearer {key}").json()
        assert len(page["results"]) <= 2
        seen += [row["id"] for row in page["results"]]
        url, params = page["next"], {}
    assert len(seen) == len(set(seen)) == 7
    capped = get(api, key, "/api/deployments", limit=100000).json()
    assert len(capped["results"]) == 7  # max_page_size 500 applies, not an error


def test_deployment_detail_shows_incidents_and_changes(api, key, data):
    body = get(api, key, f"/api/deployments/{data['api4'].pk}").json()
    assert body["service"] == "api"
    assert [i["externalId"] for i in body["incidents"]] == ["INC-1"]
    assert body["changes"] == []


def test_other_organizations_ids_are_404(api, key, other_key, data):
    assert get(api, key, f"/api/deployments/{data['other'].pk}").status_code == 404
    assert get(api, other_key, f"/api/deployments/{data['api0'].pk}").status_code == 404
    assert get(api, other_key, f"/api/incidents/{data['incident'].pk}").status_code == 404
    assert ids(get(api, other_key, "/api/deployments")) == [data["other"].pk]
    assert ids(get(api, other_key, "/api/services")) == []


def test_services_and_incidents(api, key, org, data):
    services = get(api, key, "/api/services").json()["results"]
    assert sorted(s["slug"] for s in services) == ["api", "web"]
    assert [
        s["slug"] for s in get(api, key, "/api/services", team="payments").json()["results"]
    ] == ["api"]
    service_id = services[0]["id"]
    assert get(api, key, f"/api/services/{service_id}").json()["id"] == service_id
    assert ids(get(api, key, "/api/incidents", service="api", attributed="true")) == [
        data["incident"].pk
    ]
    assert ids(get(api, key, "/api/incidents", resolved="true")) == []


def test_changes_list_has_the_page_shape(api, key, data):
    body = get(api, key, "/api/changes").json()
    assert set(body) == {"next", "previous", "results"}


def test_lists_need_a_read_key(api, org):
    ingest_only = make_key(org, scopes=("ingest",))
    for url in ("/api/deployments", "/api/services", "/api/incidents", "/api/changes"):
        assert api.get(url).status_code == 401
        assert get(api, ingest_only, url).status_code == 403
