"""POST /api/webhooks/pagerduty/<org-slug>: PagerDuty v3 webhooks, authenticated by the v1
HMAC signature with the organization's secret."""

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from deployments.incidents.recorder import record_incident
from deployments.ingest.http import read_json_object
from deployments.ingest.pagerduty import adapter
from deployments.ingest.pagerduty.schema import PAGERDUTY_ACTIONS, PAGERDUTY_IN
from deployments.ingest.schema import PERISCOPE_ERROR, errors
from deployments.models import Incident
from periscope.models import Organization
from periscope.negotiation import FormatWords
from periscope.secrets import webhook_secret


class PagerDutyWebhook(FormatWords, APIView):
    """POST /api/webhooks/pagerduty/<org-slug>, authenticated by the v1 HMAC signature."""

    authentication_classes = []
    permission_classes = [AllowAny]

    @extend_schema(
        summary="PagerDuty v3 webhook",
        request={"application/json": PAGERDUTY_IN},
        responses={
            200: inline_serializer(
                "PagerDutyAccepted",
                {
                    "action": serializers.ChoiceField(choices=PAGERDUTY_ACTIONS),
                    "incidentId": serializers.IntegerField(required=False),
                },
            ),
            **errors(PERISCOPE_ERROR, 400, 413, 503),
            401: OpenApiResponse(
                PERISCOPE_ERROR,
                description="Missing or invalid X-PagerDuty-Signature (also for an unknown"
                " organization or one without a PagerDuty secret)",
            ),
            404: OpenApiResponse(PERISCOPE_ERROR, description="Not an organization slug"),
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
        if not secret or not adapter.signature_valid(secret=secret, body=body, header=header):
            return Response({"error": "Invalid X-PagerDuty-Signature"}, status=401)
        payload, body = read_json_object(request)
        kind = adapter.event_type(payload)
        if kind not in adapter.HANDLED:
            return Response({"action": "ignored"})
        fields = adapter.parse(payload)
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
        return Response(adapter.render(result))
