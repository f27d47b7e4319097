"""Import throughput: generate N deployments as JSON Lines and import them, on SQLite and
PostgreSQL, printing deployments/s and writing bench/results/import-<count>.json.

    .venv/bin/python bench/import.py                      # 1,000,000 deployments, both databases
    .venv/bin/python bench/import.py --count 100000 --postgres postgres://postgres@127.0.0.1:5432/x

Each database run is a fresh database (a temporary SQLite file; PostgreSQL: the database
named in --postgres with "_bench" appended, created and dropped). The generated lines are
Periscope-format payloads with every field, over 50 services (half of them catalogued) and
four environment spellings, so service matching, suggestions and environment aliases run
as they would for a real history. A second run of the same file measures a re-import.
"""

import argparse
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from backend_cpu import DatabaseBackendsCpu

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
ENVIRONMENTS = ("production", "Production", "prod", "staging")
STATUSES = ("success", "success", "success", "failure", "rolled_back", "cancelled")


def generate(path: Path, count: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = datetime(2021, 1, 1, tzinfo=UTC)
    with path.open("w", encoding="utf-8") as out:
        for n in range(count):
            began = start + timedelta(seconds=n * 60 + rng.randrange(30))
            payload = {
                "deploymentId": f"hist-{n:08d}",
                "commitSha": f"{rng.getrandbits(160):040x}",
                "environment": ENVIRONMENTS[n % len(ENVIRONMENTS)],
                "status": STATUSES[n % len(STATUSES)],
                "startedAt": began.isoformat().replace("+00:00", "Z"),
                "completedAt": (began + timedelta(seconds=240)).isoformat().replace("+00:00", "Z"),
                "service": f"service-{n % 50}",
                "branch": "main",
                "triggeredBy": "ci@example.com",
                "pipelineName": "deploy",
                "pipelineUrl": f"https://ci.example.com/runs/{n}",
                "metadata": {"version": f"1.{n % 100}.0"},
            }
            out.write(json.dumps(payload) + "\n")


def worker(args) -> None:
    # The measured checkout's code first (its modules shadow this venv's editable install).
    repo = str(Path(args.repo).resolve()) if args.repo else str(ROOT)
    os.chdir(repo)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "periscope.settings")
    # DEBUG=0: no per-query logging in the timed loop.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("SECRET_KEY", "bench-only-not-secret")
    sys.path.insert(0, repo)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection

    from deployments.models import Deployment
    from deployments.recording.importing import DEFAULT_BATCH_SIZE, default_writers, import_lines
    from periscope.tenancy import ensure_organization
    from services.catalog import create_service

    organization, _ = ensure_organization(slug="bench", name="Bench")
    for n in range(0, 50, 2):
        create_service(organization=organization, name=f"service-{n}")
    figures = {
        "batch_size": args.batch_size or DEFAULT_BATCH_SIZE,
        "writers": args.writers or default_writers(),
    }
    for run in ("import", "re-import"):
        # The writers' backends (PostgreSQL on this host), sampled while they run.
        backends = (
            DatabaseBackendsCpu(args.database_url) if connection.vendor == "postgresql" else None
        )
        # Binary, as the import command reads its file.
        with open(args.file, "rb") as lines:
            began, cpu = time.perf_counter(), _cpu()
            report = import_lines(
                organization=organization,
                fmt="periscope",
                lines=lines,
                batch_size=figures["batch_size"],
                writers=figures["writers"],
            )
            seconds = time.perf_counter() - began
            cpu = _cpu() - cpu
            server = None
            if backends is not None:
                server = backends.seconds()
                backends.close()
        figures[run] = {
            "seconds": round(seconds, 2),
            "deployments_per_second": round(report.stored / seconds),
            # This process only (parsing, validation, COPY/executemany encoding; for SQLite
            # also the database engine): what the importer costs on an idle core.
            "importer_cpu_us_per_deployment": round(cpu / report.stored * 1e6, 1),
            # The PostgreSQL backends serving the import (same host; all its writers'):
            # parsing COPY, writing rows and maintaining indexes. None on SQLite (in-process).
            "server_cpu_us_per_deployment": (
                None if server is None else round(server / report.stored * 1e6, 1)
            ),
            "created": report.created,
            "unchanged": report.duplicate,
            "invalid": len(report.invalid),
        }
    figures["deployments"] = Deployment.objects.filter(organization=organization).count()
    import deployments

    figures["code"] = str(Path(deployments.__file__).resolve().parents[1])
    print(json.dumps(figures))


def _cpu() -> float:
    """CPU seconds of this process and its finished children (a parsing process, if any)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def run_worker(
    database_url: str,
    file: Path,
    batch_size: int | None,
    writers: int | None,
    repo: Path | None = None,
) -> dict:
    output = subprocess.run(
        [
            sys.executable,
            __file__,
            "--worker",
            "--database-url",
            database_url,
            "--file",
            str(file),
            *(["--batch-size", str(batch_size)] if batch_size else []),
            *(["--writers", str(writers)] if writers else []),
            *(["--repo", str(repo)] if repo else []),
        ],  # fmt: skip
        cwd=repo or ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(output.strip().splitlines()[-1])


def postgres_admin(url: str, sql: str) -> None:
    import psycopg

    base = url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(base, autocommit=True) as connection:
        connection.execute(sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, help="default: the importer's")
    parser.add_argument("--writers", type=int, help="default: the importer's (2 on PostgreSQL)")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/formats"),
        help="PostgreSQL server URL ('' to skip); the bench uses <name>_bench",
    )
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument(
        "--repo",
        type=Path,
        help="checkout whose importer is measured (default: this one); the generator and the"
        " CPU sampling stay this checkout's (see bench/write_before_after.py)",
    )
    parser.add_argument(
        "--output", type=Path, help="results file (default: bench/results/import-<count>.json)"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--database-url", help=argparse.SUPPRESS)
    parser.add_argument("--file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.repo:
        args.repo = args.repo.resolve()
    if args.worker:
        worker(args)
        return

    results = {
        "count": args.count,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "load_average_at_start": os.getloadavg(),
        "repo": str(args.repo or ROOT),
        "commit": _commit(args.repo or ROOT),
    }
    with tempfile.TemporaryDirectory() as tmp:
        file = Path(tmp) / "history.jsonl"
        began = time.perf_counter()
        generate(file, args.count)
        print(f"generated {args.count:,} lines in {time.perf_counter() - began:.1f}s")
        if not args.skip_sqlite:
            results["sqlite"] = run_worker(
                f"sqlite:///{tmp}/bench.sqlite3", file, args.batch_size, args.writers, args.repo
            )
            print_figures("SQLite", results["sqlite"])
        if args.postgres:
            url = args.postgres.rstrip("/") + "_bench"
            name = url.rsplit("/", 1)[1]
            postgres_admin(url, f'DROP DATABASE IF EXISTS "{name}"')
            postgres_admin(url, f'CREATE DATABASE "{name}"')
            try:
                results["postgresql"] = run_worker(
                    url, file, args.batch_size, args.writers, args.repo
                )
            finally:
                postgres_admin(url, f'DROP DATABASE IF EXISTS "{name}"')
            print_figures("PostgreSQL", results["postgresql"])
    results["load_average_at_end"] = os.getloadavg()
    target = args.output or RESULTS / f"import-{args.count}.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written to {target}")


def _commit(repo: Path) -> str:
    """The checkout's commit, with "+dirty" when its tracked or new files differ from it."""
    git = ["git", "-C", str(repo)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True)
    return head.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def print_figures(name: str, figures: dict) -> None:
    for run in ("import", "re-import"):
        f = figures[run]
        print(
            f"{name:<10} {run:<9} {f['deployments_per_second']:>8,} deployments/s "
            f"({f['seconds']}s; {f['created']:,} created, {f['unchanged']:,} unchanged; "
            f"CPU us/deployment: importer {f.get('importer_cpu_us_per_deployment', '?')}, "
            f"server {f.get('server_cpu_us_per_deployment', '?')})"
        )


if __name__ == "__main__":
    main()
