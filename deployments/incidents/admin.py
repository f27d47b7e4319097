"""Admin for incidents and their delivery log (registered in deployments/admin.py)."""

from django.contrib import admin

from deployments.recording.admin import DeliveryAdmin
from periscope.admin_filters import ValuesListFilter
from periscope.admin_scoping import OrganizationScopedAdmin


class IncidentAdmin(OrganizationScopedAdmin):
    list_display = [
        "external_id",
        "title",
        "organization",
        "service_display",
        "environment",
        "severity",
        "started_at",
        "resolved_at",
        "deployment",  # how it was attributed: the filter beside the list
    ]
    list_filter = [
        "organization",
        "environment",
        "source",
        ("severity", ValuesListFilter),
        ("attributed_by", ValuesListFilter),
    ]
    search_fields = ["external_id", "title", "service_name"]
    date_hierarchy = "started_at"
    raw_id_fields = ["deployment", "service"]
    list_select_related = ["organization", "service", "deployment"]

    @admin.display(description="service", ordering="service__name")
    def service_display(self, obj) -> str:
        return obj.service.name if obj.service else f"{obj.service_name or '—'} (unmatched)"


class IncidentDeliveryAdmin(DeliveryAdmin):
    """Every incident delivery as sent, with what it did: the deployments' delivery log's
    read-only admin, for incidents."""

    list_display = ["received_at", "organization", "source", "action", "incident"]
    list_select_related = ["organization", "incident"]
    readonly_fields = ["organization", "incident", "source", "received_at", "action", "body"]
