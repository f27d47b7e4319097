"""OpsLevel's key is in the URL, not a header: its requests count against that key's limit."""

import json

from tests.factories import make_key


def deploy(api, key: str, n: int):
    body = {
        "service": "web",
        "description": f"deploy {n}",
        "deployed_at": "2024-01-15T10:35:00Z",
        "deployer": {"email": "ci@example.com"},
    }
    return api.post(
        f"/integrations/deploy/{key}", json.dumps(body), content_type="application/json"
    )


def test_opslevel_requests_count_against_the_url_key(api, org, settings):
    settings.RATE_LIMITS = {"ingest": "2/minute", "read": "100/minute"}
    key, other = make_key(org, name="a"), make_key(org, name="b")
    assert [deploy(api, key, n).status_code for n in range(3)] == [202, 202, 429]
    refused = deploy(api, key, 4)
    assert int(refused["Retry-After"]) >= 1
    assert refused.json()["errors"][0]["status"] == 429  # OpsLevel's error shape
    # Another key has its own budget; an unknown key is still 404, not throttled.
    assert deploy(api, other, 5).status_code == 202
    assert deploy(api, "psk_" + "x" * 40, 6).status_code == 404


def test_the_ingest_budget_is_shared_with_the_header_formats(api, org, settings):
    settings.RATE_LIMITS = {"ingest": "2/minute", "read": "100/minute"}
    key = make_key(org)
    assert deploy(api, key, 1).status_code == 202
    hivel = api.post(
        "/api/hooks/v2/deployment", "{}", content_type="application/json", HTTP_X_API_TOKEN=key
    )
    assert hivel.status_code == 400  # counted, then refused as invalid
    assert deploy(api, key, 2).status_code == 429
