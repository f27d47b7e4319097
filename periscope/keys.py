"""Creating, finding and revoking API keys.

A key is "psk_" + 40 random base62 characters. It has ~238 bits of entropy, so a plain
SHA-256 is a safe, fast fingerprint (as GitHub and Sentry do); no slow password hash needed.
"""

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from periscope import rows
from periscope.models import ApiKey, Organization, Scope

KEY_PREFIX = "psk_"
_ALPHABET = string.ascii_letters + string.digits
_SECRET_LENGTH = 40
VISIBLE_PREFIX_LENGTH = len(KEY_PREFIX) + 8
DEFAULT_SCOPES = (Scope.INGEST.value, Scope.READ.value)


@dataclass(frozen=True)
class IssuedKey:
    api_key: ApiKey
    plaintext: str


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode("utf-8")).hexdigest()


_KEY_SHAPE = re.compile(rf"{KEY_PREFIX}[A-Za-z0-9]{{{_SECRET_LENGTH}}}")


def looks_like_key(candidate: str) -> bool:
    return _KEY_SHAPE.fullmatch(candidate) is not None


def visible_prefix(candidate: str) -> str:
    """What may be logged or shown of a presented key: never more than the prefix."""
    return candidate[:VISIBLE_PREFIX_LENGTH] if candidate.startswith(KEY_PREFIX) else "(not a key)"


def issue_api_key(
    *, organization: Organization, name: str, scopes: tuple[str, ...] | list[str] = DEFAULT_SCOPES
) -> IssuedKey:
    valid = {s.value for s in Scope}
    unknown = set(scopes) - valid
    if unknown or not scopes:
        raise ValueError(f"scopes must be a non-empty subset of {sorted(valid)}")
    plaintext = KEY_PREFIX + "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_LENGTH))
    api_key = ApiKey.objects.create(
        organization=organization,
        name=name,
        prefix=plaintext[:VISIBLE_PREFIX_LENGTH],
        secret_hash=hash_key(plaintext),
        scopes=sorted(set(scopes)),
    )
    return IssuedKey(api_key=api_key, plaintext=plaintext)


def active_keys(*, now: datetime | None = None):
    now = now or timezone.now()
    return ApiKey.objects.filter(revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def is_active(api_key: ApiKey, *, now: datetime | None = None) -> bool:
    """The same rule as active_keys(), for a key already in hand."""
    now = now or timezone.now()
    return api_key.revoked_at is None and (api_key.expires_at is None or api_key.expires_at > now)


def find_active_key(*, plaintext: str) -> ApiKey | None:
    """The active key whose hash matches, with its organization, or None.

    The lookup is by the SHA-256 of the presented key through a unique index, so the
    comparison never touches the secret itself and takes the same time for any wrong key.
    Revocation and expiry are checked on the fetched row: every request runs this, and the
    plain unique-index lookup costs less to build than the active_keys() query.
    """
    if not looks_like_key(plaintext):
        return None
    digest = hash_key(plaintext)
    api_key = _key_by_hash(digest)
    if api_key is None:
        return None
    # Belt and braces: a database collation that compared case- or accent-insensitively could
    # return a near match, so the stored hash must equal ours, compared in constant time.
    if not hmac.compare_digest(api_key.secret_hash, digest):
        return None
    return api_key if is_active(api_key) else None


_KEY_BY_HASH = rows.Statement(
    "SELECT {key_columns}, {organization_columns} FROM {key} k"
    " JOIN {organization} o ON o.id = k.organization_id WHERE k.secret_hash = %s",
    key_columns=rows.Columns(ApiKey, alias="k"),
    organization_columns=rows.Columns(Organization, alias="o"),
    key=ApiKey,
    organization=Organization,
)


def _key_by_hash(digest: str) -> ApiKey | None:
    """The key with this hash and its organization, in one statement.

    The same as `ApiKey.objects.select_related("organization").get(secret_hash=digest)`,
    written out because every authenticated request runs it (see periscope.rows)."""
    # The request's first statement: it is also the connection's health check.
    row = rows.first_read(_KEY_BY_HASH, [digest])
    if row is None:
        return None
    split = len(ApiKey._meta.concrete_fields)
    api_key = rows.instance(ApiKey, row[:split])
    api_key.organization = rows.instance(Organization, row[split:])
    return api_key


def touch_last_used(*, api_key: ApiKey, now: datetime | None = None) -> None:
    """Record use at most once per resolution window, so most requests write nothing."""
    now = now or timezone.now()
    window = timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_SECONDS)
    if api_key.last_used_at and now - api_key.last_used_at < window:
        return
    ApiKey.objects.filter(pk=api_key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - window)
    ).update(last_used_at=now)
    api_key.last_used_at = now


def revoke_api_key(*, api_key: ApiKey, now: datetime | None = None) -> bool:
    """Revoke a key; returns False if it was already revoked."""
    now = now or timezone.now()
    updated = ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
    api_key.refresh_from_db(fields=["revoked_at"])
    return bool(updated)


def rotate_api_key(*, api_key: ApiKey, grace: timedelta, now: datetime | None = None) -> IssuedKey:
    """Issue a new key with the same name and scopes; the old one stops after `grace`."""
    now = now or timezone.now()
    issued = issue_api_key(
        organization=api_key.organization, name=api_key.name, scopes=api_key.scopes
    )
    # Rotating a key already in its grace period never extends (or revives) it.
    expires_at = now + grace
    if api_key.expires_at is not None:
        expires_at = min(expires_at, api_key.expires_at)
    ApiKey.objects.filter(pk=api_key.pk).update(expires_at=expires_at)
    api_key.refresh_from_db(fields=["expires_at"])
    return issued
