"""Incident ingest: the Periscope incident API and PagerDuty v3 webhooks (thin views)."""

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from deployments import schema as doc
from deployments.formats import incident_periscope, pagerduty
from deployments.http import read_json_object
from deployments.incidents import record_incident
from deployments.models import Incident
from metrics.api import IncidentList
from periscope.models import Organization
from periscope.negotiation import JsonOnly
from periscope.permissions import HasIngestScope, HasReadScope
from periscope.secrets import webhook_secret

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
            return incident_periscope.render_error(
                exc=exc, status_code=status_code, message=message
            )
        return {"error": message}

    @extend_schema(
        summary="Record or update an incident",
        request=inline_serializer(
            "IncidentIn",
            {
                "id": doc.text(),
                "title": doc.text(),
                "service": doc.text(),
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
        fields = incident_periscope.parse(payload)
        result = record_incident(organization=request.auth.organization, body=body, **fields)
        status_code, data = incident_periscope.render(result)
        return Response(data, status=status_code)


class PagerDutyWebhook(APIView):
    """POST /api/webhooks/pagerduty/<org-slug>, authenticated by the v1 HMAC signature."""

    authentication_classes = []
    permission_classes = [AllowAny]
    content_negotiation_class = JsonOnly

    @extend_schema(
        summary="PagerDuty v3 webhook",
        request={"application/json": doc.PAGERDUTY_IN},
        responses={
            200: inline_serializer(
                "PagerDutyAccepted",
                {
                    "action": serializers.ChoiceField(choices=doc.PAGERDUTY_ACTIONS),
                    "incidentId": serializers.IntegerField(required=False),
                },
            ),
            **doc.errors(doc.PERISCOPE_ERROR, 400, 413, 503),
            401: OpenApiResponse(
                doc.PERISCOPE_ERROR, description="Missing or invalid X-PagerDuty-Signature"
            ),
            404: OpenApiResponse(doc.PERISCOPE_ERROR, description="No such organization"),
        },
    )
    def post(self, request, org_slug: str):
        organization = get_object_or_404(Organization, slug=org_slug)
        secret = webhook_secret(organization=organization, provider="pagerduty")
        header = request.headers.get("X-PagerDuty-Signature", "")
        body = request.body
        # 401 directly: with no authenticator DRF would turn AuthenticationFailed into 403.
        if not secret or not header:
            return Response(
                {"error": "Missing X-PagerDuty-Signature or no PagerDuty secret set"}, status=401
            )
        if not pagerduty.signature_valid(secret=secret, body=body, header=header):
            return Response({"error": "Invalid X-PagerDuty-Signature"}, status=401)
        payload, body = read_json_object(request)
        kind = pagerduty.event_type(payload)
        if kind not in pagerduty.HANDLED:
            return Response({"action": "ignored"})
        fields = pagerduty.parse(payload)
        # The incident started when it was first reported, whatever later events say.
        started_at = (
            Incident.objects.filter(organization=organization, external_id=fields["external_id"])
            .values_list("started_at", flat=True)
            .first()
        )
        if started_at is not None:
            fields["started_at"] = started_at
        resolved_at = None
        if kind == "incident.resolved":
            resolved_at = max(fields["occurred_at"], fields["started_at"])
        result = record_incident(
            organization=organization,
            source="pagerduty",
            resolved_at=resolved_at,
            body=body,
            **fields,
        )
        return Response(pagerduty.render(result))
