"""OpenAPI: the API-key security scheme, and the schema/docs views (open, served offline)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "periscope.authentication.BearerKeyAuthentication"
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An organization API key (psk_…) with the ingest or read scope",
        }


class SchemaView(SpectacularAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]


class DocsView(SpectacularSwaggerView):
    """Swagger UI; its JavaScript and CSS come from drf-spectacular-sidecar's static files."""

    authentication_classes = []
    permission_classes = [AllowAny]
