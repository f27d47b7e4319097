"""Ingest endpoints: read the request, hand it to a format adapter and the recorder."""

import json
import math

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound, PermissionDenied, Throttled
from rest_framework.response import Response
from rest_framework.views import APIView

from deployments import schema as doc
from deployments.formats import devgrid, hivel, opslevel, periscope
from deployments.http import read_json_object
from deployments.recording import record_deployment, record_deployments
from periscope import auth_failures
from periscope.authentication import (
    BearerKeyAuthentication,
    XApiKeyAuthentication,
    XApiTokenAuthentication,
    refuse_blocked_address,
)
from periscope.keys import find_active_key, touch_last_used
from periscope.models import Scope
from periscope.negotiation import JsonOnly
from periscope.permissions import HasIngestScope, missing_scope_message
from periscope.throttling import INGEST


class IngestView(APIView):
    """Base for webhook endpoints: key auth with the ingest scope, errors in the format's shape."""

    permission_classes = [HasIngestScope]
    content_negotiation_class = JsonOnly
    format_module = periscope

    def render_error(self, *, exc: Exception, status_code: int, message: str) -> dict:
        return self.format_module.render_error(exc=exc, status_code=status_code, message=message)


class PeriscopeDeploymentWebhook(IngestView):
    authentication_classes = [BearerKeyAuthentication]
    format_module = periscope

    @extend_schema(
        summary="Record a deployment (Periscope format; see README)",
        request={"application/json": doc.PERISCOPE_IN},
        responses=doc.PERISCOPE_RESPONSES,
    )
    def post(self, request):
        payload, body = read_json_object(request)
        organization = request.auth.organization
        event = periscope.parse(payload, organization=organization)
        result = record_deployment(organization=organization, event=event, body=body)
        status_code, data = periscope.render(result)
        return Response(data, status=status_code)


class DevGridEvents(IngestView):
    """POST /events: a batch of 1-15 events, stored atomically."""

    authentication_classes = [XApiKeyAuthentication]
    format_module = devgrid

    @extend_schema(
        summary="Record deployment events (DevGrid format; see README)",
        request={"application/json": doc.DEVGRID_IN},
        responses=doc.DEVGRID_RESPONSES,
    )
    def post(self, request):
        payload, body = read_json_object(request)
        organization = request.auth.organization
        received_at = timezone.now()
        events = devgrid.parse(payload, received_at=received_at)
        # One event: its delivery is the body as sent; several: each event's own JSON.
        bodies = (
            [body]
            if len(events) == 1
            else [json.dumps(e.raw_payload, ensure_ascii=False) for e in events]
        )
        results = record_deployments(
            organization=organization,
            events=list(zip(events, bodies, strict=True)),
            received_at=received_at,
        )
        status_code, data = devgrid.render(events, results)
        return Response(data, status=status_code)


class HivelDeployment(IngestView):
    """POST /api/hooks/v2/deployment."""

    authentication_classes = [XApiTokenAuthentication]
    format_module = hivel

    @extend_schema(
        summary="Record a completed deployment (Hivel format; see README)",
        request={"application/json": doc.HIVEL_IN},
        responses=doc.HIVEL_RESPONSES,
    )
    def post(self, request):
        payload, body = read_json_object(request)
        organization = request.auth.organization
        event = hivel.parse(payload)
        result = record_deployment(organization=organization, event=event, body=body)
        status_code, data = hivel.render(result, payload=payload)
        return Response(data, status=status_code)


class OpsLevelDeploy(IngestView):
    """POST /integrations/deploy/<key>: the URL is the secret, so there is no auth header."""

    authentication_classes = []
    permission_classes = []
    rate_limit_class = INGEST
    format_module = opslevel

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

    @extend_schema(
        summary="Record a deploy (OpsLevel format; the key is the URL; see README)",
        request={"application/json": doc.OPSLEVEL_IN},
        responses=doc.OPSLEVEL_RESPONSES,
    )
    def post(self, request, key: str):
        api_key = request.auth
        if api_key is None:
            raise NotFound("No deploy integration at this URL")
        if not api_key.has_scope(Scope.INGEST):
            raise PermissionDenied(missing_scope_message(Scope.INGEST))
        touch_last_used(api_key=api_key)
        payload, body = read_json_object(request)
        event = opslevel.parse(payload)
        result = record_deployment(organization=api_key.organization, event=event, body=body)
        status_code, data = opslevel.render(result)
        return Response(data, status=status_code)
