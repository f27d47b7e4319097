"""Admin for the change graph: repositories, commits, pull requests, links and forge
deliveries (registered in deployments/admin.py)."""

from periscope.admin_scoping import OrganizationScopedAdmin


class RepositoryAdmin(OrganizationScopedAdmin):
    list_display = ["key", "organization", "service", "url", "created_at"]
    list_filter = ["organization"]
    search_fields = ["key", "url"]
    list_select_related = ["organization", "service"]
    readonly_fields = ["key", "created_at"]


class CommitAdmin(OrganizationScopedAdmin):
    list_display = ["sha", "repository", "author", "message", "authored_at", "generation"]
    list_filter = ["organization", "parents_exact"]
    search_fields = ["sha", "message", "author"]
    list_select_related = ["repository"]
    readonly_fields = ["organization", "repository", "sha", "generation", "parents_exact"]


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


class DeploymentPullRequestAdmin(ReadOnlyAdmin):
    list_display = ["deployment", "pull_request", "lead_seconds", "service_group"]
    list_filter = ["organization"]
    list_select_related = ["deployment", "pull_request"]


class DeploymentCommitAdmin(ReadOnlyAdmin):
    list_display = ["deployment", "sha", "pull_request", "lead_seconds"]
    list_filter = ["organization"]
    search_fields = ["sha"]
    list_select_related = ["deployment", "pull_request"]


class ForgeDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["received_at", "organization", "source", "event", "outcome", "delivery_id"]
    list_filter = ["organization", "source", "outcome"]
    search_fields = ["delivery_id", "event"]
    date_hierarchy = "received_at"
