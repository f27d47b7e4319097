"""The deployments app's admin: each subject package defines its ModelAdmins, and they are
registered here, in one place, so the admin's pages for this app can be read off one list."""

from django.contrib import admin

from deployments.changes.admin import (
    CommitAdmin,
    DeploymentCommitAdmin,
    DeploymentPullRequestAdmin,
    ForgeDeliveryAdmin,
    PullRequestAdmin,
    RepositoryAdmin,
)
from deployments.incidents.admin import IncidentAdmin, IncidentDeliveryAdmin
from deployments.models import (
    Commit,
    Delivery,
    Deployment,
    DeploymentCommit,
    DeploymentPullRequest,
    EnvironmentAlias,
    ForgeDelivery,
    Incident,
    IncidentDelivery,
    PullRequest,
    Repository,
)
from deployments.recording.admin import DeliveryAdmin, DeploymentAdmin, EnvironmentAliasAdmin

for model, model_admin in [
    # Deployments and their delivery log.
    (Deployment, DeploymentAdmin),
    (Delivery, DeliveryAdmin),
    (EnvironmentAlias, EnvironmentAliasAdmin),
    # Incidents and theirs.
    (Incident, IncidentAdmin),
    (IncidentDelivery, IncidentDeliveryAdmin),
    # The change graph.
    (Repository, RepositoryAdmin),
    (Commit, CommitAdmin),
    (PullRequest, PullRequestAdmin),
    (DeploymentPullRequest, DeploymentPullRequestAdmin),
    (DeploymentCommit, DeploymentCommitAdmin),
    (ForgeDelivery, ForgeDeliveryAdmin),
]:
    admin.site.register(model, model_admin)
