"""Keeping the rollups exact: every write notes what it changed, and before its transaction
commits the cells it touched are recomputed from the raw rows (cells.compute) and stored.

A writer opens `maintained(organization_id=)` around its transaction and notes, inside it,
the state of each deployment or incident before and after it changed (`note_deployment`,
`note_incident`), the deployments whose change links changed (`note_links`) and whole groups
moved in bulk (`note_groups`). On leaving the block the touched cells are refreshed:

- a deployment's own cell (its environment, service group and UTC day of completion);
- for a success, the cells of the failures it may recover: those of its group and
  environment completed since the success before it;
- for linked deployments, the cells of every deployment of the group that shipped one of the
  same changes (which of them shipped a change first may have moved);
- for an incident, the cells of its start, resolution and closing days, and (noted as the
  deployment states) the cells of the deployments it is attributed to.

Recomputing rather than adding deltas keeps one definition (cells.py) and makes a refresh
exact whatever ran before it. On PostgreSQL the refresh takes the touched groups' advisory
locks (the recovery locks, deployments/recording/recovery.py) before it reads: a concurrent
writer of the same group waits, and its own refresh, in a later snapshot, sees this one's
rows. SQLite runs one write transaction at a time.
"""

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import transaction
from django.db.models import Max, Min, Q

from deployments.models import (
    FAILED_STATUSES,
    DailyRollup,
    Deployment,
    DeploymentCommit,
    DeploymentPullRequest,
    Status,
)
from deployments.recording import recovery
from deployments.recording.service_group import ServiceGroup
from deployments.rollups import sketch
from deployments.rollups.cells import NUMBERS, SKETCHES, Cell, CellKey, Slice, compute, utc_day


class NotMaintained(RuntimeError):
    """A write noted outside `maintained()`: its rollups would drift."""


@dataclass
class _Changes:
    organization_id: int
    cells: set[tuple[str, ServiceGroup, date]] = field(default_factory=set)
    successes: set[tuple[str, ServiceGroup, datetime]] = field(default_factory=set)
    linked: set[int] = field(default_factory=set)
    ranges: set[tuple[str, ServiceGroup, date, date]] = field(default_factory=set)
    groups: set[ServiceGroup] = field(default_factory=set)


_current: ContextVar[_Changes | None] = ContextVar("rollup_changes", default=None)


def _changes(organization_id: int) -> _Changes:
    changes = _current.get()
    if changes is None or changes.organization_id != organization_id:
        raise NotMaintained("a write to deployments or incidents outside rollups.maintained()")
    return changes


@contextmanager
def maintained(*, organization_id: int) -> Iterator[None]:
    """A transaction whose notes are refreshed before it commits (nested: the outermost)."""
    outer = _current.get()
    if outer is not None:
        if outer.organization_id != organization_id:
            raise NotMaintained("two organizations in one maintained() block")
        with transaction.atomic():
            yield
        return
    changes = _Changes(organization_id)
    token = _current.set(changes)
    try:
        with transaction.atomic():
            yield
            refresh_noted(changes)
    finally:
        _current.reset(token)


def note_deployment(
    *,
    organization_id: int,
    environment: str,
    service_id: int | None,
    service_key: str,
    status: str,
    completed_at: datetime | None,
) -> None:
    if completed_at is None:
        return  # in no cell
    changes = _changes(organization_id)
    group = ServiceGroup.of(service_id=service_id, service_key=service_key)
    changes.cells.add((environment, group, utc_day(completed_at)))
    if status == Status.SUCCESS:
        changes.successes.add((environment, group, completed_at))


def note_deployment_row(deployment: Deployment) -> None:
    note_deployment(
        organization_id=deployment.organization_id,
        environment=deployment.environment,
        service_id=deployment.service_id,
        service_key=deployment.service_key,
        status=deployment.status,
        completed_at=deployment.completed_at,
    )


def note_deployments(*, organization_id: int, ids: Iterable[int]) -> None:
    """The current state of these deployments (before a bulk change, and after it)."""
    for row in Deployment.objects.filter(organization_id=organization_id, pk__in=list(ids)).only(
        "organization_id", "environment", "service_id", "service_key", "status", "completed_at"
    ):
        note_deployment_row(row)


def note_inserted(*, organization_id: int, rows: Iterable[dict]) -> None:
    """Deployments inserted in bulk (an import batch): per environment and group, the days
    from the first to the last completion, and the recovery window of its earliest success
    (which covers every failure a later success of the batch may recover)."""
    changes = _changes(organization_id)
    spans: dict[tuple[str, ServiceGroup], list] = {}
    for values in rows:
        completed_at = values["completed_at"]
        if completed_at is None:
            continue
        group = ServiceGroup.of(service_id=values["service_id"], service_key=values["service_key"])
        span = spans.setdefault((values["environment"], group), [completed_at, completed_at, None])
        span[0], span[1] = min(span[0], completed_at), max(span[1], completed_at)
        if values["status"] == Status.SUCCESS and (span[2] is None or completed_at < span[2]):
            span[2] = completed_at
    for (environment, group), (first, last, earliest_success) in spans.items():
        changes.ranges.add((environment, group, utc_day(first), utc_day(last)))
        if earliest_success is not None:
            changes.successes.add((environment, group, earliest_success))


def note_incident(
    *,
    organization_id: int,
    environment: str,
    service_id: int | None,
    service_key: str,
    started_at: datetime,
    resolved_at: datetime | None,
) -> None:
    changes = _changes(organization_id)
    group = ServiceGroup.of(service_id=service_id, service_key=service_key)
    for moment in (started_at, resolved_at):
        if moment is not None:
            changes.cells.add((environment, group, utc_day(moment)))


def note_incident_row(incident) -> None:
    """An incident's cells and the cell of the deployment it is attributed to."""
    note_incident(
        organization_id=incident.organization_id,
        environment=incident.environment,
        service_id=incident.service_id,
        service_key=incident.service_key,
        started_at=incident.started_at,
        resolved_at=incident.resolved_at,
    )
    if incident.deployment_id is not None:
        note_deployments(organization_id=incident.organization_id, ids=[incident.deployment_id])


def note_links(*, organization_id: int, deployment_ids: Iterable[int], now: bool = False) -> None:
    """Deployments whose links change: before the change (`now`: the cells of the deployments
    sharing their current links are noted at once) and after it (looked up at the refresh)."""
    changes = _changes(organization_id)
    ids = set(deployment_ids)
    if now:
        changes.cells |= _sibling_cells(organization_id=organization_id, ids=ids)
    else:
        changes.linked |= ids


def note_groups(*, organization_id: int, groups: Iterable[ServiceGroup]) -> None:
    """Deployments or incidents moved between these groups in bulk: all their cells."""
    _changes(organization_id).groups.update(groups)


# --- the refresh ---------------------------------------------------------------------------


def _recovery_windows(changes: _Changes) -> Iterator[tuple[str, ServiceGroup, date, date]]:
    """For each noted success: the days from its group's earliest failure since the previous
    success up to its own (the failures whose next success it may be, or have been)."""
    base = Deployment.objects.filter(organization_id=changes.organization_id)
    for environment, group, completed_at in changes.successes:
        same = base.filter(group.q(), environment=environment)
        previous = same.filter(status=Status.SUCCESS, completed_at__lt=completed_at).aggregate(
            at=Max("completed_at")
        )["at"]
        failures = same.filter(status__in=FAILED_STATUSES, completed_at__lt=completed_at)
        if previous is not None:
            failures = failures.filter(completed_at__gte=previous)
        first = failures.aggregate(at=Min("completed_at"))["at"]
        if first is not None:
            yield environment, group, utc_day(first), utc_day(completed_at)


def _sibling_cells(*, organization_id: int, ids: set[int]) -> set[tuple[str, ServiceGroup, date]]:
    """Cells of the deployments that shipped a change also linked to one of `ids`, in the
    same service group (the deployments themselves included)."""
    if not ids:
        return set()
    ids = list(ids)
    prs = DeploymentPullRequest.objects.filter(deployment_id__in=ids)
    commits = DeploymentCommit.objects.filter(deployment_id__in=ids)
    pr_q = Q(pull_request_id__in=prs.values("pull_request_id"))
    found = set()
    for model, q, pairs in (
        (DeploymentPullRequest, pr_q, prs.values_list("pull_request_id", "service_group")),
        (
            DeploymentCommit,
            Q(sha__in=commits.values("sha")),
            commits.values_list("sha", "service_group"),
        ),
    ):
        wanted = set(pairs)
        if not wanted:
            continue
        key = "pull_request_id" if model is DeploymentPullRequest else "sha"
        for value, service_group, env, service_id, service_key, completed_at in (
            model.objects.filter(q, organization_id=organization_id)
            .values_list(
                key,
                "service_group",
                "deployment__environment",
                "deployment__service_id",
                "deployment__service_key",
                "deployment__completed_at",
            )
            .order_by()
        ):
            if (value, service_group) in wanted and completed_at is not None:
                group = ServiceGroup.of(service_id=service_id, service_key=service_key)
                found.add((env, group, utc_day(completed_at)))
    return found


def _day_slices(cells: set[tuple[str, ServiceGroup, date]]) -> list[Slice]:
    """Runs of consecutive days of one environment and group as one slice each."""
    slices = []
    by_pair: dict[tuple[str, ServiceGroup], list[date]] = {}
    for environment, group, day in cells:
        by_pair.setdefault((environment, group), []).append(day)
    for (environment, group), days in by_pair.items():
        days.sort()
        first = previous = days[0]
        for day in days[1:] + [None]:
            if day is not None and day - previous <= timedelta(days=1):
                previous = day
                continue
            slices.append(
                Slice.days(environment=environment, group=group, first=first, last=previous)
            )
            if day is not None:
                first = previous = day
    return slices


def refresh_noted(changes: _Changes) -> None:
    groups = set(changes.groups) | {group for _env, group, _day in changes.cells}
    groups |= {group for _env, group, _at in changes.successes}
    if not groups and not changes.linked:
        return
    cells = set(changes.cells) | _sibling_cells(
        organization_id=changes.organization_id, ids=changes.linked
    )
    for environment, group, first, last in [*changes.ranges, *_recovery_windows(changes)]:
        day = first
        while day <= last:
            cells.add((environment, group, day))
            day += timedelta(days=1)
    slices = [Slice(group=group) for group in changes.groups]
    slices += _day_slices({cell for cell in cells if cell[1] not in changes.groups})
    refresh(
        organization_id=changes.organization_id,
        slices=slices,
        groups=groups | {cell[1] for cell in cells},
    )


def _stored_q(part: Slice) -> Q:
    q = Q()
    if part.environment is not None:
        q &= Q(environment=part.environment)
    if part.group is not None:
        q &= Q(group=part.group.encode())
    if part.start is not None:
        q &= Q(day__gte=part.start.date())
    if part.end is not None:
        q &= Q(day__lt=part.end.date())
    return q


def row_of(*, organization_id: int, key: CellKey, cell: Cell) -> DailyRollup:
    environment, group, day = key
    service_group = ServiceGroup.decode(group)
    values = {name: getattr(cell, name) for name in NUMBERS}
    values.update({name: sketch.to_json(getattr(cell, name)) for name in SKETCHES})
    return DailyRollup(
        organization_id=organization_id,
        environment=environment,
        group=group,
        service_id=service_group.service_id,
        day=day,
        week=day - timedelta(days=day.weekday()),
        month=day.replace(day=1),
        **values,
    )


def refresh(
    *, organization_id: int, slices: list[Slice], groups: Iterable[ServiceGroup] = ()
) -> int:
    """Recompute and store the cells of these whole-day slices; returns the rows stored."""
    if not slices:
        return 0
    with transaction.atomic():
        recovery.lock_groups(organization_id=organization_id, groups=groups)
        computed = compute(organization_id=organization_id, slices=slices)
        stored = Q(pk__in=[])
        for part in slices:
            stored |= _stored_q(part)
        DailyRollup.objects.filter(stored, organization_id=organization_id).delete()
        DailyRollup.objects.bulk_create(
            [
                row_of(organization_id=organization_id, key=key, cell=cell)
                for key, cell in computed.items()
            ],
            batch_size=2000,
        )
    return len(computed)


def rebuild(*, organization_id: int) -> int:
    """Every rollup of the organization from the raw rows."""
    return refresh(organization_id=organization_id, slices=[Slice()])
