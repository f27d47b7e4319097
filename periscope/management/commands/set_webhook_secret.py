from django.core.management.base import BaseCommand, CommandError

from periscope.models import Organization, Provider
from periscope.secrets import set_webhook_secret


class Command(BaseCommand):
    help = "Set the webhook signing secret of one provider for an organization."

    def add_arguments(self, parser):
        parser.add_argument("org_slug", help="slug of the organization")
        parser.add_argument(
            "provider", choices=Provider.values, help="the forge or tool that signs the webhooks"
        )
        parser.add_argument("--secret", required=True, help="the signing secret set in the sender")

    def handle(self, *args, org_slug: str, provider: str, secret: str, **options):
        try:
            organization = Organization.objects.get(slug=org_slug)
        except Organization.DoesNotExist:
            raise CommandError(f"No organization with slug '{org_slug}'") from None
        if not secret:
            raise CommandError("--secret must not be empty")
        set_webhook_secret(organization=organization, provider=provider, secret=secret)
        self.stdout.write(f"Set {provider} webhook secret for {organization.slug}")
