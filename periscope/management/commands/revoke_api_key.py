from django.core.management.base import BaseCommand, CommandError

from periscope.keys import revoke_api_key
from periscope.models import ApiKey


class Command(BaseCommand):
    help = "Revoke the API key with this visible prefix (e.g. psk_ab12cd34)."

    def add_arguments(self, parser):
        parser.add_argument("prefix", help="the key's prefix, as listed in the admin")

    def handle(self, *args, prefix: str, **options):
        keys = list(ApiKey.objects.filter(prefix=prefix).select_related("organization"))
        if not keys:
            raise CommandError(f"No API key with prefix '{prefix}'")
        if len(keys) > 1:
            raise CommandError(f"Prefix '{prefix}' matches {len(keys)} keys; revoke in the admin")
        key = keys[0]
        if revoke_api_key(api_key=key):
            self.stdout.write(f"Revoked {key.prefix} ({key.name}) of {key.organization.slug}")
        else:
            self.stdout.write(f"{key.prefix} ({key.name}) was already revoked")
