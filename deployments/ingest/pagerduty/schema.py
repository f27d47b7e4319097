"""PagerDuty's v3 webhook body, for OpenAPI (documentation only)."""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers as S

from deployments.ingest.schema import text

PAGERDUTY_ACTIONS = ["created", "updated", "duplicate", "stale", "ignored"]

PAGERDUTY_IN = inline_serializer(
    "PagerDutyWebhookIn",
    {
        "event": inline_serializer(
            "PagerDutyEvent",
            {
                "event_type": text(help_text="incident.triggered and .resolved are used"),
                "occurred_at": S.DateTimeField(),
                "data": inline_serializer(
                    "PagerDutyIncident",
                    {
                        "id": text(),
                        "title": S.CharField(required=False),
                        "created_at": S.DateTimeField(required=False),
                        "html_url": S.CharField(required=False),
                        "urgency": S.CharField(required=False),
                        "service": inline_serializer(
                            "PagerDutyService", {"summary": S.CharField()}, required=False
                        ),
                    },
                ),
            },
        )
    },
)
