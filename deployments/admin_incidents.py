from django.contrib import admin

from deployments.models import Incident
from periscope.admin_scoping import OrganizationScopedAdmin


@admin.register(Incident)
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
