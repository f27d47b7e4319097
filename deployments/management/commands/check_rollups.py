from django.core.management.base import BaseCommand, CommandError

from deployments.management.commands._organizations import selected
from deployments.rollups.check import drift

SHOWN = 20


class Command(BaseCommand):
    help = (
        "Compare the metrics rollups with a recomputation from the raw rows; exits non-zero "
        "on any drift (repair with rebuild_rollups)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", action="append", help="organization slug (default: all)")

    def handle(self, *args, org: list[str] | None, **options):
        drifted = 0
        for organization in selected(org):
            problems = drift(organization_id=organization.pk)
            if problems:
                drifted += 1
                self.stdout.write(f"{organization.slug}: {len(problems)} cell(s) drifted")
                for line in problems[:SHOWN]:
                    self.stdout.write(f"  {line}")
            else:
                self.stdout.write(f"{organization.slug}: rollups match the raw rows")
        if drifted:
            raise CommandError(f"{drifted} organization(s) with drift: run rebuild_rollups")
