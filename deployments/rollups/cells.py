"""The rollup cells computed from the raw rows: one organization's deployments, links and
incidents, summed per environment, service group and UTC day.

`compute` is the only definition of what a cell holds. The writers call it for the cells their
write changed (deployments/rollups/maintain.py), `check_rollups` compares it with what is
stored, and a metrics request whose range starts or ends inside a day calls it for those
partial days. A cell's contents, all by the UTC day of the time named:

- counts (a deployment's completion): completed (any status), reached (success, rolled back), failed, rolled_back,
  total (success, failure, rolled back), successful, incident_caused (a success with an
  incident attributed), with_changes (a success that first shipped a change with a known
  start), rework (reached, and rework by deployments/recording/rework.py: declared, a
  detected rollback, or completed while an incident of its group was open);
- lead (its deployment's completion): the lead time of each change it first shipped, as a
  sketch, and the pull requests' stage sums and counts;
- recovery (the failure's completion): seconds to the next success of the pairing key and
  environment, as a sketch;
- restore (the incident's resolution): seconds from start to resolution, as a sketch;
- incidents_opened (its start) and incidents_closed (the later of start and resolution):
  the incidents open at a midnight are those opened before it minus those closed before it.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection
from django.db.models import Case, Count, Exists, OuterRef, Q, Subquery, When
from django.db.models.functions import Coalesce, TruncDate

from deployments.changes.first_shipped import BRANCHES, first_shipped_sql
from deployments.models import (
    CONCLUDED_STATUSES,
    FAILED_STATUSES,
    REACHED_STATUSES,
    Deployment,
    Incident,
    Status,
)
from deployments.recording import rework
from deployments.recording.service_group import ServiceGroup
from deployments.rollups import sketch

CellKey = tuple[str, str, date]  # environment, encoded service group, UTC day


@dataclass(kw_only=True)
class Cell:
    completed: int = 0
    reached: int = 0
    failed: int = 0
    rolled_back: int = 0
    total: int = 0
    successful: int = 0
    incident_caused: int = 0
    with_changes: int = 0
    rework: int = 0
    lead: sketch.Sketch = field(default_factory=dict)
    coding_count: int = 0
    coding_sum: float = 0.0
    review_count: int = 0
    review_sum: float = 0.0
    waiting_count: int = 0
    waiting_sum: float = 0.0
    recovery: sketch.Sketch = field(default_factory=dict)
    restore: sketch.Sketch = field(default_factory=dict)
    incidents_opened: int = 0
    incidents_closed: int = 0

    def is_empty(self) -> bool:
        return not any(getattr(self, f.name) for f in fields(self))

    def merge(self, other: "Cell") -> None:
        for f in fields(self):
            if f.name in SKETCHES:
                sketch.merge(getattr(self, f.name), getattr(other, f.name))
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


SKETCHES = ("lead", "recovery", "restore")
NUMBERS = tuple(f.name for f in fields(Cell) if f.name not in SKETCHES)


def midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def utc_day(value) -> date:
    """The UTC day of a timestamp as either database returns it."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).date()


def _moment(value) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True, kw_only=True)
class Slice:
    """Cells to compute: an environment (None: all), a service group (None: all, narrowed by
    the extra filters), and a time range [start, end) (None: unbounded). A cell is computed
    completely when the slice holds its whole day."""

    environment: str | None = None
    group: ServiceGroup | None = None
    start: datetime | None = None
    end: datetime | None = None
    # A read's service/team filter (metrics.dora): incidents are filtered apart because
    # those sent under an alias count for its service.
    deployments: Q = field(default_factory=Q)
    incidents: Q = field(default_factory=Q)

    @classmethod
    def days(cls, *, environment: str, group: ServiceGroup, first: date, last: date) -> "Slice":
        return cls(
            environment=environment,
            group=group,
            start=midnight(first),
            end=midnight(last + timedelta(days=1)),
        )

    def _where(self, *, extra: Q, time_q: Q) -> Q:
        q = extra & time_q
        if self.environment is not None:
            q &= Q(environment=self.environment)
        if self.group is not None:
            q &= self.group.q()
        return q

    def _between(self, name: str) -> Q:
        q = Q()
        if self.start is not None:
            q &= Q(**{f"{name}__gte": self.start})
        if self.end is not None:
            q &= Q(**{f"{name}__lt": self.end})
        return q

    def deployment_q(self) -> Q:
        return self._where(extra=self.deployments, time_q=self._between("completed_at"))

    def incident_q(self) -> Q:
        return self._where(
            extra=self.incidents,
            time_q=self._between("started_at") | self._between("resolved_at"),
        )

    def holds(self, environment: str, group: str, moment: datetime) -> bool:
        """Whether a contribution at `moment` to that environment and group is this slice's
        (incident rows are fetched by either of their times)."""
        return (
            (self.environment is None or self.environment == environment)
            and (self.group is None or self.group.encode() == group)
            and (self.start is None or moment >= self.start)
            and (self.end is None or moment < self.end)
        )


def any_of(slices: Sequence[Slice], q_of) -> Q:
    """The rows of any of the slices. (An empty Q would vanish from an OR: it is everything.)"""
    parts = [q_of(part) for part in slices]
    if any(not part for part in parts):
        return Q()
    combined = parts[0]
    for part in parts[1:]:
        combined |= part
    return combined


def _group(service_id, service_key) -> str:
    return ServiceGroup.of(service_id=service_id, service_key=service_key).encode()


def _counts(organization_id: int, where: Q, cells: dict[CellKey, Cell]) -> None:
    with_incident = Incident.objects.filter(deployment_id=OuterRef("pk"))
    rows = (
        Deployment.objects.filter(where, organization_id=organization_id)
        .filter(completed_at__isnull=False)
        .annotate(day=TruncDate("completed_at", tzinfo=UTC))
        .values("environment", "service_id", "service_key", "day", "status")
        .order_by()
        .annotate(
            n=Count("id"),
            caused=Count("id", filter=Q(Exists(with_incident), status=Status.SUCCESS)),
            # Declared or a detected rollback; during an incident: _rework_during_incidents.
            rework=Count(
                "id", filter=Q(rework.is_declared_or_rollback(), status__in=REACHED_STATUSES)
            ),
        )
    )
    for row in rows:
        day = row["day"] if isinstance(row["day"], date) else utc_day(row["day"])
        cell = cells.setdefault(
            (row["environment"], _group(row["service_id"], row["service_key"]), day), Cell()
        )
        status, n = row["status"], row["n"]
        cell.reached += n if status in REACHED_STATUSES else 0
        cell.failed += n if status == Status.FAILURE else 0
        cell.rolled_back += n if status == Status.ROLLED_BACK else 0
        cell.completed += n
        cell.total += n if status in CONCLUDED_STATUSES else 0
        cell.successful += n if status == Status.SUCCESS else 0
        cell.incident_caused += row["caused"]
        cell.rework += row["rework"]


def next_success() -> Coalesce:
    """The completion of a failure's next success of its pairing key and environment: as
    stored (`recovered_at`, production), else looked up (deployments/recording/recovery.py)."""
    later = Deployment.objects.filter(
        organization_id=OuterRef("organization_id"),
        environment=OuterRef("environment"),
        status=Status.SUCCESS,
        completed_at__gt=OuterRef("completed_at"),
    ).order_by("completed_at")
    by_service = later.filter(service_id=OuterRef("service_id")).values("completed_at")[:1]
    by_key = later.filter(service__isnull=True, service_key=OuterRef("service_key")).values(
        "completed_at"
    )[:1]
    return Coalesce(
        "recovered_at",
        Case(
            When(service_id__isnull=False, then=Subquery(by_service)),
            default=Subquery(by_key),
        ),
    )


def _recovery(organization_id: int, where: Q, cells: dict[CellKey, Cell]) -> None:
    rows = (
        Deployment.objects.filter(where, organization_id=organization_id)
        .filter(status__in=FAILED_STATUSES)
        .annotate(next_success=next_success())
        .filter(next_success__isnull=False)
        .values_list("environment", "service_id", "service_key", "completed_at", "next_success")
        .order_by()
    )
    for environment, service_id, service_key, completed_at, recovered_at in rows:
        completed, recovered = _moment(completed_at), _moment(recovered_at)
        key = (environment, _group(service_id, service_key), completed.date())
        sketch.add(cells.setdefault(key, Cell()).recovery, (recovered - completed).total_seconds())


# The changes each successful deployment first shipped (deployments/changes/first_shipped.py),
# with the deployment's cell.
_CELL_COLUMNS = "d.environment, d.service_id, d.service_key, d.completed_at, "


def _lead(organization_id: int, where: Q, cells: dict[CellKey, Cell]) -> None:
    successful = Deployment.objects.filter(
        where,
        organization_id=organization_id,
        status=Status.SUCCESS,
        completed_at__isnull=False,
    )
    ids_sql, ids_params = successful.order_by().values("id").query.sql_with_params()
    shipped: dict[CellKey, set[int]] = {}
    with connection.cursor() as cursor:
        cursor.execute(
            first_shipped_sql(ids=ids_sql, columns=_CELL_COLUMNS), [*ids_params] * BRANCHES
        )
        for (
            env,
            service_id,
            key,
            completed_at,
            deployment_id,
            lead,
            coding,
            review,
            wait,
        ) in cursor.fetchall():
            cell_key = (env, _group(service_id, key), utc_day(completed_at))
            cell = cells.setdefault(cell_key, Cell())
            sketch.add(cell.lead, float(lead))
            shipped.setdefault(cell_key, set()).add(deployment_id)
            for name, value in (("coding", coding), ("review", review), ("waiting", wait)):
                if value is not None:
                    setattr(cell, f"{name}_count", getattr(cell, f"{name}_count") + 1)
                    setattr(cell, f"{name}_sum", getattr(cell, f"{name}_sum") + float(value))
    for cell_key, ids in shipped.items():
        cells[cell_key].with_changes = len(ids)


def _span(slices: Sequence[Slice]) -> tuple[datetime | None, datetime | None]:
    starts, ends = [part.start for part in slices], [part.end for part in slices]
    return (
        None if None in starts else min(starts),
        None if None in ends else max(ends),
    )


# Past this many incident windows, the deployments are selected by group rather than by
# window (one OR'ed condition each), and the windows are checked in Python only.
_WINDOWS_IN_SQL = 200


def _rework_during_incidents(
    organization_id: int, where: Q, slices: Sequence[Slice], cells: dict[CellKey, Cell]
) -> None:
    """Rework by the third rule (deployments/recording/rework.py): reached while an incident
    of its group and environment was open, and not counted by the other two already.

    Driven from the incidents open during the slices (few), then the deployments inside their
    windows: a per-deployment lookup of every earlier incident of its service would cost a
    rebuild the incidents times the deployments."""
    first, last = _span(slices)
    incidents = Incident.objects.filter(
        any_of(slices, lambda part: part._where(extra=Q(), time_q=Q())),
        organization_id=organization_id,
    )
    if last is not None:
        incidents = incidents.filter(started_at__lt=last)
    if first is not None:
        incidents = incidents.filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=first))
    windows: dict[tuple[str, str], list[tuple[datetime, datetime | None]]] = {}
    for environment, service_id, service_key, started_at, resolved_at in incidents.values_list(
        "environment", "service_id", "service_key", "started_at", "resolved_at"
    ).order_by():
        windows.setdefault((environment, _group(service_id, service_key)), []).append(
            (_moment(started_at), _moment(resolved_at))
        )
    if not windows:
        return
    count = sum(len(spans) for spans in windows.values())
    selected = Q()
    for (environment, group), spans in windows.items():
        same = Q(environment=environment) & ServiceGroup.decode(group).q()
        if count > _WINDOWS_IN_SQL:
            selected |= same
            continue
        for started, resolved in spans:
            inside = Q(completed_at__gte=started)
            if resolved is not None:
                inside &= Q(completed_at__lt=resolved)
            selected |= same & inside
    rows = (
        Deployment.objects.filter(where, organization_id=organization_id)
        .filter(selected, status__in=REACHED_STATUSES, completed_at__isnull=False)
        .exclude(rework.is_declared_or_rollback())
        .values_list("environment", "service_id", "service_key", "completed_at")
        .order_by()
    )
    for environment, service_id, service_key, completed_at in rows:
        group, completed = _group(service_id, service_key), _moment(completed_at)
        if any(
            started <= completed and (resolved is None or completed < resolved)
            for started, resolved in windows.get((environment, group), ())
        ):
            cells.setdefault((environment, group, completed.date()), Cell()).rework += 1


def _incidents(organization_id: int, slices: Sequence[Slice], cells: dict[CellKey, Cell]) -> None:
    rows = (
        Incident.objects.filter(any_of(slices, Slice.incident_q), organization_id=organization_id)
        .values_list("environment", "service_id", "service_key", "started_at", "resolved_at")
        .order_by()
    )

    def held(environment: str, group: str, moment: datetime) -> Cell | None:
        if any(part.holds(environment, group, moment) for part in slices):
            return cells.setdefault((environment, group, moment.date()), Cell())
        return None

    for environment, service_id, service_key, started_at, resolved_at in rows:
        group = _group(service_id, service_key)
        started, resolved = _moment(started_at), _moment(resolved_at)
        if cell := held(environment, group, started):
            cell.incidents_opened += 1
        if resolved is not None:
            if cell := held(environment, group, resolved):
                sketch.add(cell.restore, (resolved - started).total_seconds())
            if cell := held(environment, group, max(started, resolved)):
                cell.incidents_closed += 1


def compute(*, organization_id: int, slices: Iterable[Slice]) -> dict[CellKey, Cell]:
    """The cells of `slices` from the raw rows (empty cells left out)."""
    slices = list(slices)
    if not slices:
        return {}
    cells: dict[CellKey, Cell] = {}
    where = any_of(slices, Slice.deployment_q)
    _counts(organization_id, where, cells)
    _rework_during_incidents(organization_id, where, slices, cells)
    _lead(organization_id, where, cells)
    _recovery(organization_id, where, cells)
    _incidents(organization_id, slices, cells)
    return {key: cell for key, cell in cells.items() if not cell.is_empty()}
