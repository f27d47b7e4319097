"""Deployments, every delivery that reported them, and environment naming."""

from django.db import models
from django.db.models import Q

from periscope.models import Organization
from services.models import Service


class Status(models.TextChoices):
    PENDING = "pending", "Pending"
    IN_PROGRESS = "in_progress", "In progress"
    SUCCESS = "success", "Success"
    FAILURE = "failure", "Failure"
    CANCELLED = "cancelled", "Cancelled"
    ROLLED_BACK = "rolled_back", "Rolled back"
    # A vendor status that maps to none of the above (Hivel's table); stored, never counted.
    UNKNOWN = "unknown", "Unknown"


TERMINAL_STATUSES = frozenset(
    {Status.SUCCESS, Status.FAILURE, Status.CANCELLED, Status.ROLLED_BACK}
)


class Source(models.TextChoices):
    """The wire format a deployment or delivery came in."""

    PERISCOPE = "periscope", "Periscope"
    DEVGRID = "devgrid", "DevGrid"
    HIVEL = "hivel", "Hivel"
    OPSLEVEL = "opslevel", "OpsLevel"
    GITHUB = "github", "GitHub"
    GITLAB = "gitlab", "GitLab"
    IMPORT = "import", "Import"


class Deployment(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="deployments"
    )
    # The idempotency key: the pipeline's deployment id, unique per organization and format.
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.PERISCOPE)
    external_id = models.CharField("deployment id", max_length=255)

    # Deleting a service returns its deployments to unmatched; it never deletes them.
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="deployments"
    )
    service_name = models.CharField("service as sent", max_length=500, blank=True)
    service_key = models.CharField(max_length=500, blank=True, editable=False)

    environment = models.CharField(max_length=100)
    environment_raw = models.CharField("environment as sent", max_length=100, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    status_raw = models.CharField("status as sent", max_length=64, blank=True)

    commit_sha = models.CharField(max_length=255, blank=True)
    previous_commit_sha = models.CharField(max_length=255, blank=True)
    branch = models.CharField(max_length=255, blank=True)
    repository_url = models.CharField(max_length=500, blank=True)
    change_id = models.CharField(max_length=255, blank=True)

    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    triggered_by = models.CharField(max_length=255, blank=True)
    pipeline_name = models.CharField(max_length=255, blank=True)
    pipeline_url = models.CharField(max_length=2000, blank=True)
    description = models.TextField(blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    raw_payload = models.JSONField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-completed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "source", "external_id"], name="uniq_deployment_id"
            ),
            models.CheckConstraint(
                condition=Q(completed_at__isnull=True)
                | Q(started_at__isnull=True)
                | Q(completed_at__gte=models.F("started_at")),
                name="deployment_completed_after_started",
            ),
            models.CheckConstraint(
                condition=Q(status__in=[s.value for s in Status]), name="deployment_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["organization", "environment", "completed_at"]),
            models.Index(fields=["organization", "service", "environment", "completed_at"]),
            models.Index(fields=["organization", "service_key"]),
            # Metrics (issue 6). Counting a range, and joining its deployments to their
            # incidents, reads only this index (covering on both databases).
            models.Index(
                fields=["organization", "environment", "completed_at", "status", "service", "id"],
                name="deployment_metrics_range",
            ),
            # Recovery time: the next success of a service, or of an unmatched name, is one
            # index descent.
            models.Index(
                fields=["organization", "service", "environment", "status", "completed_at"],
                name="deployment_next_success",
            ),
            models.Index(
                fields=["organization", "service_key", "environment", "status", "completed_at"],
                name="deployment_next_success_key",
            ),
            models.Index(fields=["organization", "change_id"]),
            models.Index(fields=["organization", "commit_sha"]),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class DeliveryAction(models.TextChoices):
    CREATED = "created", "Created"
    UPDATED = "updated", "Updated"
    DUPLICATE = "duplicate", "Duplicate (nothing changed)"
    STALE = "stale", "Ignored as stale"


class Delivery(models.Model):
    """One accepted delivery, kept as sent: nothing a pipeline sent is lost."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="deliveries"
    )
    deployment = models.ForeignKey(Deployment, on_delete=models.CASCADE, related_name="deliveries")
    source = models.CharField(max_length=16, choices=Source.choices)
    received_at = models.DateTimeField(db_index=True)
    action = models.CharField(max_length=16, choices=DeliveryAction.choices)
    body = models.TextField()

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["received_at", "id"]
        indexes = [models.Index(fields=["deployment", "received_at"])]

    def __str__(self) -> str:
        return f"{self.source} {self.action} at {self.received_at:%Y-%m-%d %H:%M:%S}"


class EnvironmentAlias(models.Model):
    """Maps an environment name as sent (normalized) to the organization's canonical name."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="environment_aliases"
    )
    name = models.CharField(max_length=100, help_text="As sent, compared lower-cased and trimmed")
    environment = models.CharField(max_length=100, help_text="The canonical environment")

    class Meta:
        verbose_name_plural = "environment aliases"
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="uniq_environment_alias"),
            models.CheckConstraint(
                condition=Q(name=models.functions.Lower(models.functions.Trim("name"))),
                name="environment_alias_normalized",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} → {self.environment}"


# --- Incidents (issue 6) ---------------------------------------------------------------


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
