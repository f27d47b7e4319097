from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.autocomplete import AutocompleteJsonView
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, IntegerField, Max, Min, OuterRef, Subquery, Value, When
from django.db.models.functions import Coalesce
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.http import urlencode

from deployments.models import Deployment
from periscope.admin_counts import count_per_row
from periscope.admin_scoping import (
    OrganizationScopedAdmin,
    OrganizationScopedInline,
    SameOrganizationForm,
    scope_queryset,
)
from services.aggregates import DistinctValues
from services.catalog import (
    CatalogError,
    attach_suggestion,
    create_service_from_suggestion,
    delete_service,
    ignore_suggestion,
    owner_of_key,
    reattribution_preview,
    save_alias,
    sync_service_keys,
)
from services.matching import normalize_key
from services.models import AliasKind, Service, ServiceAlias, ServiceSuggestion, SuggestionStatus


def _claimed_elsewhere(*, organization_id, key: str, service_pk) -> str | None:
    """An error message if another service already matches this key."""
    owner = owner_of_key(organization_id=organization_id, key=key)
    if owner is not None and owner.service_id != service_pk:
        return f"“{key}” already matches service {owner.service} (as “{owner.name}”)."
    return None


class ServiceForm(SameOrganizationForm):
    class Meta:
        model = Service
        fields = ["organization", "name", "slug", "team", "repository_url", "description"]

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        if organization is None:
            return cleaned
        for field in ("name", "repository_url"):
            key = normalize_key(cleaned.get(field) or "")
            error = key and _claimed_elsewhere(
                organization_id=organization.pk, key=key, service_pk=self.instance.pk
            )
            if error:
                self.add_error(field, error)
        return cleaned


class ServiceAliasFormSet(forms.BaseInlineFormSet):
    """Aliases are unique per organization after normalization: say so instead of a 500."""

    def add_fields(self, form, index):
        super().add_fields(form, index)
        if "DELETE" in form.fields:  # under a column header, not a label
            form.fields["DELETE"].widget.attrs["aria-label"] = "Delete this alias"

    def clean(self):
        super().clean()
        service = self.instance
        if service.organization_id is None:
            return
        own = {normalize_key(service.name), normalize_key(service.repository_url or "")} - {""}
        seen: dict[str, str] = {}
        for form in self.forms:
            if not form.has_changed() and form.instance.pk is None:
                continue
            if self.can_delete and self._should_delete_form(form):
                continue
            name = form.cleaned_data.get("name")
            if not name:
                continue
            key = normalize_key(name)
            if not key:
                form.add_error("name", "An alias needs at least one non-space character.")
            elif key in own:
                form.add_error("name", f"“{key}” is already this service's name or repository.")
            elif key in seen:
                form.add_error("name", f"“{name}” and “{seen[key]}” are the same alias ({key}).")
            else:
                seen[key] = name
                owner = owner_of_key(organization_id=service.organization_id, key=key)
                if owner is not None and owner.pk != form.instance.pk:
                    form.add_error(
                        "name",
                        f"“{key}” already matches service {owner.service} (as “{owner.name}”).",
                    )


class ServiceAliasInline(OrganizationScopedInline, admin.TabularInline):
    """Hand-made aliases. The service's own name and repository match without one."""

    model = ServiceAlias
    formset = ServiceAliasFormSet
    fields = ["name", "key", "created_at"]
    readonly_fields = ["key", "created_at"]
    extra = 1
    verbose_name = "alias"
    verbose_name_plural = (
        "aliases (any form; compared case-insensitively, URLs reduced to org/repo)"
    )

    def get_queryset(self, request):
        return super().get_queryset(request).filter(kind=AliasKind.ALIAS)


@admin.register(Service)
class ServiceAdmin(OrganizationScopedAdmin):
    form = ServiceForm
    list_display = ["name", "slug", "organization", "team", "alias_list", "deployment_count"]
    list_filter = ["organization", "team"]
    search_fields = ["name", "slug", "aliases__key"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["matched_by"]
    fields = [
        "organization",
        "name",
        "slug",
        "team",
        "repository_url",
        "description",
        "matched_by",
    ]
    inlines = [ServiceAliasInline]

    def get_queryset(self, request):
        deployments = count_per_row(Deployment.objects.all(), link="service")
        return (
            super()
            .get_queryset(request)
            .annotate(_deployments=deployments)
            .prefetch_related("aliases")
        )

    @admin.display(description="deployments", ordering="_deployments")
    def deployment_count(self, obj) -> int:
        return obj._deployments

    @admin.display(description="aliases")
    def alias_list(self, obj) -> str:
        return ", ".join(a.name for a in obj.aliases.all() if a.kind == AliasKind.ALIAS) or "—"

    @admin.display(description="matched by")
    def matched_by(self, obj) -> str:
        if obj is None or obj.pk is None:
            return "—"
        return format_html_join(
            ", ",
            "<code>{}</code> ({})",
            ((a.key, a.get_kind_display()) for a in obj.aliases.all()),
        )

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except IntegrityError:
            if request.method != "POST":
                raise
        # Another admin saved the same alias (or name, or repository) between this form's
        # validation and its insert, and the unique constraint refused ours. The admin's
        # transaction rolled everything back; validated again, the form sees their key and
        # shows the same error as if it had been there first. Once: a second refusal is
        # not that race.
        for attribute in ("_periscope_moved", "_periscope_aliases_saved"):
            request.__dict__.pop(attribute, None)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        request._periscope_moved = sync_service_keys(service=obj)

    def save_formset(self, request, form, formset, change):
        if formset.model is not ServiceAlias:
            return super().save_formset(request, form, formset, change)
        moved = 0
        with transaction.atomic():
            aliases = formset.save(commit=False)
            for alias in formset.deleted_objects:
                alias.delete()
            for alias in aliases:
                moved += save_alias(alias=alias)
        request._periscope_moved = getattr(request, "_periscope_moved", 0) + moved
        request._periscope_aliases_saved = len(aliases)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        moved = getattr(request, "_periscope_moved", 0)
        # Say it whenever aliases were added or changed, even when nothing moved.
        if moved or getattr(request, "_periscope_aliases_saved", 0):
            self.message_user(
                request,
                f"Re-attributed {moved} past deployment(s) to {form.instance}.",
                messages.SUCCESS,
            )

    def delete_model(self, request, obj):
        unmatched = delete_service(service=obj)
        self.message_user(
            request,
            f"{unmatched} deployment(s) of {obj} returned to unmatched; their suggestions reopened.",
            messages.INFO,
        )

    def delete_queryset(self, request, queryset):
        unmatched = 0
        with transaction.atomic():
            for service in queryset:
                unmatched += delete_service(service=service)
        self.message_user(
            request,
            f"{unmatched} deployment(s) returned to unmatched; their suggestions reopened.",
            messages.INFO,
        )


class OrganizationServiceAutocomplete(AutocompleteJsonView):
    """Django's service autocomplete, limited to one organization (the suggestions')."""

    def get_queryset(self):
        organization_id = self.request.GET.get("organization", "")
        if not organization_id.isdigit():
            return Service.objects.none()
        return super().get_queryset().filter(organization_id=int(organization_id))


class OrganizationServiceSelect(AutocompleteSelect):
    def __init__(self, *args, organization_id: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization_id = organization_id

    def get_url(self):
        url = reverse(f"{self.admin_site.name}:services_servicesuggestion_service_autocomplete")
        return f"{url}?{urlencode({'organization': self.organization_id})}"


class AttachSuggestionForm(forms.Form):
    service = forms.ModelChoiceField(queryset=Service.objects.none())

    def __init__(
        self, *args, request, organization_id: int, admin_site, autocomplete=True, **kwargs
    ):
        super().__init__(*args, **kwargs)
        field = self.fields["service"]
        if autocomplete:
            field.widget = OrganizationServiceSelect(
                ServiceSuggestion._meta.get_field("service"),
                admin_site,
                organization_id=organization_id,
            )
        # Set after the widget: the queryset setter hands the widget its choices.
        field.queryset = scope_queryset(
            Service.objects.filter(organization_id=organization_id), request
        )


def _aggregate_same_name(expression):
    """One aggregate over the deployments sent under a suggestion's name (not stored counters)."""
    same_name = Deployment.objects.filter(
        organization=OuterRef("organization"), service_key=OuterRef("key")
    ).order_by()
    return Subquery(same_name.values("organization").annotate(v=expression).values("v")[:1])


def _compact(moment) -> str:
    return f"{moment:%Y-%m-%d %H:%M}" if moment else "—"


def _deployments_with_same_name():
    return Coalesce(_aggregate_same_name(Count("pk")), 0)


class CatalogMatchFilter(admin.SimpleListFilter):
    """Suggestions sync_catalog found to look like a catalog service, ready to accept."""

    title = "catalog match"
    parameter_name = "catalog_match"

    def lookups(self, request, model_admin):
        return [("yes", "Looks like a catalog service")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(status=SuggestionStatus.OPEN, catalog_match__isnull=False)
        return queryset


@admin.register(ServiceSuggestion)
class ServiceSuggestionAdmin(OrganizationScopedAdmin):
    list_display = [
        "name",
        "organization",
        "deployments",
        "first_seen",
        "last_seen",
        "formats_seen",
        "status",
        "service",
    ]
    list_filter = ["status", CatalogMatchFilter, "organization"]
    list_select_related = ["organization", "service"]
    search_fields = ["name", "key"]
    fields = ["organization", "name", "key", "status", "service", "created_at"]
    readonly_fields = fields
    actions = ["create_services", "attach_to_service", "accept_catalog_match", "ignore"]

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(
                deployment_count=_deployments_with_same_name(),
                first_seen_at=_aggregate_same_name(Min("created_at")),
                last_seen_at=_aggregate_same_name(Max("created_at")),
                formats=_aggregate_same_name(DistinctValues("source")),
            )
        )

    def get_ordering(self, request):
        # Open first, most deployments first: expressions, since annotations are added after.
        open_first = Case(
            When(status=SuggestionStatus.OPEN, then=Value(0)),
            default=Value(1),
            output_field=IntegerField(),
        )
        return [open_first.asc(), _deployments_with_same_name().desc(), "name"]

    def has_add_permission(self, request):
        return False  # suggestions come from deployments

    @admin.display(description="deployments", ordering="deployment_count")
    def deployments(self, obj):
        url = reverse("admin:deployments_deployment_changelist")
        query = urlencode({"organization__id__exact": obj.organization_id, "service_key": obj.key})
        return format_html('<a href="{}?{}">{}</a>', url, query, obj.deployment_count)

    @admin.display(description="first seen", ordering="first_seen_at")
    def first_seen(self, obj) -> str:
        return _compact(obj.first_seen_at)

    @admin.display(description="last seen", ordering="last_seen_at")
    def last_seen(self, obj) -> str:
        return _compact(obj.last_seen_at)

    @admin.display(description="formats seen")
    def formats_seen(self, obj) -> str:
        return ", ".join(sorted(set((obj.formats or "").split(",")) - {""})) or "—"

    # The suggestion's own page: what accepting it would move, and its three actions (the
    # same catalog functions as the list's bulk actions).
    change_form_template = "admin/services/servicesuggestion/change_form.html"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        suggestion = self.get_object(request, object_id)
        deployments, incidents = reattribution_preview(suggestion=suggestion)
        extra_context = {
            **(extra_context or {}),
            "preview_deployments": deployments,
            "preview_incidents": incidents,
            "can_act": self.has_change_permission(request, suggestion),
            # A plain select: select2's box has no accessible name, and one organization's
            # services fit in a list.
            "attach_form": AttachSuggestionForm(
                request=request,
                organization_id=suggestion.organization_id,
                admin_site=self.admin_site,
                autocomplete=False,
            ),
            "suggestion": suggestion,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def get_urls(self):
        view = OrganizationServiceAutocomplete.as_view(admin_site=self.admin_site)
        one = [
            path(
                f"<path:object_id>/{name}/",
                self.admin_site.admin_view(getattr(self, f"{name.replace('-', '_')}_view")),
                name=f"services_servicesuggestion_{name.replace('-', '_')}",
            )
            for name in ("create-service", "attach", "ignore")
        ]
        return [
            path(
                "service-autocomplete/",
                self.admin_site.admin_view(view),
                name="services_servicesuggestion_service_autocomplete",
            ),
            *one,
            *super().get_urls(),
        ]

    def _acting_on(self, request, object_id) -> ServiceSuggestion:
        suggestion = self.get_object(request, object_id)  # another organization's: 404
        if not self.has_change_permission(request, suggestion):
            raise PermissionDenied
        return suggestion

    def _back(self, suggestion) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse("admin:services_servicesuggestion_change", args=[suggestion.pk])
        )

    def create_service_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        suggestion = self._acting_on(request, object_id)
        _, incidents = reattribution_preview(suggestion=suggestion)
        try:
            service, moved = create_service_from_suggestion(suggestion=suggestion)
        except CatalogError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return self._back(suggestion)
        self.message_user(
            request,
            f"Created service {service.name}; re-attributed {moved} deployment(s) "
            f"and {incidents} incident(s).",
            messages.SUCCESS,
        )
        return self._back(suggestion)

    def attach_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        suggestion = self._acting_on(request, object_id)
        form = AttachSuggestionForm(
            request.POST,
            request=request,
            organization_id=suggestion.organization_id,
            admin_site=self.admin_site,
            autocomplete=False,
        )
        if not form.is_valid():
            self.message_user(
                request, "Choose one of this organization's services.", messages.ERROR
            )
            return self._back(suggestion)
        service = form.cleaned_data["service"]
        _, incidents = reattribution_preview(suggestion=suggestion)
        try:
            moved = attach_suggestion(suggestion=suggestion, service=service)
        except CatalogError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return self._back(suggestion)
        self.message_user(
            request,
            f"Attached {suggestion.name} to {service}; re-attributed {moved} deployment(s) "
            f"and {incidents} incident(s).",
            messages.SUCCESS,
        )
        return self._back(suggestion)

    def ignore_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        suggestion = self._acting_on(request, object_id)
        ignore_suggestion(suggestion=suggestion)
        self.message_user(
            request,
            f"Dismissed {suggestion.name} (deployments are still stored).",
            messages.SUCCESS,
        )
        return self._back(suggestion)

    @admin.action(description="Create a service from each selected suggestion")
    def create_services(self, request, queryset):
        created, moved = [], 0
        for suggestion in queryset:
            try:
                service, count = create_service_from_suggestion(suggestion=suggestion)
            except CatalogError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            created.append(service.name)
            moved += count
        if created:
            self.message_user(
                request,
                f"Created {len(created)} service(s) ({', '.join(created)}); "
                f"re-attributed {moved} deployment(s).",
                messages.SUCCESS,
            )

    @admin.action(description="Attach selected suggestions to an existing service (as aliases)")
    def attach_to_service(self, request, queryset):
        organization_ids = set(queryset.values_list("organization_id", flat=True))
        if len(organization_ids) != 1:
            self.message_user(
                request,
                "Choose suggestions of one organization: a service belongs to one.",
                messages.ERROR,
            )
            return None
        organization_id = organization_ids.pop()
        form = AttachSuggestionForm(
            request.POST if "apply" in request.POST else None,
            request=request,
            organization_id=organization_id,
            admin_site=self.admin_site,
        )
        if form.is_valid():
            service = form.cleaned_data["service"]
            attached, moved = 0, 0
            for suggestion in queryset:
                try:
                    moved += attach_suggestion(suggestion=suggestion, service=service)
                    attached += 1
                except CatalogError as exc:
                    self.message_user(request, str(exc), messages.ERROR)
            if attached:
                self.message_user(
                    request,
                    f"Attached {attached} name(s) to {service}; "
                    f"re-attributed {moved} deployment(s).",
                    messages.SUCCESS,
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Attach to an existing service",
            "opts": self.model._meta,
            "suggestions": list(queryset),
            "form": form,
            "media": self.media + form.media,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/services/servicesuggestion/attach.html", context)

    @admin.action(description="Attach selected suggestions to the catalog service they match")
    def accept_catalog_match(self, request, queryset):
        attached, moved = 0, 0
        for suggestion in queryset.select_related("catalog_match"):
            if suggestion.catalog_match is None or suggestion.status != SuggestionStatus.OPEN:
                continue
            try:
                moved += attach_suggestion(suggestion=suggestion, service=suggestion.catalog_match)
            except CatalogError as exc:
                self.message_user(request, str(exc), messages.ERROR)
                continue
            attached += 1
        level = messages.SUCCESS if attached else messages.WARNING
        self.message_user(
            request,
            f"Attached {attached} suggestion(s) to their catalog service; "
            f"re-attributed {moved} deployment(s).",
            level,
        )

    @admin.action(description="Ignore selected suggestions (deployments are still stored)")
    def ignore(self, request, queryset):
        count = 0
        for suggestion in queryset:
            ignore_suggestion(suggestion=suggestion)
            count += 1
        self.message_user(request, f"Ignored {count} suggestion(s).", messages.SUCCESS)
