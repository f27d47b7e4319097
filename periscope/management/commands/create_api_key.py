from django.core.management.base import BaseCommand, CommandError

from periscope.keys import DEFAULT_SCOPES, issue_api_key
from periscope.models import Organization, Scope


class Command(BaseCommand):
    help = "Create an API key. The plaintext key is printed alone on the last line of stdout."

    def add_arguments(self, parser):
        parser.add_argument("org_slug", help="slug of the organization the key belongs to")
        parser.add_argument(
            "--name", default="default", help="a label for the key (default: default)"
        )
        parser.add_argument(
            "--scope",
            action="append",
            choices=[s.value for s in Scope],
            dest="scopes",
            help="repeat for several scopes (default: ingest and read)",
        )

    def handle(self, *args, org_slug: str, name: str, scopes: list[str] | None, **options):
        try:
            organization = Organization.objects.get(slug=org_slug)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with slug '{org_slug}'") from None
        issued = issue_api_key(
            organization=organization, name=name, scopes=scopes or list(DEFAULT_SCOPES)
        )
        key = issued.api_key
        self.stdout.write(
            f"Created API key '{key.name}' ({key.prefix}) for {organization.slug} "
            f"with scopes {','.join(key.scopes)}; it will not be shown again:"
        )
        self.stdout.write(issued.plaintext)
