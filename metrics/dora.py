"""DORA metrics, aggregated in the database. Definitions: docs/metrics.md.

Selectors take a `Window` (organization, environment, [start, end), service/team filter) and
return plain dataclasses. Every count, median and percentile is computed in SQL; Python only
assembles the rows the database returns (one per group, UTC day or status).
"""

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import (
    Case,
    Count,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce, Trunc, TruncDate

from deployments.models import (
    CONCLUDED_STATUSES,
    FAILED_STATUSES,
    REACHED_STATUSES,
    Deployment,
    Incident,
    Status,
)
from deployments.recording.service_group import ServiceGroup
from metrics import benchmarks
from metrics.lead_time import LeadTimeStats, lead_time_series, lead_time_stats
from metrics.sql import EpochSeconds, as_utc, distribution
from services.models import Service, ServiceSuggestion
from services.selection import ServiceSelector

INTERVALS = ("day", "week", "month")
COUNTS = ("reached", "failed", "rolled_back", "incident_caused", "total")


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


@dataclass(frozen=True, kw_only=True)
class DoraReport:
    benchmarks: str
    summary: DoraMetrics
    series: list[DoraMetrics] = field(default_factory=list)


# --- selectors -------------------------------------------------------------------------


def _counts(deployments: QuerySet, *, scope: Window, group) -> dict[object, dict[str, int]]:
    """Per group: reached, failed, rolled back, incident-caused, terminal.

    `deployments` is deployments_in(scope). One index-only scan of the range index, counted
    per group and status (Python adds the statuses up). The deployments with an incident are
    a non-correlated `id IN (...)`, evaluated once (a hash on PostgreSQL, a temporary index on
    SQLite), not per row.
    """
    with_incident = Incident.objects.filter(
        organization_id=scope.organization_id, deployment__isnull=False
    ).values("deployment_id")
    # Every status is named so that the range index, which has status before completion
    # time, is searched once per status over the range rather than read whole.
    rows = (
        deployments.filter(status__in=Status.values)
        .annotate(g=group)
        .values("g", "status")
        .order_by()
        .annotate(
            n=Count("status"),
            caused=Count("status", filter=Q(status=Status.SUCCESS, id__in=with_incident)),
        )
    )
    result = {}
    for row in rows:
        counts = result.setdefault(row["g"], dict.fromkeys(COUNTS, 0))
        status, n = row["status"], row["n"]
        counts["reached"] += n if status in REACHED_STATUSES else 0
        counts["failed"] += n if status == Status.FAILURE else 0
        counts["rolled_back"] += n if status == Status.ROLLED_BACK else 0
        counts["incident_caused"] += row["caused"]
        counts["total"] += n if status in CONCLUDED_STATUSES else 0
    return result


def _daily_counts(deployments: QuerySet, *, scope: Window) -> dict[date, dict]:
    """_counts per UTC day of completion: the summary, any series (days, weeks and months are
    unions of days) and the deployment days all come from these rows."""
    rows = _counts(deployments, scope=scope, group=TruncDate("completed_at", tzinfo=UTC))
    return {
        (d if isinstance(d, date) else date.fromisoformat(str(d)[:10])): row
        for d, row in rows.items()
    }


def _sum_days(daily: dict[date, dict], *, start: datetime, end: datetime) -> dict:
    """The counts of [start, end) from the days it touches: `daily` holds only deployments
    of the report's range, and bucket bounds inside it fall on UTC midnights."""
    first, last = start.date(), _last_day(end)
    days = [row for d, row in daily.items() if first <= d <= last]
    return {name: sum(row[name] for row in days) for name in COUNTS}


def _median(values: list[int]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


def _last_day(end: datetime) -> date:
    """The last UTC day touched by a range ending (exclusively) at `end`."""
    return (end - timedelta(microseconds=1)).date()


def _days_per(days: set[date], *, start: datetime, end: datetime, interval: str) -> float | None:
    """Median, over the weeks/months overlapping [start, end), of their deployment days."""
    # Interior bucket bounds are midnights, so each day falls in one bucket: find it by
    # bisection (O(days log buckets); a per-bucket scan costs seconds for 100 services x 1 year).
    firsts = [p_start.date() for p_start, _ in buckets(start=start, end=end, interval=interval)]
    counts = [0] * len(firsts)
    last = _last_day(end)
    for d in days:
        if firsts and firsts[0] <= d <= last:
            counts[bisect_right(firsts, d) - 1] += 1
    return _median(counts)


def _frequency(*, reached: int, days: set[date], start: datetime, end: datetime) -> Frequency:
    inside = {d for d in days if start.date() <= d <= _last_day(end)}
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


def _recovered_at(scope: Window):
    """Completion time of the next successful deployment of the same service and environment:
    as stored (`Deployment.recovered_at`, see deployments/recovery.py), else looked up. Both
    databases evaluate the lookup only for rows without a stored value."""
    later = Deployment.objects.filter(
        organization_id=scope.organization_id,
        environment=scope.environment,
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


def _recovery(deployments: QuerySet, *, scope: Window, group, temporal: bool) -> dict:
    """Per group: (recovered, median, p90) of failed deployments' recovery seconds."""
    norm = as_utc if temporal else (lambda value: value)
    failed = deployments.filter(status__in=FAILED_STATUSES).annotate(recovered=_recovered_at(scope))
    seconds = EpochSeconds("recovered") - EpochSeconds("completed_at")
    return {
        norm(k): (count, median, p90)
        for k, (count, median, p90, _mean) in distribution(
            failed, value=seconds, group=group
        ).items()
    }


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


def _time_to_restore(
    scope: Window, periods: list[tuple[datetime, datetime]]
) -> list[TimeToRestore]:
    """Per period: median resolved - started of incidents resolved in it; open at its end."""
    incidents = _incidents(scope)
    whens = [
        When(resolved_at__gte=p_start, resolved_at__lt=p_end, then=Value(index))
        for index, (p_start, p_end) in enumerate(periods)
    ]
    # Periods must not overlap: a row goes to the first period whose WHEN matches.
    resolved = incidents.filter(resolved_at__gte=periods[0][0], resolved_at__lt=periods[-1][1])
    seconds = EpochSeconds("resolved_at") - EpochSeconds("started_at")
    stats = distribution(resolved, value=seconds, group=Case(*whens, default=Value(-1)))
    open_counts = incidents.aggregate(
        **{
            f"open_{index}": Count(
                "id",
                filter=Q(started_at__lt=p_end)
                & (Q(resolved_at__isnull=True) | Q(resolved_at__gte=p_end)),
            )
            for index, (_start, p_end) in enumerate(periods)
        }
    )
    result = []
    for index in range(len(periods)):
        count, median, _p90, _mean = stats.get(index, (0, None, None, None))
        result.append(
            TimeToRestore(median_seconds=median, resolved=count, open=open_counts[f"open_{index}"])
        )
    return result


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


def dora_report(*, scope: Window, interval: str = "week", series: bool = True) -> DoraReport:
    """The summary of [start, end) and (unless `series` is False) the series per interval,
    each from grouped queries."""
    periods = buckets(start=scope.start, end=scope.end, interval=interval) if series else []
    deployments = deployments_in(scope)
    successful = deployments.filter(status=Status.SUCCESS)
    bucket_of = Trunc("completed_at", interval, tzinfo=UTC)

    daily = _daily_counts(deployments, scope=scope)
    days = {d for d, row in daily.items() if row["reached"]}
    summary_recovery = _recovery(deployments, scope=scope, group=Value(0), temporal=False).get(0)
    restore = _time_to_restore(scope, [(scope.start, scope.end)])
    summary_counts = _sum_days(daily, start=scope.start, end=scope.end)
    # Reached is success + rolled back: the successful count the lead time reports against
    # comes from the counts already made, not a second scan of the range.
    lead_summary = lead_time_stats(
        deployments=successful,
        successful_count=summary_counts["reached"] - summary_counts["rolled_back"],
    )
    recovery, lead_series = {}, []
    if periods:
        recovery = _recovery(deployments, scope=scope, group=bucket_of, temporal=True)
        restore += _time_to_restore(scope, periods)
        lead_series = lead_time_series(deployments=successful, buckets=periods)

    def metrics(start, end, row, recovery_values, restore_values, lead) -> DoraMetrics:
        return DoraMetrics(
            start=start,
            end=end,
            deployment_frequency=_frequency(
                reached=row["reached"] if row else 0, days=days, start=start, end=end
            ),
            lead_time=_lead_time(lead),
            change_failure_rate=_cfr(row),
            failed_deployment_recovery_time=_recovery_result(recovery_values, row),
            incident_time_to_restore=restore_values,
        )

    series = []
    for index, (p_start, p_end) in enumerate(periods):
        key = _period_start(p_start, interval)
        series.append(
            metrics(
                p_start,
                p_end,
                _sum_days(daily, start=p_start, end=p_end),
                recovery.get(key),
                restore[index + 1],
                lead_series[index],
            )
        )
    summary = metrics(
        scope.start, scope.end, summary_counts, summary_recovery, restore[0], lead_summary
    )
    return DoraReport(benchmarks=benchmarks.CURRENT, summary=summary, series=series)


# --- per service -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ServiceDora:
    """The four metrics of one service (or unmatched name) over a scope's range."""

    service_id: int | None
    name: str
    team: str
    deployment_frequency: Frequency
    lead_time: LeadTime
    change_failure_rate: ChangeFailureRate
    failed_deployment_recovery_time: Recovery


def dora_by_service(*, scope: Window) -> list[ServiceDora]:
    """Per service with terminal deployments in the scope: the same summary metrics
    dora_report gives with that `service=` (grouped queries, lead time per service)."""
    deployments = deployments_in(scope)
    group = ServiceGroup.expression()
    counts = _counts(deployments, scope=scope, group=group)
    recovery = _recovery(deployments, scope=scope, group=group, temporal=False)
    # Grouped on the raw columns (cheaper than on the CASE), keyed like the expression.
    days_by_group: dict[str, set[date]] = {}
    for service_id, service_key, day in (
        deployments.filter(status__in=REACHED_STATUSES)
        .annotate(day=TruncDate("completed_at", tzinfo=UTC))
        .values_list("service_id", "service_key", "day")
        .distinct()
        .order_by()
    ):
        key = ServiceGroup.of(service_id=service_id, service_key=service_key).encode()
        parsed = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
        days_by_group.setdefault(key, set()).add(parsed)
    groups = {key: ServiceGroup.decode(key) for key in counts}
    ids = [g.service_id for g in groups.values() if g.service_id is not None]
    services = {
        s.pk: s for s in Service.objects.filter(organization_id=scope.organization_id, pk__in=ids)
    }
    # An unmatched name as first sent is its suggestion's name (ingest makes one per key).
    names = dict(
        ServiceSuggestion.objects.filter(
            organization_id=scope.organization_id,
            key__in=[g.service_key for g in groups.values() if g.service_id is None],
        ).values_list("key", "name")
    )
    result = []
    for key, row in counts.items():
        service_group = groups[key]
        service_id = service_group.service_id
        successful = deployments.filter(service_group.q(), status=Status.SUCCESS)
        if service_id is not None:
            service = services.get(service_id)
            name = getattr(service, "name", str(service_id))
            team = getattr(service, "team", "")
        else:
            key_name = service_group.service_key
            name, team = names.get(key_name, key_name), ""
        result.append(
            ServiceDora(
                service_id=service_id,
                name=name,
                team=team,
                deployment_frequency=_frequency(
                    reached=row["reached"],
                    days=days_by_group.get(key, set()),
                    start=scope.start,
                    end=scope.end,
                ),
                lead_time=_lead_time(lead_time_stats(deployments=successful)),
                change_failure_rate=_cfr(row),
                failed_deployment_recovery_time=_recovery_result(recovery.get(key), row),
            )
        )
    result.sort(key=lambda item: (-item.deployment_frequency.deployments, item.name.lower()))
    return result


def unrecovered_failures(*, scope: Window, limit: int = 20) -> list[Deployment]:
    """Failed or rolled-back deployments of the scope with no later success of the same
    service and environment yet, newest first.

    A failure is unrecovered when it completed at or after its service's last success, so
    this is two index descents per catalogued service or unmatched name (its suggestion)
    rather than a next-success lookup for every failure of the range.
    """
    same_env = Deployment.objects.filter(
        organization_id=scope.organization_id, environment=scope.environment
    )
    services = Service.objects.filter(organization_id=scope.organization_id)
    keys = ServiceSuggestion.objects.filter(organization_id=scope.organization_id)
    selector = scope.service
    if selector is not None and selector.service_id is not None:
        services, keys = services.filter(pk=selector.service_id), keys.none()
    elif selector is not None:
        services, keys = services.none(), keys.filter(key=selector.key)
    if scope.team:
        services, keys = services.filter(team__iexact=scope.team), keys.none()
    groups = [Q(service_id=pk) for pk in services.values_list("pk", flat=True)] + [
        Q(service__isnull=True, service_key=key)
        for key in keys.values_list("key", flat=True).distinct()
    ]
    found: list[Deployment] = []
    for group in groups:
        same = same_env.filter(group)
        last_success = (
            same.filter(status=Status.SUCCESS)
            .order_by("-completed_at")
            .values_list("completed_at", flat=True)
            .first()
        )
        failed = same.filter(
            status__in=FAILED_STATUSES, completed_at__gte=scope.start, completed_at__lt=scope.end
        )
        if last_success is not None:
            failed = failed.filter(completed_at__gte=last_success)
        found.extend(failed.select_related("service").order_by("-completed_at", "-id")[:limit])
    found.sort(key=lambda d: (d.completed_at, d.pk), reverse=True)
    return found[:limit]


def open_incidents(*, scope: Window, limit: int = 20) -> list[Incident]:
    """Incidents of the scope's environment and service/team filter not resolved yet."""
    return list(
        _incidents(scope)
        .filter(resolved_at__isnull=True)
        .select_related("service")
        .order_by("-started_at", "-id")[:limit]
    )
