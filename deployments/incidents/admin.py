"""Admin for incidents and their delivery log (registered in deployments/admin.py)."""

from deployments.recording.admin import DeliveryAdmin
from periscope.admin_scoping import OrganizationScopedAdmin


class IncidentAdmin(OrganizationScopedAdmin):
    list_display = [
        "external_id",
        "title",
        "organization",
        "service",
        "service_name",
        "environment",
        "severity",
        "started_at",
        "resolved_at",
        "deployment",
        "attributed_by",
    ]
    list_filter = ["organization", "environment", "source", "severity", "attributed_by"]
    search_fields = ["external_id", "title", "service_name"]
    date_hierarchy = "started_at"
    raw_id_fields = ["deployment", "service"]
    list_select_related = ["organization", "service", "deployment"]


class IncidentDeliveryAdmin(DeliveryAdmin):
    """Every incident delivery as sent, with what it did: the deployments' delivery log's
    read-only admin, for incidents."""

    list_display = ["received_at", "organization", "source", "action", "incident"]
    list_select_related = ["organization", "incident"]
    readonly_fields = ["organization", "incident", "source", "received_at", "action", "body"]
