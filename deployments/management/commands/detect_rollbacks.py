from django.core.management.base import BaseCommand

from deployments.management.commands._organizations import selected
from deployments.recording.rollbacks import redetect
from deployments.rollups.maintain import fold


class Command(BaseCommand):
    help = (
        "Detect the rollbacks among the production deployments already stored (after "
        "upgrading to rollback detection), or undo them where an organization switched "
        "detection off; deliveries detect their own as they arrive."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", action="append", help="organization slug (default: all)")

    def handle(self, *args, org: list[str] | None, **options):
        for organization in selected(org):
            found = redetect(organization=organization)
            fold(organization_id=organization.pk)
            state = "" if organization.detect_rollbacks else " (detection is off)"
            self.stdout.write(f"{organization.slug}: {found} detected rollback(s){state}")
