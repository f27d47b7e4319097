"""Per-organization staff in the admin: one mixin every ModelAdmin and inline uses.

A superuser sees everything. Any other staff user sees and changes only the rows of the
organizations they are a member of (`Membership`): change lists, list filters, form choices
(selects and autocompletes, which query the target admin's scoped queryset), actions (they
run on the scoped change-list queryset) and object URLs (another organization's object is a
404, the same answer as for an object that does not exist).
"""

from django import forms
from django.contrib import admin
from django.contrib.admin.widgets import ForeignKeyRawIdWidget
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models
from django.http import Http404

from periscope.models import Membership, Organization


def allowed_organization_ids(request) -> set[int] | None:
    """The organizations the user may see, or None for all (superusers). Cached per request."""
    user = request.user
    if user.is_superuser:
        return None
    cached = getattr(request, "_periscope_organization_ids", None)
    if cached is None:
        cached = set(
            Membership.objects.filter(user_id=user.pk).values_list("organization_id", flat=True)
        )
        request._periscope_organization_ids = cached
    return cached


def _organization_lookup(model) -> str | None:
    """How a model reaches its organization: 'pk' for Organization, else its FK's name."""
    if model is Organization:
        return "pk"
    for field in model._meta.get_fields():
        if (
            isinstance(field, models.ForeignKey)
            and field.remote_field.model is Organization
            and field.name == "organization"
        ):
            return "organization"
    return None


def scope_queryset(queryset, request, *, lookup: str | None = None):
    """Limit any queryset of an organization-owned model to what the user may see.

    `lookup` is the path to the organization (e.g. "deployment__organization") for a model
    without its own `organization` field; a model with neither is left as is (form choices
    of unowned models, such as users' groups).
    """
    allowed = allowed_organization_ids(request)
    if allowed is None:
        return queryset
    model = queryset.model
    if model is get_user_model():
        # Users are offered (e.g. in a membership form) only if they share an organization.
        return queryset.filter(memberships__organization_id__in=allowed).distinct()
    lookup = lookup or _organization_lookup(model)
    if lookup is None:
        return queryset
    return queryset.filter(**{f"{lookup}__in": allowed})


class ScopedForeignKeyRawIdWidget(ForeignKeyRawIdWidget):
    """A raw-id input that labels only the ids of the form field's (scoped) queryset.

    Django's raw-id widget looks the initial value up in the related model's default manager,
    so `add/?deployment=N` would print another organization's row's label and link.
    """

    def __init__(self, rel, admin_site, *, queryset, attrs=None, using=None):
        super().__init__(rel, admin_site, attrs=attrs, using=using)
        self.queryset = queryset

    def label_and_url_for_value(self, value):
        key = self.rel.get_related_field().name
        try:
            visible = self.queryset.using(self.db).filter(**{key: value}).exists()
        except (ValueError, TypeError, ValidationError):
            return "", ""
        if not visible:
            return "", ""
        return super().label_and_url_for_value(value)


class SameOrganizationForm(forms.ModelForm):
    """Related objects picked in a form must belong to the object's own organization."""

    def clean(self):
        cleaned = super().clean()
        organization = cleaned.get("organization") or getattr(self.instance, "organization", None)
        if organization is None or not isinstance(organization, Organization):
            return cleaned
        for name, value in list(cleaned.items()):
            if name == "organization" or not isinstance(value, models.Model):
                continue
            related_org = getattr(value, "organization_id", None)
            if related_org is not None and related_org != organization.pk:
                self.add_error(name, f"Choose one that belongs to {organization}.")
        return cleaned


def name_inputs(formfield, *, label: str, inline: bool) -> None:
    """Give inputs a label a screen reader can announce where the admin renders none: the
    date and time halves of a date-time field (one <label> for two inputs), and an inline
    table's inputs (their column header is not a label)."""
    widget = formfield.widget
    parts = getattr(widget, "widgets", None)
    if isinstance(widget, forms.SplitDateTimeWidget) and parts:
        parts[0].attrs.setdefault("aria-label", f"{label}: date")
        parts[1].attrs.setdefault("aria-label", f"{label}: time")
    elif inline and not getattr(widget, "is_hidden", False):
        widget.attrs.setdefault("aria-label", label)


class OrganizationScopedMixin:
    """Mix into every ModelAdmin and InlineModelAdmin of an organization-owned model."""

    form = SameOrganizationForm
    # The path from the model to its organization when it has no `organization` field.
    organization_lookup: str | None = None

    def organization_path(self) -> str | None:
        return self.organization_lookup or _organization_lookup(self.model)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.organization_path() is None and allowed_organization_ids(request) is not None:
            return queryset.none()  # fail closed: an admin that cannot be scoped shows nothing
        return scope_queryset(queryset, request, lookup=self.organization_path())

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        formfield = super().formfield_for_dbfield(db_field, request, **kwargs)
        if formfield is not None:
            name_inputs(formfield, label=str(db_field.verbose_name), inline=self._is_inline)
        return formfield

    _is_inline = False

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        formfield = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if formfield is not None and hasattr(formfield, "queryset"):
            # Setting the queryset also resets a select's or an autocomplete's choices, which
            # is what they render an initial value (`add/?service=N`) from.
            formfield.queryset = scope_queryset(formfield.queryset, request)
            widget = formfield.widget
            if type(widget) is ForeignKeyRawIdWidget:
                formfield.widget = ScopedForeignKeyRawIdWidget(
                    widget.rel,
                    widget.admin_site,
                    queryset=formfield.queryset,
                    attrs=widget.attrs,
                    using=widget.db,
                )
        return formfield

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if formfield is not None and hasattr(formfield, "queryset"):
            formfield.queryset = scope_queryset(formfield.queryset, request)
        return formfield


class OrganizationScopedAdmin(OrganizationScopedMixin, admin.ModelAdmin):
    """A ModelAdmin limited to the user's organizations."""

    def get_object(self, request, object_id, from_field=None):
        obj = super().get_object(request, object_id, from_field)
        if obj is None:
            # Django would redirect with "doesn't exist"; a 404 says the same for any
            # organization's object, so it reveals nothing.
            raise Http404("No such object.")
        return obj

    def get_list_display(self, request):
        # A member of one organization needs no column saying which: the width goes to the
        # other columns.
        columns = super().get_list_display(request)
        allowed = allowed_organization_ids(request)
        if allowed is not None and len(allowed) == 1:
            columns = [c for c in columns if c != "organization"]
        return columns

    def get_list_filter(self, request):
        # A plain related-field filter lists every row of the related table; limit it to
        # values present in the (scoped) change list.
        scoped = []
        for entry in super().get_list_filter(request):
            if isinstance(entry, str) and "__" not in entry:
                field = self.model._meta.get_field(entry)
                if field.is_relation and field.many_to_one:
                    entry = (entry, admin.RelatedOnlyFieldListFilter)
            scoped.append(entry)
        return scoped

    def has_add_permission(self, request):
        # A staff user who belongs to no organization has nothing to add anything to.
        if allowed_organization_ids(request) == set():
            return False
        return super().has_add_permission(request)


class OrganizationScopedInline(OrganizationScopedMixin):
    """Mix into inlines: `class FooInline(OrganizationScopedInline, admin.TabularInline)`."""

    _is_inline = True
