"""The organizations a command's repeated `--org SLUG` names (all when none)."""

from django.core.management.base import CommandError

from periscope.models import Organization


def selected(slugs: list[str] | str | None):
    if isinstance(slugs, str):  # call_command(..., org="slug")
        slugs = [slugs]
    organizations = Organization.objects.order_by("slug")
    if slugs:
        organizations = organizations.filter(slug__in=slugs)
        missing = set(slugs) - set(organizations.values_list("slug", flat=True))
        if missing:
            raise CommandError(f"Unknown organization: {', '.join(sorted(missing))}")
    return organizations
