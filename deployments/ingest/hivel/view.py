"""POST /api/hooks/v2/deployment: Hivel's deployment events (X-API-Token)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema

from deployments.ingest.hivel import adapter
from deployments.ingest.hivel.schema import HIVEL_IN, HIVEL_RESPONSES
from deployments.ingest.views import KeyWebhookView
from periscope.authentication import HeaderKeyAuthentication


class XApiTokenAuthentication(HeaderKeyAuthentication):
    """Hivel's `X-API-Token` header."""

    header = "HTTP_X_API_TOKEN"
    display_name = "X-API-Token"


class XApiTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    """Hivel's header."""

    target_class = "deployments.ingest.hivel.view.XApiTokenAuthentication"
    name = "xApiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Token"}


class HivelDeployment(KeyWebhookView):
    authentication_classes = [XApiTokenAuthentication]
    adapter = adapter

    @extend_schema(
        summary="Record a completed deployment (Hivel format; docs/integrations/hivel.md)",
        request={"application/json": HIVEL_IN},
        responses=HIVEL_RESPONSES,
    )
    def post(self, request):
        return self.record(request)
