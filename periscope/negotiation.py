"""Content negotiation for webhook endpoints: they answer JSON, whatever the client accepts."""

from rest_framework.negotiation import BaseContentNegotiation


class JsonOnly(BaseContentNegotiation):
    """Pipelines send any Accept header (or none) and read JSON back, so a webhook never
    answers 406 and never spends a request parsing Accept: the view's first renderer and
    parser (JSON) serve every request."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
