"""The OpsLevel custom deploy format (POST /integrations/deploy/<key>, no auth header).

A deploy is a completed deployment at `deployed_at`. `dedup_id` is the idempotency key with
first-wins semantics (a repeat creates nothing; only a changed status is applied); without it
every post is a new deploy. Answers 202 with `{"result": "ok"}`, `no_service_found` or
`duplicate_deploy`; errors are `{"errors": [{"status", "title", "detail"}]}`.
"""

from http import HTTPStatus
from typing import Any

from rest_framework import status as http

from deployments.ingest.contract import Received
from deployments.ingest.fields import flexible_timestamp, optional_string, optional_text
from deployments.ingest.statuses import normalize_status
from deployments.models import Source, Status
from deployments.recording.events import DeploymentEvent, DuplicatePolicy, RecordResult
from periscope.errors import InvalidPayload

# The CLI's free-text status; absent means the deploy succeeded.
STATUSES = {
    "queued": Status.PENDING,
    "running": Status.IN_PROGRESS,
    "canceled": Status.CANCELLED,
    "cancelled": Status.CANCELLED,
    "failure": Status.FAILURE,
    "failed": Status.FAILURE,
    "success": Status.SUCCESS,
}
_COMMIT_TEXT = ("sha", "message", "branch", "committer_name", "committer_email",
                "author_name", "author_email")  # fmt: skip
_COMMIT_DATES = ("date", "authoring_date")
DUPLICATE_MESSAGE = "Deploy not created due to existing deploy with identical dedup_id"


def _missing(field: str) -> InvalidPayload:
    return InvalidPayload(f"param is missing or the value is empty: {field}", field=field)


def _required(payload: dict, name: str, *, max_length: int = 255) -> str:
    value = payload.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        raise _missing(name)
    return optional_text(payload, name, max_length=max_length).strip()


def _deployer(value: Any) -> dict[str, str]:
    if value in (None, {}, "") or (isinstance(value, str) and not value.strip()):
        raise _missing("deployer")
    if not isinstance(value, dict):
        raise InvalidPayload("deployer must be an object", field="deployer")
    deployer = {
        name: optional_text(value, name, label=f"deployer.{name}").strip()
        for name in ("id", "email", "name")
    }
    if not deployer["email"] and not deployer["name"]:
        raise _missing("deployer")
    return {k: v for k, v in deployer.items() if v}


def _commit(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidPayload("commit must be an object", field="commit")
    commit = {}
    for name in _COMMIT_TEXT:
        text = optional_string(value, name, max_length=10_000, label=f"commit.{name}")
        if text:
            commit[name] = text
    for name in _COMMIT_DATES:
        if value.get(name) not in (None, ""):
            moment = flexible_timestamp(value[name], f"commit.{name}")
            commit[name] = moment.isoformat()
    return commit


def _status(payload: dict) -> tuple[Status, str]:
    raw = optional_string(payload, "status", max_length=64).strip()
    if not raw:
        return Status.SUCCESS, ""
    # Free text: anything else goes through the shared vendor table (else `unknown`).
    status = STATUSES.get(raw.lower()) or normalize_status(raw)
    return status, raw


def parse(payload: dict[str, Any], *, received: Received) -> list[DeploymentEvent]:
    """The canonical event of a deploy, or InvalidPayload naming the field."""
    return [_parse(payload)]


def _parse(payload: dict[str, Any]) -> DeploymentEvent:
    service = _required(payload, "service", max_length=500)
    description = _required(payload, "description", max_length=10_000)
    if payload.get("deployed_at") in (None, ""):
        raise _missing("deployed_at")
    deployed_at = flexible_timestamp(payload["deployed_at"], "deployed_at")
    deployer = _deployer(payload.get("deployer"))
    commit = _commit(payload.get("commit"))
    status, status_raw = _status(payload)
    dedup_id = optional_text(payload, "dedup_id").strip()
    deploy_number = optional_text(payload, "deploy_number").strip()
    metadata: dict[str, Any] = {"deployer": deployer}
    if deploy_number:
        metadata["deploy_number"] = deploy_number
    if commit:
        metadata["commit"] = commit
    return DeploymentEvent(
        source=Source.OPSLEVEL,
        external_id=dedup_id or None,
        duplicate_policy=DuplicatePolicy.KEEP_FIRST,
        environment=optional_string(payload, "environment", max_length=100).strip(),
        status=status,
        status_raw=status_raw,
        service_name=service,
        commit_sha=commit.get("sha", "").strip()[:255],
        branch=commit.get("branch", "")[:255],
        completed_at=deployed_at,
        triggered_by=(deployer.get("email") or deployer.get("name", ""))[:255],
        pipeline_url=optional_string(payload, "deploy_url", max_length=2000),
        description=description,
        metadata=metadata,
        raw_payload=payload,
    )


def render(
    *, payload: dict[str, Any], events: list[DeploymentEvent], results: list[RecordResult]
) -> tuple[int, dict]:
    (result,) = results
    if not result.created:
        return http.HTTP_202_ACCEPTED, {"result": "duplicate_deploy", "message": DUPLICATE_MESSAGE}
    if result.service_matched:
        return http.HTTP_202_ACCEPTED, {"result": "ok"}
    name = result.service_name
    return http.HTTP_202_ACCEPTED, {
        "result": "no_service_found",
        "message": f"No service found matching alias '{name}'. Recording '{name}' as a suggestion.",
    }


def _title(field: str, status_code: int) -> str:
    if field:
        return f"{field.replace('_', ' ').replace('.', ' ').capitalize()} Error"
    try:
        return HTTPStatus(status_code).phrase
    except ValueError:
        return "Error"


def render_error(*, exc: Exception, status_code: int, message: str) -> dict:
    field = getattr(exc, "field", "")
    return {
        "errors": [{"status": status_code, "title": _title(field, status_code), "detail": message}]
    }
