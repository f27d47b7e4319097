from django.core.management.base import BaseCommand

from deployments.management.commands._organizations import selected
from deployments.rollups.maintain import rebuild


class Command(BaseCommand):
    help = (
        "Recompute the metrics rollups from the raw deployments, links and incidents "
        "(after a restore, or if check_rollups reports drift)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", action="append", help="organization slug (default: all)")

    def handle(self, *args, org: list[str] | None, **options):
        for organization in selected(org):
            cells = rebuild(organization_id=organization.pk)
            self.stdout.write(f"{organization.slug}: {cells} rollup cell(s) stored")
