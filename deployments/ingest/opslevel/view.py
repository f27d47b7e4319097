"""POST /integrations/deploy/<key>: OpsLevel's custom deploys; the key is the URL, so there
is no authentication header."""

import math

from django.contrib.auth.models import AnonymousUser
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied, Throttled

from deployments.ingest.opslevel import adapter
from deployments.ingest.opslevel.schema import OPSLEVEL_IN, OPSLEVEL_RESPONSES
from deployments.ingest.views import KeyWebhookView
from periscope import auth_failures
from periscope.authentication import refuse_blocked_address
from periscope.keys import find_active_key, touch_last_used
from periscope.models import Organization, Scope
from periscope.permissions import missing_scope_message
from periscope.throttling import INGEST


class OpsLevelDeploy(KeyWebhookView):
    authentication_classes = []
    permission_classes = []
    rate_limit_class = INGEST
    adapter = adapter

    def perform_authentication(self, request):
        """The key is found here, before throttling, so the per-key rate limit counts it.

        A URL with no key behind it is a failed authentication of the client's address."""
        request.user = AnonymousUser()
        refuse_blocked_address(request)
        request.auth = find_active_key(plaintext=self.kwargs.get("key", ""))
        if request.auth is None:
            wait = auth_failures.record_failure(request=request)
            if wait is not None:
                raise Throttled(wait=max(1, math.ceil(wait)))

    def organization(self, request) -> Organization:
        api_key = request.auth
        if api_key is None:
            raise NotFound("No deploy integration at this URL")
        if not api_key.has_scope(Scope.INGEST):
            raise PermissionDenied(missing_scope_message(Scope.INGEST))
        touch_last_used(api_key=api_key)
        return api_key.organization

    @extend_schema(
        summary="Record a deploy (OpsLevel format; the key is the URL; docs/integrations/opslevel.md)",
        request={"application/json": OPSLEVEL_IN},
        responses=OPSLEVEL_RESPONSES,
    )
    def post(self, request, key: str):
        return self.record(request)
