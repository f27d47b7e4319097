"""The Hivel deployment events format (POST /api/hooks/v2/deployment, `X-API-Token`).

One "completed" event per deployment with start and end times. The service is the
repository (`repo_url` in any form); `deployment_id` is the idempotency key (a repeat
updates). Answers 200 `{"message": "Deployment event stored successfully",
"deployment_id": <as sent>, "success": true}`; errors `{"message": "Validation failed",
"error": "..."}` (other 4xx use the HTTP reason as the message).
"""

from http import HTTPStatus
from typing import Any

from rest_framework import status as http

from deployments.ingest.contract import Received
from deployments.ingest.fields import (
    flexible_timestamp,
    optional_string,
    optional_text,
    required_string,
)
from deployments.ingest.statuses import normalize_status
from deployments.models import Source
from deployments.recording.events import DeploymentEvent, RecordResult
from periscope.errors import InvalidPayload

EVENT_TYPE = "completed"
SUCCESS_MESSAGE = "Deployment event stored successfully"


def _deployment_id(payload: dict[str, Any]) -> str:
    value = payload.get("deployment_id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    return required_string({"deployment_id": value}, "deployment_id")


def _pr_numbers(value: Any) -> list[int | str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(
        isinstance(n, int | str) and not isinstance(n, bool) for n in value
    ):
        raise InvalidPayload("pr_numbers must be an array of numbers", field="pr_numbers")
    return value


def parse(payload: dict[str, Any], *, received: Received) -> list[DeploymentEvent]:
    """The canonical event of a "completed" event, or InvalidPayload naming the field."""
    return [_parse(payload)]


def _parse(payload: dict[str, Any]) -> DeploymentEvent:
    deployment_id = _deployment_id(payload)
    event_type = required_string(payload, "event_type")
    if event_type != EVENT_TYPE:
        raise InvalidPayload(
            f'event_type must be "{EVENT_TYPE}" (got "{event_type}")', field="event_type"
        )
    status_raw = required_string(payload, "status", max_length=64)
    for name in ("start_time", "end_time"):
        if payload.get(name) in (None, ""):
            raise InvalidPayload(f"{name} is required", field=name)
    start_time = flexible_timestamp(payload["start_time"], "start_time")
    end_time = flexible_timestamp(payload["end_time"], "end_time")
    repo_url = required_string(payload, "repo_url", max_length=500)
    environment = required_string(payload, "environment", max_length=100)
    branch = required_string(payload, "branch")
    if start_time > end_time:
        raise InvalidPayload("Start time cannot be after end time", field="start_time")

    extras: dict[str, Any] = {}
    for name in ("pr_number", "build_number", "image", "logs_url"):
        value = optional_text(payload, name, max_length=2000)
        if value:
            extras[name] = value
    pr_numbers = _pr_numbers(payload.get("pr_numbers"))
    if pr_numbers:
        extras["pr_numbers"] = pr_numbers
    return DeploymentEvent(
        source=Source.HIVEL,
        external_id=deployment_id,
        environment=environment,
        status=normalize_status(status_raw),
        status_raw=status_raw,
        # No service name: the repository URL is the name (services match it in any form).
        repository_url=repo_url,
        commit_sha=optional_string(payload, "commit_hash").strip(),
        branch=branch,
        started_at=start_time,
        completed_at=end_time,
        pipeline_url=extras.get("logs_url", ""),
        metadata=extras,
        raw_payload=payload,
    )


def render(
    *, payload: dict[str, Any], events: list[DeploymentEvent], results: list[RecordResult]
) -> tuple[int, dict]:
    body = {
        "message": SUCCESS_MESSAGE,
        "deployment_id": payload.get("deployment_id"),
        "success": True,
    }
    if any(result.stale for result in results):
        body["stale"] = True  # older than what is stored: nothing changed
    return http.HTTP_200_OK, body


def render_error(*, exc: Exception, status_code: int, message: str) -> dict:
    if status_code == http.HTTP_400_BAD_REQUEST:
        return {"message": "Validation failed", "error": message}
    try:
        reason = HTTPStatus(status_code).phrase
    except ValueError:
        reason = "Error"
    return {"message": reason, "error": message}
