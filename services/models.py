"""The service catalog: services, the names they are known by, and names nobody mapped yet."""

from django.db import models
from django.db.models import Q

from periscope.models import Organization


class Service(models.Model):
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="services"
    )
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=200)
    team = models.CharField("owner / team", max_length=200, blank=True)
    repository_url = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    # Filled by sync_catalog from a Backstage Component; empty for services made here.
    # The entity ref (`component:namespace/name`, lower case) is the stable key a re-sync
    # matches on, so a new title never makes a second service.
    catalog_ref = models.CharField("catalog entity ref", max_length=200, blank=True)
    catalog_namespace = models.CharField(max_length=63, blank=True)
    display_name = models.CharField(max_length=200, blank=True)
    lifecycle = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "slug"], name="uniq_service_slug"),
            models.UniqueConstraint(
                fields=["organization", "catalog_ref"],
                condition=~Q(catalog_ref=""),
                name="uniq_service_catalog_ref",
            ),
        ]
        indexes = [models.Index(fields=["organization", "team"])]

    def __str__(self) -> str:
        return self.name


class AliasKind(models.TextChoices):
    NAME = "name", "Service name"
    REPOSITORY = "repository", "Repository"
    ALIAS = "alias", "Alias"


class ServiceAlias(models.Model):
    """A name a service is known by. `key` is the normalized form, unique per organization.

    The service's own name and repository are kept here too (kind name/repository), so
    matching any incoming name is one lookup on the (organization, key) unique index.
    """

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="+")
    service = models.ForeignKey(Service, on_delete=models.CASCADE, related_name="aliases")
    name = models.CharField(max_length=500)
    key = models.CharField(max_length=500, editable=False)
    kind = models.CharField(max_length=16, choices=AliasKind.choices, default=AliasKind.ALIAS)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "service aliases"
        ordering = ["key"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="uniq_alias_key"),
            models.CheckConstraint(condition=~Q(key=""), name="alias_key_not_empty"),
        ]

    def __str__(self) -> str:
        return self.name


class SuggestionStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACCEPTED = "accepted", "Accepted"
    IGNORED = "ignored", "Ignored"


class ServiceSuggestion(models.Model):
    """A service name that arrived with deployments but matches no service.

    Counts, first/last seen and formats are not stored: they are aggregated from the
    deployments that carry this key, so ingest never contends on a counter row.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="service_suggestions"
    )
    name = models.CharField("name as sent", max_length=500)
    key = models.CharField(max_length=500)
    status = models.CharField(
        max_length=16, choices=SuggestionStatus.choices, default=SuggestionStatus.OPEN
    )
    service = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="suggestions"
    )
    # An open suggestion whose name looks like a catalog service (set by sync_catalog):
    # the admin offers to attach it in one click. Only a proposal; nothing moves until then.
    catalog_match = models.ForeignKey(
        Service, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["status", "-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "key"], name="uniq_suggestion_key"),
        ]

    def __str__(self) -> str:
        return self.name
