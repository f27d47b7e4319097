"""Scopes on every key-authenticated endpoint: no valid key is 401, a valid key without the
scope the endpoint needs is 403 naming that scope, in the endpoint's own error shape.

(An ingest endpoint once answered a read-only key 401 "Invalid or missing API key", as if the
key were wrong, while a read endpoint answered an ingest-only key 403.)
"""

import json

import pytest
from django.urls import get_resolver

from deployments.models import Deployment
from tests.factories import make_key

BODY = json.dumps({"deploymentId": "scope-1"})  # never parsed: refused before the body is read

# (method, path, how the key is sent, the scope it needs)
INGEST = [
    ("post", "/api/webhooks/deployments", "bearer"),
    ("post", "/api/incidents", "bearer"),
    ("post", "/events", "x-api-key"),
    ("post", "/api/hooks/v2/deployment", "x-api-token"),
    ("post", "/integrations/deploy/{key}", "url"),
]
READ = [
    ("get", "/api/metrics/dora", "bearer"),
    ("get", "/api/deployments", "bearer"),
    ("get", "/api/deployments/1", "bearer"),
    ("get", "/api/services", "bearer"),
    ("get", "/api/services/1", "bearer"),
    ("get", "/api/suggestions", "bearer"),
    ("post", "/mcp", "bearer"),
    ("get", "/api/incidents", "bearer"),
    ("get", "/api/incidents/1", "bearer"),
    ("get", "/api/changes", "bearer"),
    ("get", "/api/changes/1", "bearer"),
    ("get", "/metrics", "bearer"),
]
CASES = [(*case, "ingest") for case in INGEST] + [(*case, "read") for case in READ]
# Endpoints that take no key (signed webhooks, probes, schema) or a session (admin).
WITHOUT_KEYS = {
    "healthz",
    "readyz",
    "api/schema/",
    "api/docs/",
    "api/webhooks/github/<slug:org_slug>",
    "api/webhooks/gitlab/<slug:org_slug>",
    "api/webhooks/pagerduty/<slug:org_slug>",
    "sso/login/",  # single sign-on for the admin (tests/test_sso.py)
    "sso/callback/",
}


def send(api, method, path, how, key):
    headers = {
        "bearer": {"HTTP_AUTHORIZATION": f"Bearer {key}"},
        "x-api-key": {"HTTP_X_API_KEY": key},
        "x-api-token": {"HTTP_X_API_TOKEN": key},
        "url": {},
    }[how]
    url = path.format(key=key)
    if method == "post":
        return api.post(url, data=BODY, content_type="application/json", **headers)
    return api.get(url, **headers)


def error_text(response) -> str:
    body = response.json()
    if "errors" in body:  # OpsLevel's shape
        return body["errors"][0]["detail"]
    return body.get("error") or body.get("message") or json.dumps(body)


@pytest.mark.parametrize(("method", "path", "how", "scope"), CASES)
def test_a_key_without_the_scope_is_403_naming_it(api, org, other_org, method, path, how, scope):
    other = "read" if scope == "ingest" else "ingest"
    key = make_key(org, scopes=(other,))

    response = send(api, method, path, how, key)

    assert response.status_code == 403, (path, response.content)
    assert f"lacks the '{scope}' scope" in error_text(response), response.content
    assert not Deployment.objects.exists()


@pytest.mark.parametrize(("method", "path", "how", "scope"), CASES)
def test_no_valid_key_is_401_and_the_right_key_passes(
    api, org, other_org, method, path, how, scope
):
    wrong = "psk_" + "x" * 40
    response = send(api, method, path, how, wrong)
    # OpsLevel: a URL with no key behind it is not there at all.
    assert response.status_code == (404 if how == "url" else 401), (path, response.content)

    right = send(api, method, path, how, make_key(org, scopes=(scope,)))
    assert right.status_code not in (401, 403), (path, right.content)


def test_every_keyed_endpoint_is_in_the_table():
    """A new API URL must be added to CASES (or to WITHOUT_KEYS) to be checked here."""
    routes = set()

    def walk(patterns, prefix=""):
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if hasattr(entry, "url_patterns"):
                if not route.startswith("admin/"):
                    walk(entry.url_patterns, route)
            elif not route.startswith("admin/"):
                routes.add(route)

    walk(get_resolver().url_patterns)
    covered = {p.lstrip("/").replace("{key}", "<str:key>") for _, p, _, _ in CASES}
    covered = {p.replace("/1", "/<int:pk>") for p in covered}
    assert routes - WITHOUT_KEYS == covered, routes - WITHOUT_KEYS ^ covered
