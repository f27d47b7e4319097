"""Incident ingest: the Periscope incident API and PagerDuty v3 webhooks (thin views)."""

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
        payload, _body = read_json_object(request)
        fields = incident_periscope.parse(payload)
        result = record_incident(organization=request.auth.organization, **fields)
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
                doc.PERISCOPE_ERROR,
                description="Missing or invalid X-PagerDuty-Signature (also for an unknown"
                " organization or one without a PagerDuty secret)",
            ),
            404: OpenApiResponse(doc.PERISCOPE_ERROR, description="Not an organization slug"),
        },
    )
    def post(self, request, org_slug: str):
        organization = Organization.objects.filter(slug=org_slug).first()
        secret = (
            webhook_secret(organization=organization, provider="pagerduty")
            if organization
            else None
        )
        header = request.headers.get("X-PagerDuty-Signature", "")
        body = request.body
        # 401 directly: with no authenticator DRF would turn AuthenticationFailed into 403.
        if not header:
            return Response({"error": "Missing X-PagerDuty-Signature"}, status=401)
        # Unknown organization, no secret set, or a wrong signature all look the same (as on
        # the GitHub and GitLab endpoints): the answer does not say which slugs exist.
        if not secret or not pagerduty.signature_valid(secret=secret, body=body, header=header):
            return Response({"error": "Invalid X-PagerDuty-Signature"}, status=401)
        payload, _text = read_json_object(request)
        kind = pagerduty.event_type(payload)
        if kind not in pagerduty.HANDLED:
            return Response({"action": "ignored"})
        fields = pagerduty.parse(payload)
        occurred_at = fields.pop("occurred_at")
        existing = (
            Incident.objects.filter(organization=organization, external_id=fields["external_id"])
            .values("started_at", "environment")
            .first()
        )
        if existing is not None:
            fields["started_at"] = existing["started_at"]
        resolved_at = None
        if kind == "incident.resolved":
            resolved_at = max(occurred_at, fields["started_at"])
        result = record_incident(
            organization=organization,
            source="pagerduty",
            resolved_at=resolved_at,
            environment=existing["environment"] if existing else "",
            **fields,
        )
        return Response(
            {"action": "created" if result.created else "updated", "incidentId": result.incident_id}
        )
