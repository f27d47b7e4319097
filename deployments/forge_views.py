"""GitHub and GitLab webhook endpoints: the organization is in the URL, the per-organization
secret authenticates the delivery, and every accepted delivery is logged (ForgeDelivery)."""

from django.core.exceptions import RequestDataTooBig
from django.db import IntegrityError, transaction
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import APIException
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from deployments import schema as doc
from deployments.forges import github, gitlab
from deployments.http import read_json_object
from deployments.models import ForgeDelivery, Source
from periscope.errors import InvalidPayload, PayloadTooLarge
from periscope.models import Organization, Provider
from periscope.negotiation import JsonOnly
from periscope.secrets import hmac_sha256_hex, signatures_match, webhook_secret

_REJECTED = "Webhook signature verification failed"


class SignatureRejected(APIException):
    # Not AuthenticationFailed: DRF turns that into 403 when a view has no authenticators.
    status_code = 401
    default_detail = _REJECTED


class ForgeWebhook(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    content_negotiation_class = JsonOnly
    source = ""
    provider = ""
    event_header = ""
    delivery_headers: tuple[str, ...] = ()
    adapter = None

    def render_error(self, *, exc: Exception, status_code: int, message: str) -> dict:
        body = {"error": message}
        if isinstance(exc, InvalidPayload) and exc.field:
            body["field"] = exc.field
        return body

    def verify(self, request, secret: str, raw: bytes) -> bool:
        raise NotImplementedError

    @extend_schema(
        summary="A GitHub or GitLab webhook delivery, signed with the organization's secret",
        request={"application/json": {"type": "object"}},
        responses=doc.FORGE_RESPONSES,
    )
    def post(self, request, org_slug: str):
        organization = Organization.objects.filter(slug=org_slug).first()
        secret = (
            webhook_secret(organization=organization, provider=self.provider)
            if organization
            else None
        )
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
        if (
            delivery_id
            and ForgeDelivery.objects.filter(
                organization=organization, source=self.source, delivery_id=delivery_id
            ).exists()
        ):
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
            if not ForgeDelivery.objects.filter(
                organization=organization, source=self.source, delivery_id=delivery_id
            ).exists():
                raise
            return Response({"duplicate": True, "delivery": delivery_id}, status=200)
        return Response(data, status=status_code)


class GitHubWebhook(ForgeWebhook):
    source = Source.GITHUB
    provider = Provider.GITHUB
    event_header = "X-GitHub-Event"
    delivery_headers = ("X-GitHub-Delivery",)
    adapter = github

    def verify(self, request, secret: str, raw: bytes) -> bool:
        presented = request.headers.get("X-Hub-Signature-256", "")
        expected = "sha256=" + hmac_sha256_hex(secret=secret, body=raw)
        return bool(presented) and signatures_match(expected, presented.strip())


class GitLabWebhook(ForgeWebhook):
    source = Source.GITLAB
    provider = Provider.GITLAB
    event_header = "X-Gitlab-Event"
    delivery_headers = ("Idempotency-Key", "X-Gitlab-Event-UUID")
    adapter = gitlab

    def verify(self, request, secret: str, raw: bytes) -> bool:
        presented = request.headers.get("X-Gitlab-Token", "")
        return bool(presented) and signatures_match(secret, presented)
