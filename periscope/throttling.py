"""DRF throttle: per API key and per endpoint class (ingest, read), shared across app servers."""

import math

from django.conf import settings
from django.http import JsonResponse
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from periscope.permissions import HasIngestScope, request_key
from periscope.ratelimit import hit, parse_rate

INGEST = "ingest"
READ = "read"


def endpoint_class(view) -> str:
    """Views that require the ingest scope are ingest endpoints; every other API view reads.

    A view may say otherwise with a `rate_limit_class` attribute.
    """
    declared = getattr(view, "rate_limit_class", None)
    if declared:
        return declared
    permissions = getattr(view, "permission_classes", ())
    if any(isinstance(p, type) and issubclass(p, HasIngestScope) for p in permissions):
        return INGEST
    return READ


class ApiKeyRateThrottle(BaseThrottle):
    """Over `settings.RATE_LIMITS[class]` → 429 with Retry-After (seconds to the next window).

    Requests without a valid key never get here: permissions answer 401 first.
    """

    def __init__(self):
        self.retry_after = 0.0

    def allow_request(self, request, view) -> bool:
        api_key = request_key(request)
        if api_key is None:
            return True
        name = endpoint_class(view)
        rate = parse_rate(settings.RATE_LIMITS.get(name))
        if rate is None:
            return True
        decision = hit(name=f"{name}:{api_key.pk}", rate=rate)
        self.retry_after = decision.retry_after
        return decision.allowed

    def wait(self) -> int:
        return max(1, math.ceil(self.retry_after))


def over_limit(*, name: str, identity: str) -> float | None:
    """Count one request of `identity` against `settings.RATE_LIMITS[name]`; the seconds to
    wait when over the limit, else None. For plain Django views (DRF views use the throttle)."""
    rate = parse_rate(settings.RATE_LIMITS.get(name))
    if rate is None:
        return None
    decision = hit(name=f"{name}:{identity}", rate=rate)
    return None if decision.allowed else decision.retry_after


def throttled_response(retry_after: float) -> JsonResponse:
    """429 in the plain `{"error": …}` shape with Retry-After, worded as DRF words it."""
    wait = max(1, math.ceil(retry_after))
    response = JsonResponse({"error": str(Throttled(wait=wait).detail)}, status=429)
    response["Retry-After"] = str(wait)
    return response
