from django.core.management.base import BaseCommand, CommandError

from periscope.models import Organization
from services.backstage_read import read_catalog
from services.backstage_sync import sync_catalog


class Command(BaseCommand):
    help = (
        "Create or update services from Backstage catalog files, directories, Location files "
        "or URLs (idempotent; services that left the catalog are reported, never deleted)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "sources",
            nargs="+",
            metavar="PATH_OR_URL",
            help="catalog-info.yaml files, directories of them, Location files, or http(s) URLs",
        )
        parser.add_argument("--org", required=True, help="organization slug")

    def handle(self, *args, sources: list[str], org: str, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug '{org}'")
        catalog = read_catalog(sources=sources)
        for skipped in catalog.skipped:
            self.stderr.write(f"skipped {skipped}")
        if catalog.sources_read == 0:
            raise CommandError("Nothing could be read from " + ", ".join(sources))
        report = sync_catalog(organization=organization, catalog=catalog)
        for skipped in report.skipped[len(catalog.skipped) :]:
            self.stderr.write(f"skipped {skipped}")
        for ref in report.created:
            self.stdout.write(f"created {ref}")
        for line in report.updated:
            self.stdout.write(f"updated {line}")
        if options["verbosity"] >= 2:
            for ref in report.unchanged:
                self.stdout.write(f"unchanged {ref}")
        for ref in report.missing:
            self.stdout.write(f"not in the catalog any more (kept): {ref}")
        for suggestion, service in report.proposals:
            self.stdout.write(
                f"suggestion {suggestion!r} looks like service {service}: accept it in the "
                "admin (Service suggestions, filter 'Catalog match')"
            )
        if report.moved:
            self.stdout.write(f"{report.moved} deployment(s) re-attributed")
        self.stdout.write(
            f"{len(report.created)} created, {len(report.updated)} updated, "
            f"{len(report.unchanged)} unchanged, {len(report.skipped)} skipped"
        )
