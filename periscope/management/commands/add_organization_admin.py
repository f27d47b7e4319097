from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from periscope.models import Organization
from periscope.staff import ADMIN_GROUP, make_organization_admin


class Command(BaseCommand):
    help = (
        "Let an existing user manage organizations in the admin: makes the user staff, a "
        f"member of each organization, and a member of the group '{ADMIN_GROUP}'."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="an existing user's username")
        parser.add_argument(
            "org_slugs",
            nargs="+",
            metavar="ORG_SLUG",
            help="slug of each organization the user administers",
        )

    def handle(self, *args, username: str, org_slugs: list[str], **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(
                f"No user {username!r} (create it with createsuperuser or the admin)"
            )
        organizations = list(Organization.objects.filter(slug__in=org_slugs))
        missing = set(org_slugs) - {o.slug for o in organizations}
        if missing:
            raise CommandError(f"No organization {', '.join(sorted(missing))}")
        make_organization_admin(user=user, organizations=organizations)
        self.stdout.write(f"{username} administers {', '.join(sorted(org_slugs))}")
