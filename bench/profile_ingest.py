"""Profile the webhook's hot path in-process: queries per delivery and where the time goes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_profile \\
        .venv/bin/python bench/profile_ingest.py [--deliveries N] [--html out.html]

Migrates the database named in DATABASE_URL (use a scratch one), then posts deliveries
through Django's test client (no HTTP server, no network): prints the queries one new and
one repeated delivery make, the CPU per new delivery (this process's, and its PostgreSQL
backend's from /proc/<pid>/schedstat: steady on a shared machine, unlike wall time) over
3 rounds of N, and a pyinstrument profile of N new deliveries.
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "periscope.settings")
os.environ.setdefault("SECRET_KEY", "bench-only-secret-key-not-for-production")
os.environ.setdefault("ALLOWED_HOSTS", "testserver")
# One key sends everything: far above the load, so the counter is still written but never refuses.
os.environ.setdefault("PERISCOPE_RATE_LIMIT_INGEST", "100000000/minute")

import django  # noqa: E402

django.setup()

from backend_cpu import backend_cpu_reader  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from pyinstrument import Profiler  # noqa: E402

from periscope.keys import issue_api_key  # noqa: E402
from periscope.tenancy import ensure_organization  # noqa: E402
from services.catalog import create_service  # noqa: E402


def body(n: int, status: str = "success") -> str:
    return json.dumps(
        {
            "deploymentId": f"profile-{n}",
            "commitSha": f"{n:040x}",
            "environment": "prod",
            "status": status,
            "startedAt": "2024-01-15T10:30:00Z",
            "completedAt": "2024-01-15T10:35:00Z",
            "service": "Checkout",
            "metadata": {"run": n},
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--html", type=Path)
    args = parser.parse_args()

    call_command("migrate", verbosity=0)
    organization, _ = ensure_organization(slug="profile")
    if not organization.services.exists():
        create_service(organization=organization, name="checkout-service", aliases=["Checkout"])
    key = issue_api_key(organization=organization, name="profile", scopes=["ingest"]).plaintext
    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    start = organization.deployments.count()

    def post(n: int, status: str = "success"):
        return client.post(
            "/api/webhooks/deployments", data=body(n, status), content_type="application/json"
        )

    post(start)  # warm up
    for label, n, status in (("new", start + 1, "success"), ("repeat", start + 1, "rolled_back")):
        with CaptureQueriesContext(connection) as queries:
            response = post(n, status)
        print(f"{label} delivery: HTTP {response.status_code}, {len(queries)} queries")
        for query in queries:
            print(f"    {query['sql'][:110]}")

    backend_cpu = backend_cpu_reader(connection)
    for round_no in range(3):
        if round_no == 1 and connection.vendor == "postgresql":
            # Statistics, as autovacuum would have them on a live database (bench/ingest.py):
            # round 1 is a young table's first deliveries, rounds 2 and 3 a used one's.
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        first = start + 10_000 + round_no * args.deliveries
        server, python = backend_cpu(), time.process_time()
        for n in range(first, first + args.deliveries):
            post(n)
        python = time.process_time() - python
        server = backend_cpu() - server if server is not None else None
        per = 1000 / args.deliveries
        line = f"CPU per new delivery, round {round_no + 1}: Python {python * per:.2f} ms"
        if server is not None:
            line += f" + PostgreSQL {server * per:.2f} ms = {(python + server) * per:.2f} ms"
        print(line)

    start += 10_000 + 3 * args.deliveries
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for n in range(start + 2, start + 2 + args.deliveries):
        post(n)
    profiler.stop()
    print(profiler.output_text(unicode=True, color=False, show_all=False))
    if args.html:
        args.html.write_text(profiler.output_html())


if __name__ == "__main__":
    main()
