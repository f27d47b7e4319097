"""DRF authentication by organization API key: the Bearer header, and the base class for the
header a vendor format uses (each integration names its own, in its view module)."""

import logging
from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed

from periscope.keys import find_active_key, touch_last_used, visible_prefix
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
        logger.info("rejected API key prefix=%s", visible_prefix(presented))
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
