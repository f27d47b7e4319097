"""Hivel's deployment body and answers, for OpenAPI (documentation only)."""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers as S

from deployments.ingest.schema import errors, text

HIVEL_ERROR = inline_serializer(
    "HivelError",
    {
        "message": S.CharField(help_text='"Validation failed", or the HTTP reason'),
        "error": S.CharField(),
    },
)

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
