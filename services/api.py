"""GET /api/services and /api/services/<id> (read scope): the organization's catalog with the
names each service is known by; GET /api/suggestions: the names nobody catalogued yet."""

import django_filters
from rest_framework import generics, serializers

from periscope.camel_case import CamelCaseFilterSet
from periscope.listing import OrganizationScoped
from services.models import Service, ServiceAlias, ServiceSuggestion, SuggestionStatus


class AliasSerializer(serializers.ModelSerializer):
    class Meta:
        model = ServiceAlias
        fields = ["name", "kind"]


class ServiceSerializer(serializers.ModelSerializer):
    aliases = AliasSerializer(many=True, read_only=True, help_text="Names sent for this service")

    class Meta:
        model = Service
        fields = [
            "id",
            "name",
            "slug",
            "team",
            "repository_url",
            "description",
            "aliases",
            "created_at",
        ]


class ServiceFilter(CamelCaseFilterSet):
    team = django_filters.CharFilter(lookup_expr="iexact")
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Service
        fields = []


class ServiceList(OrganizationScoped, generics.ListAPIView):
    model = Service
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilter

    def get_queryset(self):
        return super().get_queryset().prefetch_related("aliases")


class ServiceDetail(OrganizationScoped, generics.RetrieveAPIView):
    model = Service
    serializer_class = ServiceSerializer

    def get_queryset(self):
        return super().get_queryset().prefetch_related("aliases")


class SuggestionSerializer(serializers.ModelSerializer):
    service = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = ServiceSuggestion
        fields = ["id", "name", "status", "service", "created_at"]


class SuggestionFilter(CamelCaseFilterSet):
    status = django_filters.ChoiceFilter(choices=SuggestionStatus.choices)

    class Meta:
        model = ServiceSuggestion
        fields = []


class SuggestionList(OrganizationScoped, generics.ListAPIView):
    """Service names that arrived with deployments and match no service: open ones wait for
    an admin (create a service, attach as an alias, ignore); `service` is where an accepted
    one went."""

    model = ServiceSuggestion
    serializer_class = SuggestionSerializer
    filterset_class = SuggestionFilter

    def get_queryset(self):
        return super().get_queryset().select_related("service")
