"""The Periscope deployment webhook format (POST /api/webhooks/deployments).

Maps the documented camelCase payload to the canonical event, and the result back to
{"action", "deploymentId", "linkedPRs"}. Errors are {"error": "..."}.
"""

import re
from typing import Any

from rest_framework import status as http

from deployments.ingest.contract import Received
from deployments.ingest.fields import iso8601, optional_string, required_string, string_map
from deployments.models import TERMINAL_STATUSES, Source, Status
from deployments.recording import rework
from deployments.recording.events import DeploymentEvent, RecordResult
from periscope.errors import InvalidPayload
from periscope.models import Organization

SHA = re.compile(r"^[a-f0-9]{5,40}$", re.IGNORECASE)
STATUSES = (
    Status.PENDING,
    Status.IN_PROGRESS,
    Status.SUCCESS,
    Status.FAILURE,
    Status.CANCELLED,
    Status.ROLLED_BACK,
)


class OrganizationMismatch(InvalidPayload):
    status_code = http.HTTP_403_FORBIDDEN


def _invalid(message: str, field: str) -> InvalidPayload:
    return InvalidPayload(f"Invalid payload: {message}", field=field)


def _parse(payload: dict[str, Any], organization: Organization) -> DeploymentEvent:
    deployment_id = required_string(payload, "deploymentId")
    commit_sha = required_string(payload, "commitSha")
    environment = required_string(payload, "environment", max_length=100)
    status = required_string(payload, "status")
    started_raw = required_string(payload, "startedAt")

    if not SHA.match(commit_sha):
        raise InvalidPayload(
            "commitSha must be a valid hex string (5-40 characters)", field="commitSha"
        )
    if status not in STATUSES:
        raise InvalidPayload(f"status must be one of: {', '.join(STATUSES)}", field="status")
    started_at = iso8601(started_raw, "startedAt")
    completed_raw = payload.get("completedAt")
    completed_at = None
    if completed_raw not in (None, ""):
        completed_at = iso8601(completed_raw, "completedAt")
    elif status in TERMINAL_STATUSES:
        raise InvalidPayload(
            f"completedAt is required when status is {status}", field="completedAt"
        )
    if completed_at is not None and completed_at < started_at:
        raise InvalidPayload("completedAt must not be before startedAt", field="completedAt")

    slug = optional_string(payload, "organizationSlug", max_length=64)
    if slug and slug != organization.slug:
        raise OrganizationMismatch(
            "organizationSlug does not match the API key's organization",
            field="organizationSlug",
        )
    rework_sent = payload.get("rework")
    if rework_sent is not None and not isinstance(rework_sent, bool):
        raise InvalidPayload("rework must be true or false", field="rework")
    metadata = string_map(payload.get("metadata"), "metadata")
    raw_payload = payload.get("rawPayload")
    if raw_payload is not None and not isinstance(raw_payload, dict):
        raise InvalidPayload("rawPayload must be a JSON object", field="rawPayload")

    return DeploymentEvent(
        source=Source.PERISCOPE,
        external_id=deployment_id,
        environment=environment,
        status=status,
        service_name=optional_string(payload, "service", max_length=500).strip(),
        commit_sha=commit_sha.lower(),
        previous_commit_sha=optional_string(payload, "previousCommitSha").strip().lower(),
        branch=optional_string(payload, "branch"),
        started_at=started_at,
        completed_at=completed_at,
        triggered_by=optional_string(payload, "triggeredBy"),
        pipeline_name=optional_string(payload, "pipelineName"),
        pipeline_url=optional_string(payload, "pipelineUrl", max_length=2000),
        metadata=metadata,
        raw_payload=raw_payload,
        # `rework` (ours), else metadata the seed documents (`rollbackInitiated`) or `rework`.
        rework=rework_sent if rework_sent is not None else rework.declared(metadata=metadata),
    )


def parse(payload: dict[str, Any], *, received: Received) -> list[DeploymentEvent]:
    """The canonical event, or InvalidPayload whose message starts "Invalid payload:"."""
    try:
        return [_parse(payload, received.organization)]
    except OrganizationMismatch:
        raise
    except InvalidPayload as exc:
        raise _invalid(exc.message, exc.field) from None


def render(
    *, payload: dict[str, Any], events: list[DeploymentEvent], results: list[RecordResult]
) -> tuple[int, dict]:
    (result,) = results
    body = {
        "action": "created" if result.created else "updated",
        "deploymentId": result.deployment_id,
        "linkedPRs": result.linked_prs,
    }
    if result.stale:
        body["stale"] = True
        body["detail"] = "Older than the deployment's stored state: nothing changed"
    return (http.HTTP_201_CREATED if result.created else http.HTTP_200_OK), body


def render_error(*, exc: Exception, status_code: int, message: str) -> dict:
    if status_code == 400 and not message.startswith("Invalid payload"):
        message = f"Invalid payload: {message}"
    return {"error": message}
