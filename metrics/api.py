"""Read APIs: DORA metrics and the deployment/service/incident/change lists (read scope).

Every queryset is scoped to the organization of the request's API key.
"""

import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from deployments.formats.fields import iso8601
from deployments.json_input import check_storable
from deployments.models import Deployment, Incident
from metrics import dora
from metrics.changes import changes_of_deployment
from metrics.filters import DeploymentFilter, IncidentFilter, ServiceFilter
from metrics.serializers import (
    DeploymentDetailSerializer,
    DeploymentSerializer,
    DoraReportSerializer,
    IncidentSerializer,
    ServiceSerializer,
)
from periscope.errors import InvalidPayload
from services.models import Service

DEFAULT_DAYS = 30
MAX_BUCKETS = 1000
# "+02:00" in an unencoded query string arrives as " 02:00".
_LOST_PLUS = re.compile(r" (\d{2}(:?\d{2})?)$")


def _moment(raw: str, name: str) -> datetime:
    return iso8601(_LOST_PLUS.sub(r"+\1", raw.strip()), name)


def parse_dora_query(*, params, organization) -> tuple[dora.Scope, str, dict]:
    """Scope, interval and the echoed range from the query string; 400 naming the parameter."""
    interval = params.get("interval") or "week"
    if interval not in dora.INTERVALS:
        raise InvalidPayload(
            f"interval must be one of: {', '.join(dora.INTERVALS)}", field="interval"
        )
    tomorrow = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(
        days=1
    )
    end = _moment(params["to"], "to") if params.get("to") else tomorrow
    start = (
        _moment(params["from"], "from")
        if params.get("from")
        else end - timedelta(days=DEFAULT_DAYS)
    )
    if start >= end:
        raise InvalidPayload("from must be before to", field="from")
    longest = timedelta(days=settings.METRICS_MAX_RANGE_DAYS)
    if end - start > longest:
        raise InvalidPayload(
            f"the range is longer than {longest.days} days (METRICS_MAX_RANGE_DAYS)", field="from"
        )
    if dora.bucket_count(start=start, end=end, interval=interval) > MAX_BUCKETS:
        raise InvalidPayload(
            f"the range has more than {MAX_BUCKETS} {interval} intervals; use a longer interval",
            field="interval",
        )
    for name in ("environment", "service", "team"):
        # A NUL (%00) reached PostgreSQL, which refused it (was a 503): the body's rule.
        check_storable(params.get(name) or "", what=name)
    environment = (params.get("environment") or "production").strip().lower()
    service_value = (params.get("service") or "").strip()
    team = (params.get("team") or "").strip()
    selector = (
        dora.select_service(organization=organization, value=service_value)
        if service_value
        else None
    )
    scope = dora.Scope(
        organization_id=organization.pk,
        start=start,
        end=end,
        environment=environment,
        service=selector,
        team=team,
    )
    echoed = {
        "from": start,
        "to": end,
        "environment": environment,
        "service": service_value or None,
        "team": team or None,
        "interval": interval,
    }
    return scope, interval, echoed


class DoraMetricsView(APIView):
    @extend_schema(
        summary="DORA metrics: a summary for the range and a series per interval",
        parameters=[
            OpenApiParameter(
                "from",
                OpenApiTypes.STR,
                description="ISO 8601 date or time, inclusive; default: 30 days before `to`",
            ),
            OpenApiParameter(
                "to",
                OpenApiTypes.STR,
                description="ISO 8601 date or time, exclusive; default: the next UTC midnight",
            ),
            OpenApiParameter(
                "service",
                OpenApiTypes.STR,
                description="id, slug, name or alias; or an unmatched name",
            ),
            OpenApiParameter("team", OpenApiTypes.STR),
            OpenApiParameter("environment", OpenApiTypes.STR, description="default production"),
            OpenApiParameter(
                "interval", OpenApiTypes.STR, enum=list(dora.INTERVALS), description="default week"
            ),
        ],
        responses=DoraReportSerializer,
    )
    def get(self, request):
        scope, interval, echoed = parse_dora_query(
            params=request.query_params, organization=request.auth.organization
        )
        report = dora.dora_report(scope=scope, interval=interval)
        data = DoraReportSerializer(
            {
                "range": echoed,
                "benchmarks": report.benchmarks,
                "summary": report.summary,
                "series": report.series,
            }
        ).data
        return Response(data)


class CursorPage(CursorPagination):
    page_size = 50
    page_size_query_param = "limit"
    max_page_size = 500
    ordering = "-id"


class OrganizationScoped:
    """Lists and details over the request key's organization only (others' ids are 404)."""

    pagination_class = CursorPage
    model = None

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation has no key
            return self.model.objects.none()
        return self.model.objects.filter(organization=self.request.auth.organization)


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
        return super().get_queryset().select_related("service").prefetch_related("incidents")


class ServiceList(OrganizationScoped, generics.ListAPIView):
    model = Service
    serializer_class = ServiceSerializer
    filterset_class = ServiceFilter


class ServiceDetail(OrganizationScoped, generics.RetrieveAPIView):
    model = Service
    serializer_class = ServiceSerializer


class IncidentList(OrganizationScoped, generics.ListAPIView):
    model = Incident
    serializer_class = IncidentSerializer
    filterset_class = IncidentFilter

    def get_queryset(self):
        return super().get_queryset().select_related("service")


class IncidentDetail(OrganizationScoped, generics.RetrieveAPIView):
    model = Incident
    serializer_class = IncidentSerializer


class ChangeList(APIView):
    """Pull requests (default) or commits (`?kind=commit`), each with the lead time of the
    first production deployment that shipped it."""

    pagination_class = CursorPage

    @extend_schema(
        operation_id="changes_list",
        parameters=[
            OpenApiParameter("kind", str, enum=["pull_request", "commit"]),
            OpenApiParameter("limit", int),
            OpenApiParameter("cursor", str),
        ],
        responses=inline_serializer(
            "ChangePage",
            {
                "next": serializers.URLField(allow_null=True),
                "previous": serializers.URLField(allow_null=True),
                "results": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def get(self, request):
        kind, queryset, render = _changes(request)
        paginator = CursorPage()
        page = paginator.paginate_queryset(queryset, request, view=self)
        return paginator.get_paginated_response([render(item) for item in page])


class ChangeDetail(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("kind", str, enum=["pull_request", "commit"])],
        responses=inline_serializer("ChangeItem", {"id": serializers.IntegerField()}),
    )
    def get(self, request, pk: int):
        kind, queryset, render = _changes(request)
        item = queryset.filter(pk=pk).first()
        if item is None:
            raise Http404
        return Response(render(item))


def _changes(request):
    from metrics import changes

    kind = request.query_params.get("kind", "pull_request")
    organization_id = request.auth.organization.pk
    if kind == "pull_request":
        return (
            kind,
            changes.pull_requests(organization_id=organization_id),
            changes.pull_request_json,
        )
    if kind == "commit":
        return kind, changes.commits(organization_id=organization_id), changes.commit_json
    raise ValidationError({"kind": "must be pull_request or commit"})


__all__ = ["changes_of_deployment"]
