"""Recording deployments: the one function every ingest format calls.

It owns idempotency (a database unique constraint: INSERT … ON CONFLICT DO NOTHING, then an
update under a row lock), the rule that a deployment never moves backwards, the delivery log,
service resolution and suggestions. Its inserts are written out in SQL (periscope.rows):
every delivery runs them, and compiling them through the ORM cost more than the rest.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from django.db import connection, transaction
from django.utils import timezone

from deployments.changes import linking
from deployments.models import (
    TERMINAL_STATUSES,
    Delivery,
    DeliveryAction,
    Deployment,
    EnvironmentAlias,
    Repository,
    Status,
)
from deployments.recording import new_names, recovery, repeats, rollbacks
from deployments.recording.commit_time import carried_commit_time
from deployments.recording.environments import PRODUCTION, canonical_environment, environment_key
from deployments.recording.events import DeploymentEvent, DuplicatePolicy, RecordResult
from deployments.recording.service_group import ServiceGroup
from deployments.rollups import maintain as rollups
from periscope import rows
from periscope.models import Organization
from services.matching import normalize_key
from services.models import Service, ServiceAlias, ServiceSuggestion, SuggestionStatus

# Fields a later delivery may change. Identity (organization, source, id) never changes.
MUTABLE_FIELDS = (
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
    "commit_at",
    "triggered_by",
    "pipeline_name",
    "pipeline_url",
    "description",
    "metadata",
    "raw_payload",
    "rework",
)

# The idempotency key: a repeat of these is the same deployment (constraint uniq_deployment_id).
DEPLOYMENT_ID = ("organization", "source", "external_id")

# The lookups every delivery needs, in one round trip: the service by the name sent, else by
# the repository URL; the environment alias; whether the name is already a suggestion; and
# whether any repository could hold the deployment's commits (the organization has one, or
# the service names one), which is all change linking needs to know to skip a deployment.
# Each is one probe of an index; an empty key matches nothing (alias keys are never empty).
_LOOKUP_SQL = """
SELECT
    s.service_id,
    (SELECT environment FROM {environment} WHERE organization_id = %s AND name = %s),
    (SELECT 1 FROM {suggestion} WHERE organization_id = %s AND {key} = %s),
    EXISTS (SELECT 1 FROM {repository} WHERE organization_id = %s),
    (SELECT repository_url FROM {service} WHERE id = s.service_id)
FROM (
    SELECT COALESCE(
        (SELECT service_id FROM {alias} WHERE organization_id = %s AND {key} = %s),
        (SELECT service_id FROM {alias} WHERE organization_id = %s AND {key} = %s)
    ) AS service_id
) s
"""


_LOOKUP = rows.Statement(
    _LOOKUP_SQL,
    alias=ServiceAlias,
    key="key",
    environment=EnvironmentAlias,
    suggestion=ServiceSuggestion,
    repository=Repository,
    service=Service,
)


class _Names(NamedTuple):
    """What the organization's catalog says about the names a delivery carries."""

    service_id: int | None
    environment_alias: str | None
    suggested: bool
    repository_possible: bool


def _lookup(*, organization: Organization, event: DeploymentEvent) -> _Names:
    # The service is resolved by the name, else by the repository URL (Hivel sends only that).
    name_key = normalize_key(event.service_name or event.repository_url)
    repository_key = normalize_key(event.repository_url) if event.service_name else ""
    org = organization.pk
    params = [org, environment_key(event.environment), org, name_key, org]
    params += [org, name_key, org, repository_key]
    service_id, environment_alias, suggested, has_repository, service_repository = rows.fetchone(
        _LOOKUP, params
    )
    return _Names(
        service_id=service_id,
        environment_alias=environment_alias,
        suggested=suggested is not None,
        repository_possible=bool(has_repository or service_repository),
    )


def deployment_values(*, event: DeploymentEvent, service_id: int | None, environment: str) -> dict:
    """The stored form of an event (the MUTABLE_FIELDS), once its service and canonical
    environment are resolved. Ingest and import both store exactly this."""
    sent_name = event.service_name or event.repository_url
    return {
        "service_id": service_id,
        "service_name": sent_name,
        "service_key": normalize_key(sent_name),
        "environment": environment,
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
        "commit_at": event.commit_at or carried_commit_time(event.metadata),
        "triggered_by": event.triggered_by,
        "pipeline_name": event.pipeline_name,
        "pipeline_url": event.pipeline_url,
        "description": event.description,
        "metadata": event.metadata,
        "raw_payload": event.raw_payload,
        "rework": bool(event.rework),
    }


def _field_values(*, organization: Organization, event: DeploymentEvent, names: _Names) -> dict:
    return deployment_values(
        event=event,
        service_id=names.service_id,
        environment=canonical_environment(
            raw=event.environment,
            alias_target=names.environment_alias,
            default=organization.default_environment,
        ),
    )


def _suggest(*, organization: Organization, values: dict, names: _Names) -> None:
    # A name already suggested needs no insert (it would be a no-op on the unique key).
    if values["service_id"] is None and values["service_key"] and not names.suggested:
        rows.insert(
            ServiceSuggestion,
            {
                "organization_id": organization.pk,
                "name": values["service_name"],
                "key": values["service_key"],
                "status": SuggestionStatus.OPEN,
                "service_id": None,
                "created_at": timezone.now(),
            },
            unless_exists=("organization", "key"),
        )


# Fields replaced together or not at all on a repeat, led by the one the sender sent.
_GROUPS = (
    ("service_name", "service_id", "service_key"),
    ("environment_raw", "environment"),
    ("status", "status_raw"),
)


def _apply_repeat(
    *, existing: Deployment, values: dict, event: DeploymentEvent
) -> tuple[str, list[str]]:
    """Decide what a repeat delivery changes (the rule of deployments.recording.repeats); returns
    (action, changed field names) and applies the changes to `existing`."""
    incoming_status = values["status"]
    if existing.status in TERMINAL_STATUSES and incoming_status not in TERMINAL_STATUSES:
        return DeliveryAction.STALE, []
    sent_times = (
        values[name] for name in ("started_at", "completed_at") if name not in event.assumed
    )
    if repeats.is_stale(
        event_time=repeats.latest(sent_times),
        stored_time=repeats.latest((existing.started_at, existing.completed_at)),
    ):
        return DeliveryAction.STALE, []
    if event.duplicate_policy is DuplicatePolicy.KEEP_FIRST:
        candidates = {"status": incoming_status, "status_raw": values["status_raw"]}
    else:
        candidates = values
    if event.rework is None:
        # Saying nothing about rework keeps what an earlier delivery declared.
        candidates = {name: value for name, value in candidates.items() if name != "rework"}
    changes = repeats.merged(
        stored={name: getattr(existing, name) for name in candidates},
        incoming=candidates,
        groups=_GROUPS,
        assumed=event.assumed,
    )
    if existing.rolled_back_detected and "status" in changes:
        if changes["status"] == Status.SUCCESS:
            # Still the success a detected rollback replaced: it stays rolled back.
            changes.pop("status")
            changes.pop("status_raw", None)
        else:
            # The sender says otherwise now, and what it says stands.
            existing.rolled_back_detected = False
            changes["rolled_back_detected"] = False
    if not changes:
        return DeliveryAction.DUPLICATE, []
    for name, value in changes.items():
        setattr(existing, name, value)
    return DeliveryAction.UPDATED, list(changes)


def _loaded(*, organization: Organization, pk: int, row: dict) -> Deployment:
    """The stored deployment as the ORM would load it, without reading it back."""
    deployment = rows.as_loaded(Deployment(pk=pk, **row))
    deployment.organization = organization
    return deployment


@dataclass(frozen=True, kw_only=True)
class _Pending:
    """A delivery about to be recorded, with what the catalog resolved for it."""

    organization: Organization
    event: DeploymentEvent
    body: str
    received_at: datetime
    names: _Names
    values: dict


def _log_delivery(*, pending: _Pending, deployment_id: int, action: str) -> None:
    rows.insert(
        Delivery,
        {
            "organization_id": pending.organization.pk,
            "deployment_id": deployment_id,
            "source": pending.event.source,
            "received_at": pending.received_at,
            "action": action,
            "body": pending.body,
        },
    )


def _record_new(*, pending: _Pending, link: bool) -> RecordResult | None:
    """Store the event as a new deployment with its delivery; None if its id is stored.

    Plain statements only, so it can run in `rows.transaction()`; with `link` (inside
    `atomic()` only), the change linkers run too."""
    organization, event, values = pending.organization, pending.event, pending.values
    external_id = event.external_id if event.external_id is not None else uuid.uuid4().hex
    now = timezone.now()
    row = {
        "organization_id": organization.pk,
        "source": event.source,
        "external_id": external_id,
        **values,
        "created_at": now,
        "updated_at": now,
    }
    pk = rows.insert_unless_exists(Deployment, row, unique=DEPLOYMENT_ID)
    if pk is None:
        return None
    _suggest(organization=organization, values=values, names=pending.names)
    _log_delivery(pending=pending, deployment_id=pk, action=DeliveryAction.CREATED)
    linked_prs = 0
    if link:
        linked_prs = linking.link_on_record(
            _loaded(organization=organization, pk=pk, row=row),
            action=DeliveryAction.CREATED,
            repository_possible=pending.names.repository_possible,
        )
    rollups.note_deployment(
        organization_id=organization.pk,
        **{name: values[name] for name in recovery.INSERT_FIELDS},
    )
    # Last before the commit: a production success takes its service's recovery lock here,
    # and holds it only until the commit.
    recovery.after_insert(
        organization_id=organization.pk,
        deployment_id=pk,
        **{name: values[name] for name in recovery.INSERT_FIELDS},
    )
    return RecordResult(
        deployment_id=pk,
        external_id=external_id,
        action=DeliveryAction.CREATED,
        service_id=values["service_id"],
        service_name=values["service_name"],
        linked_prs=linked_prs,
        completed_at=values["completed_at"],
    )


# A repeat's stored row, locked, in one round trip: first the recovery locks of its groups
# as sent (the parameter) and as stored (read from the row), in hash order, then the row's
# lock. A success being recorded holds its group's lock and then updates this row if it is a
# failure, so taking the row first deadlocked (32 deliveries at once). Only production
# deployments take recovery locks. The stored group's lock key comes back too: the row's
# lock returns its latest version, which a writer committing meanwhile may have moved.
_LOCKED_REPEAT = rows.Statement(
    """
SELECT {columns}, locks.stored
FROM {deployment} d
CROSS JOIN LATERAL (
    SELECT stored.key AS stored, (
        SELECT count(pg_advisory_xact_lock(k))
        FROM (
            SELECT DISTINCT hashtextextended(t, 0) AS k
            FROM unnest(ARRAY[%s::text, stored.key]) AS t
            WHERE t IS NOT NULL
            ORDER BY k
        ) keys
    ) AS taken
    FROM (SELECT CASE WHEN d.environment = %s THEN """
    + recovery.LOCK_KEY_SQL
    + """ END AS key) stored
) locks
WHERE d.organization_id = %s AND d.source = %s AND d.external_id = %s
FOR UPDATE OF d
""",
    columns=rows.Columns(Deployment, alias="d"),
    deployment=Deployment,
)


def _production_group(state: dict) -> ServiceGroup | None:
    if state["environment"] != PRODUCTION:
        return None
    return ServiceGroup.of(service_id=state["service_id"], service_key=state["service_key"])


def _locked_repeat(*, pending: _Pending) -> tuple[Deployment | None, frozenset[ServiceGroup]]:
    """The stored row of a repeat, locked, and the groups whose recovery locks are held."""
    organization, event = pending.organization, pending.event
    if connection.vendor != "postgresql":  # one writer at a time: no locks
        stored = Deployment.objects.filter(
            organization=organization, source=event.source, external_id=event.external_id
        ).first()
        return stored, frozenset()
    org = organization.pk
    sent = _production_group(pending.values)
    sent_key = None if sent is None else recovery.lock_key(organization_id=org, group=sent)
    row = rows.fetchone(
        _LOCKED_REPEAT, [sent_key, PRODUCTION, org, event.source, event.external_id]
    )
    if row is None:
        return None, frozenset()
    deployment = rows.instance(Deployment, row[:-1])
    held = {sent} if sent is not None else set()
    stored = _production_group(deployment.__dict__)
    if stored is not None and recovery.lock_key(organization_id=org, group=stored) == row[-1]:
        held.add(stored)
    return deployment, frozenset(held)


def _record_repeat(*, pending: _Pending) -> RecordResult | None:
    """A known id (or the loser of a race for a new one, which waited for the winner's
    commit): lock the stored row, then apply what may change. None if no row has the id
    (deleted since it was found)."""
    organization, event = pending.organization, pending.event
    deployment, held = _locked_repeat(pending=pending)
    if deployment is None:
        return None
    before = {name: getattr(deployment, name) for name in recovery.RELEVANT}
    action, changed = _apply_repeat(existing=deployment, values=pending.values, event=event)
    if changed:
        after = {name: getattr(deployment, name) for name in recovery.RELEVANT}
        recovery.before_change(
            organization_id=organization.pk,
            deployment_id=deployment.pk,
            changes={name: getattr(deployment, name) for name in changed},
            old=before,
            held=held,
        )
        deployment.save(update_fields=[*changed, "updated_at"])
        rollups.note_change(organization_id=organization.pk, before=before, after=after)
    _suggest(organization=organization, values=pending.values, names=pending.names)
    _log_delivery(pending=pending, deployment_id=deployment.pk, action=action)
    linked_prs = linking.link_on_record(
        deployment, action=action, repository_possible=pending.names.repository_possible
    )
    return RecordResult(
        deployment_id=deployment.pk,
        external_id=event.external_id,
        action=action,
        service_id=deployment.service_id,
        service_name=deployment.service_name,
        linked_prs=linked_prs,
        completed_at=deployment.completed_at,
    )


def _detect_rollbacks(*, pending: _Pending, result: RecordResult) -> RecordResult:
    """Inside the delivery's transaction: a new production deployment may be, or change, a
    detected rollback; so may any stored deployment a repeat changed."""
    values = pending.values
    if (result.created and rollbacks.needs_detection(**_detection_values(values))) or (
        result.action == DeliveryAction.UPDATED
    ):
        rollbacks.detect(
            organization=pending.organization,
            deployment_id=result.deployment_id,
            new=result.created,
        )
    return result


def _detection_values(values: dict) -> dict:
    return {name: values[name] for name in ("environment", "status", "commit_sha")}


def _record_one(*, pending: _Pending) -> RecordResult:
    """Record one event inside `atomic()`: new or repeat, with change linking. A stored row
    deleted between the insert and the repeat's lock is recorded anew."""
    while True:
        result = _record_new(pending=pending, link=True) or _record_repeat(pending=pending)
        if result is not None:
            return _detect_rollbacks(pending=pending, result=result)


def _pending(
    *, organization: Organization, event: DeploymentEvent, body: str, received_at: datetime
) -> _Pending:
    names = _lookup(organization=organization, event=event)
    return _Pending(
        organization=organization,
        event=event,
        body=body,
        received_at=received_at,
        names=names,
        values=_field_values(organization=organization, event=event, names=names),
    )


def _new_keys(batch: Sequence[_Pending]) -> set[str]:
    """The names of a batch that nothing matches and no suggestion holds yet."""
    return {
        p.values["service_key"]
        for p in batch
        if p.values["service_id"] is None and p.values["service_key"] and not p.names.suggested
    }


def record_deployment(
    *,
    organization: Organization,
    event: DeploymentEvent,
    body: str,
    received_at: datetime | None = None,
    cap_new_names: bool = False,
) -> RecordResult:
    """Store one deployment event exactly once and log the delivery that carried it.

    `cap_new_names` (the webhooks): a new unmatched name past the organization's daily cap is
    refused (new_names.TooManyNewNames, a 429) before anything is stored."""
    # Reading the catalog before the transaction sees what its first statement would
    # (READ COMMITTED), and lets the transaction be chosen by what the event needs.
    pending = _pending(
        organization=organization,
        event=event,
        body=body,
        received_at=received_at or timezone.now(),
    )
    if cap_new_names:
        new_names.check(organization_id=organization.pk, new_keys=_new_keys([pending]))
    # Change linking runs only where a new deployment could link anything (a production
    # success with a commit and a repository); the rest take the fast path.
    if linking.links_new(
        values=pending.values, repository_possible=pending.names.repository_possible
    ):
        with transaction.atomic():
            return _record_one(pending=pending)
    # The fast path, for most deliveries: a new deployment with nothing to link is a few
    # plain statements, which rows.transaction() sends in two round trips on PostgreSQL.
    values = pending.values
    stored = checked = None
    with rows.transaction():
        result = _record_new(pending=pending, link=False)
        if result is not None and rollbacks.needs_detection(**_detection_values(values)):
            stored = Deployment(
                pk=result.deployment_id,
                organization_id=organization.pk,
                **{name: values[name] for name in recovery.INSERT_FIELDS},
                commit_sha=values["commit_sha"],
            )
            checked = rollbacks.send_candidate_check(organization=organization, deployment=stored)
    if result is not None:
        if stored is not None:
            rollbacks.detect_after_record(
                organization=organization, deployment=stored, checked=checked
            )
        return result
    with transaction.atomic():
        # The id is stored: a repeat, without trying the insert again.
        result = _record_repeat(pending=pending)
        if result is None:
            return _record_one(pending=pending)
        return _detect_rollbacks(pending=pending, result=result)


def record_deployments(
    *,
    organization: Organization,
    events: Sequence[tuple[DeploymentEvent, str]],
    received_at: datetime | None = None,
    cap_new_names: bool = False,
) -> list[RecordResult]:
    """Store a batch atomically: every (event, body) pair or none of them (`cap_new_names`
    as for record_deployment)."""
    received_at = received_at or timezone.now()
    with transaction.atomic():
        batch = [
            _pending(organization=organization, event=event, body=body, received_at=received_at)
            for event, body in events
        ]
        if cap_new_names:
            new_names.check(organization_id=organization.pk, new_keys=_new_keys(batch))
        if len(batch) > 1:
            # Each production deployment may take its service's recovery lock; taken one by
            # one in event order, two batches naming the same services in other orders could
            # deadlock, so a batch takes them all first, in one sorted statement.
            recovery.lock_groups(
                organization_id=organization.pk,
                groups={
                    ServiceGroup.of(
                        service_id=p.values["service_id"], service_key=p.values["service_key"]
                    )
                    for p in batch
                    if p.values["environment"] == PRODUCTION
                },
            )
        return [_record_one(pending=p) for p in batch]
