"""Admin for lead-time data: repositories, commits, pull requests, links and forge deliveries."""

from django.contrib import admin

from deployments.models import (
    Commit,
    DeploymentCommit,
    DeploymentPullRequest,
    ForgeDelivery,
    PullRequest,
    Repository,
)
from periscope.admin_scoping import OrganizationScopedAdmin


@admin.register(Repository)
class RepositoryAdmin(OrganizationScopedAdmin):
    list_display = ["key", "organization", "service", "url", "created_at"]
    list_filter = ["organization"]
    search_fields = ["key", "url"]
    list_select_related = ["organization", "service"]
    readonly_fields = ["key", "created_at"]


@admin.register(Commit)
class CommitAdmin(OrganizationScopedAdmin):
    list_display = ["sha", "repository", "author", "message", "authored_at", "generation"]
    list_filter = ["organization", "parents_exact"]
    search_fields = ["sha", "message", "author"]
    list_select_related = ["repository"]
    readonly_fields = ["organization", "repository", "sha", "generation", "parents_exact"]


@admin.register(PullRequest)
class PullRequestAdmin(OrganizationScopedAdmin):
    list_display = ["number", "repository", "title", "author", "state", "created_at", "merged_at"]
    list_filter = ["organization", "state"]
    search_fields = ["title", "merge_commit_sha", "head_sha", "author"]
    list_select_related = ["repository"]


class ReadOnlyAdmin(OrganizationScopedAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(DeploymentPullRequest)
class DeploymentPullRequestAdmin(ReadOnlyAdmin):
    list_display = ["deployment", "pull_request", "lead_seconds", "service_group"]
    list_filter = ["organization"]
    list_select_related = ["deployment", "pull_request"]


@admin.register(DeploymentCommit)
class DeploymentCommitAdmin(ReadOnlyAdmin):
    list_display = ["deployment", "sha", "pull_request", "lead_seconds"]
    list_filter = ["organization"]
    search_fields = ["sha"]
    list_select_related = ["deployment", "pull_request"]


@admin.register(ForgeDelivery)
class ForgeDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "organization", "source", "event", "outcome", "delivery_id"]
    list_filter = ["organization", "source", "outcome"]
    search_fields = ["delivery_id", "event"]
    date_hierarchy = "received_at"
