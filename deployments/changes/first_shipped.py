"""The changes each successful deployment first shipped, as SQL (docs/metrics.md, lead time):
a pull request or commit counts for the earliest deployment of its service group that linked
it. The raw lead-time statistics (metrics/lead_time.py) and the rollup cells
(deployments/rollups/cells.py) both read it, so the definition is written once."""

from deployments.models import Deployment, DeploymentCommit, DeploymentPullRequest

_D = Deployment._meta.db_table
_DC = DeploymentCommit._meta.db_table
_DPR = DeploymentPullRequest._meta.db_table

# {columns}: deployment columns selected before the link's (each branch), e.g. "d.environment, ".
# {ids}: a subquery of the deployments to look at; its parameters are needed once per branch.
_FIRST_SHIPPED = f"""
    SELECT {{columns}}l.deployment_id, l.lead_seconds, l.coding_seconds, l.review_seconds,
           l.waiting_seconds
    FROM {_DPR} l JOIN {_D} d ON d.id = l.deployment_id
    WHERE l.lead_seconds IS NOT NULL AND l.deployment_id IN ({{ids}})
      AND NOT EXISTS (
        SELECT 1 FROM {_DPR} o JOIN {_D} od ON od.id = o.deployment_id
        WHERE o.pull_request_id = l.pull_request_id AND o.service_group = l.service_group
          AND (od.completed_at < d.completed_at OR (od.completed_at = d.completed_at
               AND od.id < d.id)))
    UNION ALL
    SELECT {{columns}}l.deployment_id, l.lead_seconds, NULL, NULL, NULL
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
    SELECT {{columns}}l.deployment_id, l.lead_seconds, NULL, NULL, NULL
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

BRANCHES = 3  # how many times the caller passes the ids subquery's parameters


def first_shipped_sql(*, ids: str, columns: str = "") -> str:
    """Rows (columns..., deployment_id, lead, coding, review, waiting seconds) of the changes
    first shipped by the deployments `ids` selects."""
    return _FIRST_SHIPPED.format(ids=ids, columns=columns)
