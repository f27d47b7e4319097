from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from periscope.tenancy import ensure_organization


class Command(BaseCommand):
    help = "Create an organization (an existing slug is not an error). Prints its slug."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the organization's slug (lower-case letters, digits, -)")
        parser.add_argument("--name", default="", help="display name (default: the slug)")

    def handle(self, *args, slug: str, name: str, **options):
        try:
            organization, created = ensure_organization(slug=slug, name=name)
        except ValidationError as exc:
            raise CommandError(exc.messages[0]) from None
        state = "created" if created else "exists"
        self.stdout.write(f"Organization {organization.slug} {state}")
