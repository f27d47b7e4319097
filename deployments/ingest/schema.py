"""OpenAPI pieces every ingest endpoint shares: the error responses and their reasons, the
Periscope and forge error shapes. Each integration's own bodies are in its folder's schema.py.

Documentation only: the adapters validate by hand (these serializers never run); the fuzz
tests (tests/test_fuzz.py) check that real answers match.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

S = serializers


def text(**kwargs) -> serializers.RegexField:
    """A required string: not empty, not only spaces."""
    return serializers.RegexField(r"\S", **kwargs)


PERISCOPE_ERROR = inline_serializer("PeriscopeError", {"error": S.CharField()})

FORGE_ERROR = inline_serializer(
    "ForgeError", {"error": S.CharField(), "field": S.CharField(required=False)}
)

_WHY = {
    400: "Invalid body (the message names the field)",
    401: "Missing or invalid API key",
    403: "The key lacks the ingest scope (or organizationSlug is not the key's organization)",
    404: "No deploy integration at this URL (unknown or revoked key)",
    413: "Body over the size limit (or a DevGrid batch over 15 events)",
    429: "Rate limit of the key, or of failed authentications from this address, reached;"
    " see Retry-After",
    503: "Database unavailable; retry (see Retry-After)",
}


def errors(shape, *codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(shape, description=_WHY[code]) for code in codes}


FORGE_RESPONSES = {
    **{
        code: OpenApiResponse(
            OpenApiTypes.OBJECT,
            description="Handled; see docs/integrations/github.md and gitlab.md",
        )
        for code in (200, 201, 202)
    },
    **errors(FORGE_ERROR, 400, 413, 503),
    401: OpenApiResponse(
        FORGE_ERROR,
        description="Bad signature or token, no secret set, or an unknown organization",
    ),
    404: OpenApiResponse(FORGE_ERROR, description="Not an organization slug"),
}

# The actions a recorded delivery reports (created, or updated in place).
RECORD_ACTIONS = ["created", "updated"]
