"""Benchmark of the DORA dashboard page (/admin/metrics/dora/) on the metrics bench data.

Loads the data of bench/metrics.py (1,000,000 deployments by default, into the database of
DATABASE_URL, reused when already there), then times whole page loads through Django's test
client as a superuser: the page's two dora_report calls (range and previous range), the
per-service table, the open items and the template.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dashboard_bench DEBUG=1 .venv/bin/python bench/dashboard.py

Figures go to bench/results/dashboard-<database>-<size>.json.
"""

import argparse
import json
import sys
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.metrics import END, load, timed  # noqa: E402  (sets Django up)


def main() -> None:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client

    from services.models import Service

    parser = argparse.ArgumentParser()
    parser.add_argument("--size", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    call_command("migrate", verbosity=0)
    organization = load(args.size)
    user, _ = get_user_model().objects.get_or_create(
        username="bench-dashboard", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    one = Service.objects.get(organization=organization, name="service-007")
    last_day = (END - timedelta(days=1)).date()
    cases = []
    for days, interval in ((30, "day"), (90, "week"), (365, "week")):
        first_day = (END - timedelta(days=days)).date()
        for who, service in (("all services", ""), ("one service", str(one.pk))):
            query = {
                "org": organization.slug,
                "range": "custom",
                "from": first_day.isoformat(),
                "to": last_day.isoformat(),
                "interval": interval,
                "service": service,
            }
            cases.append((f"{days} days per {interval}", who, query))
    results = []
    for label, who, query in cases:

        def page(query=query):
            response = client.get("/admin/metrics/dora/", query)
            assert response.status_code == 200, response.status_code

        figures = timed(page, args.repeat)
        results.append({"range": label, "services": who, **figures})
        print(
            f"{connection.vendor:10} {label:18} {who:13} median {figures['median_ms']:8.1f}"
            f" min {figures['min_ms']:8.1f} ms",
            flush=True,
        )
    out = ROOT / "bench" / "results" / f"dashboard-{connection.vendor}-{args.size}.json"
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
