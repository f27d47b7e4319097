"""Inputs the fuzzer (tests/test_fuzz.py) found to answer 500/503; each must be a clean answer."""

import pytest

from tests.factories import DeploymentFactory, make_key


@pytest.fixture
def read_key(org, settings):
    settings.RATE_LIMITS = {}
    return make_key(org)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        # "²".isdigit() is True but int("²") raises: it is an unmatched service name.
        ("/api/metrics/dora?service=%C2%B2", 200),
        ("/api/deployments?service=%C2%B2", 200),
        # Decimal ids SQLite cannot bind; ids beyond 64 bits.
        ("/api/incidents?deployment=-9.9e%2B219", 400),
        ("/api/incidents?deployment=99999999999999999999999", 400),
        # PostgreSQL refuses offsets past 15:59; year 1 with an offset overflows in UTC.
        ("/api/incidents?started_after=2967-10-26T13:03:48-20:53", 200),
        ("/api/deployments?completed_after=2967-10-26T13:03:48-20:53", 200),
        ("/api/deployments?completed_after=0001-01-01T00:00:00%2B05:00", 400),
        ("/api/deployments/99999999999999999999999", 404),
    ],
)
def test_fuzzed_query_is_answered_cleanly(api, org, read_key, url, status):
    response = api.get(url, HTTP_AUTHORIZATION=f"Bearer {read_key}")
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")


def test_far_offset_filter_compares_in_utc(api, org, read_key):
    """-20:53 is the same instant as UTC+20:53 later: a deployment just after it is found."""
    DeploymentFactory(organization=org, completed_at="2030-01-02T10:00:00Z")
    DeploymentFactory(organization=org, completed_at="2030-01-01T10:00:00Z")
    response = api.get(
        "/api/deployments?completed_after=2030-01-01T12:00:00-20:53",  # 2030-01-02T08:53Z
        HTTP_AUTHORIZATION=f"Bearer {read_key}",
    )
    assert response.status_code == 200
    assert [d["completed_at"][:10] for d in response.json()["results"]] == ["2030-01-02"]
