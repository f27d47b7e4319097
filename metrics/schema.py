"""OpenAPI: the API-key security scheme, and the schema/docs views (open, served offline)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension, OpenApiViewExtension
from drf_spectacular.utils import extend_schema, inline_serializer
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework import serializers
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


class XApiKeyScheme(OpenApiAuthenticationExtension):
    """DevGrid's header."""

    target_class = "periscope.authentication.XApiKeyAuthentication"
    name = "xApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "x-api-key"}


class XApiTokenScheme(OpenApiAuthenticationExtension):
    """Hivel's header."""

    target_class = "periscope.authentication.XApiTokenAuthentication"
    name = "xApiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "apiKey", "in": "header", "name": "X-API-Token"}


class SchemaView(SpectacularAPIView):
    authentication_classes = []
    permission_classes = [AllowAny]


class DocsView(SpectacularSwaggerView):
    """Swagger UI; its JavaScript and CSS come from drf-spectacular-sidecar's static files."""

    authentication_classes = []
    permission_classes = [AllowAny]


class PeriscopeWebhookSchema(OpenApiViewExtension):
    """The deployment webhook reads its body by hand; describe it for the schema."""

    target_class = "deployments.views.PeriscopeDeploymentWebhook"

    def view_replacement(self):
        result = inline_serializer(
            "DeploymentRecorded",
            {
                "action": serializers.ChoiceField(choices=["created", "updated"]),
                "deploymentId": serializers.IntegerField(),
                "linkedPRs": serializers.IntegerField(),
            },
        )

        class Fixed(self.target_class):
            @extend_schema(
                summary="Record a deployment (Periscope format; see README)",
                request={"application/json": {"type": "object"}},
                responses={201: result, 200: result},
            )
            def post(self, request, *args, **kwargs):
                return super().post(request, *args, **kwargs)

        return Fixed
