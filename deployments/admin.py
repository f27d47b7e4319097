from django.contrib import admin
from django.db.models import Count

from deployments.models import Delivery, Deployment, EnvironmentAlias


class DeliveryInline(admin.TabularInline):
    model = Delivery
    fields = ["received_at", "source", "action", "body"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["received_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Deployment)
class DeploymentAdmin(admin.ModelAdmin):
    list_display = [
        "external_id",
        "organization",
        "service_display",
        "environment",
        "status",
        "completed_at",
        "source",
        "delivery_count",
    ]
    list_filter = ["organization", "environment", "status", "source", "service"]
    search_fields = ["external_id", "service_name", "commit_sha", "change_id"]
    date_hierarchy = "completed_at"
    list_select_related = ["organization", "service"]
    inlines = [DeliveryInline]
    readonly_fields = [
        "organization",
        "source",
        "external_id",
        "service_name",
        "service_key",
        "environment_raw",
        "status_raw",
        "created_at",
        "updated_at",
        "raw_payload",
        "metadata",
    ]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_deliveries=Count("deliveries"))

    @admin.display(description="deliveries", ordering="_deliveries")
    def delivery_count(self, obj) -> int:
        return obj._deliveries

    @admin.display(description="service", ordering="service__name")
    def service_display(self, obj) -> str:
        return obj.service.name if obj.service else f"{obj.service_name or '—'} (unmatched)"


@admin.register(Delivery)
class DeliveryAdmin(admin.ModelAdmin):
    list_display = ["received_at", "organization", "source", "action", "deployment"]
    list_filter = ["organization", "source", "action"]
    date_hierarchy = "received_at"
    list_select_related = ["organization", "deployment"]
    readonly_fields = ["organization", "deployment", "source", "received_at", "action", "body"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(EnvironmentAlias)
class EnvironmentAliasAdmin(admin.ModelAdmin):
    list_display = ["name", "environment", "organization"]
    list_filter = ["organization", "environment"]
    search_fields = ["name", "environment"]


import deployments.admin_changes  # noqa: E402,F401  (lead-time models)
