"""Content negotiation for webhook endpoints: they answer JSON, whatever the client accepts."""

from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer


class JsonOnly(BaseContentNegotiation):
    """Pipelines send any Accept header (or none) and read JSON back, so a webhook never
    answers 406 and never spends a request parsing Accept: the view's first renderer and
    parser (JSON) serve every request."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class FormatWords:
    """A webhook format answers in its own words, written by its adapter: plain JSON, never
    renamed by the read API's camelCase renderer (a vendor's snake_case keys stay theirs)."""

    content_negotiation_class = JsonOnly
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]
