"""Shared steps for the admin tests: deliveries over the real webhook, change-list actions."""

import json
import re

from django.test import Client

WEBHOOK = "/api/webhooks/deployments"


def deliver(api: Client, key: str, deployment_id: str, **fields) -> dict:
    """POST one Periscope-format deployment with a real key; returns the JSON answer."""
    body = {
        "deploymentId": deployment_id,
        "commitSha": "a1b2c3d4e5f6",
        "environment": "production",
        "status": "success",
        "startedAt": "2024-01-15T10:30:00Z",
        "completedAt": "2024-01-15T10:35:00Z",
        **fields,
    }
    body = {k: v for k, v in body.items() if v is not None}
    response = api.post(
        WEBHOOK,
        json.dumps(body),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {key}",
    )
    assert response.status_code in (200, 201), response.content
    return response.json()


def run_action(client: Client, changelist_url: str, action: str, pks, **extra):
    return client.post(
        changelist_url,
        {"action": action, "_selected_action": [str(pk) for pk in pks], **extra},
        follow=True,
    )


def messages_of(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


def option_values(html: str, field_name: str) -> set[str]:
    """The non-empty option values of one <select name=...> in a page."""
    match = re.search(rf'<select name="{field_name}"[^>]*>(.*?)</select>', html, re.S)
    assert match, f"no select named {field_name}"
    return set(re.findall(r'<option value="([^"]+)"', match.group(1)))
