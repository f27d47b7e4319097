"""GET /metrics: Prometheus gauges per service over the last 30 days."""

from datetime import UTC, datetime, timedelta

import pytest

from tests.factories import DeploymentFactory, make_key, make_service

NOW = datetime.now(UTC)


@pytest.fixture
def history(org, other_org):
    api = make_service(org, "api")
    for hours, status in ((50, "success"), (40, "failure"), (38, "success"), (30, "success")):
        at = NOW - timedelta(hours=hours)
        DeploymentFactory(
            organization=org,
            service=api,
            service_name="api",
            service_key="api",
            status=status,
            started_at=at,
            completed_at=at,
        )
    old = NOW - timedelta(days=40)  # outside the 30 days
    DeploymentFactory(
        organization=org, service=api, status="failure", started_at=old, completed_at=old
    )
    DeploymentFactory(organization=other_org, service_name="secret-svc", service_key="secret-svc")


def test_gauges_per_service_with_a_read_key(api, key, history):
    response = api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=0.0.4")
    text = response.content.decode()
    labels = '{organization="acme",service="api"}'
    # 3 reached production, 1 failed of 4 terminal, recovered after 2 h.
    assert f"periscope_dora_deployments{labels} 3.0" in text
    assert f"periscope_dora_deployments_per_day{labels} 0.1" in text
    assert f"periscope_dora_change_failure_rate{labels} 0.25" in text
    assert f"periscope_dora_failed_deployment_recovery_median_seconds{labels} 7200.0" in text
    assert "# TYPE periscope_dora_change_failure_rate gauge" in text
    # No lead time data: the sample is left out, not exported as 0.
    assert "periscope_dora_lead_time_median_seconds{" not in text
    assert "secret-svc" not in text and "globex" not in text


def test_needs_a_read_key_unless_public(api, org, history, settings):
    assert api.get("/metrics").status_code == 401
    ingest_only = make_key(org, scopes=("ingest",))
    assert api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {ingest_only}").status_code == 403
    settings.METRICS_PUBLIC = True
    text = api.get("/metrics").content.decode()
    assert 'organization="acme",service="api"' in text
    assert 'organization="globex",service="secret-svc"' in text


def test_the_read_limit_applies_per_key(api, org, other_org, key, other_key, history, settings):
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "read": "2/minute"}
    for _ in range(2):
        assert api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    over = api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert over.status_code == 429
    assert 1 <= int(over["Retry-After"]) <= 60
    assert over.json()["error"].startswith("Request was throttled.")
    # The same budget as the read API: that key's reads are spent there too.
    assert api.get("/api/services", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 429
    # Another organization's key has its own budget.
    assert api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {other_key}").status_code == 200


def test_public_metrics_are_limited_per_client_address(api, history, settings):
    settings.METRICS_PUBLIC = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "read": "2/minute"}
    for _ in range(2):
        assert api.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 200
    assert api.get("/metrics", REMOTE_ADDR="203.0.113.7").status_code == 429
    # Without a trusted proxy, a forged X-Forwarded-For does not buy a new budget.
    forged = api.get("/metrics", REMOTE_ADDR="203.0.113.7", HTTP_X_FORWARDED_FOR="198.51.100.1")
    assert forged.status_code == 429
    assert api.get("/metrics", REMOTE_ADDR="203.0.113.8").status_code == 200
