"""Tenancy: organizations, their members and their API keys."""

from django.conf import settings
from django.db import models
from django.db.models import Q


class Organization(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    # Where a deployment whose delivery names no environment counts (OpsLevel's is optional);
    # the deployment keeps "" as the environment sent.
    default_environment = models.CharField(
        max_length=100,
        default="production",
        help_text="The environment of deliveries that name none (lower case, e.g. production)",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    detect_rollbacks = models.BooleanField(
        default=True,
        help_text=(
            "A production success that redeploys an earlier commit marks the deployment it "
            "replaced as rolled back (docs/metrics.md)."
        ),
    )

    class Meta:
        ordering = ["slug"]
        constraints = [
            # Stored as canonical environments are: trimmed, lower case, never empty.
            models.CheckConstraint(
                condition=Q(
                    default_environment=models.functions.Lower(
                        models.functions.Trim("default_environment")
                    )
                )
                & ~Q(default_environment=""),
                name="organization_default_environment_normalized",
            ),
        ]

    def __str__(self) -> str:
        return self.slug


class Membership(models.Model):
    """Gives a staff user access to one organization's data in the admin."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="memberships"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="uniq_membership")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization}"


class Scope(models.TextChoices):
    INGEST = "ingest", "Ingest (send deployments and incidents)"
    READ = "read", "Read (metrics and lists)"


class ApiKey(models.Model):
    """An organization's API key. Only the SHA-256 of the secret is stored."""

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100)
    # The first characters of the key (e.g. "psk_ab12cd34"), shown to tell keys apart.
    prefix = models.CharField(max_length=16, db_index=True, editable=False)
    secret_hash = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)
    # Set when a key is rotated: it keeps working until then (the grace period).
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["organization", "name"])]
        constraints = [
            models.CheckConstraint(condition=~Q(prefix=""), name="api_key_prefix_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    def has_scope(self, scope: str) -> bool:
        return scope in self.scopes


class Provider(models.TextChoices):
    GITHUB = "github", "GitHub"
    GITLAB = "gitlab", "GitLab"
    PAGERDUTY = "pagerduty", "PagerDuty"


class WebhookSecret(models.Model):
    """The shared secret that signs one provider's webhooks for one organization.

    Kept in plaintext because verifying an HMAC needs it; the admin never shows it back.
    """

    organization = models.ForeignKey(
        Organization, on_delete=models.CASCADE, related_name="webhook_secrets"
    )
    provider = models.CharField(max_length=16, choices=Provider.choices)
    secret = models.CharField(max_length=500)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "provider"], name="uniq_webhook_secret"
            ),
            models.CheckConstraint(condition=~Q(secret=""), name="webhook_secret_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.get_provider_display()} secret of {self.organization}"


class RateLimitCounter(models.Model):
    """One fixed window of one rate limit: the shared counter when no Redis is configured.

    Rows are written only through `periscope.ratelimit` (one atomic upsert per request) and
    deleted once their window has ended.
    """

    key = models.CharField(max_length=200, primary_key=True)
    count = models.PositiveIntegerField(default=0)
    # Unix time (seconds) at which the window ends and the row may be deleted.
    window_end = models.BigIntegerField(db_index=True)

    class Meta:
        verbose_name = "rate limit counter"

    def __str__(self) -> str:
        return f"{self.key} = {self.count}"


class SsoIdentity(models.Model):
    """The account an OpenID Connect provider's subject signs in as.

    A person is known by (issuer, subject), the one pair the provider promises never to reuse;
    an email claim is not proof of owning an existing account, so no account is ever matched
    by email.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sso_identity"
    )
    issuer = models.CharField(max_length=500)
    subject = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    last_sign_in_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "single sign-on identity"
        constraints = [
            models.UniqueConstraint(fields=["issuer", "subject"], name="uniq_sso_identity"),
            models.CheckConstraint(condition=~Q(subject=""), name="sso_subject_not_empty"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} at {self.issuer}"
