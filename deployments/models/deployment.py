"""Deployments, every delivery that reported them, environment naming and the status sets."""

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


# The status sets, defined here once (plain strings: they are SQL parameters too).
# Finished: a later pending/in-progress delivery of the deployment is stale.
TERMINAL_STATUSES = frozenset(
    s.value for s in (Status.SUCCESS, Status.FAILURE, Status.CANCELLED, Status.ROLLED_BACK)
)
# Reached the environment: counted as deployed (deployment frequency).
REACHED_STATUSES = (Status.SUCCESS.value, Status.ROLLED_BACK.value)
# Failed in the environment: counted against the change failure rate, recovered by the next
# success of the pairing key.
FAILED_STATUSES = (Status.FAILURE.value, Status.ROLLED_BACK.value)
# Ran to a verdict: the change failure rate's denominator (a cancelled deployment never ran).
CONCLUDED_STATUSES = (Status.SUCCESS.value, Status.FAILURE.value, Status.ROLLED_BACK.value)


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
    # No index of its own: every index below starts with the organization.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="deployments", db_index=False
    )
    # The idempotency key: the pipeline's deployment id, unique per organization and format.
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.PERISCOPE)
    external_id = models.CharField("deployment id", max_length=255)

    # Deleting a service returns its deployments to unmatched; it never deletes them. Its own
    # index (service_id) is kept: un-matching, the foreign-key check and the services admin's
    # per-service counts look deployments up by service alone, without the organization.
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
    # When the deployed commit was made, as the delivery carried it (OpsLevel's
    # commit.authoring_date, a metadata `commit` object): lead time's start for that commit
    # while no forge data covers it (deployments/changes/linking.py).
    commit_at = models.DateTimeField("commit time as sent", null=True, blank=True)
    # On a failed production deployment: the completion time of the next success of its
    # pairing key, when known (NULL: the metrics look it up). Kept by deployments/recovery.py.
    recovered_at = models.DateTimeField(null=True, blank=True, editable=False)

    # Rework (deployment rework rate, docs/metrics.md): the sender said this deployment was
    # unplanned, made because of a problem in production (a rollback, a hotfix).
    rework = models.BooleanField(
        "declared rework", default=False, db_default=False, help_text="As the sender said"
    )
    # A detected rollback (deployments/recording/rollbacks.py): this deployment redeployed an
    # earlier commit and replaced the deployment named here.
    rollback_of = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="rollbacks",
        editable=False,
    )
    # The status "rolled back" was set by rollback detection; the sender said success
    # (status_raw keeps what it said). Switching detection off restores it.
    rolled_back_detected = models.BooleanField(default=False, db_default=False, editable=False)

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
            # The admin's date hierarchy under an environment filter: a range of completion
            # times (deployment_metrics_range has status first, so it would read every
            # deployment of the environment).
            models.Index(fields=["organization", "environment", "completed_at"]),
            # (organization, service, environment, completed_at) is gone (migration 0007): its
            # queries (a service's deployments, its next/previous success, the per-service
            # metrics and failures, the admin list filtered by service) use
            # deployment_next_success, which has the same leading columns.
            # Suggestions (the admin's counts and list link) count every deployment sent under
            # a name, matched or not: deployment_next_success_key holds only unmatched ones.
            models.Index(fields=["organization", "service_key"]),
            # Metrics. Counting a range, matching its deployments to their
            # incidents and listing its failures with their pairing key read only this index
            # (covering on both databases; with the stored recovery times of its failures).
            # Status before completion time: the failures of a
            # range are two short index ranges, not a filter over every deployment of it.
            models.Index(
                fields=[
                    "organization",
                    "environment",
                    "status",
                    "completed_at",
                    "service",
                    "id",
                    "service_key",
                    "recovered_at",
                ],
                name="deployment_metrics_range",
            ),
            # Recovery time: the next success of a service, or of an unmatched name, is one
            # index descent (index-only).
            models.Index(
                fields=["organization", "service", "environment", "status", "completed_at"],
                name="deployment_next_success",
            ),
            models.Index(
                fields=["organization", "service_key", "environment", "status", "completed_at"],
                condition=Q(service__isnull=True),
                name="deployment_next_success_key",
            ),
            models.Index(fields=["organization", "change_id"]),
            models.Index(fields=["organization", "commit_sha"]),
        ]

    def __str__(self) -> str:
        return f"{deployment_label(self)} ({self.status})"

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

    # Indexed only as the leading columns of the indexes below: every row costs an import
    # one entry per index.
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="deliveries", db_index=False
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    received_at = models.DateTimeField()
    action = models.CharField(max_length=16, choices=DeliveryAction.choices)
    body = models.TextField()

    class Meta:
        verbose_name_plural = "deliveries"
        ordering = ["received_at", "id"]
        indexes = [
            # A deployment's delivery log (and deleting a deployment).
            models.Index(fields=["deployment", "received_at"]),
            # The admin's list, scoped to an organization, newest first.
            models.Index(fields=["organization", "received_at"], name="delivery_org_received"),
        ]

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


def deployment_label(deployment: Deployment) -> str:
    """What the person who sent a deployment would recognise it by.

    The stored id is the idempotency key, which for some formats is not what the sender typed:
    DevGrid's is built from entityId, env and build_id (a JSON list), or random when no build
    id was sent."""
    if deployment.source != Source.DEVGRID:
        return deployment.external_id
    metadata = deployment.metadata if isinstance(deployment.metadata, dict) else {}
    build_id = metadata.get("build_id")
    if isinstance(build_id, str) and build_id:
        return f"build {build_id}"
    moment = deployment.completed_at or deployment.started_at or deployment.created_at
    when = f"{moment:%Y-%m-%d %H:%M}" if moment else "unknown time"
    return f"{deployment.service_name or 'unnamed'} at {when}"
