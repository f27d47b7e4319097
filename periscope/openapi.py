"""OpenAPI: the API-key security scheme, the schema/docs views (open, served offline) and the
error responses every endpoint can give. Vendor headers' schemes are in their integration's
view module."""

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


_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}
_WHY = {
    "400": "Invalid parameter or body (the message names it)",
    "401": "Missing or invalid API key",
    "403": "The API key lacks the scope this endpoint needs",
    "404": "Not found in the key's organization",
    "413": "Body over the size limit",
    "429": "Rate limit of the key reached; see Retry-After",
    "503": "Database unavailable; retry (see Retry-After)",
}


def _error_codes(method: str, operation: dict) -> set[str]:
    codes = {"503"}
    keyed = any(requirement for requirement in operation.get("security", []))
    if keyed:
        codes |= {"401", "429"} | ({"403"} if method == "get" else set())
    if method in ("post", "put", "patch"):
        codes |= {"400", "413"}
    parameters = operation.get("parameters", [])
    if any(p.get("in") == "query" for p in parameters):
        codes.add("400")
    # An invalid pagination cursor is DRF's 404.
    if any(p.get("in") == "path" or p.get("name") == "cursor" for p in parameters):
        codes.add("404")
    return codes


def add_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: the {"error": ...} answers every API view can give.

    Operations that describe their own error responses (the vendor formats) are left alone.
    """
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = _ERROR
    for operations in result.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if any(code[0] in "45" for code in responses):
                continue
            for code in sorted(_error_codes(method, operation)):
                responses[code] = {
                    "description": _WHY[code],
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
                    },
                }
    return result
