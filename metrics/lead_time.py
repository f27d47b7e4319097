"""Lead time for changes over a set of deployments.

The interface the DORA metrics call. The lead-time work (commits, pull requests and their
linking to deployments) fills in the computation; until then there are no known changes.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet


@dataclass(frozen=True, kw_only=True)
class LeadTimeStats:
    median_seconds: float | None
    p90_seconds: float | None
    mean_seconds: float | None
    changes: int
    # Successful production deployments in the set that shipped no change with a known start.
    deployments_without_changes: int


EMPTY = LeadTimeStats(
    median_seconds=None,
    p90_seconds=None,
    mean_seconds=None,
    changes=0,
    deployments_without_changes=0,
)


def lead_time_stats(*, deployments: QuerySet) -> LeadTimeStats:
    """Lead time of the changes first shipped by `deployments` (already filtered by the caller
    to one organization, environment, services and completion range)."""
    return EMPTY


def lead_time_series(
    *, deployments: QuerySet, buckets: Sequence[tuple[datetime, datetime]]
) -> list[LeadTimeStats]:
    """The same, per [start, end) bucket of deployment completion time."""
    return [EMPTY for _ in buckets]
