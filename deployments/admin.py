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
from deployments.recording.admin import (
    DeliveryAdmin,
    DeploymentAdmin,
    EnvironmentAliasAdmin,
    OrganizationAdmin,
)
from periscope.models import Organization

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

# The organization's page gains what this app adds to an organization (rollback detection):
# periscope's admin cannot import this app, so this app registers its extension.
admin.site.unregister(Organization)
admin.site.register(Organization, OrganizationAdmin)
