"""GET /api/deployments and /api/deployments/<id> (read scope): deployments with their
incidents, the changes they shipped and every delivery as it was sent."""

import django_filters
from django.db.models import Exists, OuterRef
from rest_framework import generics, serializers

from deployments.changes.listing import changes_of_deployment
from deployments.incidents.api import IncidentSerializer
from deployments.models import Delivery, Deployment, Incident, Status
from periscope.camel_case import CamelCaseFilterSet
from periscope.listing import MomentFilter, OrganizationScoped
from services.selection import filter_by_service


class DeploymentSerializer(serializers.ModelSerializer):
    """Every stored field but the raw body (the delivery log keeps what was sent) and the
    internal matching key. Snake_case here, camelCase on the wire (periscope/camel_case.py)."""

    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    environment_as_sent = serializers.CharField(source="environment_raw", read_only=True)
    status_as_sent = serializers.CharField(source="status_raw", read_only=True)

    class Meta:
        model = Deployment
        fields = [
            "id",
            "external_id",
            "source",
            "service",
            "service_name",
            "environment",
            "environment_as_sent",
            "status",
            "status_as_sent",
            "commit_sha",
            "commit_at",
            "previous_commit_sha",
            "branch",
            "repository_url",
            "change_id",
            "started_at",
            "completed_at",
            "recovered_at",
            "triggered_by",
            "pipeline_name",
            "pipeline_url",
            "rework",
            "rollback_of",
            "description",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "rework": {"help_text": "The sender declared it rework (a rollback, a hotfix)"},
            "rollback_of": {
                "help_text": "A detected rollback: the id of the deployment it replaced"
            },
        }


class DeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = Delivery
        fields = ["received_at", "source", "action", "body"]


class DeploymentDetailSerializer(DeploymentSerializer):
    incidents = IncidentSerializer(many=True, read_only=True)
    changes = serializers.SerializerMethodField()
    deliveries = DeliverySerializer(many=True, read_only=True)

    class Meta(DeploymentSerializer.Meta):
        fields = [
            *DeploymentSerializer.Meta.fields,
            "metadata",
            "incidents",
            "changes",
            "deliveries",
        ]

    def get_changes(self, deployment) -> list[dict]:
        return changes_of_deployment(deployment=deployment)


class DeploymentFilter(CamelCaseFilterSet):
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
        return filter_by_service(queryset, organization=self.request.auth.organization, value=value)

    def filter_has_incident(self, queryset, name, value):
        exists = Exists(Incident.objects.filter(deployment_id=OuterRef("pk")))
        return queryset.filter(exists if value else ~exists)


class DeploymentList(OrganizationScoped, generics.ListAPIView):
    model = Deployment
    serializer_class = DeploymentSerializer
    filterset_class = DeploymentFilter

    def get_queryset(self):
        return super().get_queryset().select_related("service")


class DeploymentDetail(OrganizationScoped, generics.RetrieveAPIView):
    model = Deployment
    serializer_class = DeploymentDetailSerializer

    def get_queryset(self):
        return (
            super()
            .get_queryset()
            .select_related("service")
            .prefetch_related("incidents", "deliveries")
        )
