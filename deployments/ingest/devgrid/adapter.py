"""The DevGrid events format (POST /events, `x-api-key`).

Body `{"events": [...]}` with 1 to 15 `event-deploy` events, stored atomically. `entityId` is
the service; `attributes.build_id` (with `entityId` and `env`) is the idempotency key, and
without it every event is a new deployment. Unknown attributes are kept in `metadata`.
Answers 201 `{"events": [...]}`, each event as sent plus its Periscope `id` and the
deployment time; errors are `{"error": "...", "field": "...", "index": n}`.
"""

import hashlib
import json
import re
from datetime import datetime
from typing import Any

from rest_framework import status as http

from deployments.ingest.contract import Received
from deployments.ingest.fields import flexible_timestamp, optional_text, required_string
from deployments.ingest.statuses import normalize_status
from deployments.models import Source
from deployments.recording import rework
from deployments.recording.events import DeploymentEvent, RecordResult
from periscope.errors import InvalidPayload, PayloadTooLarge

EVENT_TYPE = "event-deploy"
MAX_EVENTS = 15
PLACEHOLDER = "unknown"
# Attributes with a column of their own; every other attribute is a custom one.
_EVENT_FIELD = re.compile(r"^events\[(\d+)\]")
_KNOWN = {"env", "status", "build_commit_sha", "change_id", "build_id", "build_url",
          "description", "initiator"}  # fmt: skip


class EventInvalid(InvalidPayload):
    """An invalid event of a batch: says which one (index) and which field."""

    def __init__(self, message: str, *, field: str, index: int):
        super().__init__(message, field=field)
        self.index = index


def _event(item: Any, index: int, received_at: datetime) -> DeploymentEvent:
    prefix = f"events[{index}]"
    if not isinstance(item, dict):
        raise InvalidPayload(f"{prefix} must be an object", field=prefix)
    kind = required_string(item, "type", label=f"{prefix}.type")
    if kind != EVENT_TYPE:
        raise InvalidPayload(
            f"{prefix}.type '{kind}' is not supported; expected '{EVENT_TYPE}'",
            field=f"{prefix}.type",
        )
    entity = required_string(item, "entityId", max_length=500, label=f"{prefix}.entityId")
    attributes = item.get("attributes")
    if not isinstance(attributes, dict):
        raise InvalidPayload(
            f"{prefix}.attributes is required and must be an object", field=f"{prefix}.attributes"
        )

    def text(name: str, *, required: bool = False, max_length: int = 255) -> str:
        label = f"{prefix}.attributes.{name}"
        if required:
            return required_string(attributes, name, max_length=max_length, label=label)
        return optional_text(attributes, name, max_length=max_length, label=label)

    env = text("env", required=True, max_length=100)
    status_raw = text("status", required=True, max_length=64)
    build_id = text("build_id").strip()
    if build_id.lower() == PLACEHOLDER:
        # DevGrid's bash template sends "${BUILD_ID:-unknown}": not a build id, and treating
        # it as one would fold every deploy of the service into one record.
        build_id = ""
    timestamp = item.get("timestamp")
    dated_by_arrival = timestamp in (None, "")
    moment = (
        received_at if dated_by_arrival else flexible_timestamp(timestamp, f"{prefix}.timestamp")
    )
    description = text("description", max_length=10_000)
    custom = {k: v for k, v in attributes.items() if k not in _KNOWN}
    kind_sent = custom.get("deployment_type")
    return DeploymentEvent(
        source=Source.DEVGRID,
        external_id=idempotency_key(entity=entity, env=env, build_id=build_id),
        environment=env,
        status=normalize_status(status_raw),
        status_raw=status_raw,
        service_name=entity,
        commit_sha=text("build_commit_sha").strip(),
        change_id=text("change_id").strip(),
        completed_at=moment,
        triggered_by=text("initiator"),
        pipeline_url=text("build_url", max_length=2000),
        description=description,
        metadata={**({"build_id": build_id} if build_id else {}), **custom},
        # DevGrid's rollback and hotfix workflows (a custom `deployment_type`, a description
        # that starts "Rollback to ..." or "Hotfix: ...").
        rework=rework.declared(
            metadata=custom,
            kind=kind_sent if isinstance(kind_sent, str) else "",
            description=description,
        ),
        raw_payload=item,
        # A retry without a timestamp is the same event arriving later, not a later event.
        assumed=frozenset({"completed_at"}) if dated_by_arrival else frozenset(),
    )


def idempotency_key(*, entity: str, env: str, build_id: str) -> str | None:
    """entityId + env + build_id, unambiguous whatever the parts contain; None without build_id."""
    if not build_id:
        return None
    key = json.dumps([entity, env.strip(), build_id.strip()], ensure_ascii=False)
    if len(key) > 255:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def event_items(payload: dict[str, Any]) -> list[Any]:
    events = payload.get("events")
    if not isinstance(events, list) or not events:
        raise InvalidPayload("events is required and must be a non-empty array", field="events")
    if len(events) > MAX_EVENTS:
        raise PayloadTooLarge(
            f"events holds {len(events)} events; at most {MAX_EVENTS} are accepted per request"
        )
    return events


def parse_event(item: Any, *, index: int, received_at: datetime) -> DeploymentEvent:
    try:
        return _event(item, index, received_at)
    except InvalidPayload as exc:
        raise EventInvalid(exc.message, field=exc.field, index=index) from None


def parse(payload: dict[str, Any], *, received: Received) -> list[DeploymentEvent]:
    """Every event of the batch, or the first invalid one's EventInvalid (nothing stored)."""
    return [
        parse_event(item, index=i, received_at=received.received_at)
        for i, item in enumerate(event_items(payload))
    ]


def render(
    *, payload: dict[str, Any], events: list[DeploymentEvent], results: list[RecordResult]
) -> tuple[int, dict]:
    stored = []
    for event, result in zip(events, results, strict=True):
        item = dict(event.raw_payload or {})
        item["id"] = result.deployment_id
        moment = result.completed_at or event.completed_at
        item["timestamp"] = moment.isoformat().replace("+00:00", "Z")
        stored.append(item)
    return http.HTTP_201_CREATED, {"events": stored}


def render_error(*, exc: Exception, status_code: int, message: str) -> dict:
    body: dict[str, Any] = {"error": message}
    field = getattr(exc, "field", "")
    if field:
        body["field"] = field
    if isinstance(exc, EventInvalid):
        body["index"] = exc.index
    elif event := _EVENT_FIELD.match(field):  # a value json_input refused, in events[i]
        body["index"] = int(event.group(1))
    return body
