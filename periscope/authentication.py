"""DRF authentication by organization API key, in the header each vendor format uses."""

import logging
from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from periscope.keys import find_active_key, loggable_form, touch_last_used
from periscope.models import ApiKey, Organization

logger = logging.getLogger("periscope.auth")

INVALID_KEY_MESSAGE = "Invalid or missing API key"


@dataclass(frozen=True)
class KeyPrincipal:
    """request.user for key-authenticated requests: the organization acting through a key."""

    api_key: ApiKey
    is_authenticated: bool = True
    is_staff: bool = False

    @property
    def organization(self) -> Organization:
        return self.api_key.organization


def authenticate_key(presented: str) -> tuple[KeyPrincipal, ApiKey]:
    api_key = find_active_key(plaintext=presented)
    if api_key is None:
        logger.info("rejected API key prefix=%s", loggable_form(presented))
        raise AuthenticationFailed(INVALID_KEY_MESSAGE)
    touch_last_used(api_key=api_key)
    return KeyPrincipal(api_key=api_key), api_key


class BearerKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer psk_…` (Periscope format and the read API)."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            logger.info("rejected malformed Authorization header")
            raise AuthenticationFailed(INVALID_KEY_MESSAGE)
        return authenticate_key(presented.strip())

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="periscope"'


class HeaderKeyAuthentication(BaseAuthentication):
    """The key alone in a named header; subclasses set `header` (a META key)."""

    header = ""
    display_name = ""

    def authenticate(self, request):
        presented = request.META.get(self.header, "").strip()
        if not presented:
            return None
        return authenticate_key(presented)

    def authenticate_header(self, request) -> str:
        return f'{self.display_name} realm="periscope"'


class XApiKeyAuthentication(HeaderKeyAuthentication):
    """DevGrid's `x-api-key` header."""

    header = "HTTP_X_API_KEY"
    display_name = "x-api-key"


class XApiTokenAuthentication(HeaderKeyAuthentication):
    """Hivel's `X-API-Token` header."""

    header = "HTTP_X_API_TOKEN"
    display_name = "X-API-Token"
