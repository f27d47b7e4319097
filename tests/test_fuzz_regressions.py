"""Inputs the fuzzer (tests/test_fuzz.py) found to answer 500/503; each must be a clean answer."""

import json

import pytest

from deployments.models import Deployment
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
        "/api/deployments?completedAfter=2030-01-01T12:00:00-20:53",  # 2030-01-02T08:53Z
        HTTP_AUTHORIZATION=f"Bearer {read_key}",
    )
    assert response.status_code == 200
    assert [d["completedAt"][:10] for d in response.json()["results"]] == ["2030-01-02"]


# --- Values the databases cannot store (issue 14, section 3): a 400 in the format's own
# error shape naming the field, on SQLite and PostgreSQL; never a 500 or a 503.

PERISCOPE = {
    "deploymentId": "deploy-1",
    "commitSha": "a1b2c3d4e5",
    "environment": "production",
    "status": "success",
    "startedAt": "2024-01-15T10:30:00Z",
    "completedAt": "2024-01-15T10:35:00Z",
}
INCIDENT = {
    "id": "INC-1",
    "title": "Checkout down",
    "service": "checkout",
    "startedAt": "2024-01-15T11:00:00Z",
}
OPSLEVEL = {
    "service": "shopping_cart",
    "description": "Deploy #234",
    "deployed_at": "2019-02-01 13:28:33",
    "deployer": {"email": "ci@example.com"},
}
HIVEL = {
    "deployment_id": "deploy-1",
    "event_type": "completed",
    "status": "success",
    "repo_url": "https://github.com/acme/shop",
    "environment": "production",
    "start_time": "2025-09-22T12:00:00Z",
    "end_time": "2025-09-22T12:15:30Z",
    "branch": "main",
}
DEVGRID = {
    "events": [
        {
            "type": "event-deploy",
            "entityId": "shop",
            "attributes": {"env": "prod", "status": "success"},
        }
    ]
}


def with_raw(payload: dict, path: list, raw: str) -> str:
    """The payload as JSON text with the value at `path` replaced by the raw JSON `raw`
    (json.dumps cannot write 1e400, and writes a lone surrogate only as an escape)."""
    marker = "__raw_value__"
    data = json.loads(json.dumps(payload))
    target = data
    for step in path[:-1]:
        target = target.setdefault(step, {}) if isinstance(step, str) else target[step]
    target[path[-1]] = marker
    return json.dumps(data).replace(json.dumps(marker), raw)


def send(api, key, fmt: str, body: str):
    if fmt == "periscope":
        return api.post(
            "/api/webhooks/deployments",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
    if fmt == "incident":
        return api.post(
            "/api/incidents",
            body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {key}",
        )
    if fmt == "opslevel":
        return api.post(f"/integrations/deploy/{key}", body, content_type="application/json")
    if fmt == "hivel":
        return api.post(
            "/api/hooks/v2/deployment", body, content_type="application/json", HTTP_X_API_TOKEN=key
        )
    return api.post("/events", body, content_type="application/json", HTTP_X_API_KEY=key)


def error_text(fmt: str, response) -> str:
    """The error in the format's own shape, as one string (asserting the shape)."""
    body = response.json()
    if fmt == "opslevel":
        [error] = body["errors"]
        assert error["status"] == 400
        return f"{error['title']} {error['detail']}"
    if fmt == "hivel":
        assert body["message"] == "Validation failed"
        return body["error"]
    if fmt == "devgrid":
        return f"{body['field']} {body['error']}"
    assert body["error"].startswith("Invalid payload: ")
    return body["error"]


SURROGATE = '"x\\ud800"'
NUL = '"x\\u0000"'
CASES = [
    # A lone surrogate in every string field the issue names, and in keys.
    *[
        ("periscope", PERISCOPE, [f], SURROGATE, f)
        for f in ("deploymentId", "branch", "environment", "service")
    ],
    ("periscope", PERISCOPE, ["metadata", "x\ud800"], '"v"', "metadata.x\\ud800"),
    ("incident", INCIDENT, ["title"], SURROGATE, "title"),
    ("incident", INCIDENT, ["service"], SURROGATE, "service"),
    ("opslevel", OPSLEVEL, ["service"], SURROGATE, "service"),
    ("opslevel", OPSLEVEL, ["deployer", "name"], SURROGATE, "deployer.name"),
    ("hivel", HIVEL, ["branch"], SURROGATE, "branch"),
    ("devgrid", DEVGRID, ["events", 0, "entityId"], SURROGATE, "events[0].entityId"),
    # NUL, which PostgreSQL cannot store.
    ("periscope", PERISCOPE, ["rawPayload", "log"], NUL, "rawPayload.log"),
    ("hivel", HIVEL, ["image"], NUL, "image"),
    # Numbers beyond a double: json reads them as inf, which PostgreSQL refused (was a 503).
    ("periscope", PERISCOPE, ["rawPayload", "a"], "1e400", "rawPayload.a"),
    ("periscope", PERISCOPE, ["metadata", "size"], "-1e400", "metadata.size"),
    ("opslevel", OPSLEVEL, ["deploy_number"], "1e400", "deploy_number"),
    ("opslevel", OPSLEVEL, ["commit", "extra"], "1e999", "commit.extra"),
    ("hivel", HIVEL, ["pr_numbers"], "[1, 1e400]", "pr_numbers[1]"),
    (
        "devgrid",
        DEVGRID,
        ["events", 0, "attributes", "build_id"],
        "1e400",
        "events[0].attributes.build_id",
    ),
]


@pytest.mark.parametrize(
    ("fmt", "payload", "path", "raw", "field"),
    CASES,
    ids=lambda v: v if isinstance(v, str) and len(v) < 40 else None,
)
def test_a_value_the_databases_cannot_store_is_a_400_naming_the_field(
    api, read_key, fmt, payload, path, raw, field
):
    response = send(api, read_key, fmt, with_raw(payload, path, raw))
    assert response.status_code == 400, response.content
    assert response["Content-Type"].startswith("application/json")
    assert field in error_text(fmt, response).replace(
        "Deployer name Error", "deployer.name"
    ).replace("Service Error", "service")
    assert not Deployment.objects.exists()


def test_a_devgrid_event_error_says_which_event(api, read_key):
    body = with_raw(
        {"events": [DEVGRID["events"][0], DEVGRID["events"][0]]},
        ["events", 1, "entityId"],
        SURROGATE,
    )
    response = send(api, read_key, "devgrid", body)
    assert response.status_code == 400
    assert response.json()["index"] == 1
    assert response.json()["field"] == "events[1].entityId"


def same_json(sent, stored) -> bool:
    """Equal JSON values, numbers compared as the doubles they denote: PostgreSQL's jsonb keeps
    a number's exact decimal value and writes 1.7976931348623157e308 as 17976931348623157
    and 292 zeros, which reads back as an int (the same double)."""
    if isinstance(sent, bool) or isinstance(stored, bool):
        return sent is stored
    if isinstance(sent, int | float) and isinstance(stored, int | float):
        return sent == stored or float(sent) == float(stored)
    if isinstance(sent, dict) and isinstance(stored, dict):
        return sent.keys() == stored.keys() and all(
            same_json(v, stored[k]) for k, v in sent.items()
        )
    if isinstance(sent, list) and isinstance(stored, list):
        return len(sent) == len(stored) and all(map(same_json, sent, stored))
    return type(sent) is type(stored) and sent == stored


def test_the_largest_and_smallest_doubles_are_stored(api, read_key):
    body = with_raw(
        PERISCOPE,
        ["rawPayload"],
        '{"max": 1.7976931348623157e308, "min": -1.7976931348623157e308, "tiny": 5e-324, '
        '"big": 123456789012345678901234567890}',
    )
    response = send(api, read_key, "periscope", body)
    assert response.status_code == 201, response.content
    assert same_json(json.loads(body)["rawPayload"], Deployment.objects.get().raw_payload)


# Found by tests/test_fuzz_values.py.


def test_an_integer_beyond_a_double_as_a_timestamp_is_a_400(api, read_key):
    """float() of a 400-digit integer raises OverflowError (was a 500)."""
    body = with_raw(HIVEL, ["start_time"], "9" * 400)
    response = send(api, read_key, "hivel", body)
    assert response.status_code == 400, response.content
    assert response.json() == {
        "message": "Validation failed",
        "error": "start_time is out of range",
    }


def test_a_pagerduty_id_longer_than_its_column_is_a_400_not_cut(api, org):
    """Cut to 255 characters, two incidents whose ids differ after that became one."""
    from pathlib import Path

    from deployments.models import Incident
    from periscope.secrets import hmac_sha256_hex, set_webhook_secret

    set_webhook_secret(organization=org, provider="pagerduty", secret="s")
    payload = json.loads(
        (Path(__file__).parent / "fixtures/pagerduty/incident.triggered.v3.json").read_text()
    )
    payload["event"]["data"]["id"] = "P" * 300
    body = json.dumps(payload).encode()
    response = api.post(
        "/api/webhooks/pagerduty/acme",
        body,
        content_type="application/json",
        HTTP_X_PAGERDUTY_SIGNATURE="v1=" + hmac_sha256_hex(secret="s", body=body),
    )
    assert response.status_code == 400, response.content
    assert response.json() == {
        "error": "Invalid payload: event.data.id must be at most 255 characters"
    }
    assert not Incident.objects.exists()


@pytest.mark.parametrize(
    ("provider", "event", "fixture", "path", "field"),
    [
        (
            "github",
            "pull_request",
            "pull_request.closed.merged.real-capture.json",
            ["number"],
            "number",
        ),
        (
            "gitlab",
            "Merge Request Hook",
            "merge_request.merged.real-capture.json",
            ["object_attributes", "iid"],
            "object_attributes.iid",
        ),
    ],
)
def test_a_pull_request_number_beyond_its_column_is_a_400(
    api, org, provider, event, fixture, path, field
):
    """SQLite cannot bind an integer beyond 64 bits (OverflowError, a 500); PostgreSQL's
    integer column ends at 2**31 - 1."""
    from pathlib import Path

    from periscope.secrets import hmac_sha256_hex, set_webhook_secret

    set_webhook_secret(organization=org, provider=provider, secret="s")
    payload = json.loads((Path(__file__).parent / "fixtures" / provider / fixture).read_text())
    for number in (2**70, 2**31):
        body = with_raw(payload, path, str(number)).encode()
        headers = (
            {
                "HTTP_X_GITHUB_EVENT": event,
                "HTTP_X_HUB_SIGNATURE_256": "sha256=" + hmac_sha256_hex(secret="s", body=body),
            }
            if provider == "github"
            else {"HTTP_X_GITLAB_EVENT": event, "HTTP_X_GITLAB_TOKEN": "s"}
        )
        response = api.post(
            f"/api/webhooks/{provider}/acme", body, content_type="application/json", **headers
        )
        assert response.status_code == 400, response.content
        assert response.json() == {
            "error": f"{field} must be a positive integer up to 2147483647",
            "field": field,
        }


@pytest.mark.parametrize(
    ("depth", "status"), [(256, 201), (257, 400), (990, 400), (1100, 400)], ids=str
)
def test_nesting_deeper_than_256_levels_is_a_400(api, read_key, depth, status):
    """orjson reads 1,024 levels, but a JSON field is encoded recursively when stored: ~990
    levels in rawPayload was a RecursionError (500) on both databases."""
    inner = depth - 2  # the body's object and rawPayload's are the first two levels
    body = with_raw(PERISCOPE, ["rawPayload"], '{"a": ' + "[" * inner + "]" * inner + "}")
    response = send(api, read_key, "periscope", body)
    assert response.status_code == status, response.content
    if status == 400:
        assert "nests arrays and objects deeper than 256 levels" in response.json()["error"] or (
            depth > 1024 and "not valid JSON" in response.json()["error"]
        )
