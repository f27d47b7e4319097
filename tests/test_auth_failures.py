"""Failed authentications are limited per client address, on the shared store.

Every key-bearing endpoint (each vendor's header, the OpsLevel URL, /metrics) and the admin
login: past the limit an address gets 429 with Retry-After in the endpoint's own error shape,
for good credentials too, while other addresses are unaffected.
"""

import json

import pytest
from django.test import Client

from periscope import auth_failures
from tests.factories import make_key

BAD = "psk_" + "Q" * 40
ADDRESS, OTHER_ADDRESS = "203.0.113.7", "198.51.100.9"


@pytest.fixture(params=["database", "locmem", "redis"])
def limited(request, settings):
    """3 failures a minute, on each shared store (Redis where it runs; always in CI)."""
    settings.AUTH_FAILURE_RATE = "3/minute"
    settings.TRUSTED_PROXY_COUNT = 0
    if request.param == "redis":
        request.getfixturevalue("redis_cache")
    elif request.param == "locmem":
        settings.CACHES = {
            "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
            "shared": {
                "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                "LOCATION": f"auth-failures-{request.node.name}",
            },
        }
        settings.RATE_LIMIT_STORE, settings.RATE_LIMIT_CACHE = "cache", "shared"
    else:
        settings.RATE_LIMIT_STORE = "database"
    return request.param


def periscope(api, key, **extra):
    body = {
        "deploymentId": "af-1",
        "commitSha": "a1b2c3d4e5f6",
        "environment": "production",
        "status": "success",
        "startedAt": "2024-01-15T10:30:00Z",
        "completedAt": "2024-01-15T10:35:00Z",
    }
    return api.post(
        "/api/webhooks/deployments",
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
        **extra,
    )


def devgrid(api, key, **extra):
    body = {
        "events": [
            {
                "type": "event-deploy",
                "entityId": "web",
                "attributes": {"env": "production", "status": "success"},
            }
        ]
    }
    return api.post(
        "/events", json.dumps(body), content_type="application/json", HTTP_X_API_KEY=key, **extra
    )


def hivel(api, key, **extra):
    body = {
        "deployment_id": "af-1",
        "event_type": "completed",
        "status": "success",
        "repo_url": "https://github.com/acme/web",
        "environment": "production",
        "start_time": "2025-09-22T12:00:00Z",
        "end_time": "2025-09-22T12:15:30Z",
        "branch": "main",
    }
    return api.post(
        "/api/hooks/v2/deployment",
        json.dumps(body),
        content_type="application/json",
        HTTP_X_API_TOKEN=key,
        **extra,
    )


def opslevel(api, key, **extra):
    body = {
        "service": "web",
        "deployer": {"email": "ci@example.com"},
        "deployed_at": "2024-02-01 13:28:33",
        "description": "deploy",
    }
    return api.post(
        f"/integrations/deploy/{key}", json.dumps(body), content_type="application/json", **extra
    )


def metrics(api, key, **extra):
    return api.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {key}", **extra)


def malformed_bearer(api, key, **extra):
    """Not even a key: counts too (the good request then sends a good one)."""
    if key != BAD:
        return periscope(api, key, **extra)
    return api.get("/api/deployments", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz", **extra)


def error_text(response) -> str:
    body = response.json()
    if "errors" in body:
        return body["errors"][0]["detail"]
    return body.get("error", "")


ENDPOINTS = [periscope, devgrid, hivel, opslevel, metrics, malformed_bearer]


@pytest.mark.parametrize("send", ENDPOINTS)
def test_an_address_that_fails_too_often_is_429_even_with_a_good_key(
    api, org, other_org, limited, send
):
    good = make_key(org)
    at = {"REMOTE_ADDR": ADDRESS}
    for _ in range(3):
        assert send(api, BAD, **at).status_code in (401, 404)

    over = send(api, BAD, **at)
    assert over.status_code == 429, over.content
    assert 1 <= int(over["Retry-After"]) <= 60
    assert "throttled" in error_text(over).lower()
    if send is opslevel:
        assert over.json()["errors"][0]["status"] == 429  # OpsLevel's own error shape
    # The good key from that address too: a 200 among 429s would tell which guess worked.
    assert send(api, good, **at).status_code == 429
    # Another address is not affected.
    assert send(api, good, REMOTE_ADDR=OTHER_ADDRESS).status_code in (200, 201, 202)


def test_the_count_is_shared_by_every_app_server(api, org, other_org, limited):
    """Failures spread over several servers (processes that each start with no memory of
    blocks) add up in the shared store."""
    at = {"REMOTE_ADDR": ADDRESS}
    for _ in range(3):
        auth_failures.forget_all()  # the next request reaches another server
        assert periscope(api, BAD, **at).status_code == 401
    auth_failures.forget_all()
    assert hivel(api, BAD, **at).status_code == 429


def test_a_missing_key_is_not_a_failed_guess(api, org, other_org, limited):
    for _ in range(5):
        assert api.get("/api/deployments", REMOTE_ADDR=ADDRESS).status_code == 401
    assert periscope(api, make_key(org), REMOTE_ADDR=ADDRESS).status_code in (200, 201)


def test_forwarded_for_is_read_only_behind_trusted_proxies(api, org, other_org, limited, settings):
    good = make_key(org)
    # No trusted proxy: a client's own X-Forwarded-For buys no new budget.
    for n in range(4):
        periscope(api, BAD, REMOTE_ADDR=ADDRESS, HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
    assert (
        periscope(api, good, REMOTE_ADDR=ADDRESS, HTTP_X_FORWARDED_FOR="192.0.2.99").status_code
        == 429
    )

    # One trusted load balancer (10.0.0.1) appends the client's address: that is the one
    # counted, whatever the client wrote further left.
    settings.TRUSTED_PROXY_COUNT = 1
    behind = {"REMOTE_ADDR": "10.0.0.1"}
    for n in range(4):
        periscope(api, BAD, HTTP_X_FORWARDED_FOR=f"1.2.3.{n}, {OTHER_ADDRESS}", **behind)
    blocked = periscope(api, good, HTTP_X_FORWARDED_FOR=OTHER_ADDRESS, **behind)
    assert blocked.status_code == 429
    # Another client behind the same load balancer is not.
    fine = periscope(api, good, HTTP_X_FORWARDED_FOR="192.0.2.200", **behind)
    assert fine.status_code in (200, 201)


def test_the_admin_login_is_limited_the_same_way(db, org, other_org, limited, django_user_model):
    django_user_model.objects.create_user(username="ada", password="right-1", is_staff=True)
    browser = Client(REMOTE_ADDR=ADDRESS)
    for _ in range(3):
        wrong = browser.post("/admin/login/", {"username": "ada", "password": "wrong"})
        assert wrong.status_code == 200 and "correct username and password" in wrong.text
    over = browser.post("/admin/login/", {"username": "ada", "password": "wrong"})
    assert over.status_code == 429 and 1 <= int(over["Retry-After"]) <= 60
    # The right password from that address: refused before it is checked.
    right = browser.post("/admin/login/", {"username": "ada", "password": "right-1"})
    assert right.status_code == 429
    # The login page itself still shows; another address logs in.
    assert browser.get("/admin/login/").status_code == 200
    elsewhere = Client(REMOTE_ADDR=OTHER_ADDRESS)
    assert (
        elsewhere.post("/admin/login/", {"username": "ada", "password": "right-1"}).status_code
        == 302
    )


def test_off_disables_it(api, org, other_org, settings):
    settings.AUTH_FAILURE_RATE = "off"
    for _ in range(50):
        assert periscope(api, BAD, REMOTE_ADDR=ADDRESS).status_code == 401
