"""Admin for deployments, their delivery log and environment aliases (registered in deployments/admin.py)."""

from django.contrib import admin
from django.db import transaction

from deployments.models import Delivery, Deployment
from deployments.models.deployment import deployment_label
from deployments.recording import recovery, rollbacks
from deployments.recording.delivery_log import delivery_log
from deployments.rollups import maintain as rollups
from periscope.admin import OrganizationAdmin as BaseOrganizationAdmin
from periscope.admin_counts import count_per_row
from periscope.admin_scoping import OrganizationScopedAdmin
from periscope.models import Organization


class DeliveredMoreThanOnce(admin.SimpleListFilter):
    title = "deliveries"
    parameter_name = "delivered"

    def lookups(self, request, model_admin):
        return [("many", "delivered more than once"), ("once", "delivered once")]

    def queryset(self, request, queryset):
        if self.value() == "many":
            return queryset.filter(_deliveries__gt=1)
        if self.value() == "once":
            return queryset.filter(_deliveries=1)
        return queryset


class DeploymentAdmin(OrganizationScopedAdmin):
    list_display = [
        "deployment_display",
        "organization",
        "service_display",
        "environment",
        "status",
        "completed_at",
        "source",
        "delivery_count",
    ]
    list_display_links = ["deployment_display"]
    list_filter = [
        "organization",
        "environment",
        "status",
        "source",
        "service",
        DeliveredMoreThanOnce,
    ]
    search_fields = ["external_id", "service_name", "commit_sha", "change_id"]
    date_hierarchy = "completed_at"
    list_select_related = ["organization", "service"]
    autocomplete_fields = ["service"]
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
        "rollback_of",
        "rolled_back_detected",
        "rolled_back_by",
    ]
    # The delivery log is shown full width under the form (see change_view).
    change_form_template = "admin/deployments/deployment/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        deployment = self.get_object(request, object_id)
        extra_context = {
            **(extra_context or {}),
            "delivery_log": delivery_log(deployment=deployment),
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_queryset(self, request):
        deliveries = count_per_row(Delivery.objects.all(), link="deployment")
        return super().get_queryset(request).annotate(_deliveries=deliveries)

    def lookup_allowed(self, lookup, value, request=None):
        # The suggestion list links here filtered by the normalized name a deployment was sent with.
        return lookup == "service_key" or super().lookup_allowed(lookup, value, request)

    # Edits and deletes keep the stored recovery times (deployments/recovery.py) exact.
    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            if change:
                rollups.note_deployments(organization_id=obj.organization_id, ids=[obj.pk])
                rollups.note_links(
                    organization_id=obj.organization_id, deployment_ids=[obj.pk], now=True
                )
                recovery.before_change(
                    organization_id=obj.organization_id,
                    deployment_id=obj.pk,
                    changes={name: getattr(obj, name) for name in recovery.RELEVANT},
                )
            super().save_model(request, obj, form, change)
            rollups.note_deployment_row(obj)
            if not change:
                recovery.after_insert(
                    organization_id=obj.organization_id,
                    deployment_id=obj.pk,
                    **{name: getattr(obj, name) for name in recovery.INSERT_FIELDS},
                )
            rollbacks.detect(organization=obj.organization, deployment_id=obj.pk)

    def _delete(self, *, organization_id: int, ids: list[int]) -> None:
        """Before deleting: the cells of the deployments, of those sharing their changes, and
        the failures they recovered are refreshed once they are gone."""
        rollups.note_deployments(organization_id=organization_id, ids=ids)
        rollups.note_links(organization_id=organization_id, deployment_ids=ids, now=True)
        recovery.before_delete(organization_id=organization_id, deployment_ids=ids)

    def delete_model(self, request, obj):
        with transaction.atomic():
            self._delete(organization_id=obj.organization_id, ids=[obj.pk])
            with rollbacks.deleting(organization=obj.organization, ids=[obj.pk]):
                super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        by_organization: dict[int, list[int]] = {}
        for organization_id, pk in queryset.values_list("organization_id", "pk"):
            by_organization.setdefault(organization_id, []).append(pk)
        with transaction.atomic():
            for organization_id, ids in sorted(by_organization.items()):
                with transaction.atomic():
                    self._delete(organization_id=organization_id, ids=ids)
                    organization = Organization.objects.get(pk=organization_id)
                    with rollbacks.deleting(organization=organization, ids=ids):
                        Deployment.objects.filter(
                            organization_id=organization_id, pk__in=ids
                        ).delete()

    @admin.display(description="rolled back by (detected)")
    def rolled_back_by(self, obj) -> str:
        rollbacks_of = list(obj.rollbacks.values_list("external_id", flat=True)[:5])
        return ", ".join(rollbacks_of) or "—"

    @admin.display(description="deployment", ordering="external_id")
    def deployment_display(self, obj) -> str:
        return deployment_label(obj)

    @admin.display(description="deliveries", ordering="_deliveries")
    def delivery_count(self, obj) -> int:
        return obj._deliveries

    @admin.display(description="service", ordering="service__name")
    def service_display(self, obj) -> str:
        return obj.service.name if obj.service else f"{obj.service_name or '—'} (unmatched)"


class DeliveryAdmin(OrganizationScopedAdmin):
    list_display = ["received_at", "organization", "source", "action", "deployment"]
    list_filter = ["organization", "source", "action"]
    date_hierarchy = "received_at"
    list_select_related = ["organization", "deployment"]
    readonly_fields = ["organization", "deployment", "source", "received_at", "action", "body"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class EnvironmentAliasAdmin(OrganizationScopedAdmin):
    list_display = ["name", "environment", "organization"]
    list_filter = ["organization", "environment"]
    search_fields = ["name", "environment"]


class OrganizationAdmin(BaseOrganizationAdmin):
    """Switching rollback detection applies to the whole history: off restores what every
    sender said, on detects the rollbacks already stored."""

    def save_model(self, request, obj, form, change):
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            if change and "detect_rollbacks" in form.changed_data:
                rollbacks.redetect(organization=obj)
