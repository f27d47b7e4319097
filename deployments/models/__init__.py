"""The deployments app's models, one module per subject; the tables and the app label are
those of a single models.py (no migration moved anything)."""

from deployments.models.change import (
    Commit,
    CommitParent,
    DeploymentCommit,
    DeploymentPullRequest,
    ForgeDelivery,
    PullRequest,
    Repository,
)
from deployments.models.deployment import (
    CONCLUDED_STATUSES,
    FAILED_STATUSES,
    REACHED_STATUSES,
    TERMINAL_STATUSES,
    Delivery,
    DeliveryAction,
    Deployment,
    EnvironmentAlias,
    Source,
    Status,
)
from deployments.models.incident import Incident, IncidentDelivery
from deployments.models.rollup import (
    DailyRollup,
    GroupRollup,
    OrganizationRollup,
    RollupPending,
)

__all__ = [
    "CONCLUDED_STATUSES",
    "FAILED_STATUSES",
    "REACHED_STATUSES",
    "TERMINAL_STATUSES",
    "Commit",
    "DailyRollup",
    "GroupRollup",
    "CommitParent",
    "Delivery",
    "DeliveryAction",
    "Deployment",
    "DeploymentCommit",
    "DeploymentPullRequest",
    "EnvironmentAlias",
    "ForgeDelivery",
    "Incident",
    "IncidentDelivery",
    "OrganizationRollup",
    "PullRequest",
    "Repository",
    "RollupPending",
    "Source",
    "Status",
]
