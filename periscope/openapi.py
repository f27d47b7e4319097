"""OpenAPI: the API-key security scheme, the schema/docs views (open, served offline) and the
error responses every endpoint can give. Vendor headers' schemes are in their integration's
view module."""

from types import SimpleNamespace

from djangorestframework_camel_case.render import CamelCaseJSONRenderer
from drf_spectacular.contrib.djangorestframework_camel_case import camelize_serializer_fields
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
    "429": "Rate limit of the key, or of failed authentications from this address, reached;"
    " see Retry-After",
    "503": "Database unavailable; retry (see Retry-After)",
}


def _error_codes(method: str, operation: dict) -> set[str]:
    codes = {"503"}
    keyed = any(requirement for requirement in operation.get("security", []))
    if keyed:
        codes |= {"401", "403", "429"}  # 403: a key without the scope (read or ingest)
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


def _refs(node, into: set[str]) -> set[str]:
    if isinstance(node, dict):
        ref = node.get("$ref", "")
        if ref.startswith("#/components/schemas/"):
            into.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _refs(value, into)
    elif isinstance(node, list):
        for value in node:
            _refs(value, into)
    return into


def _reachable(operations: list[dict], schemas: dict) -> set[str]:
    found = _refs(operations, set())
    todo = list(found)
    while todo:
        for name in _refs(schemas.get(todo.pop(), {}), set()) - found:
            found.add(name)
            todo.append(name)
    return found


def camelize_periscope_schemas(result, generator, request, public):
    """drf-spectacular postprocessing hook: the schemas of views answering through the
    camelCase renderer get camelCase property names (drf-spectacular's own hook for
    djangorestframework-camel-case), and only those: a vendor format's schemas keep its
    vendor's field names."""
    camel_operations, other_operations = [], []
    # The generator's own (path, method, view) list, as it built result["paths"] from it.
    for path, _, method, view in generator._get_paths_and_endpoints():
        operation = result["paths"].get(path, {}).get(method.lower())
        if operation is None:
            continue
        renders_camel = any(issubclass(r, CamelCaseJSONRenderer) for r in view.renderer_classes)
        (camel_operations if renders_camel else other_operations).append(operation)
    schemas = result.get("components", {}).get("schemas", {})
    names = _reachable(camel_operations, schemas) - _reachable(other_operations, schemas)
    chosen = {
        key: component
        for key, component in generator.registry._components.items()
        if key[1] == "schemas" and key[0] in names
    }
    camelize_serializer_fields(
        result, SimpleNamespace(registry=SimpleNamespace(_components=chosen)), request, public
    )
    return result
