"""POST /api/webhooks/deployments: the Periscope deployment webhook (Authorization: Bearer)."""

from drf_spectacular.utils import extend_schema

from deployments.ingest.periscope import adapter
from deployments.ingest.periscope.schema import PERISCOPE_IN, PERISCOPE_RESPONSES
from deployments.ingest.views import KeyWebhookView
from periscope.authentication import BearerKeyAuthentication


class PeriscopeDeploymentWebhook(KeyWebhookView):
    authentication_classes = [BearerKeyAuthentication]
    adapter = adapter

    @extend_schema(
        summary="Record a deployment (Periscope format; docs/integrations/periscope.md)",
        request={"application/json": PERISCOPE_IN},
        responses=PERISCOPE_RESPONSES,
    )
    def post(self, request):
        return self.record(request)
