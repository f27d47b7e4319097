"""Request size limits for every URL, answered in JSON before anything reads the body."""

import logging
from io import BytesIO

from django.conf import settings
from django.http import JsonResponse
from django.urls import Resolver404, resolve

from periscope.errors import ServiceUnavailable, database_unavailable

logger = logging.getLogger("periscope.errors")

_CHUNK = 64 * 1024


def _too_large() -> JsonResponse:
    return JsonResponse(
        {"error": f"Request body exceeds {settings.MAX_BODY_BYTES} bytes"}, status=413
    )


def _read_at_most(stream, limit: int) -> bytes:
    """Up to `limit` bytes of a stream that ends where the body ends."""
    parts, size = [], 0
    while size < limit:
        chunk = stream.read(min(_CHUNK, limit - size))
        if not chunk:
            break
        parts.append(chunk)
        size += len(chunk)
    return b"".join(parts)


def _renders_own_errors(request) -> bool:
    """Webhook views answer in their vendor's error shape (OpsLevel's {"errors": [...]},
    Hivel's {"message", "error"}): they see the oversized Content-Length and raise 413."""
    try:
        match = resolve(request.path_info)
    except Resolver404:
        return False
    return hasattr(getattr(match.func, "cls", None), "render_error")


class RequestBodyLimitMiddleware:
    """Bodies over settings.MAX_BODY_BYTES → 413 JSON, with or without a Content-Length.

    Django would otherwise answer an oversized admin form with an HTML 400, and under WSGI it
    silently reads a chunked body (no Content-Length) as empty. Chunked bodies are read here,
    up to the limit, when the server has de-chunked them (gunicorn sets
    `wsgi.input_terminated`); a server that cannot gets 411 instead of a silently empty body.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.MAX_BODY_BYTES
        declared = request.META.get("CONTENT_LENGTH")
        if declared not in (None, ""):
            try:
                length = int(declared)
            except ValueError:
                length = -1
            if length < 0:
                return JsonResponse({"error": "Invalid Content-Length header"}, status=400)
            if length > limit:
                request.body_too_large = True
        elif "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            if not request.META.get("wsgi.input_terminated"):
                return JsonResponse(
                    {"error": "A Content-Length header is required for a request body"},
                    status=411,
                )
            body = _read_at_most(request.META["wsgi.input"], limit + 1)
            if len(body) > limit:
                request.body_too_large = True
                body = b""
                request.META["CONTENT_LENGTH"] = str(limit + 1)
            else:
                request.META["CONTENT_LENGTH"] = str(len(body))
            request._stream = BytesIO(body)
        if getattr(request, "body_too_large", False) and not _renders_own_errors(request):
            return _too_large()
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """Outside DRF (admin, plain views) a lost database answers 503 JSON too, not a 500 page;
    any other database error is Django's 500 (see periscope.errors.database_unavailable).

    DRF views get the same answer from periscope.errors.json_exception_handler.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if database_unavailable(exception):
            logger.warning("database unavailable: %s", exception)
            response = JsonResponse({"error": ServiceUnavailable.default_detail}, status=503)
            response["Retry-After"] = "5"
            return response
        return None


# Where machines call: the API and the vendor formats' URLs outside /api/.
_MACHINE_PREFIXES = ("/api/", "/events/", "/integrations/")
_MESSAGES = {400: "Bad request", 404: "Not found", 500: "Internal server error"}


def _machine_url(path: str) -> bool:
    return path == "/events" or path.startswith(_MACHINE_PREFIXES)


class ApiJsonErrorsMiddleware:
    """An error on an API URL is JSON whatever produced it. With DEBUG on, Django answers an
    unknown route (/api/deployments/abc), a view's Http404 and an uncaught exception with
    its HTML debug pages instead of the JSON handlers in periscope/urls.py; a client parsing
    the body would fail on them. Django has already logged the error (with its traceback)
    when this runs; only the body is replaced."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code >= 400
            and _machine_url(request.path)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            status = response.status_code
            message = _MESSAGES.get(status, response.reason_phrase)
            replaced = JsonResponse({"error": message}, status=status)
            for header in ("Allow", "Retry-After", "WWW-Authenticate"):
                if header in response:
                    replaced[header] = response[header]
            return replaced
        return response
