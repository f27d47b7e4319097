"""Rate limits: per API key, per endpoint class (ingest, read), on the shared counter store."""

import json
import threading

import pytest
from django.core.cache import caches
from django.db import connections

from periscope import ratelimit
from periscope.models import RateLimitCounter
from periscope.ratelimit import Rate, hit, parse_rate
from tests.factories import OrganizationFactory, make_key

pytestmark = pytest.mark.urls("tests.throttling_urls")

INGEST_URL = "/api/webhooks/deployments"
READ_URL = "/api/read-probe"


def payload(n: int) -> str:
    return json.dumps(
        {
            "deploymentId": f"rl-{n}",
            "commitSha": "a1b2c3d4e5f6",
            "environment": "production",
            "status": "success",
            "startedAt": "2024-01-15T10:30:00Z",
            "completedAt": "2024-01-15T10:35:00Z",
        }
    )


@pytest.fixture(params=["database", "cache"])
def limits(request, settings):
    """Small limits, on the database store and on a cache store (Redis in production)."""
    settings.RATE_LIMITS = {"ingest": "3/minute", "read": "2/minute"}
    settings.RATE_LIMIT_STORE = request.param
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "ratelimit-test": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"ratelimit-{request.node.name}",
        },
    }
    settings.RATE_LIMIT_CACHE = "ratelimit-test"
    caches["ratelimit-test"].clear()
    return request.param


def ingest(api, key, n):
    return api.post(
        INGEST_URL,
        data=payload(n),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )


def read(api, key):
    return api.get(READ_URL, HTTP_AUTHORIZATION=f"Bearer {key}")


def test_over_the_limit_is_429_json_with_retry_after(api, key, limits):
    statuses = [ingest(api, key, n).status_code for n in range(3)]
    assert statuses == [201, 201, 201]

    response = ingest(api, key, 3)

    assert response.status_code == 429
    assert response["Content-Type"] == "application/json"
    assert "throttled" in response.json()["error"]
    assert 1 <= int(response["Retry-After"]) <= 60


def test_read_over_the_limit_is_429(api, key, limits):
    assert [read(api, key).status_code for _ in range(2)] == [200, 200]
    response = read(api, key)
    assert response.status_code == 429
    assert set(response.json()) == {"error"}
    assert 1 <= int(response["Retry-After"]) <= 60


def test_limits_are_per_key(api, org, key, other_key, limits):
    same_org_key = make_key(org, name="second")
    for n in range(3):
        ingest(api, key, n)
    assert ingest(api, key, 3).status_code == 429

    assert ingest(api, same_org_key, 10).status_code == 201
    assert ingest(api, other_key, 11).status_code == 201
    assert read(api, other_key).status_code == 200


def test_ingest_and_read_are_counted_separately(api, key, limits):
    for n in range(3):
        ingest(api, key, n)
    assert ingest(api, key, 3).status_code == 429
    assert read(api, key).status_code == 200
    assert read(api, key).status_code == 200
    assert read(api, key).status_code == 429
    assert ingest(api, key, 4).status_code == 429


def test_a_new_window_starts_a_new_count(api, key, limits, monkeypatch):
    clock = [60 * 16_666_667 + 20.0]  # 20 s into a minute
    monkeypatch.setattr(ratelimit.time, "time", lambda: clock[0])
    assert [read(api, key).status_code for _ in range(3)] == [200, 200, 429]
    assert read(api, key)["Retry-After"] == "40"

    clock[0] += 40
    assert read(api, key).status_code == 200


def test_rejected_requests_are_still_401_not_429(api, key, limits):
    for _ in range(3):
        read(api, key)
    response = api.get(READ_URL, HTTP_AUTHORIZATION="Bearer psk_not-a-real-key")
    assert response.status_code == 401


def test_a_limit_can_be_turned_off(api, key, settings):
    settings.RATE_LIMITS = {"ingest": "off", "read": "1/minute"}
    assert {ingest(api, key, n).status_code for n in range(5)} == {201}


def test_ended_windows_are_swept_from_the_database(db, settings):
    settings.RATE_LIMIT_STORE = "database"
    rate = Rate(requests=5, seconds=60)
    hit(name="read:1", rate=rate, now=600.0)
    hit(name="read:1", rate=rate, now=610.0)
    assert RateLimitCounter.objects.get().count == 2

    hit(name="read:1", rate=rate, now=700.0)

    assert list(RateLimitCounter.objects.values_list("count", "window_end")) == [(1, 720)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1200/minute", Rate(1200, 60)),
        ("20/s", Rate(20, 1)),
        ("100/10s", Rate(100, 10)),
        ("5000/hour", Rate(5000, 3600)),
        ("off", None),
        ("0", None),
    ],
)
def test_parse_rate(text, expected):
    assert parse_rate(text) == expected


def test_a_bad_rate_is_an_error():
    with pytest.raises(ValueError, match="not a rate"):
        parse_rate("lots")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_hits_on_the_database_never_lose_a_count(settings):
    """Several app servers incrementing one counter at once: exactly `limit` get through."""
    settings.RATE_LIMIT_STORE = "database"
    rate = Rate(requests=10, seconds=3600)
    OrganizationFactory(slug="race")  # a database that is in use, as in production
    barrier = threading.Barrier(24)
    decisions = []
    lock = threading.Lock()

    def one():
        barrier.wait()
        try:
            decision = hit(name="ingest:race", rate=rate, now=7200.0)
            with lock:
                decisions.append(decision)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=one) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(d.count for d in decisions) == list(range(1, 25))
    assert sum(d.allowed for d in decisions) == 10


@pytest.mark.django_db(transaction=True)
def test_concurrent_hits_on_redis_never_lose_a_count(redis_cache):
    rate = Rate(requests=10, seconds=3600)
    barrier = threading.Barrier(24)
    decisions = []
    lock = threading.Lock()

    def one():
        barrier.wait()
        decision = hit(name="ingest:redis", rate=rate, now=7200.0)
        with lock:
            decisions.append(decision)

    threads = [threading.Thread(target=one) for _ in range(24)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(d.count for d in decisions) == list(range(1, 25))
    assert sum(d.allowed for d in decisions) == 10
    redis_cache.delete("ratelimit:ingest:redis:3600:2")
