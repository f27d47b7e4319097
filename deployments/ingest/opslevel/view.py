"""POST /integrations/deploy/<key>: OpsLevel's custom deploys; the key is the URL, so there
is no authentication header."""

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound

from deployments.ingest.opslevel import adapter
from deployments.ingest.opslevel.schema import OPSLEVEL_IN, OPSLEVEL_RESPONSES
from deployments.ingest.views import KeyWebhookView
from periscope.keys import find_active_key, touch_last_used
from periscope.models import Organization, Scope
from periscope.throttling import INGEST


class OpsLevelDeploy(KeyWebhookView):
    authentication_classes = []
    permission_classes = []
    rate_limit_class = INGEST
    adapter = adapter

    def perform_authentication(self, request):
        """The key is found here, before throttling, so the per-key rate limit counts it."""
        api_key = find_active_key(plaintext=self.kwargs.get("key", ""))
        request.user = AnonymousUser()
        request.auth = api_key if api_key is not None and api_key.has_scope(Scope.INGEST) else None

    def organization(self, request) -> Organization:
        api_key = request.auth
        if api_key is None:
            raise NotFound("No deploy integration at this URL")
        touch_last_used(api_key=api_key)
        return api_key.organization

    @extend_schema(
        summary="Record a deploy (OpsLevel format; the key is the URL; docs/integrations/opslevel.md)",
        request={"application/json": OPSLEVEL_IN},
        responses=OPSLEVEL_RESPONSES,
    )
    def post(self, request, key: str):
        return self.record(request)
