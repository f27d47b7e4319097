"""DORA metrics, aggregated in the database. Definitions: docs/metrics.md.

Selectors take a `Window` (organization, environment, [start, end), service/team filter) and
return plain dataclasses. Every count, median and percentile is computed in SQL; Python only
assembles the rows the database returns (one per group, UTC day or status).
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from django.db.models import Q, QuerySet

from deployments.models import (
    FAILED_STATUSES,
    Deployment,
    Incident,
)
from deployments.recording.service_group import ServiceGroup
from deployments.rollups.cells import next_success
from deployments.rollups.maintain import fold
from metrics import benchmarks
from metrics import rollup_queries as rq
from metrics.lead_time import LeadTimeStats
from services.models import Service, ServiceSuggestion
from services.selection import ServiceSelector

INTERVALS = ("day", "week", "month")
COUNTS = ("reached", "failed", "rolled_back", "incident_caused", "total", "rework")


@dataclass(frozen=True, kw_only=True)
class Window:
    """What a metrics question covers: an organization's environment over [start, end),
    optionally one service or team. (An API key's permission is periscope.models.Scope.)"""

    organization_id: int
    start: datetime
    end: datetime
    environment: str = "production"
    service: ServiceSelector | None = None
    team: str = ""


def _service_q(scope: Window, *, incidents: bool = False, path: str = "") -> Q:
    """The service/team filter, on a deployment or (with `path`) on a related deployment."""
    q = Q()
    selector = scope.service
    if selector is not None:
        if selector.service_id is not None:
            q &= Q(**{f"{path}service_id": selector.service_id})
            if incidents and selector.alias_keys:
                q |= Q(service__isnull=True, service_key__in=selector.alias_keys)
        else:
            q &= Q(**{f"{path}service__isnull": True, f"{path}service_key": selector.key})
    if scope.team:
        q &= Q(**{f"{path}service__team__iexact": scope.team})
    return q


def deployments_in(scope: Window) -> QuerySet:
    """Deployments of the scope that completed in [start, end)."""
    return Deployment.objects.filter(
        _service_q(scope),
        organization_id=scope.organization_id,
        environment=scope.environment,
        completed_at__gte=scope.start,
        completed_at__lt=scope.end,
    )


# --- buckets ---------------------------------------------------------------------------


def _period_start(moment: datetime, interval: str) -> datetime:
    day = moment.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if interval == "week":
        return day - timedelta(days=day.weekday())
    if interval == "month":
        return day.replace(day=1)
    return day


def _next_period(start: datetime, interval: str) -> datetime:
    if interval == "day":
        return start + timedelta(days=1)
    if interval == "week":
        return start + timedelta(days=7)
    return (start + timedelta(days=32)).replace(day=1)


def buckets(*, start: datetime, end: datetime, interval: str) -> list[tuple[datetime, datetime]]:
    """UTC days, ISO weeks (Monday) or calendar months covering [start, end), first and last
    clipped to the range."""
    result = []
    period = _period_start(start, interval)
    while period < end:
        following = _next_period(period, interval)
        result.append((max(period, start), min(following, end)))
        period = following
    return result


def bucket_count(*, start: datetime, end: datetime, interval: str) -> int:
    """An upper bound of len(buckets(...)), without building them."""
    days = (end - start).total_seconds() / 86400
    per_bucket = {"day": 1, "week": 7, "month": 28}[interval]
    return int(days / per_bucket) + 2


# --- results ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Frequency:
    deployments: int
    deployment_days: int
    per_day: float
    level: str | None


@dataclass(frozen=True, kw_only=True)
class LeadTime:
    median_seconds: float | None
    p90_seconds: float | None
    mean_seconds: float | None
    changes: int
    level: str | None
    # Successful production deployments that shipped no change with a known start time.
    deployments_without_changes: int = 0
    # Pull requests only: mean seconds from first commit to opened, opened to merged, merged
    # to deployed.
    coding_mean_seconds: float | None = None
    review_mean_seconds: float | None = None
    waiting_mean_seconds: float | None = None


@dataclass(frozen=True, kw_only=True)
class ChangeFailureRate:
    rate: float | None
    failed: int
    rolled_back: int
    incident_caused: int
    total: int
    level: str | None


@dataclass(frozen=True, kw_only=True)
class ReworkRate:
    """Deployment rework rate: the share of deployments that reached the environment and were
    rework (deployments/recording/rework.py). DORA publishes no performance levels for it."""

    rate: float | None
    rework: int
    total: int
    level: None = None


@dataclass(frozen=True, kw_only=True)
class Recovery:
    median_seconds: float | None
    p90_seconds: float | None
    recovered: int
    open: int
    level: str | None


@dataclass(frozen=True, kw_only=True)
class TimeToRestore:
    median_seconds: float | None
    resolved: int
    open: int


@dataclass(frozen=True, kw_only=True)
class DoraMetrics:
    start: datetime
    end: datetime
    deployment_frequency: Frequency
    lead_time: LeadTime
    change_failure_rate: ChangeFailureRate
    failed_deployment_recovery_time: Recovery
    incident_time_to_restore: TimeToRestore
    rework_rate: ReworkRate


@dataclass(frozen=True, kw_only=True)
class DoraReport:
    benchmarks: str
    summary: DoraMetrics
    series: list[DoraMetrics] = field(default_factory=list)
    # With dora_report(previous=True): the summary of the range of the same length before.
    previous: DoraMetrics | None = None


# --- selectors -------------------------------------------------------------------------


def _median(values: list[int]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def _at_midnight(moment: datetime) -> bool:
    # As rq.Days.of tells a whole day's start.
    return moment == rq.midnight(moment.date())


def _last_day(end: datetime) -> date:
    """The last UTC day touched by a range ending (exclusively) at `end`."""
    return (end - timedelta(microseconds=1)).date()


@lru_cache(maxsize=64)
def _bucket_firsts(start: datetime, end: datetime, interval: str) -> tuple[date, ...]:
    # The same for every service of a per-service table: built once, not once per service.
    return tuple(p_start.date() for p_start, _ in buckets(start=start, end=end, interval=interval))


def _days_per(days: set[date], *, start: datetime, end: datetime, interval: str) -> float | None:
    """Median, over the weeks/months overlapping [start, end), of their deployment days."""
    # Interior bucket bounds are midnights, so each day falls in one bucket: find it by
    # bisection (O(days log buckets); a per-bucket scan costs seconds for 100 services x 1 year).
    firsts = _bucket_firsts(start, end, interval)
    counts = [0] * len(firsts)
    last = _last_day(end)
    for d in days:
        if firsts and firsts[0] <= d <= last:
            counts[bisect_right(firsts, d) - 1] += 1
    return _median(counts)


def _frequency(*, reached: int, days: set[date], start: datetime, end: datetime) -> Frequency:
    first, last = start.date(), _last_day(end)
    inside = {d for d in days if first <= d <= last}
    per_week = _days_per(inside, start=start, end=end, interval="week")
    per_month = _days_per(inside, start=start, end=end, interval="month")
    return Frequency(
        deployments=reached,
        deployment_days=len(inside),
        per_day=reached / ((end - start).total_seconds() / 86400),
        level=benchmarks.frequency_level(days_per_week=per_week, days_per_month=per_month),
    )


def _cfr(row: dict | None) -> ChangeFailureRate:
    row = row or {"failed": 0, "rolled_back": 0, "incident_caused": 0, "total": 0}
    numerator = row["failed"] + row["rolled_back"] + row["incident_caused"]
    rate = numerator / row["total"] if row["total"] else None
    return ChangeFailureRate(
        rate=rate,
        failed=row["failed"],
        rolled_back=row["rolled_back"],
        incident_caused=row["incident_caused"],
        total=row["total"],
        level=benchmarks.level("change_failure_rate", rate),
    )


def _rework(row: dict | None) -> ReworkRate:
    reached, rework = (row or {}).get("reached", 0), (row or {}).get("rework", 0)
    return ReworkRate(rate=rework / reached if reached else None, rework=rework, total=reached)


def _recovery_result(values: tuple | None, counts: dict | None) -> Recovery:
    recovered, median, p90 = values or (0, None, None)
    failed = (counts["failed"] + counts["rolled_back"]) if counts else 0
    return Recovery(
        median_seconds=median,
        p90_seconds=p90,
        recovered=recovered,
        open=failed - recovered,
        level=benchmarks.level("recovery_seconds", median),
    )


def _incidents(scope: Window) -> QuerySet:
    return Incident.objects.filter(
        _service_q(scope, incidents=True),
        organization_id=scope.organization_id,
        environment=scope.environment,
    )


def _lead_time(stats: LeadTimeStats) -> LeadTime:
    return LeadTime(
        median_seconds=stats.median_seconds,
        p90_seconds=stats.p90_seconds,
        mean_seconds=stats.mean_seconds,
        changes=stats.changes,
        level=benchmarks.level("lead_time_seconds", stats.median_seconds),
        deployments_without_changes=stats.deployments_without_changes,
        coding_mean_seconds=stats.coding_mean_seconds,
        review_mean_seconds=stats.review_mean_seconds,
        waiting_mean_seconds=stats.waiting_mean_seconds,
    )


# --- per service -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ServiceDora:
    """The four metrics of one service (or unmatched name) over a scope's range."""

    service_id: int | None
    # The pairing key, ServiceGroup.encode(): "service:<id>" or "name:<normalized name>".
    group: str
    name: str
    team: str
    deployment_frequency: Frequency
    lead_time: LeadTime
    change_failure_rate: ChangeFailureRate
    failed_deployment_recovery_time: Recovery
    rework_rate: ReworkRate


def _groups_q(groups: list[ServiceGroup]) -> Q:
    """The rows of any of `groups`: two IN lists, not one condition per group (a Q of 100
    OR'ed groups took 17 ms to build and more to compile)."""
    ids = [g.service_id for g in groups if g.service_id is not None]
    keys = [g.service_key for g in groups if g.service_id is None]
    parts = []
    if ids:
        parts.append(Q(service_id__in=ids))
    if keys:
        parts.append(Q(service__isnull=True, service_key__in=keys))
    return Q(*parts, _connector=Q.OR)


def unrecovered_failures(*, scope: Window, limit: int = 20) -> list[Deployment]:
    """Failed or rolled-back deployments of the scope with no later success of the same
    service and environment yet, newest first.

    A failure is unrecovered when it completed at or after its service's last success. The
    rollups give each group's last day with a success (or, never successful, its first day with
    a failure) in one query, so only failures from that day on are looked at, each with one
    next-success lookup, and the scan starts at the earliest such day: two queries whatever the
    number of services or unmatched names, reading days of deployments rather than the window.
    """
    last_success: dict[date, list[ServiceGroup]] = {}
    since = []
    for key, (last, first_failure) in rq.success_days(_filter(scope)).items():
        if last is not None:
            last_success.setdefault(last, []).append(ServiceGroup.decode(key))
            since.append(last)
        elif first_failure is not None:
            since.append(first_failure)
    if not since:  # no failure after any group's last success
        return []
    earliest = min(since)
    # The scan starts at the earliest day, so a group whose last success is on that day (every
    # group, when all deployed on the last day) and a group that never succeeded need no
    # condition of their own: only the groups whose last success is later are held to it, one
    # condition per distinct day.
    later = {day: groups for day, groups in last_success.items() if day > earliest}
    held = [group for groups in later.values() for group in groups]
    since_last = Q()
    if held:
        since_last = Q(
            ~_groups_q(held),
            *(
                _groups_q(groups) & Q(completed_at__gte=rq.midnight(day))
                for day, groups in later.items()
            ),
            _connector=Q.OR,
        )
    failed = (
        deployments_in(scope)
        .filter(since_last, status__in=FAILED_STATUSES, completed_at__gte=rq.midnight(earliest))
        .annotate(next_success=next_success())
        .filter(next_success__isnull=True)
        .select_related("service")
        .order_by("-completed_at", "-id")
    )
    return list(failed[:limit])


def open_incidents(*, scope: Window, limit: int = 20) -> list[Incident]:
    """Incidents of the scope's environment and service/team filter not resolved yet."""
    return list(
        _incidents(scope)
        .filter(resolved_at__isnull=True)
        .select_related("service")
        .order_by("-started_at", "-id")[:limit]
    )


# --- from the rollups ---------------------------------------------------------------------


def _filter(scope: Window, *, totals: bool = False) -> rq.Filter:
    """The rollup rows and raw rows of the scope's service/team filter, once the writes
    noted so far are folded into the rollups (deployments/rollups/maintain.py). With
    `totals`, a scope of every service reads the all-services totals."""
    fold(organization_id=scope.organization_id)
    deployments = incidents = Q()
    selector = scope.service
    if selector is not None and selector.service_id is not None:
        own = ServiceGroup(selector.service_id).encode()
        deployments = Q(group=own)
        # Incidents sent under an alias name before the alias existed count for the service.
        aliases = [ServiceGroup(None, k).encode() for k in selector.alias_keys]
        incidents = Q(group__in=[own, *aliases]) if aliases else deployments
    elif selector is not None:
        deployments = incidents = Q(group=ServiceGroup(None, selector.key).encode())
    if scope.team:
        deployments &= Q(service__team__iexact=scope.team)
        incidents &= Q(service__team__iexact=scope.team)
    return rq.Filter(
        organization_id=scope.organization_id,
        environment=scope.environment,
        deployments=deployments,
        incidents=incidents,
        raw_deployments=_service_q(scope),
        raw_incidents=_service_q(scope, incidents=True),
        totals=totals and selector is None and not scope.team,
        one_group=selector is not None and deployments == incidents,
        one_service=selector is not None,
    )


def _lead(cell: dict, stats: tuple | None) -> LeadTime:
    n, _total, median, p90, mean = stats or (0, 0.0, None, None, None)

    def mean_of(name: str) -> float | None:
        count = cell.get(f"{name}_count", 0)
        return cell[f"{name}_sum"] / count if count else None

    return LeadTime(
        median_seconds=median,
        p90_seconds=p90,
        mean_seconds=mean,
        changes=n,
        level=benchmarks.level("lead_time_seconds", median),
        deployments_without_changes=cell.get("successful", 0) - cell.get("with_changes", 0),
        coding_mean_seconds=mean_of("coding"),
        review_mean_seconds=mean_of("review"),
        waiting_mean_seconds=mean_of("waiting"),
    )


def _recovery(cell: dict, stats: tuple | None) -> Recovery:
    n, _total, median, p90, _mean = stats or (0, 0.0, None, None, None)
    return Recovery(
        median_seconds=median,
        p90_seconds=p90,
        recovered=n,
        open=cell.get("failed", 0) + cell.get("rolled_back", 0) - n,
        level=benchmarks.level("recovery_seconds", median),
    )


def _restore(stats: tuple | None, open_count: int) -> TimeToRestore:
    n, _total, median, _p90, _mean = stats or (0, 0.0, None, None, None)
    return TimeToRestore(median_seconds=median, resolved=n, open=open_count)


def _add(into: dict, numbers: dict) -> None:
    for name, value in numbers.items():
        into[name] = into.get(name, 0) + value


def _cell_numbers(cell) -> dict:
    return {name: getattr(cell, name) for name in rq.NUMBERS}


def _summarizer(per_day: dict, baseline: int):
    """metrics(start, end, key, found) of ranges inside the days of `per_day` ({day: sums}),
    `baseline` incidents open before its first day."""
    # Running sums over the days in order: a bucket's numbers, its active days and the
    # incidents open at its end are two bisections each, not a pass over every day.
    ordered = sorted(per_day)
    running = [dict.fromkeys(rq.NUMBERS, 0)]
    for day in ordered:
        following = dict(running[-1])
        _add(following, per_day[day])
        running.append(following)
    active_days = sorted(day for day, row in per_day.items() if row.get("reached"))

    def numbers_between(first: date, last: date) -> dict:
        """Sums of the days in [first, last]."""
        high, low = running[bisect_right(ordered, last)], running[bisect_left(ordered, first)]
        return {name: high[name] - low[name] for name in rq.NUMBERS}

    def active_between(first: date, last: date) -> set[date]:
        return set(active_days[bisect_left(active_days, first) : bisect_right(active_days, last)])

    def open_at(end: datetime) -> int:
        # Incidents opened minus closed before `end`: every day before it, in the window.
        upto = running[bisect_right(ordered, _last_day(end))]
        return baseline + upto["incidents_opened"] - upto["incidents_closed"]

    def metrics(start: datetime, end: datetime, key: str, found: dict) -> DoraMetrics:
        cell = numbers_between(start.date(), _last_day(end))
        return DoraMetrics(
            start=start,
            end=end,
            deployment_frequency=_frequency(
                reached=cell["reached"],
                days=active_between(start.date(), _last_day(end)),
                start=start,
                end=end,
            ),
            lead_time=_lead(cell, found.get((key, "lead"))),
            change_failure_rate=_cfr(cell),
            failed_deployment_recovery_time=_recovery(cell, found.get((key, "recovery"))),
            incident_time_to_restore=_restore(found.get((key, "restore")), open_at(end)),
            rework_rate=_rework(cell),
        )

    return metrics


def dora_report(
    *, scope: Window, interval: str = "week", series: bool = True, previous: bool = False
) -> DoraReport:
    """The summary of [start, end) and (unless `series` is False) the series per interval,
    from the rollups: a constant number of queries whatever the range, buckets or services.

    With `previous`, also the summary of the range of the same length before (the
    dashboard's comparison). When both ranges are whole days, their days' sums are read in
    one query and the incidents open before the earlier one in another (not a second
    report's sums, open count and fold): each range's numbers are then summed over its own
    days only, as its own report sums them."""
    length = scope.end - scope.start
    earlier = scope.start - length
    together = (
        previous and length > timedelta(0) and _at_midnight(scope.start) and _at_midnight(earlier)
    )
    if previous and not together:
        report = dora_report(scope=scope, interval=interval, series=series)
        before_report = dora_report(
            scope=replace(scope, start=earlier, end=scope.start), series=False
        )
        return replace(report, previous=before_report.summary)
    window_filter = _filter(scope, totals=True)
    days = rq.Days.of(scope.start, scope.end)
    periods = buckets(start=scope.start, end=scope.end, interval=interval) if series else []
    edges, before = rq.edge_cells(window_filter, days)
    # Both ranges whole days (both bounds midnights): neither has edges.
    earlier_days = rq.Days.of(earlier, scope.start) if together else None
    read = replace(days, first=earlier_days.first) if earlier_days else days

    per_day = rq.numbers(window_filter, read, by="day")
    for (_env, _group, day), cell in edges.items():
        _add(per_day.setdefault(day, {}), _cell_numbers(cell))
    # Open before the first day read, then the part of the start's day before the start (the
    # `before` cells; none when the start is a midnight). `read.first` is the day after a
    # start inside a day, which would count that part twice.
    first_day = earlier_days.first if earlier_days else scope.start.date()
    baseline = rq.open_before(window_filter, first_day) + sum(
        cell.incidents_opened - cell.incidents_closed for cell in before.values()
    )
    earlier_metrics = None
    if earlier_days is not None:
        earlier_per_day = {day: row for day, row in per_day.items() if day < days.first}
        per_day = {day: row for day, row in per_day.items() if day >= days.first}
        earlier_metrics = _summarizer(earlier_per_day, baseline)
        baseline += sum(
            row["incidents_opened"] - row["incidents_closed"] for row in earlier_per_day.values()
        )

    def bucket_of(day: date) -> str:
        return _period_start(rq.midnight(day), interval).date().isoformat()

    column = {"day": "day", "week": "week", "month": "month"}[interval]
    stats = rq.percentiles(
        window_filter, days, by=None, extra=rq.sketches_of(edges, lambda key: "")
    )
    bucket_stats = (
        rq.percentiles(
            window_filter,
            days,
            by=column,
            extra=rq.sketches_of(edges, lambda key: bucket_of(key[2])),
        )
        if periods
        else {}
    )
    metrics = _summarizer(per_day, baseline)
    items = [
        metrics(p_start, p_end, bucket_of(p_start.date()), bucket_stats)
        for p_start, p_end in periods
    ]
    summary = metrics(scope.start, scope.end, "", stats)
    before_summary = None
    if earlier_metrics is not None:
        earlier_stats = rq.percentiles(window_filter, earlier_days, by=None, extra={})
        before_summary = earlier_metrics(earlier, scope.start, "", earlier_stats)
    return DoraReport(
        benchmarks=benchmarks.CURRENT, summary=summary, series=items, previous=before_summary
    )


def group_labels(*, organization_id: int, groups) -> dict[str, tuple[int | None, str, str]]:
    """{encoded group: (service id, name, team)} for the per-service tables: a catalogued
    service's name and team; an unmatched name as first sent (its suggestion's name, which
    ingest makes one per key). Two queries."""
    decoded = {key: ServiceGroup.decode(key) for key in groups}
    ids = [g.service_id for g in decoded.values() if g.service_id is not None]
    # Two columns, not the model: 100 Service instances cost more than the query.
    services = {
        pk: (name, team)
        for pk, name, team in Service.objects.filter(
            organization_id=organization_id, pk__in=ids
        ).values_list("pk", "name", "team")
    }
    names = dict(
        ServiceSuggestion.objects.filter(
            organization_id=organization_id,
            key__in=[g.service_key for g in decoded.values() if g.service_id is None],
        ).values_list("key", "name")
    )
    labels = {}
    for key, group in decoded.items():
        if group.service_id is not None:
            name, team = services.get(group.service_id, (str(group.service_id), ""))
            labels[key] = (group.service_id, name, team)
        else:
            labels[key] = (None, names.get(group.service_key, group.service_key), "")
    return labels


def dora_by_service(*, scope: Window) -> list[ServiceDora]:
    """Per service (or unmatched name) with deployments completed in the scope: the summary
    metrics dora_report gives with that `service=`, from the rollups grouped by service."""
    window_filter = _filter(scope)
    days = rq.Days.of(scope.start, scope.end)
    edges, _before = rq.edge_cells(window_filter, days)
    per_group = {
        group: row
        for group, row in rq.numbers(window_filter, days, by="group").items()
        if row.get("completed")
    }
    for (_env, group, _day), cell in edges.items():
        if cell.completed or group in per_group:
            _add(per_group.setdefault(group, {}), _cell_numbers(cell))
    active = rq.active_days(window_filter, days)
    for (_env, group, day), cell in edges.items():
        if cell.reached:
            active.setdefault(group, set()).add(day)
    stats = rq.percentiles(
        window_filter, days, by="group", extra=rq.sketches_of(edges, lambda key: key[1])
    )
    labels = group_labels(organization_id=scope.organization_id, groups=per_group)
    result = []
    for key, cell in per_group.items():
        service_id, name, team = labels[key]
        result.append(
            ServiceDora(
                service_id=service_id,
                group=key,
                name=name,
                team=team,
                deployment_frequency=_frequency(
                    reached=cell.get("reached", 0),
                    days=active.get(key, set()),
                    start=scope.start,
                    end=scope.end,
                ),
                lead_time=_lead(cell, stats.get((key, "lead"))),
                change_failure_rate=_cfr(cell),
                failed_deployment_recovery_time=_recovery(cell, stats.get((key, "recovery"))),
                rework_rate=_rework(cell),
            )
        )
    result.sort(key=lambda item: (-item.deployment_frequency.deployments, item.name.lower()))
    return result
