"""Reading the single sign-on settings (parsed from the environment in settings.py)."""

import json

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def parse_organization_map(text: str, *, name: str) -> dict[str, list[str]]:
    """`{"claim value": "org-slug"}` or `{"claim value": ["slug", ...]}` → value → slugs.

    JSON, because claim values are free text: Active Directory groups hold commas and equals
    signs, Keycloak's hold slashes.
    """
    if not text.strip():
        return {}
    try:
        raw = json.loads(text)
    except ValueError as error:
        raise ImproperlyConfigured(f"{name} must be a JSON object: {error}") from None
    if not isinstance(raw, dict):
        raise ImproperlyConfigured(f'{name} must be a JSON object like {{"group": "org-slug"}}')
    mapping = {}
    for value, slugs in raw.items():
        slugs = [slugs] if isinstance(slugs, str) else slugs
        if not isinstance(slugs, list) or not all(isinstance(s, str) and s for s in slugs):
            raise ImproperlyConfigured(
                f"{name}: {value!r} must map to an organization slug or a list of slugs"
            )
        mapping[value] = slugs
    return mapping


def sso_enabled() -> bool:
    """A client id and a way to find the provider (an issuer, or the endpoints themselves)."""
    endpoints = settings.OIDC_OP_AUTHORIZATION_ENDPOINT and settings.OIDC_OP_TOKEN_ENDPOINT
    return bool(settings.OIDC_RP_CLIENT_ID and (settings.OIDC_ISSUER or endpoints))


def password_login_enabled() -> bool:
    return settings.PASSWORD_LOGIN
