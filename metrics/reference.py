"""The raw computation of the DORA metrics: every number straight from the deployment,
link and incident rows, with no rollup in between.

This is the reference the rollups (`deployments/rollups/`, read by `metrics/dora.py`) are
checked against: `check_rollups`, and the property tests that compare `/api/metrics/dora` with
it over random histories. It is what `metrics/dora.py` computed before the rollups; its cost
grows with the rows of the range, so nothing serves requests from it.
"""

from datetime import UTC, date, datetime

from django.db.models import Case, Count, OuterRef, Q, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Trunc, TruncDate

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
from metrics import benchmarks
from metrics.dora import (
    COUNTS,
    DoraMetrics,
    DoraReport,
    ServiceDora,
    TimeToRestore,
    Window,
    _cfr,
    _frequency,
    _incidents,
    _last_day,
    _lead_time,
    _period_start,
    _recovery_result,
    _rework,
    buckets,
    deployments_in,
    group_labels,
)
from metrics.lead_time import lead_time_series, lead_time_stats
from metrics.sql import EpochSeconds, as_utc, distribution


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
            rework=Count("status", filter=Q(rework.is_rework(), status__in=REACHED_STATUSES)),
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
        counts["rework"] += row["rework"]
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
            rework_rate=_rework(row),
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
    labels = group_labels(organization_id=scope.organization_id, groups=counts)
    result = []
    for key, row in counts.items():
        service_id, name, team = labels[key]
        service_group = ServiceGroup.decode(key)
        successful = deployments.filter(service_group.q(), status=Status.SUCCESS)
        result.append(
            ServiceDora(
                service_id=service_id,
                group=key,
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
                rework_rate=_rework(row),
            )
        )
    result.sort(key=lambda item: (-item.deployment_frequency.deployments, item.name.lower()))
    return result
