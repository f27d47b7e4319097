"""POST /api/incidents: record or update an incident (ingest scope). GET on the same URL
lists incidents (read scope, deployments/incidents/api.py)."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from deployments.incidents.api import IncidentList
from deployments.incidents.recorder import record_incident
from deployments.ingest.http import read_json_object
from deployments.ingest.incidents import adapter
from deployments.ingest.schema import text
from periscope.permissions import HasIngestScope, HasReadScope

_RECORDED = inline_serializer(
    "IncidentRecorded",
    {
        "action": serializers.ChoiceField(choices=["created", "updated"]),
        "incidentId": serializers.IntegerField(),
        "deploymentId": serializers.IntegerField(allow_null=True),
        "attributedBy": serializers.CharField(allow_null=True),
        "stale": serializers.BooleanField(required=False),
        "detail": serializers.CharField(required=False),
    },
)


class IncidentsEndpoint(IncidentList):
    """GET lists incidents (read scope); POST records one (ingest scope)."""

    def get_permissions(self):
        if self.request is not None and self.request.method == "POST":
            return [HasIngestScope()]
        return [HasReadScope()]

    def render_error(self, *, exc: Exception, status_code: int, message: str) -> dict:
        if self.request is not None and self.request.method == "POST":
            return adapter.render_error(exc=exc, status_code=status_code, message=message)
        return {"error": message}

    @extend_schema(
        summary="Record or update an incident",
        request=inline_serializer(
            "IncidentIn",
            {
                "id": text(),
                "title": text(),
                "service": text(),
                "environment": serializers.CharField(required=False),
                "severity": serializers.CharField(required=False),
                "startedAt": serializers.DateTimeField(),
                "resolvedAt": serializers.DateTimeField(required=False, allow_null=True),
                "url": serializers.CharField(required=False),
                "deploymentId": serializers.CharField(required=False),
                "changeId": serializers.CharField(required=False),
            },
        ),
        responses={201: _RECORDED, 200: _RECORDED},
    )
    def post(self, request):
        payload, body = read_json_object(request)
        fields = adapter.parse(payload)
        result = record_incident(organization=request.auth.organization, body=body, **fields)
        status_code, data = adapter.render(result)
        return Response(data, status=status_code)
