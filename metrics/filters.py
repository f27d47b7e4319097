"""django-filter FilterSets of the list APIs. A `service` filter accepts an id, slug, name or
alias of a catalogued service, or an unmatched name as sent."""

from datetime import UTC

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q
from django_filters.fields import IsoDateTimeField

from deployments.models import Deployment, Incident, Status
from metrics.dora import select_service
from services.models import Service


class UtcDateTimeField(IsoDateTimeField):
    """ISO 8601, compared in UTC: PostgreSQL refuses offsets past 15:59 ("-20:53" is valid
    ISO 8601), and a year-1 time with an offset overflows on SQLite."""

    def to_python(self, value):
        try:
            moment = super().to_python(value)
            return None if moment is None else moment.astimezone(UTC)
        except OverflowError:
            raise forms.ValidationError("Enter a date/time within range.", code="invalid") from None


class MomentFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcDateTimeField


class IdFilter(django_filters.NumberFilter):
    """A whole number (NumberFilter takes decimals, which SQLite cannot compare when huge)."""

    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        # Ids are 64-bit: SQLite overflows on a larger number instead of matching nothing.
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", 2**63 - 1)
        super().__init__(*args, **kwargs)


def _service_filter(filterset, queryset, value, *, incidents=False):
    selector = select_service(organization=filterset.request.auth.organization, value=value)
    if selector.service_id is not None:
        q = Q(service_id=selector.service_id)
        if incidents and selector.alias_keys:
            q |= Q(service__isnull=True, service_key__in=selector.alias_keys)
        return queryset.filter(q)
    return queryset.filter(service__isnull=True, service_key=selector.key)


class DeploymentFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(
        method="filter_service", help_text="id, slug, name or alias"
    )
    team = django_filters.CharFilter(field_name="service__team", lookup_expr="iexact")
    environment = django_filters.CharFilter(field_name="environment", lookup_expr="iexact")
    status = django_filters.MultipleChoiceFilter(choices=Status.choices)
    source = django_filters.CharFilter()
    change_id = django_filters.CharFilter()
    commit_sha = django_filters.CharFilter(lookup_expr="iexact")
    completed_after = MomentFilter(field_name="completed_at", lookup_expr="gte")
    completed_before = MomentFilter(field_name="completed_at", lookup_expr="lt")
    has_incident = django_filters.BooleanFilter(method="filter_has_incident")
    unmatched = django_filters.BooleanFilter(field_name="service", lookup_expr="isnull")

    class Meta:
        model = Deployment
        fields = []

    def filter_service(self, queryset, name, value):
        return _service_filter(self, queryset, value)

    def filter_has_incident(self, queryset, name, value):
        exists = Exists(Incident.objects.filter(deployment_id=OuterRef("pk")))
        return queryset.filter(exists if value else ~exists)


class IncidentFilter(django_filters.FilterSet):
    service = django_filters.CharFilter(
        method="filter_service", help_text="id, slug, name or alias"
    )
    environment = django_filters.CharFilter(field_name="environment", lookup_expr="iexact")
    severity = django_filters.CharFilter(lookup_expr="iexact")
    source = django_filters.CharFilter()
    started_after = MomentFilter(field_name="started_at", lookup_expr="gte")
    started_before = MomentFilter(field_name="started_at", lookup_expr="lt")
    resolved = django_filters.BooleanFilter(
        field_name="resolved_at", lookup_expr="isnull", exclude=True
    )
    attributed = django_filters.BooleanFilter(
        field_name="deployment", lookup_expr="isnull", exclude=True
    )
    deployment = IdFilter(field_name="deployment_id")

    class Meta:
        model = Incident
        fields = []

    def filter_service(self, queryset, name, value):
        return _service_filter(self, queryset, value, incidents=True)


class ServiceFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(lookup_expr="iexact")
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Service
        fields = []
