"""Benchmark of the DORA metrics queries, in process and through a live gunicorn server.

Loads N deployments (default 1,000,000: 100 services, 2 years, ~8 % failures, ~1 % rolled
back, ~1 % cancelled, with incidents for ~2 % of production ones) and their changes (one
merged pull request per successful production deployment, with its head and merge commits,
plus a direct commit for ~10 % of them) into its own database, and the same shape at
--small-size (default 10,000) in a second organization. Then, for both organizations in the
same run:

  - `dora_report` in process: the summary and the summary + weekly series for 90 days and 2
    years, all services and one, with the ratio big / small;
  - through gunicorn (a live server on this database): GET /api/metrics/dora (2 years per
    week, 90 days per week) against GET /api/services with a read key, interleaved, printing
    metrics / services and big / small;
  - the queries each of those requests runs (Django test client, CaptureQueriesContext).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/periscope_bench .venv/bin/python bench/metrics.py
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/periscope_bench .venv/bin/python bench/metrics.py --size 10000000
    DATABASE_URL=sqlite:///var/bench-metrics.sqlite3 .venv/bin/python bench/metrics.py --size 200000

The data is loaded once and reused while each organization is marked complete with its size
(a reload replaces that organization's rows). PostgreSQL loads by COPY from generators (rows
are never held in memory: 10,000,000 deployments load in constant memory; the peak RSS is
printed) with foreign-key triggers off for the load (session_replication_role = replica; the
rows are consistent by construction); SQLite by executemany in batches. Ids are reserved up
front so links can name their deployment and pull request without reading anything back.
COPY bypasses the write path, so afterwards the recovery times are backfilled and, when the
code has the `rebuild_rollups` command, the rollups are rebuilt (on reuse, only if the
organization has none), as a real history would have them. Figures go to bench/results/metrics-<database>-<size>.json (or --output).
"""

import argparse
import json
import logging
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "periscope.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-metrics-secret-key-0123456789-abcdefghijklmnop")
os.environ.setdefault("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
# The read key sends every request of the run; none may be refused.
os.environ.setdefault("PERISCOPE_RATE_LIMIT_READ", "100000000/minute")

import django  # noqa: E402

django.setup()

from backend_cpu import backend_cpu_reader  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.management import call_command, get_commands  # noqa: E402
from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from deployments.models import (  # noqa: E402
    Commit,
    DailyRollup,
    Deployment,
    DeploymentCommit,
    DeploymentPullRequest,
    Incident,
    PullRequest,
    Repository,
)
from deployments.recording.recovery import backfill_recovery  # noqa: E402
from metrics import dora  # noqa: E402
from periscope.keys import issue_api_key  # noqa: E402
from periscope.models import Organization  # noqa: E402
from services.catalog import create_service  # noqa: E402
from services.selection import select_service  # noqa: E402

SLUG = "bench-metrics"
SMALL_SLUG = "bench-metrics-10k"
SERVICES = 100
UNMATCHED = 10  # of the 100, sent under names nobody catalogued
END = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=730)
# Organization.name once a load is complete: a load cut short is redone on the next run.
LOADED = "bench data v2 (changes, incidents): {size} deployments"

DEPLOYMENT_COLUMNS = (
    "id, organization_id, source, external_id, service_id, service_name, service_key, "
    "environment, environment_raw, status, status_raw, commit_sha, previous_commit_sha, branch, "
    "repository_url, change_id, started_at, completed_at, triggered_by, pipeline_name, "
    "pipeline_url, description, metadata, created_at, updated_at"
)
PULL_REQUEST_COLUMNS = (
    "id, organization_id, repository_id, number, title, author, state, created_at, merged_at, "
    "merge_commit_sha, head_sha, base_branch, first_commit_at"
)
COMMIT_COLUMNS = (
    "organization_id, repository_id, sha, authored_at, committed_at, author, message, "
    "generation, parents_exact"
)
DEPLOYMENT_PR_COLUMNS = (
    "organization_id, deployment_id, pull_request_id, service_group, started_at, lead_seconds, "
    "coding_seconds, review_seconds, waiting_seconds"
)
DEPLOYMENT_COMMIT_COLUMNS = (
    "organization_id, deployment_id, repository_id, sha, pull_request_id, service_group, "
    "started_at, lead_seconds"
)
INCIDENT_COLUMNS = (
    "organization_id, source, external_id, title, service_id, service_name, service_key, "
    "environment, severity, started_at, resolved_at, url, deployment_id, attributed_by, "
    "created_at, updated_at"
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


class Planned(NamedTuple):
    n: int
    service: int  # index into the organization's 100 services
    completed: datetime
    environment: str
    status: str


def _plan(size: int) -> Iterator[Planned]:
    """The deployments, in id order; the same sequence on every call (a fixed seed)."""
    rng = random.Random(42)
    step = SPAN / size
    start = END - SPAN
    for n in range(size):
        completed = start + step * n + timedelta(seconds=rng.randint(0, 59))
        environment = "production" if n % 10 else "staging"
        yield Planned(n, n % SERVICES, completed, environment, _status(rng))


class Services(NamedTuple):
    ids: list[int | None]  # None: sent under a name nobody catalogued
    names: list[str]
    groups: list[str]  # the pairing key as link rows store it (ServiceGroup.encode())
    repositories: list[int]


def _deployment_rows(organization_id: int, services: Services, size: int, first_id: int):
    now = datetime.now(UTC)
    for p in _plan(size):
        name = services.names[p.service]
        yield (
            first_id + p.n, organization_id, "periscope", f"d-{p.n}", services.ids[p.service],
            name, name.lower(), p.environment, p.environment, p.status, p.status, f"{p.n:040x}",
            "", "main", "", f"CHG-{p.n}", p.completed - timedelta(minutes=5), p.completed, "",
            "", "", "", "{}", now, now,
        )  # fmt: skip


class Change(NamedTuple):
    """What linking stores for one successful production deployment (see
    deployments/changes/linking.py): one merged pull request, its head commit and merge
    commit, and for ~10 % a commit pushed straight to main (no pull request)."""

    k: int  # the k-th linkable deployment: its pull request is the k-th
    planned: Planned
    deployment_id: int
    coding: int  # first commit -> PR opened
    review: int  # PR opened -> merged
    waiting: int  # merged -> deployed
    direct_age: int | None  # the direct commit's authored time before the deployment

    @property
    def merged_at(self) -> datetime:
        return self.planned.completed - timedelta(seconds=self.waiting)

    @property
    def created_at(self) -> datetime:
        return self.merged_at - timedelta(seconds=self.review)

    @property
    def first_commit_at(self) -> datetime:
        return self.created_at - timedelta(seconds=self.coding)

    @property
    def lead(self) -> int:
        return self.coding + self.review + self.waiting

    @property
    def merge_sha(self) -> str:
        return f"{self.planned.n:040x}"  # the deployment's commit_sha

    @property
    def head_sha(self) -> str:
        return f"b{self.planned.n:039x}"

    @property
    def direct_sha(self) -> str:
        return f"c{self.planned.n:039x}"


def _changes(size: int, first_deployment_id: int) -> Iterator[Change]:
    rng = random.Random(99)
    k = 0
    for p in _plan(size):
        if p.environment != "production" or p.status != "success":
            continue
        # Stage durations, roughly as teams report them: hours to days of coding, an hour
        # to two days of review, minutes to a day until the next deployment.
        coding = int(rng.lognormvariate(10.5, 1.0))  # median ~10 h
        review = int(rng.lognormvariate(9.0, 1.2))  # median ~2.25 h
        waiting = rng.randint(120, 86400)
        direct = rng.random() < 0.1
        age = rng.randint(600, 2 * 86400)
        yield Change(
            k, p, first_deployment_id + p.n, coding, review, waiting, age if direct else None
        )
        k += 1


def _pull_request_rows(
    organization_id: int, services: Services, changes: Iterable[Change], first_id: int
):
    for c in changes:
        yield (
            first_id + c.k, organization_id, services.repositories[c.planned.service], c.k + 1,
            f"Change {c.k}", "dev@example.com", "merged", c.created_at, c.merged_at, c.merge_sha,
            c.head_sha, "main", c.first_commit_at,
        )  # fmt: skip


def _commit_rows(organization_id: int, services: Services, changes: Iterable[Change]):
    generation = [0] * SERVICES  # per repository: the main line's merges, one after another
    for c in changes:
        repository = services.repositories[c.planned.service]
        s = c.planned.service
        generation[s] += 2
        yield (organization_id, repository, c.head_sha, c.first_commit_at, c.first_commit_at,
               "dev@example.com", f"Change {c.k}", generation[s] - 1, False)  # fmt: skip
        yield (organization_id, repository, c.merge_sha, c.merged_at, c.merged_at,
               "dev@example.com", f"Merge #{c.k + 1}", generation[s], False)  # fmt: skip
        if c.direct_age is not None:
            at = c.planned.completed - timedelta(seconds=c.direct_age)
            generation[s] += 1
            yield (organization_id, repository, c.direct_sha, at, at, "dev@example.com",
                   "Hotfix", generation[s], False)  # fmt: skip


def _deployment_pr_rows(
    organization_id: int, services: Services, changes: Iterable[Change], first_pr: int
):
    for c in changes:
        yield (
            organization_id, c.deployment_id, first_pr + c.k, services.groups[c.planned.service],
            c.first_commit_at, float(c.lead), float(c.coding), float(c.review), float(c.waiting),
        )  # fmt: skip


def _deployment_commit_rows(
    organization_id: int, services: Services, changes: Iterable[Change], first_pr: int
):
    for c in changes:
        repository = services.repositories[c.planned.service]
        group = services.groups[c.planned.service]
        pr = first_pr + c.k
        yield (organization_id, c.deployment_id, repository, c.head_sha, pr, group,
               c.first_commit_at, float(c.lead))  # fmt: skip
        yield (organization_id, c.deployment_id, repository, c.merge_sha, pr, group,
               c.merged_at, float(c.waiting))  # fmt: skip
        if c.direct_age is not None:
            yield (organization_id, c.deployment_id, repository, c.direct_sha, None, group,
                   c.planned.completed - timedelta(seconds=c.direct_age),
                   float(c.direct_age))  # fmt: skip


def _incident_rows(organization_id: int, services: Services, size: int, first_id: int):
    """An incident for ~2 % of production deployments: half attributed, a few still open."""
    rng = random.Random(7)
    now = datetime.now(UTC)
    for p in _plan(size):
        if p.environment != "production" or rng.random() >= 0.02:
            continue
        name = services.names[p.service]
        started = p.completed + timedelta(minutes=rng.randint(1, 600))
        resolved = None if rng.random() < 0.01 else started + timedelta(minutes=rng.randint(5, 900))
        attributed = rng.random() < 0.5
        yield (
            organization_id, "periscope", f"inc-{first_id + p.n}", "bench",
            services.ids[p.service], name, name.lower(), "production", "", started, resolved, "",
            first_id + p.n if attributed else None, "deployment_id" if attributed else "", now, now,
        )  # fmt: skip


def _write(model, columns: str, rows: Iterable[tuple]) -> int:
    """Stream rows into the model's table: COPY on PostgreSQL, batches on SQLite."""
    table = model._meta.db_table
    count = 0
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
            return count
        marks = ", ".join(["%s"] * len(columns.split(",")))
        sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == 10000:
                cursor.executemany(sql, batch)
                count += len(batch)
                batch = []
        if batch:
            cursor.executemany(sql, batch)
            count += len(batch)
    return count


def _reserve_ids(model, count: int) -> int:
    """The first of `count` consecutive ids nobody else will take (PostgreSQL: taken from the
    table's sequence; SQLite: after the largest, its AUTOINCREMENT follows explicit ids)."""
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence(%s, 'id'),"
                " nextval(pg_get_serial_sequence(%s, 'id')) + %s - 1)",
                [table, table, count],
            )
            (last,) = cursor.fetchone()
            return last - count + 1
        cursor.execute(f"SELECT COALESCE(MAX(id), 0) + 1 FROM {table}")
        return cursor.fetchone()[0]


def _linkable_count(size: int) -> int:
    return sum(1 for p in _plan(size) if p.environment == "production" and p.status == "success")


# Tables emptied for an organization before a reload, children first (plain DELETEs: the ORM
# would collect millions of rows in memory to cascade). The rollup tables only exist once the
# rollups have landed; the rest of the organization's rows (services, repositories) go
# through the ORM, being few.
_BULK_TABLES = (
    DeploymentCommit._meta.db_table,
    DeploymentPullRequest._meta.db_table,
    Commit._meta.db_table,
    PullRequest._meta.db_table,
    "deployments_incidentdelivery",
    Incident._meta.db_table,
    "deployments_delivery",
    "deployments_rolluppending",
    "deployments_dailyrollup",
    Deployment._meta.db_table,
)


def _clear(organization: Organization) -> None:
    existing = set(connection.introspection.table_names())
    with connection.cursor() as cursor:
        for table in _BULK_TABLES:
            if table in existing:
                cursor.execute(f"DELETE FROM {table} WHERE organization_id = %s", [organization.pk])
    Repository.objects.filter(organization=organization).delete()
    organization.services.all().delete()


def _without_fk_checks():
    """PostgreSQL: skip the foreign-key triggers while bench rows (consistent by construction)
    are written: at 10,000,000 deployments the deferred checks would queue ~10^8 events."""

    class Toggle:
        def __enter__(self):
            self.on = False
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    try:
                        cursor.execute("SET session_replication_role = replica")
                        self.on = True
                    except Exception as exc:  # not a superuser: checks stay on
                        print(f"  (foreign-key checks stay on: {exc})")

        def __exit__(self, *exc):
            if self.on:
                with connection.cursor() as cursor:
                    cursor.execute("SET session_replication_role = DEFAULT")

    return Toggle()


def _step(label: str, function):
    began = time.perf_counter()
    result = function()
    seconds = time.perf_counter() - began
    shown = f"{result:,} " if isinstance(result, int) else ""
    print(f"  {label}: {shown}in {seconds:.1f} s (peak RSS {_peak_rss_mb():.0f} MB)", flush=True)
    return seconds


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(size: int, slug: str = SLUG) -> Organization:
    """The organization `slug` with `size` deployments and their changes and incidents,
    loaded unless a complete load of that size is there already."""
    organization, _ = Organization.objects.get_or_create(slug=slug, defaults={"name": "Bench"})
    marker = LOADED.format(size=size)
    if (
        organization.name == marker
        and Deployment.objects.filter(organization=organization).count() == size
    ):
        _backfill(organization)
        # Loaded by code before the rollups, perhaps (rebuilding is idempotent); rollups
        # already there are kept: the migrations fill what a later version adds, and a
        # rebuild costs minutes at 1,000,000 on a shared machine.
        if not DailyRollup.objects.filter(organization=organization).exists():
            _rebuild_rollups(organization)
        return organization
    print(f"{slug}: loading {size:,} deployments with their changes and incidents ...", flush=True)
    organization.name = "Bench (loading)"
    organization.save(update_fields=["name"])
    _step("cleared", lambda: _clear(organization))
    ids, names, groups, repositories = [], [], [], []
    for n in range(SERVICES):
        name = f"service-{n:03d}"
        service = None
        if n < SERVICES - UNMATCHED:
            service = create_service(organization=organization, name=name)
        ids.append(service.pk if service else None)
        names.append(name)
        groups.append(f"service:{service.pk}" if service else f"name:{name.lower()}")
        repositories.append(
            Repository.objects.create(
                organization=organization,
                key=f"bench/{name}",
                name=name,
                url=f"https://github.com/bench/{name}",
                service=service,
            ).pk
        )
    services = Services(ids, names, groups, repositories)
    org = organization.pk
    first_deployment = _reserve_ids(Deployment, size)
    linkable = _linkable_count(size)
    first_pr = _reserve_ids(PullRequest, linkable)
    timings = {}
    with _without_fk_checks():
        for label, model, columns, rows in (
            ("deployments", Deployment, DEPLOYMENT_COLUMNS,
             lambda: _deployment_rows(org, services, size, first_deployment)),
            ("pull requests", PullRequest, PULL_REQUEST_COLUMNS,
             lambda: _pull_request_rows(org, services, _changes(size, first_deployment), first_pr)),
            ("commits", Commit, COMMIT_COLUMNS,
             lambda: _commit_rows(org, services, _changes(size, first_deployment))),
            ("deployment pull requests", DeploymentPullRequest, DEPLOYMENT_PR_COLUMNS,
             lambda: _deployment_pr_rows(org, services, _changes(size, first_deployment), first_pr)),
            ("deployment commits", DeploymentCommit, DEPLOYMENT_COMMIT_COLUMNS,
             lambda: _deployment_commit_rows(org, services, _changes(size, first_deployment), first_pr)),
            ("incidents", Incident, INCIDENT_COLUMNS,
             lambda: _incident_rows(org, services, size, first_deployment)),
        ):  # fmt: skip
            # One transaction per table: a cut-short load leaves no marker and is redone.
            with transaction.atomic():
                timings[label] = _step(label, lambda m=model, c=columns, r=rows: _write(m, c, r()))
    # Statistics of what was just loaded before the backfill and the rebuild read it: at
    # 10,000,000 autovacuum had not analyzed the tables yet, and the planner, without them,
    # took 27 minutes (and counting) over the first month's first-shipping query.
    _step("analyzed", _analyze_only)
    _backfill(organization)
    _rebuild_rollups(organization)
    organization.name = marker
    organization.save(update_fields=["name"])
    return organization


def _backfill(organization: Organization) -> None:
    # COPY bypasses recording: store the recovery times ingest would have stored. Only
    # missing ones are computed, so a reused database costs a scan of its failures.
    _step(
        f"{organization.slug}: recovery times stored",
        lambda: backfill_recovery(organization_id=organization.pk),
    )


def _rebuild_rollups(organization: Organization) -> float | None:
    """COPY bypasses the write path that keeps the rollups: rebuild them (code with rollups)."""
    if "rebuild_rollups" not in get_commands():
        print("  rollups: no rebuild_rollups command in this code, skipped")
        return None
    return _step(
        f"{organization.slug}: rollups rebuilt",
        lambda: call_command("rebuild_rollups", org=[organization.slug]),
    )


def _analyze_only() -> None:
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _analyze() -> None:
    # VACUUM sets PostgreSQL's visibility map, so covering indexes give index-only scans.
    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    print(f"  vacuum/analyze in {time.perf_counter() - began:.1f} s", flush=True)


def load_both(size: int, small_size: int) -> tuple[Organization, Organization | None]:
    """The measured organization and the small one of the same shape (None with size 0)."""
    big = load(size, SLUG)
    small = load(small_size, SMALL_SLUG) if small_size else None
    _analyze()
    return big, small


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


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a and b else None


# --- Through a live server ----------------------------------------------------------------


def live_server():
    """A gunicorn server (the repo's configuration, 2 sync workers) on this database, sharing
    this process's SECRET_KEY so sessions created here are valid there. No statement timeout
    and a long worker timeout: a slow request is measured, not cut at 20 s."""
    from tests.live_servers import gunicorn

    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request otherwise
    return gunicorn(
        os.environ["DATABASE_URL"],
        workers=2,
        SECRET_KEY=settings.SECRET_KEY,
        DB_STATEMENT_TIMEOUT="0",
        GUNICORN_TIMEOUT="1800",
        PERISCOPE_RATE_LIMIT_READ="100000000/minute",
    )


def time_http(client, cases: list[tuple[str, str, dict, dict]], repeat: int) -> dict[str, dict]:
    """Wall ms of each case's GET, the cases interleaved `repeat` times after one warm-up
    round (so a load change falls on all of them). Cases: (name, path, params, headers)."""
    times: dict[str, list[float]] = {name: [] for name, *_ in cases}
    for round_no in range(repeat + 1):
        for name, path, params, headers in cases:
            began = time.perf_counter()
            response = client.get(path, params=params, headers=headers)
            elapsed = (time.perf_counter() - began) * 1000
            if response.status_code != 200:
                raise RuntimeError(f"{name}: {path} answered {response.status_code}")
            if round_no:
                times[name].append(elapsed)
    return {
        name: {
            "median_ms": round(statistics.median(values), 1),
            "min_ms": round(min(values), 1),
            "runs": len(values),
        }
        for name, values in times.items()
    }


def count_queries(path: str, params: dict, **extra) -> int:
    """Database queries of one request through Django's test client."""
    client = extra.pop("client", None) or Client(HTTP_HOST="127.0.0.1")
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, params, **extra)
    if response.status_code != 200:
        raise RuntimeError(f"{path} answered {response.status_code} in the test client")
    return len(queries.captured_queries)


def _commit() -> str:
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
    status = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True)
    return head.stdout.strip() + ("+dirty" if status.stdout.strip() else "")


def run_info(args) -> dict:
    return {
        "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "database": connection.vendor,
        "deployments": args.size,
        "small_deployments": args.small_size,
        "commit": _commit(),
        "cpus": os.cpu_count(),
        "rollups_command": "rebuild_rollups" in get_commands(),
    }


def api_http(organizations: dict[str, Organization], repeat: int) -> tuple[list[dict], dict]:
    """GET /api/metrics/dora (2 years and 90 days per week) vs GET /api/services per
    organization through gunicorn, and the queries of each in the test client."""
    import httpx

    keys = {
        label: issue_api_key(organization=o, name="bench-read", scopes=["read"]).plaintext
        for label, o in organizations.items()
    }
    requests = []
    for label in organizations:
        headers = {"Authorization": f"Bearer {keys[label]}"}
        for case, days in (("dora 2 years per week", 730), ("dora 90 days per week", 90)):
            params = {
                "from": (END - timedelta(days=days)).isoformat().replace("+00:00", "Z"),
                "to": END.isoformat().replace("+00:00", "Z"),
                "interval": "week",
            }
            requests.append((f"{label}: {case}", "/api/metrics/dora", params, headers))
        requests.append((f"{label}: services", "/api/services", {}, headers))
    with live_server() as base, httpx.Client(base_url=base, timeout=1800) as client:
        timings = time_http(client, requests, repeat)
    rows = []
    for name, path, params, headers in requests:
        queries = count_queries(path, params, HTTP_AUTHORIZATION=headers["Authorization"])
        rows.append(
            {"request": name, "path": path, "params": params, **timings[name], "queries": queries}
        )
    return rows, _ratios(rows, baseline="services")


def _ratios(rows: list[dict], *, baseline: str) -> dict:
    """Each request over the baseline request of its organization, and big over small."""
    by_name = {row["request"]: row for row in rows}
    out = {}
    for row in rows:
        label, case = row["request"].split(": ", 1)
        if case == baseline:
            continue
        base = by_name[f"{label}: {baseline}"]
        out[f"{label}: {case} / {baseline}"] = ratio(row["median_ms"], base["median_ms"])
        if label == "big" and f"small: {case}" in by_name:
            out[f"{case}: big / small"] = ratio(
                row["median_ms"], by_name[f"small: {case}"]["median_ms"]
            )
    return out


def print_http(rows: list[dict], ratios: dict) -> None:
    for row in rows:
        print(
            f"  {row['request']:<48} median {row['median_ms']:9.1f} min {row['min_ms']:9.1f} ms"
            f"   {row['queries']:>4} queries"
        )
    for name, value in ratios.items():
        print(f"  ratio {name:<62} {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument(
        "--small-size", type=int, default=10_000, help="the second organization's (0: none)"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--http-repeat", type=int, default=5)
    parser.add_argument("--skip-http", action="store_true")
    parser.add_argument("--load-only", action="store_true")
    parser.add_argument("--output", type=Path)
    args = parser.parse_args()
    load_before = os.getloadavg()
    call_command("migrate", verbosity=0)
    big, small = load_both(args.size, args.small_size)
    print(f"loaded; peak RSS of this process {_peak_rss_mb():.0f} MB", flush=True)
    if args.load_only:
        return
    organizations = {"big": big, **({"small": small} if small else {})}
    results = []
    for label, days in (("90 days", 90), ("2 years", 730)):
        for who in ("all services", "one service"):
            row = {"range": label, "services": who}
            for size_label, organization in organizations.items():
                selector = (
                    select_service(organization=organization, value="service-007")
                    if who == "one service"
                    else None
                )
                scope = dora.Window(
                    organization_id=organization.pk,
                    start=END - timedelta(days=days),
                    end=END,
                    service=selector,
                )
                prefix = "" if size_label == "big" else "small_"
                row[f"{prefix}summary"] = timed(
                    lambda s=scope: dora.dora_report(scope=s, series=False), args.repeat
                )
                row[f"{prefix}summary_and_weekly"] = timed(
                    lambda s=scope: dora.dora_report(scope=s, interval="week"), args.repeat
                )
            summary, weekly = row["summary"], row["summary_and_weekly"]
            if small:
                row["summary_big_over_small"] = ratio(
                    summary["median_ms"], row["small_summary"]["median_ms"]
                )
                row["weekly_big_over_small"] = ratio(
                    weekly["median_ms"], row["small_summary_and_weekly"]["median_ms"]
                )
            results.append(row)
            cpu = f" (cpu min {summary['cpu_min_ms']:.1f})" if "cpu_min_ms" in summary else ""
            print(
                f"{connection.vendor:10} {label:8} {who:13} summary median {summary['median_ms']:8.1f}"
                f" min {summary['min_ms']:8.1f} ms{cpu}   summary+weekly median"
                f" {weekly['median_ms']:8.1f} min {weekly['min_ms']:8.1f} ms"
                f"   load {summary['load_average_1m']}"
                + (
                    f"   x{args.small_size:,}: {row['summary_big_over_small']} / {row['weekly_big_over_small']}"
                    if small
                    else ""
                ),
                flush=True,
            )
    http = None
    if not args.skip_http:
        print("through gunicorn (read key), and queries per request (test client):", flush=True)
        rows, ratios = api_http(organizations, args.http_repeat)
        print_http(rows, ratios)
        http = {"requests": rows, "ratios": ratios}
    out = (
        args.output or ROOT / "bench" / "results" / f"metrics-{connection.vendor}-{args.size}.json"
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                **run_info(args),
                "load_average_before": load_before,
                "load_average_after": os.getloadavg(),
                "peak_rss_mb": round(_peak_rss_mb()),
                "results": results,
                "http": http,
            },
            indent=2,
        )
        + "\n"
    )
    print(f"written {out}")


if __name__ == "__main__":
    main()
