import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from deployments.recording.importing import DEFAULT_BATCH_SIZE, FORMATS, import_lines
from periscope.models import Organization


def _count_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            count += chunk.count(b"\n")
    return count


class Command(BaseCommand):
    help = (
        "Import deployment history from JSON Lines (one webhook payload per line; '-' reads "
        "stdin). Each line is validated like its webhook; invalid lines are reported and skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="a .jsonl file, or - for stdin")
        parser.add_argument("--org", required=True, help="organization slug")
        parser.add_argument(
            "--format", required=True, choices=FORMATS, help="the format every line is in"
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=DEFAULT_BATCH_SIZE,
            help=f"deployments per transaction (default {DEFAULT_BATCH_SIZE})",
        )
        parser.add_argument(
            "--writers",
            type=int,
            help="connections writing at once (default 2 on PostgreSQL, 1 on SQLite)",
        )
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args, file: str, org: str, batch_size: int, writers: int | None, **options):
        fmt = options["format"]
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug '{org}'")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        if writers is not None and writers < 1:
            raise CommandError("--writers must be at least 1")
        if file == "-":
            handle, total = sys.stdin.buffer, None
        else:
            path = Path(file)
            if not path.is_file():
                raise CommandError(f"No such file: {file}")
            handle, total = path.open("rb"), _count_lines(path)
        # tqdm draws on stderr, and only when it is a terminal unless asked otherwise.
        progress = tqdm(
            total=total,
            unit=" lines",
            unit_scale=True,
            disable=True if options["no_progress"] else None,
            file=sys.stderr,
        )
        try:
            report = import_lines(
                organization=organization,
                fmt=fmt,
                lines=handle,
                batch_size=batch_size,
                on_line=progress.update,
                writers=writers,
            )
        finally:
            progress.close()
            if file != "-":
                handle.close()
        for number, message in report.invalid:
            self.stderr.write(f"line {number}: {message}")
        self.stdout.write(
            f"{report.lines} lines: {report.created} created, {report.updated} updated, "
            f"{report.duplicate} unchanged, {report.stale} stale, "
            f"{len(report.invalid)} invalid"
        )
