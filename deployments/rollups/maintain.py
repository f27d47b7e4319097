"""Keeping the rollups exact: every write notes, in its own transaction, what it changed;
the next metrics read folds those notes into the rollups, recomputing the touched cells from
the raw rows (cells.compute).

Writers call, inside their transaction, `note_deployment` (the state of a deployment before
and after it changed), `note_incident_row`, `note_links` (deployments whose change links
change), `note_inserted` (an import batch) and `note_groups` (deployments or incidents moved
between groups in bulk). Each note is one small INSERT (RollupPending): append-only, so
concurrent deliveries never wait on each other, and a plain statement, so the webhook's
pipelined transaction (periscope.rows) sends it without another round trip. A write that
rolls back takes its notes with it; a committed one is never missed.

`fold(organization_id=)`, called by every metrics read before it reads, turns the notes
committed so far into cells and refreshes them:

- a deployment's own cell (its environment, service group and UTC day of completion);
- for a success, the cells of the failures it may recover: those of its group and
  environment completed since the success before it;
- for linked deployments, the cells of every deployment of the group that shipped one of the
  same changes (which of them shipped a change first may have moved);
- for an incident, the cells of its start and resolution days, and the cell of the
  deployment it is attributed to.

Recomputing rather than adding deltas keeps one definition (cells.py), makes a fold exact
whatever ran before it, and keeps the write path to one INSERT. Folds of one organization
run one at a time (a PostgreSQL advisory lock); a fold sees the rows of every write whose
notes it sees (both committed), so it never stores a cell without a row it counted. SQLite
runs one write transaction at a time.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Max, Min, Q
from django.utils import timezone

from deployments.models import (
    FAILED_STATUSES,
    DailyRollup,
    Deployment,
    DeploymentCommit,
    DeploymentPullRequest,
    GroupRollup,
    Incident,
    OrganizationRollup,
    RollupPending,
    Status,
)
from deployments.recording.service_group import ServiceGroup
from deployments.rollups import sketch
from deployments.rollups.cells import (
    NUMBERS,
    SKETCHES,
    Cell,
    CellKey,
    Slice,
    any_of,
    compute,
    midnight,
    utc_day,
)
from deployments.rollups.groups import refresh_groups
from deployments.rollups.totals import refresh_totals
from periscope import rows


@dataclass
class _Changes:
    organization_id: int
    cells: set[tuple[str, ServiceGroup, date]] = field(default_factory=set)
    successes: set[tuple[str, ServiceGroup, datetime]] = field(default_factory=set)
    linked: set[int] = field(default_factory=set)
    groups: set[ServiceGroup] = field(default_factory=set)
    ranges: set[tuple[str, ServiceGroup, date, date]] = field(default_factory=set)


def _note(organization_id: int, **values) -> None:
    rows.insert(
        RollupPending,
        {
            "organization_id": organization_id,
            "environment": "",
            "group": "",
            "first_day": None,
            "last_day": None,
            "success_at": None,
            "deployment_id": None,
            **values,
        },
    )


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
    group = ServiceGroup.of(service_id=service_id, service_key=service_key).encode()
    day = utc_day(completed_at)
    _note(
        organization_id,
        environment=environment,
        group=group,
        first_day=day,
        last_day=day,
        success_at=completed_at if status == Status.SUCCESS else None,
    )


def note_change(*, organization_id: int, before: dict, after: dict) -> None:
    """A stored deployment changed from `before` to `after` (each its environment,
    service_id, service_key, status and completed_at). Kept in its environment and group: one
    note, its days from the earlier state's to the later's with the earlier of its successes
    (whose recovery window, at the fold, reaches the later one), or its one day when it is a
    status change; moved: a note per state."""
    notes = []  # (environment, group, first day, last day, successes)
    for state in (before, after):
        if state["completed_at"] is None:
            continue  # in no cell
        group = ServiceGroup.of(service_id=state["service_id"], service_key=state["service_key"])
        day = utc_day(state["completed_at"])
        success = [state["completed_at"]] if state["status"] == Status.SUCCESS else []
        notes.append((state["environment"], group, day, day, success))
    if len(notes) == 2 and notes[0][:2] == notes[1][:2]:
        (environment, group, day_a, _, success_a), (_, _, day_b, _, success_b) = notes
        if day_a == day_b or success_a or success_b:
            first, last = min(day_a, day_b), max(day_a, day_b)
            notes = [(environment, group, first, last, success_a + success_b)]
    for environment, group, first, last, successes in notes:
        _note(
            organization_id,
            environment=environment,
            group=group.encode(),
            first_day=first,
            last_day=last,
            success_at=min(successes) if successes else None,
        )


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
    """The current state of these deployments (before a change, and after it)."""
    for row in Deployment.objects.filter(organization_id=organization_id, pk__in=list(ids)).only(
        "organization_id", "environment", "service_id", "service_key", "status", "completed_at"
    ):
        note_deployment_row(row)


def note_inserted(*, organization_id: int, rows: Iterable[dict]) -> None:
    """Deployments inserted in bulk (an import batch): per environment and group, the days
    from the first to the last completion, and the recovery window of its earliest success
    (which covers every failure a later success of the batch may recover)."""
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
        _note(
            organization_id,
            environment=environment,
            group=group.encode(),
            first_day=utc_day(first),
            last_day=utc_day(last),
            success_at=earliest_success,
        )


def note_incident(
    *,
    organization_id: int,
    environment: str,
    service_id: int | None,
    service_key: str,
    started_at: datetime,
    resolved_at: datetime | None,
) -> None:
    group = ServiceGroup.of(service_id=service_id, service_key=service_key).encode()
    # Every day it is open: a deployment completed then is rework. Open still: up to tomorrow
    # (a deployment recorded later is noted by its own write).
    first = utc_day(started_at)
    last = utc_day(resolved_at) if resolved_at is not None else utc_day(timezone.now())
    last = max(first, last + timedelta(days=0 if resolved_at is not None else 1))
    _note(organization_id, environment=environment, group=group, first_day=first, last_day=last)


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
    sharing their current links are noted at once) and after it (looked up at the fold)."""
    ids = set(deployment_ids)
    if now:
        for environment, group, day in _sibling_cells(organization_id=organization_id, ids=ids):
            _note(
                organization_id,
                environment=environment,
                group=group.encode(),
                first_day=day,
                last_day=day,
            )
        return
    for pk in ids:
        _note(organization_id, deployment_id=pk)


def note_groups(*, organization_id: int, groups: Iterable[ServiceGroup]) -> None:
    """Deployments or incidents moved between these groups in bulk: all their cells."""
    for group in groups:
        _note(organization_id, group=group.encode())


def _changes_of(pending: Iterable[RollupPending], organization_id: int) -> _Changes:
    changes = _Changes(organization_id)
    for note in pending:
        if note.deployment_id is not None:
            changes.linked.add(note.deployment_id)
            continue
        group = ServiceGroup.decode(note.group)
        if note.first_day is None:
            changes.groups.add(group)
            continue
        changes.ranges.add((note.environment, group, note.first_day, note.last_day))
        if note.success_at is not None:
            changes.successes.add((note.environment, group, note.success_at))
    return changes


def _fold_lock(organization_id: int) -> None:
    if connection.vendor != "postgresql":
        return
    key = int.from_bytes(
        hashlib.blake2b(f"rollup-fold|{organization_id}".encode(), digest_size=8).digest(),
        "big",
        signed=True,
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [key])


def fold(*, organization_id: int) -> int:
    """Fold the organization's committed notes into its rollups; returns the notes folded.
    One indexed probe when there is nothing to fold."""
    pending = RollupPending.objects.filter(organization_id=organization_id)
    if not pending.exists():
        return 0
    with transaction.atomic():
        _fold_lock(organization_id)
        # Read after the lock: a fold that ran meanwhile has deleted what it folded.
        notes = list(pending.order_by("id"))
        if notes:
            refresh_noted(_changes_of(notes, organization_id))
            # Exactly the notes read: a writer's note with a lower id may commit after the
            # read (ids are drawn before commit), and is folded by the next fold.
            ids = [note.id for note in notes]
            for start in range(0, len(ids), _DELETED_AT_ONCE):
                pending.filter(id__in=ids[start : start + _DELETED_AT_ONCE]).delete()
    return len(notes)


_DELETED_AT_ONCE = 5000


# --- the refresh ---------------------------------------------------------------------------


def _recovery_windows(changes: _Changes) -> list[tuple[str, ServiceGroup, date, date]]:
    """Per environment and group with noted successes: the days from the success before the
    earliest of them (or, without one, the group's earliest failure) to the latest of them,
    which hold every failure whose next success they may be or have been. Two queries."""
    span: dict[tuple[str, ServiceGroup], list[datetime]] = {}
    for environment, group, at in changes.successes:
        first_last = span.setdefault((environment, group), [at, at])
        first_last[0], first_last[1] = min(first_last[0], at), max(first_last[1], at)
    if not span:
        return []

    def pairs(status_q: Q, *, before: bool) -> dict[tuple[str, ServiceGroup], datetime]:
        where = Q(pk__in=[])
        for (environment, group), (first, last) in span.items():
            # Without a success before the earliest noted one, the failures before the
            # latest: those between two noted successes may be the later one's.
            bound = first if before else last
            where |= group.q() & Q(environment=environment, completed_at__lt=bound)
        found = (
            Deployment.objects.filter(where, status_q, organization_id=changes.organization_id)
            .values("environment", "service_id", "service_key")
            .order_by()
            .annotate(at=Max("completed_at") if before else Min("completed_at"))
        )
        return {(row["environment"], ServiceGroup.of_row(_Row(row))): row["at"] for row in found}

    previous = pairs(Q(status=Status.SUCCESS), before=True)
    missing = {pair: value for pair, value in span.items() if pair not in previous}
    earliest_failure = pairs(Q(status__in=FAILED_STATUSES), before=False) if missing else {}
    windows = []
    for pair, (_first, last) in span.items():
        start = previous.get(pair) or earliest_failure.get(pair)
        if start is not None:
            windows.append((*pair, utc_day(start), utc_day(last)))
    return windows


class _Row:
    def __init__(self, values: dict):
        self.service_id, self.service_key = values["service_id"], values["service_key"]


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


_PIECE = 100


def _day_slices(cells: set[tuple[str, ServiceGroup, date]]) -> list[Slice]:
    """Runs of consecutive days of one environment and group, within a month, as one slice
    each."""
    slices = []
    by_pair: dict[tuple[str, ServiceGroup], list[date]] = {}
    for environment, group, day in cells:
        by_pair.setdefault((environment, group), []).append(day)
    for (environment, group), days in by_pair.items():
        days.sort()
        first = previous = days[0]
        for day in days[1:] + [None]:
            if (
                day is not None
                and day - previous <= timedelta(days=1)
                and day.month == previous.month
            ):
                previous = day
                continue
            slices.append(
                Slice.days(environment=environment, group=group, first=first, last=previous)
            )
            if day is not None:
                first = previous = day
    return slices


def refresh_noted(changes: _Changes) -> None:
    cells = _sibling_cells(organization_id=changes.organization_id, ids=changes.linked)
    for environment, group, first, last in [*changes.ranges, *_recovery_windows(changes)]:
        day = first
        while day <= last:
            cells.add((environment, group, day))
            day += timedelta(days=1)
    slices = [Slice(group=group) for group in changes.groups]
    slices += _day_slices({cell for cell in cells if cell[1] not in changes.groups})
    # In pieces: an import's notes can cover years of every service, and one computation of
    # all of it held ~900 MB at 1M deployments; a piece is at most a month of 100 runs.
    for start in range(0, len(slices), _PIECE):
        refresh(organization_id=changes.organization_id, slices=slices[start : start + _PIECE])


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


def refresh(*, organization_id: int, slices: list[Slice]) -> int:
    """Recompute and store the cells of these whole-day slices; returns the rows stored."""
    if not slices:
        return 0
    with transaction.atomic():
        computed = compute(organization_id=organization_id, slices=slices)
        stored = DailyRollup.objects.filter(
            any_of(slices, _stored_q), organization_id=organization_id
        )
        # The cells whose week, month and all-services totals change: those stored before and
        # those computed.
        cells = set(stored.values_list("environment", "group", "day").order_by())
        cells |= {(environment, group, day) for environment, group, day in computed}
        stored.delete()
        DailyRollup.objects.bulk_create(
            [
                row_of(organization_id=organization_id, key=key, cell=cell)
                for key, cell in computed.items()
            ],
            batch_size=2000,
        )
        refresh_groups(organization_id=organization_id, cells=cells)
        refresh_totals(
            organization_id=organization_id, days={(env, day) for env, _group, day in cells}
        )
    return len(computed)


def months(organization_id: int) -> list[Slice]:
    """Calendar-month slices covering every completion, start and resolution of the
    organization: a rebuild computes one month at a time, so its memory follows a month's
    rows, not the history's (one slice over 1M deployments held ~900 MB)."""
    times = [
        Deployment.objects.filter(organization_id=organization_id).aggregate(
            first=Min("completed_at"), last=Max("completed_at")
        ),
        Incident.objects.filter(organization_id=organization_id).aggregate(
            first=Min("started_at"), last=Max("resolved_at")
        ),
        Incident.objects.filter(organization_id=organization_id).aggregate(
            first=Min("resolved_at"), last=Max("started_at")
        ),
    ]
    firsts = [t["first"] for t in times if t["first"] is not None]
    lasts = [t["last"] for t in times if t["last"] is not None]
    if not firsts:
        return []
    month = utc_day(min(firsts)).replace(day=1)
    last = utc_day(max(lasts + firsts))
    slices = []
    while month <= last:
        following = (month + timedelta(days=32)).replace(day=1)
        slices.append(Slice(start=midnight(month), end=midnight(following)))
        month = following
    return slices


def rebuild(*, organization_id: int) -> int:
    """Every rollup of the organization from the raw rows (its notes folded with them)."""
    with transaction.atomic():
        _fold_lock(organization_id)
        # The notes committed before the raw rows are read (their rows are read with them).
        pending = RollupPending.objects.filter(organization_id=organization_id)
        ids = list(pending.values_list("id", flat=True))
        DailyRollup.objects.filter(organization_id=organization_id).delete()
        GroupRollup.objects.filter(organization_id=organization_id).delete()
        OrganizationRollup.objects.filter(organization_id=organization_id).delete()
        stored = sum(
            refresh(organization_id=organization_id, slices=[month])
            for month in months(organization_id)
        )
        for start in range(0, len(ids), _DELETED_AT_ONCE):
            pending.filter(id__in=ids[start : start + _DELETED_AT_ONCE]).delete()
    return stored
