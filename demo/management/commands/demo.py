import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from deployments.models import Deployment
from periscope.keys import issue_api_key
from periscope.tenancy import ensure_organization


class Command(BaseCommand):
    help = (
        "Prepare a demo: organization 'demo', an admin login and a fresh API key, and print "
        "a ready-to-paste curl command. Safe to re-run (each run issues a new key)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", default="demo", help="organization slug (default: demo)")
        parser.add_argument("--addr", default="127.0.0.1:8000", help="where --serve listens")
        parser.add_argument(
            "--serve", action="store_true", help="migrate first, then run the development server"
        )
        parser.add_argument(
            "--days",
            type=int,
            default=90,
            help="days of demo history (seed_demo) for an organization with no deployments yet",
        )

    def handle(self, *args, org: str, addr: str, serve: bool, days: int, **options):
        host = f"http://{addr}"
        if serve:
            call_command("migrate", verbosity=0)
        try:
            organization, _ = ensure_organization(slug=org, name=org.title())
        except ValidationError as exc:
            raise CommandError(f"--org: {exc.messages[0]}") from None
        if days > 0 and not Deployment.objects.filter(organization=organization).exists():
            # A history to look at on the dashboard right away (only into an empty org).
            self.stdout.write(f"Seeding {days} days of demo history (seed_demo) ...")
            call_command("seed_demo", org=org, days=days, stdout=self.stdout)
        password = secrets.token_urlsafe(12)
        user_model = get_user_model()
        user, _ = user_model.objects.get_or_create(
            username="admin", defaults={"is_staff": True, "is_superuser": True}
        )
        user.set_password(password)
        user.save(update_fields=["password"])
        issued = issue_api_key(organization=organization, name="demo")
        self.stdout.write(
            f"""
Periscope demo organization: {organization.slug}
Database: {settings.DATABASES["default"]["NAME"]}
Admin: {host}/admin/  user admin  password {password}
Dashboard: {host}/admin/metrics/dora/?org={organization.slug}
API key (shown once): {issued.plaintext}

Try it:
curl -s -X POST {host}/api/webhooks/deployments \\
  -H "Authorization: Bearer {issued.plaintext}" \\
  -H "Content-Type: application/json" \\
  -d '{{"deploymentId": "deploy-1", "commitSha": "a1b2c3d4e5f6", "environment": "production",
       "status": "success", "startedAt": "2024-01-15T10:30:00Z",
       "completedAt": "2024-01-15T10:35:00Z", "service": "my-service"}}'
"""
        )
        if serve:
            # No autoreloader: it would run this command again in a child process.
            call_command("runserver", addr, use_reloader=False)
