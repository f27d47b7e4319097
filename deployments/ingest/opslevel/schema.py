"""OpsLevel's deploy body and answers, for OpenAPI (documentation only)."""

from drf_spectacular.utils import inline_serializer
from rest_framework import serializers as S

from deployments.ingest.schema import errors, text

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
