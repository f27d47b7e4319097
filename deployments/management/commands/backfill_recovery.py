from django.core.management.base import BaseCommand

from deployments.management.commands._organizations import selected
from deployments.recording.recovery import backfill_recovery


class Command(BaseCommand):
    help = (
        "Store the next success of failed production deployments (Deployment.recovered_at) "
        "where it is not known; --recompute also corrects stored values."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", action="append", help="organization slug (default: all)")
        parser.add_argument(
            "--recompute", action="store_true", help="recompute times already stored too"
        )

    def handle(self, *args, org: list[str] | None, recompute: bool, **options):
        for organization in selected(org):
            written = backfill_recovery(organization_id=organization.pk, recompute=recompute)
            self.stdout.write(f"{organization.slug}: {written} failed deployment(s) updated")
