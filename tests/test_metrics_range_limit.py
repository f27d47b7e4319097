"""GET /api/metrics/dora refuses ranges longer than METRICS_MAX_RANGE_DAYS (default 3 years)."""

import pytest

from tests.factories import make_key


@pytest.fixture
def read_key(org, settings):
    settings.RATE_LIMITS = {}
    return make_key(org)


def test_metrics_refuse_a_range_longer_than_the_setting(api, org, read_key, settings):
    ok = api.get(
        "/api/metrics/dora?from=2021-01-01&to=2024-01-01&interval=month",
        HTTP_AUTHORIZATION=f"Bearer {read_key}",
    )
    assert ok.status_code == 200, ok.content
    refused = api.get(
        "/api/metrics/dora?from=2020-01-01&to=2024-01-02&interval=month",
        HTTP_AUTHORIZATION=f"Bearer {read_key}",
    )
    assert refused.status_code == 400
    assert "METRICS_MAX_RANGE_DAYS" in refused.json()["error"]
    settings.METRICS_MAX_RANGE_DAYS = 30
    shorter = api.get(
        "/api/metrics/dora?from=2024-01-01&to=2024-03-01", HTTP_AUTHORIZATION=f"Bearer {read_key}"
    )
    assert shorter.status_code == 400
