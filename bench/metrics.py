"""Benchmark of the DORA metrics queries.

Loads N deployments (default 1,000,000: 100 services, 2 years, ~8 % failures, ~1 % rolled
back, ~1 % cancelled, with incidents for ~2 % of them) into its own database, then times
the summary and the summary + weekly series for 90 days and 2 years, one service and all.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/periscope_bench .venv/bin/python bench/metrics.py
    DATABASE_URL=sqlite:///var/bench-metrics.sqlite3 .venv/bin/python bench/metrics.py --size 200000

The data is loaded once (COPY on PostgreSQL, executemany on SQLite) and reused while the
organization holds the same number of deployments. Figures go to bench/results/.
Changes (commits, pull requests) are not loaded: their models come with the lead-time work,
and lead time is timed by that work's own benchmark.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "periscope.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")

import django  # noqa: E402

django.setup()

from backend_cpu import backend_cpu_reader  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, transaction  # noqa: E402

from deployments.models import Deployment, Incident  # noqa: E402
from deployments.recording.recovery import backfill_recovery  # noqa: E402
from metrics import dora  # noqa: E402
from periscope.models import Organization  # noqa: E402
from services.catalog import create_service  # noqa: E402
from services.selection import select_service  # noqa: E402

SLUG = "bench-metrics"
SERVICES = 100
UNMATCHED = 10  # of the 100, sent under names nobody catalogued
END = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)

DEPLOYMENT_COLUMNS = (
    "organization_id, source, external_id, service_id, service_name, service_key, environment, "
    "environment_raw, status, status_raw, commit_sha, previous_commit_sha, branch, "
    "repository_url, change_id, started_at, completed_at, triggered_by, pipeline_name, "
    "pipeline_url, description, metadata, created_at, updated_at"
)


def _status(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.08:
        return "failure"
    if roll < 0.09:
        return "rolled_back"
    if roll < 0.10:
        return "cancelled"
    return "success"


def _rows(organization_id: int, services: list[tuple[int | None, str]], size: int):
    rng = random.Random(42)
    step = SPAN / size
    start = END - SPAN
    now = datetime.now(UTC)
    for n in range(size):
        service_id, name = services[n % len(services)]
        completed = start + step * n + timedelta(seconds=rng.randint(0, 59))
        environment = "production" if n % 10 else "staging"
        yield (
            organization_id, "periscope", f"d-{n}", service_id, name, name.lower(), environment,
            environment, (status := _status(rng)), status, f"{n:040x}", "", "main", "",
            f"CHG-{n}", completed - timedelta(minutes=5), completed, "", "", "", "", "{}", now, now,
        )  # fmt: skip


def load(size: int) -> Organization:
    organization, _ = Organization.objects.get_or_create(slug=SLUG, defaults={"name": "Bench"})
    if Deployment.objects.filter(organization=organization).count() == size:
        if not Incident.objects.filter(organization=organization).exists():
            _load_incidents(organization)
        _backfill(organization)
        _analyze()
        return organization
    print(f"loading {size:,} deployments ...", flush=True)
    Incident.objects.filter(organization=organization).delete()
    Deployment.objects.filter(organization=organization).delete()
    organization.services.all().delete()
    services = []
    for n in range(SERVICES):
        name = f"service-{n:03d}"
        if n < SERVICES - UNMATCHED:
            services.append((create_service(organization=organization, name=name).pk, name))
        else:
            services.append((None, name))
    began = time.perf_counter()
    table = Deployment._meta.db_table
    rows = _rows(organization.pk, services, size)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({DEPLOYMENT_COLUMNS}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * 24)
            sql = f"INSERT INTO {table} ({DEPLOYMENT_COLUMNS}) VALUES ({marks})"
            batch = []
            for row in rows:
                batch.append(row)
                if len(batch) == 10000:
                    cursor.executemany(sql, batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)
    print(f"  deployments loaded in {time.perf_counter() - began:.1f} s", flush=True)
    _load_incidents(organization)
    _backfill(organization)
    _analyze()
    return organization


def _backfill(organization: Organization) -> None:
    # COPY bypasses recording: store the recovery times ingest would have stored. Only
    # missing ones are computed, so a reused database costs a scan of its failures.
    began = time.perf_counter()
    written = backfill_recovery(organization_id=organization.pk)
    print(f"  recovery times: {written:,} stored in {time.perf_counter() - began:.1f} s")


def _analyze() -> None:
    # VACUUM sets PostgreSQL's visibility map, so covering indexes give index-only scans.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")


def _load_incidents(organization: Organization) -> None:
    """An incident for ~2 % of production deployments: half attributed, a few still open."""
    rng = random.Random(7)
    picked = (
        Deployment.objects.filter(organization=organization, environment="production")
        .values_list("id", "service_id", "service_name", "completed_at")
        .order_by()
    )
    incidents = []
    for deployment_id, service_id, name, completed in picked.iterator(chunk_size=20000):
        if rng.random() >= 0.02:
            continue
        started = completed + timedelta(minutes=rng.randint(1, 600))
        incidents.append(
            Incident(
                organization=organization,
                external_id=f"inc-{deployment_id}",
                title="bench",
                service_id=service_id,
                service_name=name,
                service_key=name.lower(),
                started_at=started,
                resolved_at=None
                if rng.random() < 0.01
                else started + timedelta(minutes=rng.randint(5, 900)),
                deployment_id=deployment_id if rng.random() < 0.5 else None,
            )
        )
    Incident.objects.bulk_create(incidents, batch_size=5000)
    print(f"  {len(incidents):,} incidents", flush=True)


def _server_cpu_ms() -> float | None:
    """CPU time used so far by this connection's PostgreSQL backend, in ms (see backend_cpu)."""
    seconds = backend_cpu_reader(connection)()
    return None if seconds is None else seconds * 1000


def timed(function, repeat: int) -> dict:
    times, cpu = [], []
    for _ in range(repeat):
        server_before = _server_cpu_ms()
        client_before = time.process_time()
        began = time.perf_counter()
        function()
        times.append((time.perf_counter() - began) * 1000)
        server_after = _server_cpu_ms()
        if server_before is not None and server_after is not None:
            # Server (backend only: parallel workers are not counted) plus client CPU.
            client = (time.process_time() - client_before) * 1000
            cpu.append(server_after - server_before + client)
    result = {
        "first_ms": round(times[0], 1),
        "median_ms": round(statistics.median(times), 1),
        "min_ms": round(min(times), 1),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if cpu:
        result["cpu_min_ms"] = round(min(cpu), 1)
        result["cpu_median_ms"] = round(statistics.median(cpu), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    organization = load(args.size)
    one = select_service(organization=organization, value="service-007")
    results = []
    for label, days in (("90 days", 90), ("2 years", 730)):
        for who, selector in (("all services", None), ("one service", one)):
            scope = dora.Window(
                organization_id=organization.pk,
                start=END - timedelta(days=days),
                end=END,
                service=selector,
            )
            summary = timed(lambda s=scope: dora.dora_report(scope=s, series=False), args.repeat)
            weekly = timed(lambda s=scope: dora.dora_report(scope=s, interval="week"), args.repeat)
            row = {
                "range": label,
                "services": who,
                "summary": summary,
                "summary_and_weekly": weekly,
            }
            results.append(row)
            cpu = f" (cpu min {summary['cpu_min_ms']:.1f})" if "cpu_min_ms" in summary else ""
            print(
                f"{connection.vendor:10} {label:8} {who:13} summary median {summary['median_ms']:8.1f}"
                f" min {summary['min_ms']:8.1f} ms{cpu}   summary+weekly median"
                f" {weekly['median_ms']:8.1f} min {weekly['min_ms']:8.1f} ms"
                f"   load {summary['load_average_1m']}",
                flush=True,
            )
    out = ROOT / "bench" / "results" / f"metrics-{connection.vendor}-{args.size}.json"
    out.write_text(
        json.dumps(
            {"database": connection.vendor, "deployments": args.size, "results": results},
            indent=2,
        )
        + "\n"
    )
    print(f"written {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
