"""Reading ingest request bodies: size, encoding and JSON shape, before any adapter runs."""

import json
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig

from periscope.errors import InvalidPayload, PayloadTooLarge


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _has_nul(value: Any) -> bool:
    # PostgreSQL text and jsonb cannot hold U+0000; refuse it here instead of failing there.
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


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
    try:
        data = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise InvalidPayload("body is not valid JSON", field="body") from None
    if _has_nul(data):
        raise InvalidPayload("body contains a NUL character", field="body")
    return data, text


def read_json_object(request) -> tuple[dict, str]:
    data, text = read_json_body(request)
    if not isinstance(data, dict):
        raise InvalidPayload("body must be a JSON object", field="body")
    return data, text
