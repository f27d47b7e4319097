from django.contrib import admin

from services.catalog import reattribute_deployments, sync_service_keys
from services.matching import normalize_key
from services.models import Service, ServiceAlias, ServiceSuggestion


class ServiceAliasInline(admin.TabularInline):
    model = ServiceAlias
    fields = ["name", "kind", "key"]
    readonly_fields = ["kind", "key"]
    extra = 1


@admin.register(Service)
class ServiceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "organization", "team", "repository_url"]
    list_filter = ["organization", "team"]
    search_fields = ["name", "slug", "aliases__key"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [ServiceAliasInline]

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        sync_service_keys(service=obj)

    def save_formset(self, request, form, formset, change):
        aliases = formset.save(commit=False)
        for alias in aliases:
            alias.organization_id = form.instance.organization_id
            alias.key = normalize_key(alias.name)
            alias.save()
        for alias in formset.deleted_objects:
            alias.delete()
        reattribute_deployments(service=form.instance, keys={a.key for a in aliases})


@admin.register(ServiceSuggestion)
class ServiceSuggestionAdmin(admin.ModelAdmin):
    list_display = ["name", "organization", "status", "service", "created_at"]
    list_filter = ["status", "organization"]
    search_fields = ["name", "key"]
    readonly_fields = ["name", "key", "organization", "created_at"]
