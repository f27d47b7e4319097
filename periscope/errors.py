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


# SQLSTATE classes of PostgreSQL errors that pass: connection exception (08), transaction
# rollback (40: deadlock, serialization), insufficient resources (53), operator intervention
# (57: shutdown, cannot connect now, statement timeout), system error (58).
_TRANSIENT_SQLSTATE_CLASSES = {"08", "40", "53", "57", "58"}
# SQLite: busy or locked (another writer), cannot open, I/O error, disk full.
_TRANSIENT_SQLITE = (
    "SQLITE_BUSY",
    "SQLITE_LOCKED",
    "SQLITE_CANTOPEN",
    "SQLITE_IOERR",
    "SQLITE_FULL",
)
# The request's own values: data exception (22) and program limit exceeded (54, e.g. an
# index row or a nesting depth too large); SQLite's string or blob too big, a bad binding.
_VALUE_SQLSTATE_CLASSES = {"22", "54"}
_VALUE_SQLITE = ("SQLITE_TOOBIG", "SQLITE_RANGE", "SQLITE_MISMATCH")


def _driver_code(exc: Exception) -> tuple[str, str]:
    """(SQLSTATE, SQLite error name) of the driver error behind Django's, "" when unknown."""
    cause = exc.__cause__
    return getattr(cause, "sqlstate", None) or "", getattr(cause, "sqlite_errorname", None) or ""


def database_unavailable(exc: Exception) -> bool:
    """Whether a database error is an outage or a transient conflict, which a retry can get
    past (503 with Retry-After). An error the driver gives no code for (connection refused,
    the server gone) is one; an error about the request or the query is not: answering it
    503 would make pipelines retry forever and monitoring see an outage."""
    from django.db import InterfaceError, OperationalError

    if isinstance(exc, InterfaceError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate, sqlite_name = _driver_code(exc)
    if sqlstate:
        return sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES
    if sqlite_name:
        return sqlite_name.startswith(_TRANSIENT_SQLITE)
    return True


def database_refused_value(exc: Exception) -> bool:
    """Whether the database refused a value of the request (too large, malformed)."""
    from django.db import DataError, OperationalError

    if isinstance(exc, DataError):
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate, sqlite_name = _driver_code(exc)
    if sqlstate:
        return sqlstate[:2] in _VALUE_SQLSTATE_CLASSES
    return sqlite_name.startswith(_VALUE_SQLITE)


def json_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's errors as JSON in the view's format. Database errors: an outage is 503 with
    Retry-After; a value the database refused is 400; any other is a 500 (a bug of ours),
    logged, never a 503 that would send the client retrying."""
    from django.db import DatabaseError

    if isinstance(exc, DatabaseError):
        if database_unavailable(exc):
            logger.warning("database unavailable: %s", exc)
            exc = ServiceUnavailable()
        elif database_refused_value(exc):
            logger.warning("database refused a value: %s", exc)
            exc = InvalidPayload("a value of the request was refused by the database", field="body")
        else:
            return None  # Django's 500 handler: logged with its traceback, JSON body
    response = exception_handler(exc, context)
    if response is None:
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


def json_not_found(request, exception=None):
    """JSON everywhere but in the admin, whose pages are read by a person in a browser: there a
    404 (a mistyped URL, another organization's object) is the admin's own HTML page."""
    from django.contrib import admin
    from django.template.response import TemplateResponse
    from django.urls import reverse

    if request.path.startswith(reverse("admin:index")):
        context = {**admin.site.each_context(request), "title": "Not found"}
        response = TemplateResponse(request, "admin/404.html", context, status=404)
        return response.render()
    return JsonResponse({"error": "Not found"}, status=404)


def json_server_error(request) -> JsonResponse:
    return JsonResponse({"error": "Internal server error"}, status=500)


def json_bad_request(request, exception=None) -> JsonResponse:
    return JsonResponse({"error": "Bad request"}, status=400)
