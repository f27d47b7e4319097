from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from demo.history import seed_history
from periscope.tenancy import ensure_organization


class Command(BaseCommand):
    help = (
        "Build a plausible demo history (services, deployments with a weekday rhythm, failures "
        "and rollbacks with recoveries, incidents) for an organization, through the real "
        "ingest functions. Deterministic for a given --seed and day."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", default="demo", help="organization slug (created if new)")
        parser.add_argument("--days", type=int, default=180, help="days of history (default 180)")
        parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")

    def handle(self, *args, org: str, days: int, seed: int, **options):
        try:
            organization, _ = ensure_organization(slug=org, name=org.title())
        except ValidationError as exc:
            raise CommandError(f"--org: {exc.messages[0]}") from None
        summary = seed_history(organization=organization, days=days, seed=seed)
        self.stdout.write(
            f"Seeded {organization.slug}: {summary.services} services, "
            f"{summary.deployments} deployments, {summary.pull_requests} pull requests, "
            f"{summary.incidents} incidents over {days} days"
        )
