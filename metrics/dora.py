"""DORA metrics, aggregated in the database. Definitions: docs/metrics.md.

Selectors take a `Window` (organization, environment, [start, end), service/team filter) and
return plain dataclasses. Every count, median and percentile is computed in SQL; Python only
assembles the rows the database returns (one per group, UTC day or status).
"""

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from django.db.models import (
    Q,
    QuerySet,
)

from deployments.models import (
    FAILED_STATUSES,
    Deployment,
    Incident,
    Status,
)
from metrics import benchmarks
from metrics.lead_time import LeadTimeStats
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
    name: str
    team: str
    deployment_frequency: Frequency
    lead_time: LeadTime
    change_failure_rate: ChangeFailureRate
    failed_deployment_recovery_time: Recovery


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


def dora_report(*, scope: Window, interval: str = "week", series: bool = True) -> DoraReport:
    from metrics import reference  # temporary: until the rollups serve it

    return reference.dora_report(scope=scope, interval=interval, series=series)


def dora_by_service(*, scope: Window) -> list[ServiceDora]:
    from metrics import reference

    return reference.dora_by_service(scope=scope)
