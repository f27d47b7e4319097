"""Recording deployments: the one function every ingest format calls.

It owns idempotency (a database unique constraint, insert-then-update under a row lock),
the rule that a deployment never moves backwards, the delivery log, service resolution
and suggestions.
"""

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from deployments.environments import canonical_environment, environment_key
from deployments.events import DeploymentEvent, DuplicatePolicy, RecordResult
from deployments.models import (
    TERMINAL_STATUSES,
    Delivery,
    DeliveryAction,
    Deployment,
    EnvironmentAlias,
)
from periscope.models import Organization
from services.matching import normalize_key
from services.models import ServiceAlias, ServiceSuggestion

# Fields a later delivery may change. Identity (organization, source, id) never changes.
_MUTABLE_FIELDS = (
    "service_id",
    "service_name",
    "service_key",
    "environment",
    "environment_raw",
    "status",
    "status_raw",
    "commit_sha",
    "previous_commit_sha",
    "branch",
    "repository_url",
    "change_id",
    "started_at",
    "completed_at",
    "triggered_by",
    "pipeline_name",
    "pipeline_url",
    "description",
    "metadata",
    "raw_payload",
)

# Hooks run after a deployment is stored, inside the same transaction, returning the
# number of pull requests linked. The lead-time module registers the real one.
LinkChanges = Callable[[Deployment], int]
_link_changes: list[LinkChanges] = []


def register_change_linker(linker: LinkChanges) -> None:
    if linker not in _link_changes:
        _link_changes.append(linker)


def _link(deployment: Deployment) -> int:
    return sum(linker(deployment) for linker in _link_changes)


# The lookups every delivery needs, in one round trip: the service by the name sent, by the
# repository URL, and the environment alias. Each is one probe of a unique index; an empty
# key matches nothing (alias keys are never empty).
_LOOKUP_SQL = """
SELECT
    (SELECT service_id FROM {alias} WHERE organization_id = %s AND {key} = %s),
    (SELECT service_id FROM {alias} WHERE organization_id = %s AND {key} = %s),
    (SELECT environment FROM {environment} WHERE organization_id = %s AND name = %s)
"""


def _lookup(
    *, organization_id: int, name_key: str, repository_key: str, environment_name: str
) -> tuple[int | None, int | None, str | None]:
    """(service id by name, service id by repository, environment alias target)."""
    sql = _LOOKUP_SQL.format(
        alias=connection.ops.quote_name(ServiceAlias._meta.db_table),
        key=connection.ops.quote_name("key"),
        environment=connection.ops.quote_name(EnvironmentAlias._meta.db_table),
    )
    params = [organization_id, name_key, organization_id, repository_key]
    params += [organization_id, environment_name]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _field_values(*, organization: Organization, event: DeploymentEvent) -> dict:
    # The service is resolved by the name, else by the repository URL (Hivel sends only that).
    sent_name = event.service_name or event.repository_url
    by_name, by_repository, environment_alias = _lookup(
        organization_id=organization.pk,
        name_key=normalize_key(sent_name),
        repository_key=normalize_key(event.repository_url) if event.service_name else "",
        environment_name=environment_key(event.environment),
    )
    return {
        "service_id": by_name if by_name is not None else by_repository,
        "service_name": sent_name,
        "service_key": normalize_key(sent_name),
        "environment": canonical_environment(raw=event.environment, alias_target=environment_alias),
        "environment_raw": event.environment,
        "status": event.status,
        "status_raw": event.status_raw or event.status,
        "commit_sha": event.commit_sha,
        "previous_commit_sha": event.previous_commit_sha,
        "branch": event.branch,
        "repository_url": event.repository_url,
        "change_id": event.change_id,
        "started_at": event.started_at,
        "completed_at": event.completed_at,
        "triggered_by": event.triggered_by,
        "pipeline_name": event.pipeline_name,
        "pipeline_url": event.pipeline_url,
        "description": event.description,
        "metadata": event.metadata,
        "raw_payload": event.raw_payload,
    }


def _suggest(*, organization: Organization, values: dict) -> None:
    if values["service_id"] is None and values["service_key"]:
        ServiceSuggestion.objects.bulk_create(
            [
                ServiceSuggestion(
                    organization=organization,
                    name=values["service_name"],
                    key=values["service_key"],
                )
            ],
            ignore_conflicts=True,
        )


def _apply_repeat(
    *, existing: Deployment, values: dict, policy: DuplicatePolicy
) -> tuple[str, list[str]]:
    """Decide what a repeat delivery changes; returns (action, changed field names)."""
    incoming_status = values["status"]
    if existing.status in TERMINAL_STATUSES and incoming_status not in TERMINAL_STATUSES:
        return DeliveryAction.STALE, []
    if policy is DuplicatePolicy.KEEP_FIRST:
        candidates = {"status": incoming_status, "status_raw": values["status_raw"]}
    else:
        candidates = values
    changed = [
        name
        for name in _MUTABLE_FIELDS
        if name in candidates and getattr(existing, name) != candidates[name]
    ]
    if not changed:
        return DeliveryAction.DUPLICATE, []
    for name in changed:
        setattr(existing, name, candidates[name])
    return DeliveryAction.UPDATED, changed


def _record_one(
    *, organization: Organization, event: DeploymentEvent, body: str, received_at: datetime
) -> RecordResult:
    values = _field_values(organization=organization, event=event)
    external_id = event.external_id if event.external_id is not None else uuid.uuid4().hex
    deployment = Deployment(
        organization=organization, source=event.source, external_id=external_id, **values
    )
    try:
        # A savepoint, so a lost race for the unique key leaves the transaction usable.
        with transaction.atomic():
            deployment.save(force_insert=True)
        action = DeliveryAction.CREATED
    except IntegrityError:
        deployment = Deployment.objects.select_for_update().get(
            organization=organization, source=event.source, external_id=external_id
        )
        action, changed = _apply_repeat(
            existing=deployment, values=values, policy=event.duplicate_policy
        )
        if changed:
            deployment.save(update_fields=[*changed, "updated_at"])
    _suggest(organization=organization, values=values)
    Delivery.objects.create(
        organization=organization,
        deployment=deployment,
        source=event.source,
        received_at=received_at,
        action=action,
        body=body,
    )
    return RecordResult(
        deployment_id=deployment.pk,
        external_id=external_id,
        action=action,
        service_id=deployment.service_id,
        service_name=deployment.service_name,
        linked_prs=_link(deployment),
    )


def record_deployment(
    *,
    organization: Organization,
    event: DeploymentEvent,
    body: str,
    received_at: datetime | None = None,
) -> RecordResult:
    """Store one deployment event exactly once and log the delivery that carried it."""
    with transaction.atomic():
        return _record_one(
            organization=organization,
            event=event,
            body=body,
            received_at=received_at or timezone.now(),
        )


def record_deployments(
    *,
    organization: Organization,
    events: Sequence[tuple[DeploymentEvent, str]],
    received_at: datetime | None = None,
) -> list[RecordResult]:
    """Store a batch atomically: every (event, body) pair or none of them."""
    received_at = received_at or timezone.now()
    with transaction.atomic():
        return [
            _record_one(organization=organization, event=event, body=body, received_at=received_at)
            for event, body in events
        ]
