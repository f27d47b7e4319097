"""Ingest endpoints: read the request, hand it to a format adapter and the recorder."""

from rest_framework.response import Response
from rest_framework.views import APIView

from deployments.formats import periscope
from deployments.http import read_json_object
from deployments.recording import record_deployment
from periscope.authentication import BearerKeyAuthentication
from periscope.permissions import HasIngestScope


class IngestView(APIView):
    """Base for webhook endpoints: key auth with the ingest scope, errors in the format's shape."""

    permission_classes = [HasIngestScope]
    format_module = periscope

    def render_error(self, *, exc: Exception, status_code: int, message: str) -> dict:
        return self.format_module.render_error(exc=exc, status_code=status_code, message=message)


class PeriscopeDeploymentWebhook(IngestView):
    authentication_classes = [BearerKeyAuthentication]
    format_module = periscope

    def post(self, request):
        payload, body = read_json_object(request)
        organization = request.auth.organization
        event = periscope.parse(payload, organization=organization)
        result = record_deployment(organization=organization, event=event, body=body)
        status_code, data = periscope.render(result)
        return Response(data, status=status_code)
