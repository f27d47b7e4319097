"""Incidents, reported by the API or an incident tool, and every delivery that reported them."""

from django.db import models
from django.db.models import Q

from deployments.models.deployment import DeliveryAction, Deployment
from periscope.models import Organization
from services.models import Service


class Incident(models.Model):
    """A production incident, reported by an API call or an incident tool's webhook."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="incidents"
    )
    source = models.CharField(max_length=16, default="periscope")
    # The idempotency key: a repeat of the id updates the incident (that is how it resolves).
    external_id = models.CharField("incident id", max_length=255)
    title = models.CharField(max_length=500, blank=True)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    service_name = models.CharField("service as sent", max_length=500, blank=True)
    service_key = models.CharField(max_length=500, blank=True, editable=False)
    environment = models.CharField(max_length=100, default="production")
    severity = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    url = models.CharField(max_length=2000, blank=True)
    deployment = models.ForeignKey(
        Deployment, null=True, blank=True, on_delete=models.SET_NULL, related_name="incidents"
    )
    # How the deployment was chosen: deployment_id, change_id, window or "" (none).
    attributed_by = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"], name="uniq_incident_id"
            ),
            models.CheckConstraint(
                condition=Q(resolved_at__isnull=True) | Q(resolved_at__gte=models.F("started_at")),
                name="incident_resolved_after_started",
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "environment", "started_at"]),
            models.Index(fields=["organization", "environment", "resolved_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.title}"


class IncidentDelivery(models.Model):
    """One accepted incident delivery (API call or webhook), kept as sent, with what it did."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="incident_deliveries", db_index=False
    )
    incident = models.ForeignKey(
        Incident, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    source = models.CharField(max_length=16)
    received_at = models.DateTimeField()
    action = models.CharField(max_length=16, choices=DeliveryAction.choices)
    body = models.TextField()

    class Meta:
        verbose_name_plural = "incident deliveries"
        ordering = ["received_at", "id"]
        indexes = [
            # An incident's delivery log (and deleting an incident).
            models.Index(fields=["incident", "received_at"], name="incident_delivery_log"),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.action} at {self.received_at:%Y-%m-%d %H:%M:%S}"
