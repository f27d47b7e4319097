"""The commit time a delivery carries: when the deployed commit was made, by the sender's word.

Lead time starts there for the deployment's own commit while no forge data (GitHub/GitLab
webhooks, sync_repository) covers it (deployments/changes/linking.py). It is read from the
deployment's metadata: a `commit` object (OpsLevel's `commit`, seed 004, is stored there), else
flat keys (the Periscope format's metadata holds only strings, numbers and booleans:
`commitAuthoredAt`, `commitTimestamp`). The authoring time comes first (lead time's start
everywhere else is a commit's authored time), then the commit time.
"""

from datetime import datetime
from typing import Any

from periscope.errors import InvalidPayload

# In order of preference; snake_case (OpsLevel, git's own words) and camelCase (Periscope).
COMMIT_TIME_FIELDS = (
    "authoring_date",
    "authored_at",
    "authoredAt",
    "date",
    "timestamp",
    "committed_at",
    "committedAt",
)
# Flat metadata keys, in order of preference.
FLAT_COMMIT_TIME_FIELDS = (
    "commitAuthoredAt",
    "commit_authored_at",
    "commitTimestamp",
    "commit_timestamp",
)


def carried_commit_time(metadata: Any) -> datetime | None:
    """The first valid time of COMMIT_TIME_FIELDS in metadata["commit"], else of
    FLAT_COMMIT_TIME_FIELDS in metadata; None without one. Metadata is free-form, so an
    unreadable value is no commit time, never an error."""
    if not isinstance(metadata, dict):
        return None
    commit = metadata.get("commit")
    if isinstance(commit, dict):
        found = _first_time(commit, COMMIT_TIME_FIELDS, "metadata.commit.")
        if found is not None:
            return found
    return _first_time(metadata, FLAT_COMMIT_TIME_FIELDS, "metadata.")


def _first_time(data: dict, names: tuple[str, ...], label: str) -> datetime | None:
    from deployments.ingest.fields import flexible_timestamp

    for name in names:
        value = data.get(name)
        if (
            value in (None, "")
            or isinstance(value, bool)
            or not isinstance(value, str | int | float)
        ):
            continue
        try:
            return flexible_timestamp(value, f"{label}{name}")
        except InvalidPayload:
            continue
    return None
