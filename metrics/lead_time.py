"""Lead time for changes over a set of deployments, computed in SQL.

A change is a pull request a deployment shipped, or a shipped commit that came with no linked
pull request. Its lead time runs from its start (the PR's earliest commit, else the commit's
own authored time, else the PR's creation) to the completion of the first successful
production deployment of the same service that shipped it; changes with an unknown start
are not counted. Link rows carry the precomputed seconds (deployments.changes.linking).

Percentiles, identical on SQLite and PostgreSQL (ROW_NUMBER over the ordered values, n rows):
- median: the mean of the values at ranks floor((n+1)/2) and floor((n+2)/2) (for odd n both
  are the middle rank; for even n the two middle values);
- p90: nearest rank, the value at rank ceil(0.9 * n) computed as floor((9n + 9) / 10).
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import QuerySet

from deployments.changes.first_shipped import BRANCHES, first_shipped_sql
from deployments.models import Status


@dataclass(frozen=True, kw_only=True)
class LeadTimeStats:
    median_seconds: float | None
    p90_seconds: float | None
    mean_seconds: float | None
    changes: int
    # Successful production deployments in the set that shipped no change with a known start.
    deployments_without_changes: int
    # Pull requests only: mean seconds of each stage (None without data).
    coding_mean_seconds: float | None = None
    review_mean_seconds: float | None = None
    waiting_mean_seconds: float | None = None


EMPTY = LeadTimeStats(
    median_seconds=None,
    p90_seconds=None,
    mean_seconds=None,
    changes=0,
    deployments_without_changes=0,
)

# First shipping (deployments/changes/first_shipped.py): no earlier deployment of the same
# service group linked the same pull request or commit.


_STATS = """
    WITH changes AS ({changes}),
    ranked AS (
        SELECT lead_seconds AS v, coding_seconds, review_seconds, waiting_seconds,
               ROW_NUMBER() OVER (ORDER BY lead_seconds) AS rn, COUNT(*) OVER () AS n
        FROM changes
    )
    SELECT COUNT(*), AVG(v),
           AVG(CASE WHEN rn = (n + 1) / 2 OR rn = (n + 2) / 2 THEN v END),
           MAX(CASE WHEN rn = (9 * n + 9) / 10 THEN v END),
           AVG(coding_seconds), AVG(review_seconds), AVG(waiting_seconds)
    FROM ranked
"""

_WITH_CHANGES = "SELECT COUNT(DISTINCT deployment_id) FROM ({changes}) c"


def _float(value) -> float | None:
    return None if value is None else float(value)


def lead_time_stats(*, deployments: QuerySet, successful_count: int | None = None) -> LeadTimeStats:
    """Lead time of the changes first shipped by `deployments` (already filtered by the caller
    to one organization, environment, services and completion range); only their successful
    deployments count. A caller that has counted those already passes `successful_count`."""
    successful = deployments.filter(status=Status.SUCCESS, completed_at__isnull=False)
    ids_sql, ids_params = successful.order_by().values("id").query.sql_with_params()
    changes = first_shipped_sql(ids=ids_sql)
    params = [*ids_params] * BRANCHES
    with connection.cursor() as cursor:
        cursor.execute(_STATS.format(changes=changes), params)
        count, mean, median, p90, coding, review, waiting = cursor.fetchone()
        cursor.execute(_WITH_CHANGES.format(changes=changes), params)
        (with_changes,) = cursor.fetchone()
    total = successful.count() if successful_count is None else successful_count
    return LeadTimeStats(
        median_seconds=_float(median),
        p90_seconds=_float(p90),
        mean_seconds=_float(mean),
        changes=count or 0,
        deployments_without_changes=total - (with_changes or 0),
        coding_mean_seconds=_float(coding),
        review_mean_seconds=_float(review),
        waiting_mean_seconds=_float(waiting),
    )


def lead_time_series(
    *, deployments: QuerySet, buckets: Sequence[tuple[datetime, datetime]]
) -> list[LeadTimeStats]:
    """The same, per [start, end) bucket of deployment completion time (one query per
    bucket; a change counts in the bucket of its first shipping deployment)."""
    return [
        lead_time_stats(deployments=deployments.filter(completed_at__gte=s, completed_at__lt=e))
        for s, e in buckets
    ]
