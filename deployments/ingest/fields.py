"""Field readers shared by the format adapters. Each raises InvalidPayload naming the field."""

import re
from datetime import UTC, datetime
from typing import Any

from periscope.errors import InvalidPayload

# Years outside this range are typos or placeholders, not deployments.
_MIN_YEAR, _MAX_YEAR = 1970, 2200
# The longest timestamp any format sends is 35 characters (RFC 3339 with nanoseconds and an
# offset); anything past this is refused before any parsing, so no input can cost more.
MAX_TIMESTAMP_LENGTH = 64
_NUMERIC = re.compile(r"^\d{9,14}(\.\d+)?$")
# Searched from every position, but each attempt is at most 6 characters: linear. (The old
# `\s+([+-]…)$` retried its `\s+` from every space of a run: quadratic in the run's length.)
_TRAILING_OFFSET = re.compile(r"[+-]\d{2}:?\d{2}$")


def optional_string(payload: dict, name: str, *, max_length: int = 255, label: str = "") -> str:
    """A string field that may be absent, null or empty (all read as "")."""
    value = payload.get(name)
    label = label or name
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidPayload(f"{label} must be a string", field=label)
    if len(value) > max_length:
        raise InvalidPayload(f"{label} must be at most {max_length} characters", field=label)
    return value


def required_string(payload: dict, name: str, *, max_length: int = 255, label: str = "") -> str:
    label = label or name
    value = payload.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidPayload(f"{label} is required and must be a non-empty string", field=label)
    if len(value) > max_length:
        raise InvalidPayload(f"{label} must be at most {max_length} characters", field=label)
    return value.strip()


def _checked(moment: datetime, label: str) -> datetime:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    try:
        moment = moment.astimezone(UTC)
    except OverflowError:
        raise InvalidPayload(f"{label} is out of range", field=label) from None
    if not _MIN_YEAR <= moment.year <= _MAX_YEAR:
        raise InvalidPayload(f"{label} must be between {_MIN_YEAR} and {_MAX_YEAR}", field=label)
    return moment


def _bounded(value: Any, label: str) -> None:
    if isinstance(value, str) and len(value) > MAX_TIMESTAMP_LENGTH:
        raise InvalidPayload(
            f"{label} must be at most {MAX_TIMESTAMP_LENGTH} characters", field=label
        )


def _join_spaced_offset(text: str) -> str:
    """ "2024-01-15 10:30:00 +0000" as "2024-01-15 10:30:00+0000" (fromisoformat's form)."""
    offset = _TRAILING_OFFSET.search(text)
    if offset is None:
        return text
    head = text[: offset.start()]
    stripped = head.rstrip()
    return stripped + offset.group() if stripped != head else text


def iso8601(value: Any, label: str) -> datetime:
    """An ISO 8601 date or time; offsets and fractions accepted, no offset means UTC."""
    _bounded(value, label)
    if not isinstance(value, str) or not value.strip():
        raise InvalidPayload(f"{label} must be a valid ISO 8601 date", field=label)
    text = value.strip()
    if len(text) < 10 or not text[:4].isdigit():
        raise InvalidPayload(f"{label} must be a valid ISO 8601 date", field=label)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidPayload(f"{label} must be a valid ISO 8601 date", field=label) from None
    return _checked(moment, label)


def flexible_timestamp(value: Any, label: str) -> datetime:
    """ISO 8601/RFC 3339, "YYYY-MM-DD HH:MM:SS[ UTC| +0000]", or epoch seconds/milliseconds
    as a number or a numeric string."""
    if isinstance(value, bool):
        raise InvalidPayload(f"{label} must be a timestamp", field=label)
    _bounded(value, label)
    if isinstance(value, int | float) or (isinstance(value, str) and _NUMERIC.match(value.strip())):
        try:
            number = float(value)
        except OverflowError:  # an integer beyond a double (400 digits)
            raise InvalidPayload(f"{label} is out of range", field=label) from None
        if number != number or number in (float("inf"), float("-inf")):
            raise InvalidPayload(f"{label} must be a timestamp", field=label)
        if number > 1e11:  # milliseconds: 1e11 seconds is the year 5138
            number /= 1000
        try:
            moment = datetime.fromtimestamp(number, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise InvalidPayload(f"{label} is out of range", field=label) from None
        return _checked(moment, label)
    if not isinstance(value, str):
        raise InvalidPayload(f"{label} must be a timestamp", field=label)
    text = value.strip()
    if text.upper().endswith(" UTC"):
        text = text[:-4] + "+00:00"
    return iso8601(_join_spaced_offset(text), label)


def string_map(value: Any, label: str) -> dict[str, str | int | float | bool]:
    """An object whose values are strings, numbers or booleans only."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidPayload(f"{label} must be an object", field=label)
    for key, item in value.items():
        if not isinstance(item, str | int | float | bool):
            raise InvalidPayload(
                f"{label}.{key} must be a string, number or boolean", field=f"{label}.{key}"
            )
    return value


def optional_text(payload: dict, name: str, *, max_length: int = 255, label: str = "") -> str:
    """A string or a number (CI variables such as build or PR numbers often arrive unquoted),
    read as text; absent or null is ""."""
    value = payload.get(name)
    label = label or name
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    return optional_string({name: value}, name, max_length=max_length, label=label)
