"""PagerDuty v3 webhooks (incident.triggered opens, incident.resolved resolves).

Signature: `X-PagerDuty-Signature: v1=<hex HMAC-SHA256 of the body>` (several comma-separated
signatures during secret rotation). Other event types are acknowledged and ignored.
"""

from typing import Any

from deployments.incidents.recorder import IncidentResult
from deployments.ingest.fields import iso8601
from periscope.errors import InvalidPayload
from periscope.secrets import hmac_sha256_hex, signatures_match

HANDLED = ("incident.triggered", "incident.resolved")


def signature_valid(*, secret: str, body: bytes, header: str) -> bool:
    expected = "v1=" + hmac_sha256_hex(secret=secret, body=body)
    presented = [part.strip() for part in header.split(",") if part.strip()]
    return any(signatures_match(expected, part) for part in presented)


def _object(value: Any, label: str) -> dict:
    if not isinstance(value, dict):
        raise InvalidPayload(f"Invalid payload: {label} must be an object", field=label)
    return value


def _text(value: Any, label: str, *, required: bool = False) -> str:
    if value is None or value == "":
        if required:
            raise InvalidPayload(f"Invalid payload: {label} is required", field=label)
        return ""
    if not isinstance(value, str):
        raise InvalidPayload(f"Invalid payload: {label} must be a string", field=label)
    return value.strip()


def event_type(payload: dict) -> str:
    event = _object(payload.get("event"), "event")
    return _text(event.get("event_type"), "event.event_type", required=True)


def parse(payload: dict) -> dict[str, Any]:
    """Fields of the incident in a triggered/resolved event (record_incident keywords, except
    that `started_at` is the incident's creation time, or the event time when absent)."""
    event = _object(payload.get("event"), "event")
    data = _object(event.get("data"), "event.data")
    try:
        occurred_at = iso8601(event.get("occurred_at"), "event.occurred_at")
        created_raw = data.get("created_at")
        started_at = (
            occurred_at
            if created_raw in (None, "")
            else iso8601(created_raw, "event.data.created_at")
        )
    except InvalidPayload as exc:
        raise InvalidPayload(f"Invalid payload: {exc.message}", field=exc.field) from None
    service = data.get("service") or {}
    service = _object(service, "event.data.service")
    priority = data.get("priority")
    severity = ""
    if isinstance(priority, dict):
        severity = _text(priority.get("summary"), "event.data.priority.summary")
    severity = severity or _text(data.get("urgency"), "event.data.urgency")
    external_id = _text(data.get("id"), "event.data.id", required=True)
    if len(external_id) > 255:
        # Cut, two incidents would become one: refused like the incident API's `id`.
        raise InvalidPayload(
            "Invalid payload: event.data.id must be at most 255 characters", field="event.data.id"
        )
    return {
        "external_id": external_id,
        "title": _text(data.get("title"), "event.data.title")[:500],
        "service_name": _text(service.get("summary"), "event.data.service.summary")[:500],
        "severity": severity[:64],
        "url": _text(data.get("html_url"), "event.data.html_url")[:2000],
        "started_at": started_at,
        "occurred_at": occurred_at,
    }


def render(result: IncidentResult) -> dict:
    """The answer: what was done, and for a stale event (older than the stored state) that
    it changed nothing."""
    return {"action": result.action, "incidentId": result.incident_id}
