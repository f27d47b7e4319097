"""Failed authentications: logged with the public format prefix only; hashes compared exactly."""

import json
import logging

import pytest

from periscope import keys
from periscope.keys import find_active_key, hash_key, issue_api_key, revoke_api_key
from periscope.models import ApiKey
from tests.factories import make_key

URL = "/api/webhooks/deployments"
PAYLOAD = {
    "deploymentId": "log-1",
    "commitSha": "a1b2c3d4e5f6",
    "environment": "production",
    "status": "success",
    "startedAt": "2024-01-15T10:30:00Z",
    "completedAt": "2024-01-15T10:35:00Z",
}
# Well-formed but never issued: the auth path hashes it and finds nothing.
UNKNOWN_KEY = "psk_" + "Zz9" * 13 + "Q"


def logged_text(caplog) -> str:
    """Every captured record, formatted and raw, where a leaked key would show up."""
    parts = []
    for record in caplog.records:
        parts.append(record.getMessage())
        parts.append(repr(record.args))
        parts.append(str(record.__dict__))
    return "\n".join(parts)


def post(api, **headers):
    return api.post(URL, data=json.dumps(PAYLOAD), content_type="application/json", **headers)


@pytest.fixture
def revoked_key(org):
    issued = issue_api_key(organization=org, name="old")
    revoke_api_key(api_key=issued.api_key)
    return issued.plaintext


@pytest.mark.parametrize("which", ["unknown", "revoked", "read-only"])
def test_rejected_key_is_logged_by_prefix_only(api, org, revoked_key, caplog, which):
    presented = {
        "unknown": UNKNOWN_KEY,
        "revoked": revoked_key,
        "read-only": make_key(org, scopes=("read",)),
    }[which]
    caplog.set_level(logging.DEBUG)

    response = post(api, HTTP_AUTHORIZATION=f"Bearer {presented}")

    assert response.status_code == (403 if which == "read-only" else 401)
    assert presented not in response.content.decode()
    text = logged_text(caplog)
    assert presented not in text
    assert presented[4:] not in text  # not even the secret part alone
    assert presented[4:12] not in text  # nor the 8 characters the stored prefix shows
    assert hash_key(presented) not in text
    if which != "read-only":  # the key itself was fine; the scope was not
        assert "rejected API key prefix=psk_" in text


def test_something_that_is_not_a_key_is_not_logged(api, db, caplog):
    caplog.set_level(logging.DEBUG)
    secret = "my-database-password-pasted-by-mistake"

    response = post(api, HTTP_AUTHORIZATION=f"Bearer {secret}")

    assert response.status_code == 401
    text = logged_text(caplog)
    assert secret not in text
    assert "prefix=(not a key)" in text


def test_a_near_match_from_the_database_is_refused(org, monkeypatch):
    """A case-insensitive collation could return a row whose hash differs only in case."""
    issued = issue_api_key(organization=org, name="ci")
    ApiKey.objects.filter(pk=issued.api_key.pk).update(
        secret_hash=hash_key(issued.plaintext).upper()
    )

    class CaseInsensitiveCollation:
        def select_related(self, *fields):
            return self

        def filter(self, *, secret_hash):
            return ApiKey.objects.filter(secret_hash__iexact=secret_hash)

    monkeypatch.setattr(keys, "active_keys", CaseInsensitiveCollation)

    assert find_active_key(plaintext=issued.plaintext) is None
    ApiKey.objects.filter(pk=issued.api_key.pk).update(secret_hash=hash_key(issued.plaintext))
    assert find_active_key(plaintext=issued.plaintext) == issued.api_key
