"""Fuzzing every operation of /api/schema/ with schemathesis, in-process over WSGI.

Three runs per operation: a valid key of the test organization (ingest + read, also as the
OpsLevel URL key; the organization's slug and signatures for the GitHub, GitLab and PagerDuty
webhooks), a key that does not exist, and no key. Checks: no 5xx, the status code is
documented, the content type and body match the schema, and every 4xx is JSON. CI runs FUZZ_EXAMPLES (default 25) derandomized examples per operation;
a longer run: `FUZZ_EXAMPLES=500 .venv/bin/python -m pytest tests/test_fuzz.py`.
"""

import json
import os

import pytest
import schemathesis
from django.core import signals
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from django.test import override_settings
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from periscope.secrets import hmac_sha256_hex, set_webhook_secret
from tests.factories import make_key

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "25"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
BAD_KEY = "psk_" + "x" * 40
SECRET = "fuzz-webhook-secret"

app = get_wsgi_application()
with override_settings(ALLOWED_HOSTS=["localhost"]):  # schemathesis' WSGI client's host
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", app)

fuzz_settings = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def no_rate_limits(settings):
    settings.RATE_LIMITS = {}
    settings.AUTH_FAILURE_RATE = "off"  # every example fails to authenticate from one address
    settings.ALLOWED_HOSTS = ["localhost"]


@pytest.fixture
def keep_connection():
    """As Django's test Client does: the start and end of a request must not close the connection that
    holds the test's transaction (PostgreSQL would lose everything the test made)."""
    for signal in (signals.request_started, signals.request_finished):
        signal.disconnect(close_old_connections)
    yield
    for signal in (signals.request_started, signals.request_finished):
        signal.connect(close_old_connections)


@pytest.fixture
def fuzz_key(org, other_org, no_rate_limits, keep_connection):
    """A key of `org` that can ingest and read, and its webhook secrets; `other_org` exists
    with a key of its own."""
    make_key(other_org)
    for provider in ("github", "gitlab", "pagerduty"):
        set_webhook_secret(organization=org, provider=provider, secret=SECRET)
    return make_key(org)


# Signed webhooks: the headers a real sender adds for this body (sent as json.dumps(body)).
EVENTS = {
    "github": ("push", "pull_request", "deployment_status", "deployment", "ping"),
    "gitlab": ("Push Hook", "Merge Request Hook", "Deployment Hook", "Note Hook"),
}


def _signed_headers(case) -> dict[str, str]:
    provider = case.operation.path.split("/")[3] if "{org_slug}" in case.operation.path else ""
    if not provider or isinstance(case.body, bytes):
        return {}
    try:
        raw = json.dumps(case.body).encode()
    except TypeError:  # no body generated
        return {}
    signature = hmac_sha256_hex(secret=SECRET, body=raw)
    pick = sum(raw) % 5
    if provider == "pagerduty":
        return {"X-PagerDuty-Signature": f"v1={signature}"}
    if provider == "github":
        return {
            "X-Hub-Signature-256": f"sha256={signature}",
            "X-GitHub-Event": EVENTS["github"][pick % 5],
            "X-GitHub-Delivery": f"fuzz-{signature[:16]}",
        }
    return {"X-Gitlab-Token": SECRET, "X-Gitlab-Event": EVENTS["gitlab"][pick % 4]}


def _headers(key: str | None) -> dict[str, str]:
    if key is None:
        return {}
    return {"Authorization": f"Bearer {key}", "x-api-key": key, "X-API-Token": key}


def _call(case, key: str | None, extra: dict | None = None):
    response = case.call_and_validate(headers={**_headers(key), **(extra or {})}, checks=CHECKS)
    if 400 <= response.status_code < 500:
        content_type = next(
            (
                values[0]
                for name, values in response.headers.items()
                if name.lower() == "content-type"
            ),
            "",
        )
        assert content_type.startswith("application/json"), response.text
        json.loads(response.text)
    return response


@schema.parametrize()
@fuzz_settings
def test_fuzz_with_valid_key(case, fuzz_key, org):
    if "key" in (case.path_parameters or {}):
        case.path_parameters["key"] = fuzz_key
    if "org_slug" in (case.path_parameters or {}):
        case.path_parameters["org_slug"] = org.slug
    response = _call(case, fuzz_key, _signed_headers(case))
    # _call ran schemathesis' checks (no 5xx, schema, content type); said here for the reader.
    assert response.status_code < 500, response.text


def _assert_refused(case, response) -> None:
    """Without a valid key nothing is read or stored: 401 (404 for a URL key), or 413 first."""
    if case.method.upper() != case.operation.method.upper():
        return  # an undocumented method: 405, checked by the schema checks
    if case.path_parameters:
        # The URL key is checked first; a malformed id does not resolve to a view at all.
        assert response.status_code in (401, 404, 413), response.text
    elif any(case.operation.definition.raw.get("security", [])):
        assert response.status_code in (401, 413), response.text


@schema.parametrize()
@fuzz_settings
def test_fuzz_with_bad_key(case, fuzz_key):
    _assert_refused(case, _call(case, BAD_KEY))


@schema.parametrize()
@fuzz_settings
def test_fuzz_without_key(case, fuzz_key):
    _assert_refused(case, _call(case, None))
