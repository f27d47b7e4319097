"""Creating organizations with the defaults every organization starts with."""

from django.db import transaction

from periscope.models import Organization


@transaction.atomic
def ensure_organization(*, slug: str, name: str = "") -> tuple[Organization, bool]:
    """Create the organization if it does not exist; an existing slug is not an error."""
    organization, created = Organization.objects.get_or_create(
        slug=slug, defaults={"name": name or slug}
    )
    if created:
        from deployments.recording.environments import seed_default_environment_aliases

        seed_default_environment_aliases(organization=organization)
    return organization, created
