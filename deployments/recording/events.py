"""The canonical deployment event every format adapter produces."""

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class DuplicatePolicy(StrEnum):
    # A repeat of a known id updates the deployment (Periscope, DevGrid with build_id, Hivel).
    UPDATE = "update"
    # The first delivery wins; a repeat only applies a changed status (OpsLevel's dedup_id).
    KEEP_FIRST = "keep_first"


@dataclass(frozen=True, kw_only=True)
class DeploymentEvent:
    source: str
    # None: the format gave no idempotency key, so every delivery is a new deployment.
    external_id: str | None
    environment: str
    status: str
    status_raw: str = ""
    service_name: str = ""
    commit_sha: str = ""
    previous_commit_sha: str = ""
    branch: str = ""
    repository_url: str = ""
    change_id: str = ""
    started_at: datetime | None = None
    completed_at: datetime | None = None
    # When the deployed commit was made, if the sender said (None: read from
    # metadata["commit"], see deployments.recording.commit_time).
    commit_at: datetime | None = None
    triggered_by: str = ""
    pipeline_name: str = ""
    pipeline_url: str = ""
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    raw_payload: dict[str, Any] | None = None
    # The sender declared the deployment rework (deployments/recording/rework.py); None: it
    # said nothing, and a repeat keeps what an earlier delivery declared.
    rework: bool | None = None
    duplicate_policy: DuplicatePolicy = DuplicatePolicy.UPDATE
    # Fields the adapter filled in itself rather than read from the sender (DevGrid dates an
    # event without a timestamp by its arrival): they fill a new deployment, but never replace
    # a stored value nor make an event look newer or older (see recording.merge_repeat).
    assumed: frozenset[str] = frozenset()


@dataclass(frozen=True, kw_only=True)
class RecordResult:
    """What the recording function did, for adapters to render in their vendor's words."""

    deployment_id: int
    external_id: str
    action: str  # a DeliveryAction value
    service_id: int | None
    service_name: str
    linked_prs: int
    # The deployment time as stored after this delivery (a repeat may have kept the first's).
    completed_at: datetime | None = None

    @property
    def created(self) -> bool:
        return self.action == "created"

    @property
    def stale(self) -> bool:
        """The delivery was older than what is stored and changed nothing."""
        return self.action == "stale"

    @property
    def service_matched(self) -> bool:
        return self.service_id is not None
