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

from deployments.models import Deployment, DeploymentCommit, DeploymentPullRequest, Status


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

_D = Deployment._meta.db_table
_DC = DeploymentCommit._meta.db_table
_DPR = DeploymentPullRequest._meta.db_table

# First shipping: no earlier successful production deployment of the same service linked it.
_CHANGES = f"""
    SELECT l.deployment_id, l.lead_seconds, l.coding_seconds, l.review_seconds,
           l.waiting_seconds
    FROM {_DPR} l JOIN {_D} d ON d.id = l.deployment_id
    WHERE l.lead_seconds IS NOT NULL AND l.deployment_id IN ({{ids}})
      AND NOT EXISTS (
        SELECT 1 FROM {_DPR} o JOIN {_D} od ON od.id = o.deployment_id
        WHERE o.pull_request_id = l.pull_request_id AND o.service_group = l.service_group
          AND (od.completed_at < d.completed_at OR (od.completed_at = d.completed_at
               AND od.id < d.id)))
    UNION ALL
    SELECT l.deployment_id, l.lead_seconds, NULL, NULL, NULL
    FROM {_DC} l JOIN {_D} d ON d.id = l.deployment_id
    WHERE l.lead_seconds IS NOT NULL AND l.pull_request_id IS NULL
      AND l.repository_id IS NOT NULL
      AND l.deployment_id IN ({{ids}})
      AND NOT EXISTS (
        SELECT 1 FROM {_DC} o JOIN {_D} od ON od.id = o.deployment_id
        WHERE o.repository_id = l.repository_id AND o.sha = l.sha
          AND o.service_group = l.service_group
          AND (od.completed_at < d.completed_at OR (od.completed_at = d.completed_at
               AND od.id < d.id)))
    UNION ALL
    SELECT l.deployment_id, l.lead_seconds, NULL, NULL, NULL
    FROM {_DC} l JOIN {_D} d ON d.id = l.deployment_id
    WHERE l.lead_seconds IS NOT NULL AND l.repository_id IS NULL
      AND l.deployment_id IN ({{ids}})
      AND NOT EXISTS (
        SELECT 1 FROM {_DC} o JOIN {_D} od ON od.id = o.deployment_id
        WHERE o.repository_id IS NULL AND o.organization_id = l.organization_id
          AND o.sha = l.sha
          AND o.service_group = l.service_group
          AND (od.completed_at < d.completed_at OR (od.completed_at = d.completed_at
               AND od.id < d.id)))
"""

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
    changes = _CHANGES.format(ids=ids_sql)
    params = [*ids_params, *ids_params, *ids_params]
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
