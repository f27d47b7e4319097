"""API keys: shown once, stored only as a hash, with a visible prefix."""

from datetime import timedelta

from django.db import connection
from django.utils import timezone

from periscope.keys import (
    find_active_key,
    hash_key,
    issue_api_key,
    revoke_api_key,
    rotate_api_key,
    touch_last_used,
)
from periscope.models import ApiKey


def all_database_text() -> str:
    """Every value of every table, as text: where a leaked secret would show up."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            chunks.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(chunks)


def test_plaintext_is_nowhere_in_the_database(org):
    issued = issue_api_key(organization=org, name="ci")
    text = all_database_text()
    assert issued.plaintext not in text
    assert issued.plaintext[len(issued.api_key.prefix) :] not in text
    assert hash_key(issued.plaintext) in text


def test_key_shape_and_prefix(org):
    issued = issue_api_key(organization=org, name="ci")
    assert issued.plaintext.startswith("psk_") and len(issued.plaintext) == 44
    assert issued.api_key.prefix == issued.plaintext[:12]
    assert str(issued.api_key) == f"ci ({issued.plaintext[:12]}…)"


def test_find_active_key_only_matches_the_exact_key(org):
    issued = issue_api_key(organization=org, name="ci")
    assert find_active_key(plaintext=issued.plaintext) == issued.api_key
    last = issued.plaintext[-1]
    altered = issued.plaintext[:-1] + ("1" if last == "0" else "0")
    assert find_active_key(plaintext=altered) is None
    assert find_active_key(plaintext=issued.api_key.prefix) is None
    assert find_active_key(plaintext="") is None


def test_revoked_key_is_not_found(org):
    issued = issue_api_key(organization=org, name="ci")
    assert revoke_api_key(api_key=issued.api_key) is True
    assert revoke_api_key(api_key=issued.api_key) is False
    assert find_active_key(plaintext=issued.plaintext) is None


def test_rotation_keeps_the_old_key_for_the_grace_period(org):
    old = issue_api_key(organization=org, name="ci", scopes=["ingest"])
    new = rotate_api_key(api_key=old.api_key, grace=timedelta(hours=1))
    assert (new.api_key.name, new.api_key.scopes) == ("ci", ["ingest"])
    assert find_active_key(plaintext=old.plaintext) == old.api_key
    ApiKey.objects.filter(pk=old.api_key.pk).update(expires_at=timezone.now())
    assert find_active_key(plaintext=old.plaintext) is None
    assert find_active_key(plaintext=new.plaintext) == new.api_key


def test_last_used_is_written_at_most_once_a_minute(org, django_assert_num_queries):
    issued = issue_api_key(organization=org, name="ci")
    now = timezone.now()
    touch_last_used(api_key=issued.api_key, now=now)
    with django_assert_num_queries(0):
        touch_last_used(api_key=issued.api_key, now=now + timedelta(seconds=30))
    touch_last_used(api_key=issued.api_key, now=now + timedelta(seconds=61))
    issued.api_key.refresh_from_db()
    assert issued.api_key.last_used_at == now + timedelta(seconds=61)
