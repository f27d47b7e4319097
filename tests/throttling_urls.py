"""URLs for tests/test_throttling.py: the real ingest webhook and a minimal read endpoint."""

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from deployments.ingest.periscope.view import PeriscopeDeploymentWebhook


class ReadProbe(APIView):
    """Stands for every read endpoint: default authentication and the read scope."""

    def get(self, request):
        return Response({"organization": request.auth.organization.slug})


urlpatterns = [
    path("api/webhooks/deployments", PeriscopeDeploymentWebhook.as_view()),
    path("api/read-probe", ReadProbe.as_view()),
]
