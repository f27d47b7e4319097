"""Every error is JSON. Formats with their own error shape render it through the view."""

import logging

from django.http import JsonResponse
from rest_framework import status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger("periscope.errors")


class InvalidPayload(APIException):
    """A payload that fails validation; `field` names the offending field."""

    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, message: str, *, field: str = "", status_code: int | None = None):
        super().__init__(detail=message)
        self.message = message
        self.field = field
        if status_code is not None:
            self.status_code = status_code


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Request body is too large"


class ServiceUnavailable(APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "The database is unavailable; retry later"


def _message(exc: Exception, response: Response) -> str:
    if isinstance(exc, ValidationError) and isinstance(exc.detail, dict):
        parts = []
        for field, errors in exc.detail.items():
            errors = errors if isinstance(errors, list) else [errors]
            parts.append(f"{field}: {' '.join(str(e) for e in errors)}")
        return "; ".join(parts)
    detail = getattr(exc, "detail", None)
    if isinstance(detail, list):
        return " ".join(str(d) for d in detail)
    return str(detail) if detail is not None else str(exc)


def json_exception_handler(exc: Exception, context: dict) -> Response | None:
    from django.db import DatabaseError, InterfaceError, OperationalError

    if isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        exc = ServiceUnavailable()
    response = exception_handler(exc, context)
    if response is None:
        if isinstance(exc, DatabaseError):
            logger.exception("database error")
            exc = ServiceUnavailable()
            response = Response(status=exc.status_code)
        else:
            return None
    view = context.get("view")
    render = getattr(view, "render_error", None)
    if render is not None:
        body = render(exc=exc, status_code=response.status_code, message=_message(exc, response))
    else:
        body = {"error": _message(exc, response)}
    response.data = body
    if isinstance(exc, ServiceUnavailable):
        response["Retry-After"] = "5"
    return response


def json_not_found(request, exception=None) -> JsonResponse:
    return JsonResponse({"error": "Not found"}, status=404)


def json_server_error(request) -> JsonResponse:
    return JsonResponse({"error": "Internal server error"}, status=500)


def json_bad_request(request, exception=None) -> JsonResponse:
    return JsonResponse({"error": "Bad request"}, status=400)
