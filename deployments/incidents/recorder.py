"""Recording incidents and attributing them to the deployment that caused them."""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from deployments.models import DeliveryAction, Deployment, Incident, IncidentDelivery, Status
from deployments.recording import repeats
from deployments.recording.environments import PRODUCTION, normalize_environment
from deployments.rollups import maintain as rollups
from periscope.errors import InvalidPayload
from periscope.models import Organization
from services.matching import normalize_key, resolve_service_id

DEFAULT_ATTRIBUTION_WINDOW = timedelta(hours=24)


@dataclass(frozen=True, kw_only=True)
class IncidentResult:
    incident_id: int
    action: str  # a DeliveryAction value
    deployment_id: int | None
    attributed_by: str

    @property
    def created(self) -> bool:
        return self.action == DeliveryAction.CREATED

    @property
    def stale(self) -> bool:
        return self.action == DeliveryAction.STALE


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


def _log(*, incident: Incident, source: str, body: str, received_at: datetime, action: str) -> None:
    IncidentDelivery.objects.create(
        organization_id=incident.organization_id,
        incident=incident,
        source=source,
        received_at=received_at,
        action=action,
        body=body,
    )


def _sent_values(*, organization: Organization, service_name: str, environment: str) -> dict:
    service_key = normalize_key(service_name)
    return {
        "service_name": service_name,
        "service_id": (
            resolve_service_id(organization_id=organization.pk, name=service_name)
            if service_key
            else None
        ),
        "service_key": service_key,
        "environment": (
            normalize_environment(organization_id=organization.pk, raw=environment)
            if environment.strip()
            else ""
        ),
    }


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
    occurred_at: datetime | None = None,
    body: str = "",
    received_at: datetime | None = None,
) -> IncidentResult:
    """Create the incident, or apply a repeat of its id by the rule of deployments.recording.repeats
    (that is how it resolves); every delivery goes to the incident's delivery log.

    `occurred_at` is the event's own time where the format carries one (PagerDuty's); without
    it, a sent `resolved_at` is the event's time."""
    received_at = received_at or timezone.now()
    sent = {
        "source": source,
        "title": title,
        **_sent_values(
            organization=organization, service_name=service_name, environment=environment
        ),
        "severity": severity,
        "started_at": started_at,
        "resolved_at": resolved_at,
        "url": url,
    }
    with transaction.atomic():
        stored = (
            Incident.objects.select_for_update()
            .filter(organization=organization, external_id=external_id)
            .first()
        )
        if stored is None:
            incident = _create(
                organization=organization,
                external_id=external_id,
                sent=sent,
                deployment_id=deployment_id,
                change_id=change_id,
            )
            if incident is not None:
                action = DeliveryAction.CREATED
                _log(
                    incident=incident,
                    source=source,
                    body=body,
                    received_at=received_at,
                    action=action,
                )
                return _result(incident, action)
            # Lost a race for the id: the winner's row is a repeat.
            stored = Incident.objects.select_for_update().get(
                organization=organization, external_id=external_id
            )
        action = _apply_repeat(
            stored=stored,
            sent=sent,
            event_time=occurred_at or resolved_at,
            deployment_id=deployment_id,
            change_id=change_id,
        )
        _log(incident=stored, source=source, body=body, received_at=received_at, action=action)
    return _result(stored, action)


def _result(incident: Incident, action: str) -> IncidentResult:
    return IncidentResult(
        incident_id=incident.pk,
        action=action,
        deployment_id=incident.deployment_id,
        attributed_by=incident.attributed_by,
    )


def _create(
    *, organization: Organization, external_id: str, sent: dict, deployment_id: str, change_id: str
) -> Incident | None:
    """Insert a new incident; None when another delivery stored the id first."""
    # Named by none of its deliveries: the organization's default environment.
    values = {**sent, "environment": sent["environment"] or organization.default_environment}
    deployment, attributed_by = attribute(
        organization=organization,
        service_id=values["service_id"],
        service_key=values["service_key"],
        environment=values["environment"],
        started_at=values["started_at"],
        deployment_id=deployment_id,
        change_id=change_id,
    )
    try:
        with transaction.atomic():
            incident = Incident.objects.create(
                organization=organization,
                external_id=external_id,
                deployment=deployment,
                attributed_by=attributed_by,
                **values,
            )
    except IntegrityError:
        return None
    rollups.note_incident_row(incident)
    return incident


def _apply_repeat(
    *,
    stored: Incident,
    sent: dict,
    event_time: datetime | None,
    deployment_id: str,
    change_id: str,
) -> str:
    """Apply a repeat delivery to the locked incident; returns the delivery's action."""
    if repeats.is_stale(
        event_time=event_time,
        stored_time=repeats.latest((stored.started_at, stored.resolved_at)),
    ):
        return DeliveryAction.STALE
    changes = repeats.merged(
        stored={name: getattr(stored, name) for name in sent},
        incoming=sent,
        groups=[("service_name", "service_id", "service_key")],
        merge_keys=(),
    )
    after = {**{name: getattr(stored, name) for name in sent}, **changes}
    if after["resolved_at"] is not None and after["resolved_at"] < after["started_at"]:
        raise InvalidPayload(
            "startedAt must not be after the incident's stored resolvedAt", field="startedAt"
        )
    deployment, attributed_by = _attribution(
        stored=stored, after=after, deployment_id=deployment_id, change_id=change_id
    )
    if deployment != stored.deployment or attributed_by != stored.attributed_by:
        changes.update(deployment=deployment, attributed_by=attributed_by)
    if not changes:
        return DeliveryAction.DUPLICATE
    rollups.note_incident_row(stored)
    for name, value in changes.items():
        setattr(stored, name, value)
    stored.save(update_fields=[*changes, "updated_at"])
    rollups.note_incident_row(stored)
    return DeliveryAction.UPDATED


def _attribution(
    *, stored: Incident, after: dict, deployment_id: str, change_id: str
) -> tuple[Deployment | None, str]:
    """A deployment the repeat names (by id or change id) wins; without one, a stored
    attribution stands (closing a ticket never changes what caused it), and an incident
    still unattributed is attributed again (its deployment may have arrived since)."""
    if not (deployment_id or change_id) and stored.attributed_by:
        return stored.deployment, stored.attributed_by
    found, rule = attribute(
        organization=stored.organization,
        service_id=after["service_id"],
        service_key=after["service_key"],
        environment=after["environment"],
        started_at=after["started_at"],
        deployment_id=deployment_id,
        change_id=change_id,
    )
    if found is None and stored.attributed_by:
        return stored.deployment, stored.attributed_by
    return found, rule
