"""Read APIs: DORA metrics and the deployment/service/incident/change lists (read scope).

Every queryset is scoped to the organization of the request's API key.
"""

import re
from datetime import UTC, datetime, timedelta

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from deployments.ingest.fields import iso8601
from deployments.ingest.json_input import check_storable
from metrics import dora
from metrics.serializers import (
    DoraReportSerializer,
)
from periscope.errors import InvalidPayload
from services.selection import select_service

DEFAULT_DAYS = 30
MAX_BUCKETS = 1000
# "+02:00" in an unencoded query string arrives as " 02:00".
_LOST_PLUS = re.compile(r" (\d{2}(:?\d{2})?)$")


def _moment(raw: str, name: str) -> datetime:
    return iso8601(_LOST_PLUS.sub(r"+\1", raw.strip()), name)


def parse_dora_query(*, params, organization) -> tuple[dora.Window, str, dict]:
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
        select_service(organization=organization, value=service_value) if service_value else None
    )
    scope = dora.Window(
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
