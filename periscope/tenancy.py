"""Creating organizations with the defaults every organization starts with."""

from django.core.exceptions import ValidationError
from django.core.validators import validate_slug
from django.db import transaction

from periscope.models import Organization


def check_organization_fields(*, slug: str, name: str = "") -> None:
    """The model's own rules, which get_or_create does not run: the slug is a URL segment
    (webhook URLs carry it, matched by Django's <slug:> converter: letters, digits, - and _)."""
    slug_field = Organization._meta.get_field("slug")
    name_field = Organization._meta.get_field("name")
    try:
        validate_slug(slug)
    except ValidationError:
        raise ValidationError(
            f"{slug!r} is not a valid slug: use only letters, digits, hyphens and underscores"
        ) from None
    if len(slug) > slug_field.max_length:
        raise ValidationError(f"The slug is at most {slug_field.max_length} characters")
    if len(name) > name_field.max_length:
        raise ValidationError(f"The name is at most {name_field.max_length} characters")


@transaction.atomic
def ensure_organization(*, slug: str, name: str = "") -> tuple[Organization, bool]:
    """Create the organization if it does not exist; an existing slug is not an error.
    Raises ValidationError (one message) for a slug or name the model does not allow."""
    check_organization_fields(slug=slug, name=name)
    organization, created = Organization.objects.get_or_create(
        slug=slug, defaults={"name": name or slug}
    )
    if created:
        from deployments.recording.environments import seed_default_environment_aliases

        seed_default_environment_aliases(organization=organization)
    return organization, created
