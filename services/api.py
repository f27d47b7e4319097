"""GET /api/services and /api/services/<id> (read scope): the organization's catalog."""

import django_filters
from rest_framework import generics, serializers

from periscope.listing import OrganizationScoped
from services.models import Service


class ServiceSerializer(serializers.ModelSerializer):
    class Meta:
        model = Service
        fields = ["id", "name", "slug", "team", "repository_url", "description", "created_at"]


class ServiceFilter(django_filters.FilterSet):
    team = django_filters.CharFilter(lookup_expr="iexact")
    name = django_filters.CharFilter(lookup_expr="icontains")

    class Meta:
        model = Service
        fields = []


class ServiceList(OrganizationScoped, generics.ListAPIView):
    model = Service
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilter


class ServiceDetail(OrganizationScoped, generics.RetrieveAPIView):
    model = Service
    serializer_class = ServiceSerializer
