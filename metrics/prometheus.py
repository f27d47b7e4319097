"""GET /metrics: the four DORA metrics per service over the last 30 days, as Prometheus gauges.

Protected by an API key with the `read` scope (that organization only), unless
METRICS_PUBLIC=1, when it is open and covers every organization. Samples whose value is
undefined (no data) are left out rather than exported as 0.
"""

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from rest_framework.exceptions import AuthenticationFailed, Throttled

from deployments.recording.service_group import ServiceGroup
from metrics import dora
from periscope.authentication import BearerKeyAuthentication
from periscope.client_address import client_address
from periscope.models import Organization, Scope
from periscope.permissions import missing_scope_message
from periscope.throttling import READ, over_limit, throttled_response
from services.models import Service

WINDOW = timedelta(days=30)
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
GAUGES = (
    ("periscope_dora_deployments", "Deployments that reached production in the last 30 days"),
    (
        "periscope_dora_deployments_per_day",
        "Deployment frequency: deployments per day, last 30 days",
    ),
    ("periscope_dora_lead_time_median_seconds", "Median lead time for changes, last 30 days"),
    ("periscope_dora_change_failure_rate", "Change failure rate (fraction), last 30 days"),
    (
        "periscope_dora_failed_deployment_recovery_median_seconds",
        "Median failed deployment recovery time, last 30 days",
    ),
    (
        "periscope_dora_rework_rate",
        "Deployment rework rate (fraction of deployments that were rework), last 30 days",
    ),
)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def organization_samples(
    *, organization: Organization, now: datetime
) -> list[tuple[str, dict, float]]:
    """(metric, labels, value) for each service with production deployments in the window:
    the per-service metrics of the dashboard's table (dora.dora_by_service, from the rollups),
    a constant number of queries per organization."""
    scope = dora.Window(organization_id=organization.pk, start=now - WINDOW, end=now)
    slugs = dict(Service.objects.filter(organization=organization).values_list("id", "slug"))
    days = WINDOW.total_seconds() / 86400
    samples = []
    for row in sorted(dora.dora_by_service(scope=scope), key=lambda row: row.group):
        service_group = ServiceGroup.decode(row.group)
        service = (
            slugs.get(service_group.service_id, str(service_group.service_id))
            if service_group.service_id is not None
            else service_group.service_key
        )
        labels = {"organization": organization.slug, "service": service}
        values = {
            "periscope_dora_deployments": row.deployment_frequency.deployments,
            "periscope_dora_deployments_per_day": row.deployment_frequency.deployments / days,
            "periscope_dora_lead_time_median_seconds": row.lead_time.median_seconds,
            "periscope_dora_change_failure_rate": row.change_failure_rate.rate,
            "periscope_dora_failed_deployment_recovery_median_seconds": (
                row.failed_deployment_recovery_time.median_seconds
            ),
            "periscope_dora_rework_rate": row.rework_rate.rate,
        }
        samples.extend((name, labels, value) for name, value in values.items() if value is not None)
    return samples


def render(samples: list[tuple[str, dict, float]]) -> str:
    lines = []
    for name, help_text in GAUGES:
        lines.append(f"# HELP {name} {help_text}")
        lines.append(f"# TYPE {name} gauge")
        for metric, labels, value in samples:
            if metric == name:
                label_text = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
                lines.append(f"{name}{{{label_text}}} {float(value)!r}")
    return "\n".join(lines) + "\n"


def prometheus_metrics(request):
    if request.method != "GET":
        return JsonResponse({"error": "Method not allowed"}, status=405)
    if getattr(settings, "METRICS_PUBLIC", False):
        # Open to anyone: the read limit counts per client address instead of per key.
        retry_after = over_limit(name=READ, identity=f"addr:{client_address(request)}")
        if retry_after is not None:
            return throttled_response(retry_after)
        organizations = list(Organization.objects.order_by("slug"))
    else:
        try:
            found = BearerKeyAuthentication().authenticate(request)
        except AuthenticationFailed as exc:
            return JsonResponse({"error": str(exc.detail)}, status=401)
        except Throttled as exc:  # this address failed to authenticate too often
            return throttled_response(exc.wait)
        if found is None:
            return JsonResponse({"error": "Invalid or missing API key"}, status=401)
        api_key = found[1]
        if not api_key.has_scope(Scope.READ):
            return JsonResponse({"error": missing_scope_message(Scope.READ)}, status=403)
        # The key's read budget, shared with the read API (a plain view: no DRF throttle).
        retry_after = over_limit(name=READ, identity=str(api_key.pk))
        if retry_after is not None:
            return throttled_response(retry_after)
        organizations = [api_key.organization]
    now = datetime.now(UTC)
    samples = [
        sample
        for organization in organizations
        for sample in organization_samples(organization=organization, now=now)
    ]
    return HttpResponse(render(samples), content_type=CONTENT_TYPE)
