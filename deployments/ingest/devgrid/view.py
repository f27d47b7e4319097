"""POST /events: DevGrid's events, a batch of 1-15 stored atomically (x-api-key)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import extend_schema

from deployments.ingest.devgrid import adapter
from deployments.ingest.devgrid.schema import DEVGRID_IN, DEVGRID_RESPONSES
from deployments.ingest.views import KeyWebhookView
from periscope.authentication import HeaderKeyAuthentication


class XApiKeyAuthentication(HeaderKeyAuthentication):
    """DevGrid's `x-api-key` header."""

    header = "HTTP_X_API_KEY"
    display_name = "x-api-key"


class XApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """DevGrid's header."""

    target_class = "deployments.ingest.devgrid.view.XApiKeyAuthentication"
    name = "xApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "x-api-key"}


class DevGridEvents(KeyWebhookView):
    authentication_classes = [XApiKeyAuthentication]
    adapter = adapter

    @extend_schema(
        summary="Record deployment events (DevGrid format; docs/integrations/devgrid.md)",
        request={"application/json": DEVGRID_IN},
        responses=DEVGRID_RESPONSES,
    )
    def post(self, request):
        return self.record(request)
