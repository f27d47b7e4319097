"""Vendor pipeline statuses -> canonical statuses (Hivel's normalization table).

Hivel documents one table for Jenkins, GitHub Actions, GitLab CI, CircleCI, Argo Workflows,
Azure DevOps and Argo CD; DevGrid's `success`/`failed` are in it too. Matching ignores case
and surrounding space, so `SUCCESS` (Jenkins) and `Succeeded` (Argo) need no special cases.
Anything not listed is `unknown`: stored, never counted in metrics.
"""

from deployments.models import Status

_TABLE: dict[str, Status] = {}


def _map(status: Status, *names: str) -> None:
    for name in names:
        _TABLE[name.lower()] = status


# Success: Jenkins SUCCESS, GitHub/GitLab/CircleCI success, Argo Succeeded, Azure succeeded,
# Argo CD phase Succeeded + health Healthy.
_map(Status.SUCCESS, "success", "succeeded")
# Failed: Jenkins FAILURE/UNSTABLE, GitHub failure/timed_out, GitLab failed, CircleCI
# failed/timedout/infrastructure_fail, Argo Failed/Error, Azure failed, Argo CD Degraded.
_map(
    Status.FAILURE,
    "failed",
    "failure",
    "unstable",
    "timed_out",
    "timedout",
    "infrastructure_fail",
    "error",
    "degraded",
)
# Canceled: Jenkins ABORTED, everyone else's canceled (and the British spelling Hivel lists).
_map(Status.CANCELLED, "canceled", "cancelled", "aborted")


def normalize_status(raw: str) -> Status:
    """The canonical status of a vendor status string; `unknown` when the table has no entry
    (e.g. NOT_BUILT, neutral, skipped, manual, running, on_hold, partiallySucceeded)."""
    return _TABLE.get(raw.strip().lower(), Status.UNKNOWN)
