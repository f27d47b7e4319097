"""GET /api/incidents and /api/incidents/<id> (read scope). The same URL's POST records an
incident: deployments/ingest/incidents/view.py."""

import django_filters
from rest_framework import generics, serializers

from deployments.models import Incident
from periscope.camel_case import CamelCaseFilterSet
from periscope.listing import IdFilter, MomentFilter, OrganizationScoped
from services.selection import filter_by_service


class IncidentSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    deployment = serializers.PrimaryKeyRelatedField(read_only=True)

    class Meta:
        model = Incident
        fields = [
            "id",
            "external_id",
            "source",
            "title",
            "service",
            "service_name",
            "environment",
            "severity",
            "started_at",
            "resolved_at",
            "url",
            "deployment",
            "attributed_by",
            "created_at",
            "updated_at",
        ]


class IncidentFilter(CamelCaseFilterSet):
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
        return filter_by_service(
            queryset, organization=self.request.auth.organization, value=value, incidents=True
        )


class IncidentList(OrganizationScoped, generics.ListAPIView):
    model = Incident
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter

    def get_queryset(self):
        return super().get_queryset().select_related("service")


class IncidentDetail(OrganizationScoped, generics.RetrieveAPIView):
    model = Incident
    serializer_class = IncidentSerializer
