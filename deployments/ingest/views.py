"""The two base views every integration's view is made of: one for webhooks authenticated by
an organization's API key, one for webhooks signed with an organization's secret. Each reads
the request, hands it to its integration's adapter and the recorder, and answers in the
vendor's words; errors take the adapter's shape."""

import json

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from deployments.ingest.contract import DeploymentFormat, ForgeFormat, Received
from deployments.ingest.http import read_json_object
from deployments.ingest.schema import FORGE_RESPONSES
from deployments.models import ForgeDelivery
from deployments.recording.recorder import record_deployment, record_deployments
from periscope.errors import InvalidPayload, PayloadTooLarge
from periscope.models import Organization
from periscope.negotiation import FormatWords
from periscope.permissions import HasIngestScope
from periscope.secrets import webhook_secret


class KeyWebhookView(FormatWords, APIView):
    """A deployment format authenticated by an API key with the ingest scope; subclasses set
    `adapter` (a DeploymentFormat) and the authentication class for the vendor's header."""

    permission_classes = [HasIngestScope]
    adapter: DeploymentFormat

    def render_error(self, *, exc: Exception, status_code: int, message: str) -> dict:
        return self.adapter.render_error(exc=exc, status_code=status_code, message=message)

    def organization(self, request) -> Organization:
        return request.auth.organization

    def record(self, request) -> Response:
        organization = self.organization(request)
        payload, body = read_json_object(request)
        received = Received(organization=organization, received_at=timezone.now())
        events = self.adapter.parse(payload, received=received)
        if len(events) == 1:
            results = [
                record_deployment(
                    organization=received.organization,
                    event=events[0],
                    body=body,
                    received_at=received.received_at,
                    cap_new_names=True,
                )
            ]
        else:
            # A batch is stored atomically; each event's delivery is its own JSON.
            bodies = [json.dumps(e.raw_payload, ensure_ascii=False) for e in events]
            results = record_deployments(
                organization=received.organization,
                events=list(zip(events, bodies, strict=True)),
                received_at=received.received_at,
                cap_new_names=True,
            )
        status_code, data = self.adapter.render(payload=payload, events=events, results=results)
        return Response(data, status=status_code)


class SignatureRejected(APIException):
    # Not AuthenticationFailed: DRF turns that into 403 when a view has no authenticators.
    status_code = 401
    default_detail = "Webhook signature verification failed"


class SignedWebhookView(FormatWords, APIView):
    """A forge webhook: the organization is in the URL, the organization's secret for the
    provider signs the body, and every accepted delivery is logged (ForgeDelivery), once per
    delivery id. Subclasses set the headers, `verify` and `adapter` (a ForgeFormat)."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    source = ""
    provider = ""
    event_header = ""
    delivery_headers: tuple[str, ...] = ()
    adapter: ForgeFormat

    def render_error(self, *, exc: Exception, status_code: int, message: str) -> dict:
        body = {"error": message}
        if isinstance(exc, InvalidPayload) and exc.field:
            body["field"] = exc.field
        return body

    def verify(self, request, secret: str, raw: bytes) -> bool:
        raise NotImplementedError

    def secret(self, organization: Organization | None) -> str | None:
        if organization is None:
            return None
        return webhook_secret(organization=organization, provider=self.provider)

    @extend_schema(
        summary="A forge webhook delivery, signed with the organization's secret",
        request={"application/json": {"type": "object"}},
        responses=FORGE_RESPONSES,
    )
    def post(self, request, org_slug: str):
        organization = Organization.objects.filter(slug=org_slug).first()
        secret = self.secret(organization)
        try:
            raw = request.body
        except RequestDataTooBig:
            raise PayloadTooLarge() from None
        # Unknown organization, no secret set, or a wrong signature all look the same.
        if not secret or not self.verify(request, secret, raw):
            raise SignatureRejected()
        payload, body = read_json_object(request)
        event = request.headers.get(self.event_header, "").strip()
        if not event:
            raise InvalidPayload(f"{self.event_header} header is required", field=self.event_header)
        delivery_id = ""
        for header in self.delivery_headers:
            delivery_id = delivery_id or request.headers.get(header, "").strip()[:255]
        if delivery_id and self._delivered(organization, delivery_id):
            return Response({"duplicate": True, "delivery": delivery_id}, status=200)
        try:
            with transaction.atomic():
                status_code, data, outcome = self.adapter.handle(
                    organization=organization, event=event, payload=payload, body=body
                )
                ForgeDelivery.objects.create(
                    organization=organization,
                    source=self.source,
                    delivery_id=delivery_id,
                    event=event[:100],
                    outcome=outcome,
                    received_at=timezone.now(),
                    body=body,
                )
        except IntegrityError:
            # The same delivery id won a race with this one: it is a redelivery.
            if not self._delivered(organization, delivery_id):
                raise
            return Response({"duplicate": True, "delivery": delivery_id}, status=200)
        return Response(data, status=status_code)

    def _delivered(self, organization: Organization, delivery_id: str) -> bool:
        return ForgeDelivery.objects.filter(
            organization=organization, source=self.source, delivery_id=delivery_id
        ).exists()
