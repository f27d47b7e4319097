"""DRF authentication by organization API key: the Bearer header, and the base class for the
header a vendor format uses (each integration names its own, in its view module)."""

import logging
import math
from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed, Throttled

from periscope import auth_failures
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


def refuse_blocked_address(request) -> None:
    """429 before any key is looked at when this address failed too often (see auth_failures)."""
    wait = auth_failures.blocked_for(request=request)
    if wait is not None:
        raise Throttled(wait=max(1, math.ceil(wait)))


def failed(request) -> AuthenticationFailed | Throttled:
    """The exception for a failed authentication, counted against the client's address: 401,
    or 429 once the address is over the limit."""
    wait = auth_failures.record_failure(request=request)
    if wait is not None:
        return Throttled(wait=max(1, math.ceil(wait)))
    return AuthenticationFailed(INVALID_KEY_MESSAGE)


def authenticate_key(presented: str, *, request) -> tuple[KeyPrincipal, ApiKey]:
    refuse_blocked_address(request)
    api_key = find_active_key(plaintext=presented)
    if api_key is None:
        logger.info("rejected API key prefix=%s", loggable_form(presented))
        raise failed(request)
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
            refuse_blocked_address(request)
            logger.info("rejected malformed Authorization header")
            raise failed(request)
        return authenticate_key(presented.strip(), request=request)

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
        return authenticate_key(presented, request=request)

    def authenticate_header(self, request) -> str:
        return f'{self.display_name} realm="periscope"'
