"""deployments/ingest/fields.py: timestamps an attacker sends cost a bounded, linear amount.

Every format's timestamp goes through these readers; each case is posted over HTTP with a
real key, and must be refused quickly with the field named (issue 15: a 40 KB Hivel
start_time took 8.8 s of worker CPU under the old quadratic offset pattern).
"""

import json
import time
from pathlib import Path

import pytest

from deployments.ingest.fields import flexible_timestamp, iso8601
from periscope.errors import InvalidPayload
from periscope.secrets import hmac_sha256_hex, set_webhook_secret

# Spaces between a date and a non-offset: the old pattern retried `\s+` from each space.
HOSTILE = "2024-01-15" + " " * 40_000 + "x"
MAX_TIMESTAMP_LENGTH = 64  # documented in README.md
GITHUB = Path(__file__).resolve().parent / "fixtures" / "github"


def hivel(org, key, value):
    body = {
        "deployment_id": "d-1",
        "event_type": "completed",
        "status": "success",
        "repo_url": "https://github.com/acme/web",
        "environment": "production",
        "start_time": value,
        "end_time": "2025-09-22T12:15:30Z",
        "branch": "main",
    }
    return "/api/hooks/v2/deployment", body, {"HTTP_X_API_TOKEN": key}, "start_time"


def opslevel(org, key, value):
    body = {
        "service": "web",
        "deployer": {"email": "ci@example.com"},
        "deployed_at": value,
        "description": "deploy",
    }
    return f"/integrations/deploy/{key}", body, {}, "deployed_at"


def devgrid(org, key, value):
    body = {
        "events": [
            {
                "type": "event-deploy",
                "entityId": "web",
                "timestamp": value,
                "attributes": {"env": "production", "status": "success"},
            }
        ]
    }
    return "/events", body, {"HTTP_X_API_KEY": key}, "events[0].timestamp"


def github_push(org, key, value):
    set_webhook_secret(organization=org, provider="github", secret="acme-secret-1234")
    body = json.loads((GITHUB / "push.after-merge.real-capture.json").read_text())
    body["commits"][0]["timestamp"] = value
    raw = json.dumps(body).encode()
    headers = {
        "HTTP_X_GITHUB_EVENT": "push",
        "HTTP_X_GITHUB_DELIVERY": "d-1",
        "HTTP_X_HUB_SIGNATURE_256": "sha256="
        + hmac_sha256_hex(secret="acme-secret-1234", body=raw),
    }
    return "/api/webhooks/github/acme", raw, headers, "commits[0].timestamp"


def periscope(org, key, value):
    body = {
        "deploymentId": "d-1",
        "commitSha": "a1b2c3d4e5f6",
        "environment": "production",
        "status": "success",
        "startedAt": value,
    }
    return "/api/webhooks/deployments", body, {"HTTP_AUTHORIZATION": f"Bearer {key}"}, "startedAt"


@pytest.mark.parametrize("request_for", [hivel, opslevel, devgrid, github_push, periscope])
def test_a_huge_timestamp_is_refused_quickly_naming_the_field(
    api, org, key, other_org, request_for
):
    url, body, headers, field = request_for(org, key, HOSTILE)
    data = body if isinstance(body, bytes) else json.dumps(body)

    started = time.perf_counter()
    response = api.post(url, data=data, content_type="application/json", **headers)
    elapsed = time.perf_counter() - started

    assert response.status_code == 400, response.content
    text = response.content.decode()
    assert field in text and "must be at most" in text, text
    assert elapsed < 1.0, elapsed


@pytest.mark.parametrize("reader", [flexible_timestamp, iso8601])
def test_the_bound_is_checked_before_any_parsing(reader):
    for value in (" " * 100_000, "2024-01-15T10:30:00Z" + " " * 100):
        started = time.perf_counter()
        with pytest.raises(InvalidPayload, match=f"at most {MAX_TIMESTAMP_LENGTH}"):
            reader(value, "at")
        assert time.perf_counter() - started < 0.1


@pytest.mark.parametrize(
    "value",
    [
        "2024-01-15 10:30:00 +0000",
        "2024-01-15 10:30:00   +00:00",
        "2024-01-15 10:30:00+00:00",
        "2024-01-15 12:30:00 +02:00",
        "2024-01-15 10:30:00 UTC",
        "2024-01-15T10:30:00.123456789Z"[:26] + "Z",
    ],
)
def test_space_before_the_offset_still_reads(value):
    assert flexible_timestamp(value, "at").isoformat().startswith("2024-01-15T10:30:00")
