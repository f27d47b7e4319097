"""Failed authentications, limited per client address (API keys, the OpsLevel URL, the admin login).

Every failure (a presented key that is unknown, revoked, expired or malformed; an OpsLevel
URL with no key behind it; a wrong admin password) is one hit on the shared rate-limit store
(`periscope.ratelimit`: the database or Redis, shared by every app server). Past
`settings.AUTH_FAILURE_RATE` failures in a window, the address is answered 429 with
Retry-After, for good credentials too, until the window ends: otherwise a 200 among the 429s
would still tell a guesser which key worked.

Whether an address is blocked is remembered by each process once it has seen the shared count
go over the limit (on that address's next failure there), so a successful request costs no
extra read of the store. Across N app server processes an address gets at most N more
failures per window than the limit before every process refuses it.
"""

import time

from django.conf import settings

from periscope.client_address import client_address
from periscope.ratelimit import hit, parse_rate

API_KEYS = "auth-failures"
ADMIN_LOGIN = "login-failures"
_MEMO_LIMIT = 10_000
_blocked: dict[str, float] = {}


def _key(request, kind: str) -> str:
    return f"{kind}:{client_address(request)}"


def blocked_for(*, request, kind: str = API_KEYS) -> float | None:
    """Seconds until the request's address may try again, or None when it is not blocked."""
    key = _key(request, kind)
    until = _blocked.get(key)
    if until is None:
        return None
    remaining = until - time.time()
    if remaining <= 0:
        _blocked.pop(key, None)
        return None
    return remaining


def record_failure(*, request, kind: str = API_KEYS) -> float | None:
    """Count one failed authentication of the request's address on the shared store; the
    seconds to wait when that puts the address over the limit, else None."""
    rate = parse_rate(settings.AUTH_FAILURE_RATE)
    if rate is None:
        return None
    key = _key(request, kind)
    decision = hit(name=key, rate=rate)
    if decision.allowed:
        return None
    if len(_blocked) >= _MEMO_LIMIT:
        now = time.time()
        for stale in [k for k, until in _blocked.items() if until <= now]:
            del _blocked[stale]
        if len(_blocked) >= _MEMO_LIMIT:
            _blocked.clear()  # an address spray: forget, the shared count still holds
    _blocked[key] = time.time() + decision.retry_after
    return decision.retry_after


def forget_all() -> None:
    """Tests: every process-local block is dropped (the shared counts are the store's)."""
    _blocked.clear()
