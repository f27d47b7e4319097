"""The provider's endpoints: from its discovery document, overridden by explicit settings."""

import logging
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.cache import cache

logger = logging.getLogger(__name__)

# A provider's endpoints change rarely; its signing keys are fetched on each sign-in.
DISCOVERY_CACHE_SECONDS = 3600


class ProviderUnavailable(Exception):
    """The discovery document could not be read: the provider is down or misnamed."""


@dataclass(frozen=True)
class ProviderEndpoints:
    issuer: str
    authorization: str
    token: str
    userinfo: str
    jwks: str


def _discovery_document(issuer: str) -> dict:
    key = f"periscope:oidc-discovery:{issuer}"
    document = cache.get(key)
    if document is not None:
        return document
    url = f"{issuer}/.well-known/openid-configuration"
    try:
        response = requests.get(url, timeout=settings.OIDC_TIMEOUT)
        response.raise_for_status()
        document = response.json()
    except (requests.RequestException, ValueError) as error:
        logger.warning("OpenID Connect discovery failed at %s: %s", url, error)
        raise ProviderUnavailable(f"{url}: {error}") from error
    if not isinstance(document, dict):
        raise ProviderUnavailable(f"{url}: not a JSON object")
    # The issuer in the document must be the one configured (OpenID Connect Discovery 4.3):
    # otherwise a redirected or hijacked URL could name endpoints of another provider.
    if document.get("issuer", "").rstrip("/") != issuer:
        raise ProviderUnavailable(
            f"{url} names issuer {document.get('issuer')!r}, not the configured {issuer!r}"
        )
    cache.set(key, document, DISCOVERY_CACHE_SECONDS)
    return document


def provider_endpoints() -> ProviderEndpoints:
    """Explicit settings win; anything left empty comes from discovery when an issuer is set."""
    issuer = settings.OIDC_ISSUER
    explicit = {
        "authorization": settings.OIDC_OP_AUTHORIZATION_ENDPOINT,
        "token": settings.OIDC_OP_TOKEN_ENDPOINT,
        "userinfo": settings.OIDC_OP_USER_ENDPOINT,
        "jwks": settings.OIDC_OP_JWKS_ENDPOINT,
    }
    if issuer and not all(explicit.values()):
        document = _discovery_document(issuer)
        discovered = {
            "authorization": document.get("authorization_endpoint", ""),
            "token": document.get("token_endpoint", ""),
            "userinfo": document.get("userinfo_endpoint", ""),
            "jwks": document.get("jwks_uri", ""),
        }
        explicit = {name: value or discovered[name] for name, value in explicit.items()}
    if not explicit["authorization"] or not explicit["token"]:
        raise ProviderUnavailable("no authorization or token endpoint")
    return ProviderEndpoints(issuer=issuer, **explicit)
