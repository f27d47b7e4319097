"""Per-organization webhook secrets and signature checks for GitHub, GitLab and PagerDuty."""

import hashlib
import hmac

from periscope.models import Organization, Provider, WebhookSecret


def set_webhook_secret(*, organization: Organization, provider: str, secret: str) -> None:
    if provider not in Provider.values:
        raise ValueError(f"provider must be one of {Provider.values}")
    if not secret:
        raise ValueError("secret must not be empty")
    WebhookSecret.objects.update_or_create(
        organization=organization, provider=provider, defaults={"secret": secret}
    )


def webhook_secret(*, organization: Organization, provider: str) -> str | None:
    return (
        WebhookSecret.objects.filter(organization=organization, provider=provider)
        .values_list("secret", flat=True)
        .first()
    )


def hmac_sha256_hex(*, secret: str, body: bytes) -> str:
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signatures_match(expected: str, presented: str) -> bool:
    """Constant-time comparison of two signature strings."""
    return hmac.compare_digest(expected.encode("utf-8"), presented.encode("utf-8"))


def masked(secret: str) -> str:
    """What the admin shows of a secret: its length and last two characters at most."""
    if len(secret) <= 8:
        return "•" * len(secret)
    return "•" * 8 + secret[-2:]
