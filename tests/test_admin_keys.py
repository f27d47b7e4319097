"""Key lifecycle in the admin: create shows once, revoke, rotate with a chosen grace period."""

import re
from datetime import timedelta

from django.utils import timezone

from periscope.keys import issue_api_key
from periscope.models import ApiKey, WebhookSecret
from tests.admin_helpers import WEBHOOK, messages_of, run_action

CHANGELIST = "/admin/periscope/apikey/"
BODY = (
    '{"deploymentId": "k-1", "commitSha": "abcdef1", "environment": "production", '
    '"status": "success", "startedAt": "2024-01-15T10:30:00Z", "completedAt": "2024-01-15T10:35:00Z"}'
)


def works(api, plaintext: str) -> bool:
    response = api.post(
        WEBHOOK, BODY, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {plaintext}"
    )
    assert response.status_code in (200, 201, 401)
    return response.status_code != 401


def shown_keys(response) -> list[str]:
    return re.findall(
        r'<code class="periscope-new-key">(psk_\w+)</code>', response.content.decode()
    )


def test_list_columns(admin_client, org):
    issue_api_key(organization=org, name="ci")
    html = admin_client.get(CHANGELIST).content.decode()
    for header in [
        "Name",
        "Prefix",
        "Scopes",
        "Created at",
        "Last used at",
        "Revoked at",
        "Expires at",
        "State",
    ]:
        assert header in html


def test_create_shows_the_plaintext_once(admin_client, api, org):
    response = admin_client.post(
        f"{CHANGELIST}add/", {"organization": org.pk, "name": "deploy bot", "scopes": ["ingest"]}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    [plaintext] = shown_keys(response)
    key = ApiKey.objects.get(name="deploy bot")
    assert key.prefix == plaintext[:12] and key.scopes == ["ingest"]
    assert works(api, plaintext)
    for url in [CHANGELIST, f"{CHANGELIST}{key.pk}/change/"]:
        page = admin_client.get(url).content.decode()
        assert key.prefix in page and plaintext not in page


def test_revoke_action_stops_the_key(admin_client, api, org):
    issued = issue_api_key(organization=org, name="ci")
    assert works(api, issued.plaintext)
    response = run_action(admin_client, CHANGELIST, "revoke_keys", [issued.api_key.pk])
    assert "Revoked 1 key(s)." in messages_of(response)
    assert not works(api, issued.plaintext)


def test_rotate_asks_for_a_grace_period_then_shows_the_new_key_once(admin_client, api, org):
    old = issue_api_key(organization=org, name="ci", scopes=["ingest"])

    page = admin_client.post(
        CHANGELIST, {"action": "rotate_keys", "_selected_action": [old.api_key.pk]}
    )
    assert page.status_code == 200 and "Grace period (hours)" in page.content.decode()
    assert not ApiKey.objects.filter(name="ci").exclude(pk=old.api_key.pk).exists()

    before = timezone.now()
    response = admin_client.post(
        CHANGELIST,
        {
            "action": "rotate_keys",
            "_selected_action": [old.api_key.pk],
            "apply": "1",
            "grace_hours": "2",
        },
    )
    [plaintext] = shown_keys(response)
    new = ApiKey.objects.get(prefix=plaintext[:12])
    assert (new.name, new.scopes, new.organization_id) == ("ci", ["ingest"], org.pk)
    old.api_key.refresh_from_db()
    assert (
        before + timedelta(hours=2) <= old.api_key.expires_at <= timezone.now() + timedelta(hours=2)
    )
    assert works(api, old.plaintext) and works(api, plaintext)

    ApiKey.objects.filter(pk=old.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert not works(api, old.plaintext)
    assert works(api, plaintext)
    assert plaintext not in admin_client.get(CHANGELIST).content.decode()


def test_rotate_with_no_grace_stops_the_old_key_now(admin_client, api, org):
    old = issue_api_key(organization=org, name="ci")
    response = admin_client.post(
        CHANGELIST,
        {
            "action": "rotate_keys",
            "_selected_action": [old.api_key.pk],
            "apply": "1",
            "grace_hours": "0",
        },
    )
    [plaintext] = shown_keys(response)
    assert not works(api, old.plaintext)
    assert works(api, plaintext)


def test_rotate_rejects_a_negative_grace_and_revoked_keys(admin_client, org):
    old = issue_api_key(organization=org, name="ci")
    response = admin_client.post(
        CHANGELIST,
        {
            "action": "rotate_keys",
            "_selected_action": [old.api_key.pk],
            "apply": "1",
            "grace_hours": "-1",
        },
    )
    assert "greater than or equal to 0" in response.content.decode()
    assert ApiKey.objects.count() == 1
    ApiKey.objects.update(revoked_at=timezone.now())
    response = run_action(admin_client, CHANGELIST, "rotate_keys", [old.api_key.pk])
    assert "Revoked or expired keys cannot be rotated." in messages_of(response)


def test_webhook_secret_is_set_in_a_form_and_never_shown_back(admin_client, org):
    secret = "whsec-very-secret-value-42"
    response = admin_client.post(
        "/admin/periscope/webhooksecret/add/",
        {"organization": org.pk, "provider": "github", "secret": secret},
    )
    assert response.status_code == 302
    stored = WebhookSecret.objects.get()
    assert stored.secret == secret
    listing = admin_client.get("/admin/periscope/webhooksecret/").content.decode()
    page = admin_client.get(f"/admin/periscope/webhooksecret/{stored.pk}/change/").content.decode()
    for html in (listing, page):
        assert secret not in html and secret[:-2] not in html
        assert "••••••••42" in html
    # Saving without a new secret keeps the old one.
    admin_client.post(
        f"/admin/periscope/webhooksecret/{stored.pk}/change/",
        {"organization": org.pk, "provider": "github", "secret": ""},
    )
    stored.refresh_from_db()
    assert stored.secret == secret


def test_rotating_again_never_extends_or_revives_the_old_key(admin_client, api, org):
    old = issue_api_key(organization=org, name="ci")
    soon = timezone.now() + timedelta(minutes=5)
    ApiKey.objects.filter(pk=old.api_key.pk).update(expires_at=soon)
    admin_client.post(
        CHANGELIST,
        {
            "action": "rotate_keys",
            "_selected_action": [old.api_key.pk],
            "apply": "1",
            "grace_hours": "48",
        },
    )
    old.api_key.refresh_from_db()
    assert old.api_key.expires_at == soon
    ApiKey.objects.filter(pk=old.api_key.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = run_action(admin_client, CHANGELIST, "rotate_keys", [old.api_key.pk])
    assert "Revoked or expired keys cannot be rotated." in messages_of(response)
    assert not works(api, old.plaintext)
