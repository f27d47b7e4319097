"""DevGrid's events body and answers, for OpenAPI (documentation only)."""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers as S

from deployments.ingest.schema import errors, text

DEVGRID_ERROR = inline_serializer(
    "DevGridError",
    {
        "error": S.CharField(),
        "field": S.CharField(required=False, help_text="the offending field"),
        "index": S.IntegerField(required=False, help_text="the invalid event of the batch"),
    },
)

_DEVGRID_ATTRIBUTES = inline_serializer(
    "DevGridAttributes",
    {
        "env": text(max_length=100),
        "status": text(max_length=64),
        "build_id": S.CharField(required=False, help_text="with entityId and env: the key"),
        "build_commit_sha": S.CharField(required=False),
        "change_id": S.CharField(required=False),
        "build_url": S.CharField(required=False, max_length=2000),
        "description": S.CharField(required=False),
        "initiator": S.CharField(required=False),
    },
)

_DEVGRID_EVENT = inline_serializer(
    "DevGridEvent",
    {
        "type": S.ChoiceField(choices=["event-deploy"]),
        "entityId": text(max_length=500, help_text="the service"),
        "timestamp": S.DateTimeField(required=False, help_text="or epoch seconds; default now"),
        "attributes": _DEVGRID_ATTRIBUTES,
    },
)

DEVGRID_IN = inline_serializer(
    "DevGridEventsIn",
    {"events": S.ListField(child=_DEVGRID_EVENT, min_length=1, max_length=15)},
)

DEVGRID_RESPONSES = {
    201: inline_serializer(
        "DevGridEventsStored",
        {
            "events": S.ListField(
                child=inline_serializer(
                    "DevGridEventStored",
                    {
                        "id": S.IntegerField(),
                        "timestamp": S.DateTimeField(),
                        "type": S.CharField(),
                        "entityId": S.CharField(),
                        "attributes": S.DictField(),
                    },
                )
            )
        },
    ),
    **errors(DEVGRID_ERROR, 400, 401, 413, 429, 503),
}
