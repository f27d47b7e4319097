"""The Periscope incident format (POST /api/incidents).

{"id", "title", "service", "environment"?, "severity"?, "startedAt", "resolvedAt"?, "url"?,
"deploymentId"?, "changeId"?}. Errors are {"error": "Invalid payload: ..."} naming the field.
"""

from typing import Any

from rest_framework import status as http

from deployments.incidents.recorder import IncidentResult
from deployments.ingest.fields import iso8601, optional_string, required_string
from periscope.errors import InvalidPayload


def _parse(payload: dict[str, Any]) -> dict[str, Any]:
    external_id = required_string(payload, "id")
    title = required_string(payload, "title", max_length=500)
    service = required_string(payload, "service", max_length=500)
    started_at = iso8601(required_string(payload, "startedAt"), "startedAt")
    resolved_raw = payload.get("resolvedAt")
    resolved_at = None if resolved_raw in (None, "") else iso8601(resolved_raw, "resolvedAt")
    if resolved_at is not None and resolved_at < started_at:
        raise InvalidPayload("resolvedAt must not be before startedAt", field="resolvedAt")
    return {
        "external_id": external_id,
        "title": title,
        "service_name": service,
        "environment": optional_string(payload, "environment", max_length=100),
        "severity": optional_string(payload, "severity", max_length=64),
        "started_at": started_at,
        "resolved_at": resolved_at,
        "url": optional_string(payload, "url", max_length=2000),
        "deployment_id": optional_string(payload, "deploymentId").strip(),
        "change_id": optional_string(payload, "changeId").strip(),
    }


def parse(payload: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for record_incident, or InvalidPayload naming the field."""
    try:
        return _parse(payload)
    except InvalidPayload as exc:
        raise InvalidPayload(f"Invalid payload: {exc.message}", field=exc.field) from None


def render(result: IncidentResult) -> tuple[int, dict]:
    body = {
        "action": "created" if result.created else "updated",
        "incidentId": result.incident_id,
        "deploymentId": result.deployment_id,
        "attributedBy": result.attributed_by or None,
    }
    if result.stale:
        body["stale"] = True
        body["detail"] = "Older than the incident's stored state: nothing changed"
    return (http.HTTP_201_CREATED if result.created else http.HTTP_200_OK), body


def render_error(*, exc: Exception, status_code: int, message: str) -> dict:
    if status_code == 400 and not message.startswith("Invalid payload"):
        message = f"Invalid payload: {message}"
    return {"error": message}
