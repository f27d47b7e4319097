"""OpenAPI descriptions of the ingest endpoints: each format's body and its vendor error shape.

Documentation only: the adapters in deployments/formats validate by hand (these serializers
never run); the fuzz tests (tests/test_fuzz.py) check that real answers match.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

S = serializers


def text(**kwargs) -> serializers.RegexField:
    """A required string: not empty, not only spaces."""
    return serializers.RegexField(r"\S", **kwargs)


PERISCOPE_ERROR = inline_serializer("PeriscopeError", {"error": S.CharField()})
DEVGRID_ERROR = inline_serializer(
    "DevGridError",
    {
        "error": S.CharField(),
        "field": S.CharField(required=False, help_text="the offending field"),
        "index": S.IntegerField(required=False, help_text="the invalid event of the batch"),
    },
)
HIVEL_ERROR = inline_serializer(
    "HivelError",
    {
        "message": S.CharField(help_text='"Validation failed", or the HTTP reason'),
        "error": S.CharField(),
    },
)
FORGE_ERROR = inline_serializer(
    "ForgeError", {"error": S.CharField(), "field": S.CharField(required=False)}
)
OPSLEVEL_ERROR = inline_serializer(
    "OpsLevelError",
    {
        "errors": S.ListField(
            child=inline_serializer(
                "OpsLevelErrorItem",
                {"status": S.IntegerField(), "title": S.CharField(), "detail": S.CharField()},
            )
        )
    },
)

_WHY = {
    400: "Invalid body (the message names the field)",
    401: "Missing or invalid API key, or a key without the ingest scope",
    403: "organizationSlug is not the key's organization",
    404: "No deploy integration at this URL (unknown or revoked key)",
    413: "Body over the size limit (or a DevGrid batch over 15 events)",
    429: "Rate limit of the key reached; see Retry-After",
    503: "Database unavailable; retry (see Retry-After)",
}


def errors(shape, *codes: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(shape, description=_WHY[code]) for code in codes}


WEBHOOK_STATUSES = ["pending", "in_progress", "success", "failure", "cancelled", "rolled_back"]
_STATUS = S.ChoiceField(choices=WEBHOOK_STATUSES)

PERISCOPE_IN = inline_serializer(
    "PeriscopeDeploymentIn",
    {
        "deploymentId": text(max_length=255, help_text="idempotency key"),
        "commitSha": S.RegexField(r"^[a-fA-F0-9]{5,40}$"),
        "environment": text(max_length=100),
        "status": _STATUS,
        "startedAt": S.DateTimeField(),
        "completedAt": S.DateTimeField(
            required=False, allow_null=True, help_text="required for a terminal status"
        ),
        "service": S.CharField(required=False, max_length=500),
        "previousCommitSha": S.CharField(required=False),
        "branch": S.CharField(required=False),
        "triggeredBy": S.CharField(required=False),
        "pipelineName": S.CharField(required=False),
        "pipelineUrl": S.CharField(required=False, max_length=2000),
        "organizationSlug": S.CharField(required=False, max_length=64),
        "metadata": S.DictField(child=S.CharField(), required=False),
        "rawPayload": S.DictField(required=False, allow_null=True),
    },
)
PERISCOPE_OUT = inline_serializer(
    "DeploymentRecorded",
    {
        "action": S.ChoiceField(choices=["created", "updated"]),
        "deploymentId": S.IntegerField(),
        "linkedPRs": S.IntegerField(),
        "stale": S.BooleanField(
            required=False,
            help_text="Present (true) when the delivery was older than the "
            "stored state and changed nothing",
        ),
        "detail": S.CharField(required=False),
    },
)
PERISCOPE_RESPONSES = {
    201: PERISCOPE_OUT,
    200: PERISCOPE_OUT,
    **errors(PERISCOPE_ERROR, 400, 401, 403, 413, 429, 503),
}

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

HIVEL_IN = inline_serializer(
    "HivelDeploymentIn",
    {
        "deployment_id": text(help_text="a string or a number; the idempotency key"),
        "event_type": S.ChoiceField(choices=["completed"]),
        "status": text(max_length=64),
        "start_time": S.DateTimeField(help_text="or epoch seconds"),
        "end_time": S.DateTimeField(help_text="or epoch seconds; not before start_time"),
        "repo_url": text(max_length=500),
        "environment": text(max_length=100),
        "branch": text(),
        "commit_hash": S.CharField(required=False),
        "pr_number": S.CharField(required=False),
        "pr_numbers": S.ListField(child=S.IntegerField(), required=False),
        "build_number": S.CharField(required=False),
        "image": S.CharField(required=False),
        "logs_url": S.CharField(required=False),
    },
)
HIVEL_RESPONSES = {
    200: inline_serializer(
        "HivelDeploymentStored",
        {
            "message": S.CharField(),
            "deployment_id": S.JSONField(help_text="as sent"),
            "success": S.BooleanField(),
        },
    ),
    **errors(HIVEL_ERROR, 400, 401, 413, 429, 503),
}

OPSLEVEL_IN = inline_serializer(
    "OpsLevelDeployIn",
    {
        "service": text(max_length=500),
        "description": text(),
        "deployed_at": S.DateTimeField(help_text="or epoch seconds"),
        "deployer": inline_serializer(
            "OpsLevelDeployer",
            {
                "id": S.CharField(required=False),
                "email": S.CharField(required=False, help_text="email or name is required"),
                "name": S.CharField(required=False),
            },
        ),
        "environment": S.CharField(required=False, max_length=100),
        "status": S.CharField(required=False, help_text="default success"),
        "dedup_id": S.CharField(required=False, help_text="first one wins"),
        "deploy_number": S.CharField(required=False),
        "deploy_url": S.CharField(required=False, max_length=2000),
        "commit": inline_serializer(
            "OpsLevelCommit",
            {
                "sha": S.CharField(required=False),
                "message": S.CharField(required=False),
                "branch": S.CharField(required=False),
                "date": S.DateTimeField(required=False),
                "authoring_date": S.DateTimeField(required=False),
                "committer_name": S.CharField(required=False),
                "committer_email": S.CharField(required=False),
                "author_name": S.CharField(required=False),
                "author_email": S.CharField(required=False),
            },
            required=False,
        ),
    },
)
OPSLEVEL_RESPONSES = {
    202: inline_serializer(
        "OpsLevelDeployAccepted",
        {
            "result": S.ChoiceField(choices=["ok", "no_service_found", "duplicate_deploy"]),
            "message": S.CharField(required=False),
        },
    ),
    **errors(OPSLEVEL_ERROR, 400, 404, 413, 429, 503),
}

RECORD_ACTIONS = ["created", "updated"]
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

FORGE_RESPONSES = {
    **{
        code: OpenApiResponse(OpenApiTypes.OBJECT, description="Handled; see README")
        for code in (200, 201, 202)
    },
    **errors(FORGE_ERROR, 400, 413, 503),
    401: OpenApiResponse(
        FORGE_ERROR,
        description="Bad signature or token, no secret set, or an unknown organization",
    ),
    404: OpenApiResponse(FORGE_ERROR, description="Not an organization slug"),
}
