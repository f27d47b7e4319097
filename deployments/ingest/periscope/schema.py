"""The Periscope deployment webhook's body and answers, for OpenAPI (documentation only)."""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers as S

from deployments.ingest.schema import PERISCOPE_ERROR, errors, text

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
