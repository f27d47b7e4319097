"""Posting to the integrations as their senders do: `post_webhook` and `check_webhook`.

Each integration authenticates its own way, and the helpers know how:

- periscope (/api/webhooks/deployments) and incidents (/api/incidents): `Authorization: Bearer`
- devgrid (/events): `X-API-Key`; hivel (/api/hooks/v2/deployment): `X-API-Token`
- opslevel (/integrations/deploy/<key>): the key is the URL
- github, gitlab, pagerduty (/api/webhooks/<provider>/<slug>): the organization's secret signs
  the body (GitHub's `X-Hub-Signature-256`, PagerDuty's `X-PagerDuty-Signature`) or is sent as
  GitLab's `X-Gitlab-Token`; the event name goes in GitHub's and GitLab's event header.
"""

import json

from django.http import HttpResponse
from django.test import Client

from periscope.secrets import hmac_sha256_hex

# The secret each forge test module registers for `org` (set_webhook_secret).
SECRETS = {
    "github": "It's a Secret to Everybody",
    "gitlab": "gitlab-token-of-acme",
    "pagerduty": "pd-secret-1",
}
# The integrations authenticated by an API key in a header: their path and that header.
KEYED = {
    "periscope": ("/api/webhooks/deployments", "HTTP_AUTHORIZATION"),
    "incidents": ("/api/incidents", "HTTP_AUTHORIZATION"),
    "devgrid": ("/events", "HTTP_X_API_KEY"),
    "hivel": ("/api/hooks/v2/deployment", "HTTP_X_API_TOKEN"),
}

_DEFAULT = object()


def webhook_url(integration: str, *, key: str | None = None, slug: str = "acme") -> str:
    if integration in KEYED:
        return KEYED[integration][0]
    if integration == "opslevel":
        return f"/integrations/deploy/{key}"
    return f"/api/webhooks/{integration}/{slug}"


def post_webhook(
    api: Client,
    integration: str,
    payload,
    *,
    key: str | None = None,
    slug: str = "acme",
    event: str | None = None,
    delivery: str = "",
    secret=_DEFAULT,
    signature: str | None = None,
    headers: dict[str, str] | None = None,
    **meta,
) -> HttpResponse:
    """POST `payload` (a dict or list is sent as JSON, str and bytes as they are) to an
    integration, authenticated as that integration's sender does.

    key: the API key (periscope, incidents, devgrid, hivel: its header; opslevel: the URL);
    None sends no key. slug, secret: the forges' organization and secret (default SECRETS[...];
    None sends no signature or token); signature: a signature header sent as given instead.
    event, delivery: GitHub's and GitLab's event header, GitHub's delivery id. headers: more
    request headers by their real names; meta: more, as Django's HTTP_... keys.
    """
    body = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    extra = {}
    if integration in KEYED:
        header = KEYED[integration][1]
        if key is not None:
            extra[header] = f"Bearer {key}" if header == "HTTP_AUTHORIZATION" else key
    elif integration != "opslevel":
        if secret is _DEFAULT:
            secret = SECRETS[integration]
        raw = body.encode() if isinstance(body, str) else body
        if integration == "github":
            if event is not None:
                extra["HTTP_X_GITHUB_EVENT"] = event
            if delivery:
                extra["HTTP_X_GITHUB_DELIVERY"] = delivery
            if signature is None and secret is not None:
                signature = "sha256=" + hmac_sha256_hex(secret=secret, body=raw)
            if signature is not None:
                extra["HTTP_X_HUB_SIGNATURE_256"] = signature
        elif integration == "gitlab":
            if event is not None:
                extra["HTTP_X_GITLAB_EVENT"] = event
            if secret is not None:
                extra["HTTP_X_GITLAB_TOKEN"] = secret
        elif integration == "pagerduty":
            if signature is None and secret is not None:
                signature = "v1=" + hmac_sha256_hex(secret=secret, body=raw)
            if signature is not None:
                extra["HTTP_X_PAGERDUTY_SIGNATURE"] = signature
        else:
            raise ValueError(f"unknown integration {integration!r}")
    for name, value in (headers or {}).items():
        extra["HTTP_" + name.upper().replace("-", "_")] = value
    extra.update(meta)
    return api.post(
        webhook_url(integration, key=key, slug=slug),
        data=body,
        content_type="application/json",
        **extra,
    )


def check_webhook(
    api: Client,
    integration: str,
    payload,
    expected_status: int,
    expected_json=_DEFAULT,
    **options,
) -> HttpResponse:
    """post_webhook, then assert the answer's status and, when given, its whole JSON body.

    Returns the response for the checks only its test makes.
    """
    response = post_webhook(api, integration, payload, **options)
    assert response.status_code == expected_status, response.content
    if expected_json is not _DEFAULT:
        assert response.json() == expected_json
    return response
