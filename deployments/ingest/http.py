"""Reading ingest request bodies: size, encoding and JSON shape, before any adapter runs."""

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from deployments.ingest.json_input import parse_json
from periscope.errors import InvalidPayload, PayloadTooLarge


def read_json_body(request) -> tuple[Any, str]:
    """The parsed JSON body and its text as sent. Raises a 4xx error for anything else."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > settings.MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Request body exceeds {settings.MAX_BODY_BYTES} bytes")
    try:
        raw = request.body
    except RequestDataTooBig:
        raise PayloadTooLarge(f"Request body exceeds {settings.MAX_BODY_BYTES} bytes") from None
    if len(raw) > settings.MAX_BODY_BYTES:
        raise PayloadTooLarge(f"Request body exceeds {settings.MAX_BODY_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidPayload("body is not valid UTF-8", field="body") from None
    return parse_json(text), text


def read_json_object(request) -> tuple[dict, str]:
    data, text = read_json_body(request)
    if not isinstance(data, dict):
        raise InvalidPayload("body must be a JSON object", field="body")
    return data, text
