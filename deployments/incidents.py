"""Recording incidents and attributing them to the deployment that caused them."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from deployments.environments import PRODUCTION, normalize_environment
from deployments.models import Deployment, Incident, Status
from periscope.models import Organization
from services.matching import normalize_key, resolve_service_id

DEFAULT_ATTRIBUTION_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, kw_only=True)
class IncidentResult:
    incident_id: int
    created: bool
    deployment_id: int | None
    attributed_by: str


def attribution_window() -> timedelta:
    hours = getattr(settings, "INCIDENT_ATTRIBUTION_WINDOW_HOURS", None)
    return DEFAULT_ATTRIBUTION_WINDOW if hours is None else timedelta(hours=float(hours))


def attribute(
    *,
    organization: Organization,
    service_id: int | None,
    service_key: str,
    environment: str,
    started_at: datetime,
    deployment_id: str = "",
    change_id: str = "",
) -> tuple[Deployment | None, str]:
    """The deployment an incident is attributed to and the rule that chose it.

    In order: the deployment named by `deployment_id`; else the one whose DevGrid change id
    is `change_id`; else the latest successful production deployment of the same service
    that completed before the incident started, within the attribution window.
    """
    deployments = Deployment.objects.filter(organization=organization)
    if deployment_id:
        # The Periscope format first when two formats used the same id.
        named = deployments.filter(external_id=deployment_id).order_by("source", "id")
        named = sorted(named[:10], key=lambda d: d.source != "periscope")
        if named:
            return named[0], "deployment_id"
    if change_id:
        found = deployments.filter(change_id=change_id).order_by("-completed_at", "-id").first()
        if found is not None:
            return found, "change_id"
    if environment != PRODUCTION or not (service_id or service_key):
        return None, ""
    same_service = (
        deployments.filter(service_id=service_id)
        if service_id
        else deployments.filter(service__isnull=True, service_key=service_key)
    )
    found = (
        same_service.filter(
            environment=PRODUCTION,
            status=Status.SUCCESS,
            completed_at__lt=started_at,
            completed_at__gte=started_at - attribution_window(),
        )
        .order_by("-completed_at", "-id")
        .first()
    )
    return (found, "window") if found is not None else (None, "")


def record_incident(
    *,
    organization: Organization,
    external_id: str,
    title: str,
    service_name: str,
    started_at: datetime,
    resolved_at: datetime | None = None,
    environment: str = "",
    severity: str = "",
    url: str = "",
    source: str = "periscope",
    deployment_id: str = "",
    change_id: str = "",
) -> IncidentResult:
    """Create the incident, or update it when its id is known (a repeat resolves it)."""
    service_key = normalize_key(service_name)
    service_id = (
        resolve_service_id(organization_id=organization.pk, name=service_name)
        if service_key
        else None
    )
    environment = (
        normalize_environment(organization_id=organization.pk, raw=environment)
        if environment.strip()
        else PRODUCTION
    )
    deployment, attributed_by = attribute(
        organization=organization,
        service_id=service_id,
        service_key=service_key,
        environment=environment,
        started_at=started_at,
        deployment_id=deployment_id,
        change_id=change_id,
    )
    values = {
        "source": source,
        "title": title,
        "service_id": service_id,
        "service_name": service_name,
        "service_key": service_key,
        "environment": environment,
        "severity": severity,
        "started_at": started_at,
        "resolved_at": resolved_at,
        "url": url,
        "deployment": deployment,
        "attributed_by": attributed_by,
    }
    with transaction.atomic():
        try:
            with transaction.atomic():
                incident = Incident.objects.create(
                    organization=organization, external_id=external_id, **values
                )
            created = True
        except IntegrityError:
            incident = Incident.objects.select_for_update().get(
                organization=organization, external_id=external_id
            )
            for name, value in values.items():
                setattr(incident, name, value)
            incident.save()
            created = False
    return IncidentResult(
        incident_id=incident.pk,
        created=created,
        deployment_id=incident.deployment_id,
        attributed_by=attributed_by,
    )
