"""The change graph for lead time: repositories, commits, pull requests and what each
deployment shipped. Commit parents are an edge table keyed by sha, so ancestry is one
recursive query."""

from django.db import models
from django.db.models import Q

from deployments.models.deployment import Deployment, Source
from periscope.models import Organization
from services.models import Service


class Repository(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="repositories"
    )
    # normalize_key(url): "owner/name" for every URL form; `name` is its last segment.
    key = models.CharField(max_length=500)
    name = models.CharField(max_length=200, blank=True)
    url = models.CharField(max_length=500, blank=True)
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="repositories"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "repositories"
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="uniq_repository_key"),
            models.CheckConstraint(condition=~Q(key=""), name="repository_key_not_empty"),
        ]
        indexes = [models.Index(fields=["organization", "name"])]

    def __str__(self) -> str:
        return self.key


class Commit(models.Model):
    """A commit; a row with no times is a stub known only by its sha (e.g. a push's `before`)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="commits")
    sha = models.CharField(max_length=64)
    authored_at = models.DateTimeField(null=True, blank=True)
    committed_at = models.DateTimeField(null=True, blank=True)
    author = models.CharField(max_length=255, blank=True)
    message = models.CharField("message (first line)", max_length=500, blank=True)
    # 1 + the largest generation of its parents (roots and stubs: 0). Every edge goes from a
    # higher to a lower generation, which bounds ancestry walks exactly (as git's commit-graph).
    generation = models.IntegerField(default=0)
    # True once the exact parents are known (a clone); pushes only infer them.
    parents_exact = models.BooleanField(default=False)

    class Meta:
        ordering = ["-committed_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["repository", "sha"], name="uniq_commit_sha"),
        ]

    def __str__(self) -> str:
        return self.sha[:12]


class CommitParent(models.Model):
    """An edge child → parent. `inferred` edges come from a push's commit order and are
    replaced by the exact parents when a clone is synced."""

    repository = models.ForeignKey(Repository, on_delete=models.CASCADE, related_name="+")
    child_sha = models.CharField(max_length=64)
    parent_sha = models.CharField(max_length=64)
    inferred = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["repository", "child_sha", "parent_sha"], name="uniq_commit_parent"
            ),
        ]
        indexes = [models.Index(fields=["repository", "parent_sha"])]

    def __str__(self) -> str:
        return f"{self.child_sha[:12]} → {self.parent_sha[:12]}"


class PullRequest(models.Model):
    """A GitHub pull request or GitLab merge request (number = iid)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    repository = models.ForeignKey(
        Repository, on_delete=models.CASCADE, related_name="pull_requests"
    )
    number = models.PositiveIntegerField()
    title = models.CharField(max_length=500, blank=True)
    author = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    merged_at = models.DateTimeField(null=True, blank=True)
    merge_commit_sha = models.CharField(max_length=64, blank=True)
    head_sha = models.CharField(max_length=64, blank=True)
    base_branch = models.CharField(max_length=255, blank=True)
    first_commit_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["repository", "number"], name="uniq_pull_request"),
        ]
        indexes = [
            models.Index(fields=["repository", "merge_commit_sha"]),
            models.Index(fields=["repository", "head_sha"]),
        ]

    def __str__(self) -> str:
        return f"{self.repository} #{self.number}"


class DeploymentCommit(models.Model):
    """A commit a successful production deployment shipped (git log previous..current)."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="shipped_commits"
    )
    # None: the deployment's own commit known only from its delivery (no repository holds
    # it); its start is the commit time the delivery carried (Deployment.commit_at).
    repository = models.ForeignKey(
        Repository, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    sha = models.CharField(max_length=64)
    # The linked pull request this commit came with; None makes the commit a change of its own.
    pull_request = models.ForeignKey(
        PullRequest, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # "service:<id>" or "name:<service_key>": changes count once per service (first shipping).
    service_group = models.CharField(max_length=520)
    started_at = models.DateTimeField(null=True, blank=True)
    lead_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["deployment", "sha"], name="uniq_deployment_commit"),
        ]
        indexes = [models.Index(fields=["repository", "sha", "service_group"])]

    def __str__(self) -> str:
        return f"{self.deployment_id} shipped {self.sha[:12]}"


class DeploymentPullRequest(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    deployment = models.ForeignKey(
        Deployment, on_delete=models.CASCADE, related_name="shipped_pull_requests"
    )
    pull_request = models.ForeignKey(PullRequest, on_delete=models.CASCADE, related_name="+")
    service_group = models.CharField(max_length=520)
    started_at = models.DateTimeField(null=True, blank=True)
    lead_seconds = models.FloatField(null=True, blank=True)
    coding_seconds = models.FloatField(null=True, blank=True)
    review_seconds = models.FloatField(null=True, blank=True)
    waiting_seconds = models.FloatField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["deployment", "pull_request"], name="uniq_deployment_pull_request"
            ),
        ]
        indexes = [models.Index(fields=["pull_request", "service_group"])]

    def __str__(self) -> str:
        return f"{self.deployment_id} shipped PR {self.pull_request_id}"


class ForgeDelivery(models.Model):
    """Every accepted GitHub/GitLab webhook delivery, kept as sent (also the ignored ones).

    A `deployment_status`/Deployment Hook also leaves a Delivery row on its deployment."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="forge_deliveries"
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    # X-GitHub-Delivery / Idempotency-Key / X-Gitlab-Event-UUID; "" when the forge sent none.
    delivery_id = models.CharField(max_length=255, blank=True)
    event = models.CharField(max_length=100)
    outcome = models.CharField(max_length=32)
    received_at = models.DateTimeField(db_index=True)
    body = models.TextField()

    class Meta:
        verbose_name_plural = "forge deliveries"
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "source", "delivery_id"],
                condition=~Q(delivery_id=""),
                name="uniq_forge_delivery",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.event} at {self.received_at:%Y-%m-%d %H:%M:%S}"
